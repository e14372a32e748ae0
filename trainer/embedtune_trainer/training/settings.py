"""What a training run is asked to do (`TrainSettings`) and what it produced (`TrainResult`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedtune_trainer.cross_encoder import CrossEncoder
from embedtune_trainer.data import DataSettings
from embedtune_trainer.data.sources import DataSource
from embedtune_trainer.encoder import SentenceEncoder


class Batching(enum.Enum):
    """How rows are grouped into batches."""

    AUTO = "auto"  # no-duplicates for in-batch-negative losses, random for cross-encoders, else length
    RANDOM = "random"
    LENGTH = "length"
    NO_DUPLICATES = "no-duplicates"


@dataclass(frozen=True)
class MiningSettings:
    """Hard-negative mining for (anchor, positive) data; see `training.mining`."""

    top_k: int = 10  # candidates per anchor from the encoder's nearest neighbours
    margin: float = 0.05  # skip candidates scoring within `margin` of the positive (near-duplicates)
    negatives_per_anchor: int = 1
    skip_top: int = 0  # ignore the first N candidates (often unlabelled positives)


@dataclass
class TrainSettings:
    """One fine-tuning run. Only `data` and `output` are required."""

    data: DataSource
    output: Path
    loss: str | None = None  # None: the default loss for the data's shape
    loss_options: dict[str, Any] = field(default_factory=dict)
    base: str | SentenceEncoder | CrossEncoder = "default"  # "default" (bundled), a folder, a Hub id, a model
    cross_encoder: bool = False  # train a cross-encoder (pairs → score) from `base` instead of a bi-encoder
    data_settings: DataSettings = field(default_factory=DataSettings)
    eval_data: DataSource | None = None
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 16
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    gradient_accumulation: int = 1
    max_grad_norm: float = 1.0
    seed: int = 42
    batching: Batching = Batching.AUTO
    merge_columns: bool = True  # one encoder pass for all text columns when their lengths are alike
    matryoshka_dims: list[int] | None = None
    mining: MiningSettings | None = None
    save_steps: int | None = None  # None: a checkpoint at the end of each epoch
    eval_steps: int | None = None  # None: evaluate at the end of each epoch
    save_total_limit: int | None = 2
    keep_best: bool = True  # with eval data: load the best checkpoint at the end
    resume: bool | str = False  # True: the latest checkpoint in the output's checkpoints/
    keep_checkpoints: bool = False
    checkpoints: bool = True  # False: write none (a run that is never resumed, e.g. the feedback job)
    export_onnx: bool = True
    parent: str | None = None  # the version this one was trained from (embedtune.json)
    version: str | None = None  # default: the output folder's name
    fp16: bool = False
    bf16: bool = False
    dataloader_workers: int = 0
    show_progress: bool = True
    card_datasets: list[str] = field(default_factory=list)  # names for the model card; default: the source


@dataclass
class TrainResult:
    """What `train` produced, for the summary and for the server's job record."""

    output: Path
    version: str
    loss: str
    shape: str
    examples: int
    steps: int
    epochs: float
    train_seconds: float
    train_loss: float | None
    metrics_before: dict[str, float]
    metrics: dict[str, float]
    files: list[Path] = field(default_factory=list)

    @property
    def examples_per_second(self) -> float:
        return self.examples * self.epochs / self.train_seconds if self.train_seconds > 0 else 0.0
