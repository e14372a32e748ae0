"""The layers a sentence encoder is built from: transformer, pooling, dense, normalize."""

from embedtune_trainer.modules.dense import Dense
from embedtune_trainer.modules.normalize import Normalize
from embedtune_trainer.modules.pooling import Pooling
from embedtune_trainer.modules.transformer import Transformer

__all__ = ["Dense", "Normalize", "Pooling", "Transformer"]
