"""Fine-tuning: `train(TrainSettings) -> TrainResult` on transformers.Trainer."""

from embedtune_trainer.training.assembly import TrainingError
from embedtune_trainer.training.run import train
from embedtune_trainer.training.settings import Batching, MiningSettings, TrainResult, TrainSettings

__all__ = ["Batching", "MiningSettings", "TrainResult", "TrainSettings", "TrainingError", "train"]
