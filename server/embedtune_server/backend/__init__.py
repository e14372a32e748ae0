"""What turns text into vectors inside the server: tokenizer and ONNX Runtime session."""

from embedtune_server.backend.onnx_backend import OnnxBackend
from embedtune_server.backend.tokenizer import InputTooLongError, TextTokenizer

__all__ = ["InputTooLongError", "OnnxBackend", "TextTokenizer"]
