"""The terminal interface (Textual); the only package that imports textual."""
