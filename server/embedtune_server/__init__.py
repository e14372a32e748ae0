"""embedtune's gRPC server: batched ONNX Runtime embedding, FAISS search, durable stores."""

__version__ = "0.1.0"
