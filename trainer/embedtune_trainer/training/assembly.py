"""Assemble a run: each dataset's loss, checked against its data, and the EncoderTrainer over them.

A run trains one or several datasets (`TrainingPart`s), each through its own loss, over
one shared encoder. `train` assembles one part from its data file; the feedback job one
part per kind of feedback. Everything a part needs — the loss resolved, checked and built,
its batch sampler and collator — is made here the same way for both.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import torch
import transformers
from torch.utils.data import Sampler

from embedtune_trainer.cross_encoder import CrossEncoder
from embedtune_trainer.cross_encoder.collator import PairCollator
from embedtune_trainer.data import TrainingData
from embedtune_trainer.data.columns import LABEL
from embedtune_trainer.encoder import SentenceEncoder
from embedtune_trainer.evaluation.evaluators import Evaluator, primary_key
from embedtune_trainer.losses import registry
from embedtune_trainer.losses.base import EmbeddingLoss
from embedtune_trainer.model_kind import ModelKind
from embedtune_trainer.training.collator import EncoderCollator, RoutingCollator
from embedtune_trainer.training.dataset_mix import DatasetMix
from embedtune_trainer.training.label_check import check_labels_against_loss
from embedtune_trainer.training.samplers import (
    InterleavedBatchSampler,
    LengthGroupedBatchSampler,
    NoDuplicatesBatchSampler,
    RandomBatchSampler,
)
from embedtune_trainer.training.settings import Batching, TrainSettings
from embedtune_trainer.training.trainer import EncoderTrainer, accepts_merged_columns

# Losses that treat the other rows of a batch as negatives: a duplicate text in a batch hurts them.
IN_BATCH_NEGATIVE_LOSSES = frozenset(
    {
        "MultipleNegativesRankingLoss",
        "MultipleNegativesSymmetricRankingLoss",
        "CachedMultipleNegativesRankingLoss",
        "CachedMultipleNegativesSymmetricRankingLoss",
        "MegaBatchMarginLoss",
    }
)


class TrainingError(ValueError):
    """A run refused before it starts: settings that cannot work together."""


@dataclass
class TrainingPart:
    """One dataset of a run and the loss it trains with."""

    data: TrainingData
    loss_name: str  # the registered loss (inside any wrapper): it picks the batching
    loss: EmbeddingLoss


def label_kind(data: TrainingData) -> str | None:
    """The data's label kind: "int" when every label is an integer, "float" otherwise, None unlabelled."""
    if not data.shape.has_label:
        return None
    return "int" if all(isinstance(v, int) for v in data.dataset[LABEL]) else "float"


def resolve_loss(data: TrainingData, loss: str | None, model_kind: ModelKind = ModelKind.BI_ENCODER) -> str:
    """The registered name of `loss` (None: the default for the data), refused unless it fits the data
    and the kind of model trained."""
    kind = label_kind(data)
    name = registry.canonical_name(loss) if loss else registry.default_loss(data.shape, kind, model_kind)
    try:
        registry.check_loss_fits(name, data.shape, kind, model_kind=model_kind)
    except ValueError as exc:
        raise TrainingError(f"loss {name} does not fit the data ({data.source}): {exc}") from exc
    return name


def build_part(
    settings: TrainSettings, model: SentenceEncoder | CrossEncoder, data: TrainingData, loss_name: str
) -> TrainingPart:
    """Build the loss (`resolve_loss` checked it fits) and check every label against its rules."""
    loss = _build_loss(settings, loss_name, model, data)
    if loss.label_kind is not None:
        labels = torch.tensor(data.dataset[LABEL], dtype=_label_dtype(loss.label_kind))
        # What the loss's maths receives: an embedding per text column, or a cross-encoder's logits.
        if model.kind is ModelKind.CROSS_ENCODER:
            columns, width = 1, model.num_labels
        else:
            columns, width = len(data.shape.text_columns), model.dimension
        check_labels_against_loss(loss, labels, columns, width)
    return TrainingPart(data, loss_name, loss)


def check_hyperparameters(settings: TrainSettings) -> None:
    """Refuse values no run can train with, before anything is loaded."""
    if not 0 <= settings.warmup_ratio < 1:
        raise TrainingError(f"warmup ratio must be in [0, 1), got {settings.warmup_ratio}")
    if settings.learning_rate <= 0:
        raise TrainingError(f"learning rate must be > 0, got {settings.learning_rate}")
    if settings.epochs <= 0 and settings.max_steps <= 0:
        raise TrainingError(f"epochs must be > 0, got {settings.epochs}")
    if settings.gradient_accumulation < 1:
        raise TrainingError(f"gradient accumulation must be >= 1, got {settings.gradient_accumulation}")


def encoder_trainer(
    settings: TrainSettings,
    parts: Sequence[TrainingPart],
    checkpoints: Path,
    evaluator: Evaluator | None = None,
    eval_dataset: datasets.Dataset | None = None,
) -> EncoderTrainer:
    """The Trainer over every part: batches of one part each, interleaved, each through its part's loss.

    `eval_dataset` (rows shaped like the first part) gives an eval_loss through the first loss.
    """
    model = parts[0].loss.model
    mix = DatasetMix([part.data.dataset for part in parts])
    sampler = InterleavedBatchSampler(
        [_batch_sampler(settings, part) for part in parts], mix.offsets, seed=settings.seed
    )
    collator = RoutingCollator([_collator(settings, model, part) for part in parts])
    return EncoderTrainer(
        losses=[part.loss for part in parts],
        batch_sampler=sampler,
        evaluator=evaluator,
        args=_training_arguments(settings, checkpoints, evaluator),
        train_dataset=mix,
        eval_dataset=DatasetMix([eval_dataset]) if eval_dataset is not None else None,
        data_collator=collator,
    )


def hyperparameters(settings: TrainSettings) -> dict[str, Any]:
    """The settings that shaped the weights, for the model card and embedtune.json."""
    return {
        "epochs": settings.epochs,
        "max_steps": settings.max_steps,
        "batch_size": settings.batch_size,
        "learning_rate": settings.learning_rate,
        "warmup_ratio": settings.warmup_ratio,
        "weight_decay": settings.weight_decay,
        "gradient_accumulation": settings.gradient_accumulation,
        "seed": settings.seed,
        "batching": settings.batching.value,
        "matryoshka_dims": settings.matryoshka_dims,
    }


def _collator(
    settings: TrainSettings, model: SentenceEncoder | CrossEncoder, part: TrainingPart
) -> EncoderCollator | PairCollator:
    label_dtype = _label_dtype(part.loss.label_kind)
    if model.kind is ModelKind.CROSS_ENCODER:
        return PairCollator(model.tokenize, label_dtype)
    return EncoderCollator(
        model.tokenize,
        part.data.shape.text_columns,
        label_dtype,
        merge_columns=settings.merge_columns and accepts_merged_columns(part.loss),
    )


def _label_dtype(label_kind: str | None) -> torch.dtype | None:
    return {"float": torch.float32, "int": torch.long}.get(label_kind)  # type: ignore[arg-type]


def _build_loss(
    settings: TrainSettings, loss_name: str, encoder: SentenceEncoder | CrossEncoder, data: TrainingData
) -> EmbeddingLoss:
    options = dict(settings.loss_options)
    parameters = inspect.signature(registry.loss_class(loss_name)).parameters
    if "num_labels" in parameters and "num_labels" not in options:
        options["num_labels"] = data.class_count
    try:
        loss = registry.build_loss(loss_name, encoder, **options)
        if settings.matryoshka_dims:
            loss = registry.build_loss(
                "MatryoshkaLoss", encoder, loss=loss, matryoshka_dims=settings.matryoshka_dims
            )
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"cannot build {loss_name} with {options}: {exc}") from exc
    return loss


def _batch_sampler(settings: TrainSettings, part: TrainingPart) -> Sampler[list[int]]:
    batching = settings.batching
    if batching is Batching.AUTO and part.loss.model_kind is ModelKind.CROSS_ENCODER:
        # A pair's length says something about its label (a positive is often about as long as its
        # query, a triplet's negative not), so length-grouped batches lean to one label and BCE
        # learns the lean; random batches, as sentence-transformers trains cross-encoders.
        batching = Batching.RANDOM
    elif batching is Batching.AUTO:
        batching = Batching.NO_DUPLICATES if part.loss_name in IN_BATCH_NEGATIVE_LOSSES else Batching.LENGTH
    dataset = part.data.dataset
    columns = part.data.shape.text_columns
    if batching is Batching.NO_DUPLICATES:
        rows = list(zip(*(dataset[c] for c in columns), strict=True))
        return NoDuplicatesBatchSampler(rows, settings.batch_size, seed=settings.seed)
    if batching is Batching.LENGTH:
        lengths = [max(len(t) for t in texts) for texts in zip(*(dataset[c] for c in columns), strict=True)]
        return LengthGroupedBatchSampler(lengths, settings.batch_size, seed=settings.seed)
    return RandomBatchSampler(len(dataset), settings.batch_size, seed=settings.seed)


def _training_arguments(
    settings: TrainSettings, checkpoints: Path, evaluator: Evaluator | None
) -> transformers.TrainingArguments:
    save_steps, eval_steps = settings.save_steps, settings.eval_steps
    keep_best = settings.keep_best and settings.checkpoints and evaluator is not None
    if keep_best:  # the library needs checkpoints and evaluations on the same schedule
        save_steps = save_steps or eval_steps
        eval_steps = eval_steps or save_steps
    options: dict[str, Any] = {}
    if evaluator is not None:
        options["eval_strategy"] = "steps" if eval_steps else "epoch"
        options["eval_steps"] = eval_steps
    if keep_best:
        options.update(
            load_best_model_at_end=True,
            metric_for_best_model=f"eval_{primary_key(evaluator)}",
            greater_is_better=True,
        )
    save_strategy = ("steps" if save_steps else "epoch") if settings.checkpoints else "no"
    return transformers.TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        warmup_steps=settings.warmup_ratio,
        weight_decay=settings.weight_decay,
        gradient_accumulation_steps=settings.gradient_accumulation,
        max_grad_norm=settings.max_grad_norm,
        save_strategy=save_strategy,
        save_steps=save_steps or 500,
        save_total_limit=settings.save_total_limit,
        seed=settings.seed,
        fp16=settings.fp16,
        bf16=settings.bf16,
        logging_steps=max(1, min(50, (save_steps or 50))),
        report_to="none",
        disable_tqdm=not settings.show_progress,
        remove_unused_columns=False,
        dataloader_num_workers=settings.dataloader_workers,
        dataloader_pin_memory=torch.cuda.is_available(),
        **options,
    )
