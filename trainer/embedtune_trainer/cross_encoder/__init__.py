"""Cross-encoders: a transformer scoring a (query, text) pair jointly; its sentence-transformers folder."""

from embedtune_trainer.cross_encoder.activation import Activation
from embedtune_trainer.cross_encoder.model import CrossEncoder

__all__ = ["Activation", "CrossEncoder"]
