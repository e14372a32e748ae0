"""`train(settings)`: one fine-tuning run from data to a model version folder."""

from __future__ import annotations

import inspect
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import datasets
import torch
import transformers
from torch.utils.data import Sampler
from transformers.trainer_utils import get_last_checkpoint

from embedtune_trainer.data import DataSettings, DataShape, TrainingData, load_data
from embedtune_trainer.data.columns import LABEL
from embedtune_trainer.data.validation import check_batch_size
from embedtune_trainer.encoder import SentenceEncoder
from embedtune_trainer.evaluation.evaluators import Evaluator
from embedtune_trainer.evaluation.loading import evaluator_for_data
from embedtune_trainer.losses import registry
from embedtune_trainer.losses.base import EmbeddingLoss
from embedtune_trainer.model_card import ModelCardData
from embedtune_trainer.training.collator import EncoderCollator
from embedtune_trainer.training.label_check import check_labels_against_loss
from embedtune_trainer.training.mining import mine_hard_negatives
from embedtune_trainer.training.samplers import (
    LengthGroupedBatchSampler,
    NoDuplicatesBatchSampler,
    RandomBatchSampler,
)
from embedtune_trainer.training.settings import Batching, TrainResult, TrainSettings
from embedtune_trainer.training.trainer import EncoderTrainer, accepts_merged_columns
from embedtune_trainer.training.version_folder import RECORD_FILE, write_version_folder

CHECKPOINTS = "checkpoints"

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

logger = logging.getLogger(__name__)


class TrainingError(ValueError):
    """A run refused before it starts: settings that cannot work together."""


def train(settings: TrainSettings) -> TrainResult:
    output = Path(settings.output)
    _check_settings(settings, output)
    resume_from = _resume_checkpoint(settings, output / CHECKPOINTS)
    transformers.set_seed(settings.seed)

    encoder = (
        settings.base if isinstance(settings.base, SentenceEncoder) else SentenceEncoder.load(settings.base)
    )
    data = _load_training_data(settings, encoder)
    label_kind = _label_kind(data)
    loss_name = (
        registry.canonical_name(settings.loss)
        if settings.loss
        else registry.default_loss(data.shape, label_kind)
    )
    try:
        registry.check_loss_fits(loss_name, data.shape, label_kind)
    except ValueError as exc:
        raise TrainingError(f"loss {loss_name} does not fit the data ({data.source}): {exc}") from exc
    loss = _build_loss(settings, loss_name, encoder, data)
    if loss.label_kind is not None:
        labels = torch.tensor(data.dataset[LABEL], dtype=_label_dtype(loss.label_kind))
        check_labels_against_loss(loss, labels, len(data.shape.text_columns), encoder.dimension)
    check_batch_size(len(data), settings.batch_size)

    evaluator, eval_dataset = _evaluation(settings, data.shape)
    metrics_before = _prefixed(evaluator, evaluator(encoder)) if evaluator else {}

    trainer = EncoderTrainer(
        loss=loss,
        batch_sampler=_batch_sampler(settings, loss_name, data),
        evaluator=evaluator,
        args=_training_arguments(settings, output / CHECKPOINTS, evaluator),
        train_dataset=data.dataset,
        eval_dataset=eval_dataset,
        data_collator=EncoderCollator(
            encoder.tokenize,
            data.shape.text_columns,
            _label_dtype(loss.label_kind),
            merge_columns=settings.merge_columns and accepts_merged_columns(loss),
        ),
    )
    started = time.perf_counter()
    outcome = trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - started

    metrics = _prefixed(evaluator, evaluator(encoder)) if evaluator else {}
    version = settings.version or output.name
    card = _model_card(settings, data, loss, metrics, outcome)
    record = _record(settings, version, data, loss, metrics, metrics_before, outcome)
    files = write_version_folder(encoder, output, card, record, settings.export_onnx)
    if not settings.keep_checkpoints:
        shutil.rmtree(output / CHECKPOINTS, ignore_errors=True)
    return TrainResult(
        output=output,
        version=version,
        loss=type(loss).__name__,
        shape=data.shape.name.lower(),
        examples=len(data),
        steps=outcome.global_step,
        epochs=float(trainer.state.epoch or 0.0),
        train_seconds=seconds,
        train_loss=outcome.training_loss,
        metrics_before=metrics_before,
        metrics=metrics,
        files=files,
    )


def _check_settings(settings: TrainSettings, output: Path) -> None:
    if not 0 <= settings.warmup_ratio < 1:
        raise TrainingError(f"warmup ratio must be in [0, 1), got {settings.warmup_ratio}")
    if settings.learning_rate <= 0:
        raise TrainingError(f"learning rate must be > 0, got {settings.learning_rate}")
    if settings.epochs <= 0 and settings.max_steps <= 0:
        raise TrainingError(f"epochs must be > 0, got {settings.epochs}")
    if settings.gradient_accumulation < 1:
        raise TrainingError(f"gradient accumulation must be >= 1, got {settings.gradient_accumulation}")
    if (output / RECORD_FILE).is_file():
        raise TrainingError(f"{output} already holds a trained model version; choose another --output")


def _load_training_data(settings: TrainSettings, encoder: SentenceEncoder) -> TrainingData:
    data = load_data(settings.data, settings.data_settings)
    if settings.mining is None:
        return data
    if data.shape is not DataShape.POSITIVE_PAIR:
        raise TrainingError(
            f"hard-negative mining needs (anchor, positive) pairs, the data is {data.shape.name}"
        )
    triplets, report = mine_hard_negatives(
        encoder, data.dataset, settings.mining, show_progress=settings.show_progress
    )
    logger.info("mined %d triplets from %d pairs", report.triplets, report.pairs)
    mined = load_data(triplets, DataSettings(shape=DataShape.TRIPLET))
    mined.source = data.source
    mined.counts = {
        **data.counts,
        "mined_triplets": report.triplets,
        "anchors_without_negative": report.anchors_without_negative,
    }
    return mined


def _label_kind(data: TrainingData) -> str | None:
    if not data.shape.has_label:
        return None
    return "int" if all(isinstance(v, int) for v in data.dataset[LABEL]) else "float"


def _label_dtype(label_kind: str | None) -> torch.dtype | None:
    return {"float": torch.float32, "int": torch.long}.get(label_kind)  # type: ignore[arg-type]


def _build_loss(
    settings: TrainSettings, loss_name: str, encoder: SentenceEncoder, data: TrainingData
) -> EmbeddingLoss:
    options = dict(settings.loss_options)
    parameters = inspect.signature(registry.loss_class(loss_name)).parameters
    if "num_labels" in parameters and "num_labels" not in options:
        options["num_labels"] = (
            len(data.label_names) if data.label_names else int(max(data.dataset[LABEL])) + 1
        )
    try:
        loss = registry.build_loss(loss_name, encoder, **options)
        if settings.matryoshka_dims:
            loss = registry.build_loss(
                "MatryoshkaLoss", encoder, loss=loss, matryoshka_dims=settings.matryoshka_dims
            )
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"cannot build {loss_name} with {options}: {exc}") from exc
    return loss


def _evaluation(
    settings: TrainSettings, shape: DataShape
) -> tuple[Evaluator | None, datasets.Dataset | None]:
    """The evaluator for --eval-data, and the same rows for eval_loss when they have the training shape."""
    if settings.eval_data is None:
        return None, None
    evaluator = evaluator_for_data(settings.eval_data)
    held_out = load_data(settings.eval_data, DataSettings(label_scale=settings.data_settings.label_scale))
    return evaluator, held_out.dataset if held_out.shape is shape else None


def _prefixed(evaluator: Evaluator, scores: dict[str, float]) -> dict[str, float]:
    return {f"{evaluator.name}_{key}": float(value) for key, value in scores.items()}


def _batch_sampler(settings: TrainSettings, loss_name: str, data: TrainingData) -> Sampler[list[int]]:
    batching = settings.batching
    if batching is Batching.AUTO:
        batching = Batching.NO_DUPLICATES if loss_name in IN_BATCH_NEGATIVE_LOSSES else Batching.LENGTH
    columns = data.shape.text_columns
    if batching is Batching.NO_DUPLICATES:
        rows = list(zip(*(data.dataset[c] for c in columns), strict=True))
        return NoDuplicatesBatchSampler(rows, settings.batch_size, seed=settings.seed)
    if batching is Batching.LENGTH:
        lengths = [
            max(len(t) for t in texts) for texts in zip(*(data.dataset[c] for c in columns), strict=True)
        ]
        return LengthGroupedBatchSampler(lengths, settings.batch_size, seed=settings.seed)
    return RandomBatchSampler(len(data), settings.batch_size, seed=settings.seed)


def _training_arguments(
    settings: TrainSettings, checkpoints: Path, evaluator: Evaluator | None
) -> transformers.TrainingArguments:
    save_steps, eval_steps = settings.save_steps, settings.eval_steps
    keep_best = settings.keep_best and evaluator is not None
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
            metric_for_best_model=f"eval_{evaluator.name}_{evaluator.primary}",
            greater_is_better=True,
        )
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
        save_strategy="steps" if save_steps else "epoch",
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


def _resume_checkpoint(settings: TrainSettings, checkpoints: Path) -> str | None:
    if settings.resume is False:
        return None
    if isinstance(settings.resume, str):
        if not Path(settings.resume).is_dir():
            raise TrainingError(f"no checkpoint folder {settings.resume}")
        return settings.resume
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    if last is None:
        raise TrainingError(f"--resume: no checkpoint in {checkpoints}; run without --resume to start fresh")
    return last


def _hyperparameters(settings: TrainSettings) -> dict[str, Any]:
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


def _model_card(
    settings: TrainSettings, data: TrainingData, loss: EmbeddingLoss, metrics: dict[str, float], outcome: Any
) -> ModelCardData:
    return ModelCardData(
        base_model=loss.model.name,
        datasets=settings.card_datasets or [data.source],
        loss=type(loss).__name__,
        loss_config=loss.config(),
        hyperparameters={**_hyperparameters(settings), "steps": outcome.global_step},
        metrics=metrics,
        tags=["embedtune", data.shape.name.lower()],
    )


def _record(
    settings: TrainSettings,
    version: str,
    data: TrainingData,
    loss: EmbeddingLoss,
    metrics: dict[str, float],
    metrics_before: dict[str, float],
    outcome: Any,
) -> dict[str, Any]:
    return {
        "version": version,
        "parent": settings.parent,
        "base_model": loss.model.name,
        "loss": type(loss).__name__,
        "loss_config": loss.config(),
        "data": {"source": data.source, "shape": data.shape.name.lower(), **data.counts},
        "hyperparameters": _hyperparameters(settings),
        "steps": outcome.global_step,
        "train_loss": outcome.training_loss,
        "metrics": metrics,
        "metrics_before": metrics_before,
    }
