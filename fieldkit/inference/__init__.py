"""Local model runtime: the only package that creates onnxruntime sessions.

Model store (manifest + sha256 verification), embedders, and (gguf) text generation.
"""
