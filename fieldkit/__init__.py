"""fieldkit: offline field data toolkit (Polars + ONNX Runtime + Textual)."""

__version__ = "0.1.0"
