"""Training data: loading files and datasets, telling their shape, and checking them."""

from embedtune_trainer.data.errors import DataError
from embedtune_trainer.data.layouts import NestedExpansion
from embedtune_trainer.data.loading import DataSettings, TrainingData, load_data
from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.data.validation import LabelRule

__all__ = [
    "DataError",
    "DataSettings",
    "DataShape",
    "LabelRule",
    "NestedExpansion",
    "TrainingData",
    "load_data",
]
