"""`train(settings)`: one fine-tuning run from data to a model version folder."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import datasets
import transformers
from transformers.trainer_utils import get_last_checkpoint

from embedtune_trainer.cross_encoder import CrossEncoder
from embedtune_trainer.cross_encoder.building import cross_encoder_for
from embedtune_trainer.cross_encoder.evaluators import evaluator_for_pairs
from embedtune_trainer.cross_encoder.pairs import pair_data
from embedtune_trainer.data import DataSettings, DataShape, TrainingData, load_data
from embedtune_trainer.data.validation import check_batch_size
from embedtune_trainer.encoder import SentenceEncoder
from embedtune_trainer.evaluation.evaluators import Evaluator, evaluate_all
from embedtune_trainer.evaluation.loading import evaluator_for_data
from embedtune_trainer.losses.base import EmbeddingLoss
from embedtune_trainer.model_card import ModelCardData
from embedtune_trainer.model_kind import ModelKind
from embedtune_trainer.training.assembly import (
    TrainingError,
    build_part,
    check_hyperparameters,
    encoder_trainer,
    hyperparameters,
    resolve_loss,
)
from embedtune_trainer.training.mining import mine_hard_negatives
from embedtune_trainer.training.settings import TrainResult, TrainSettings
from embedtune_trainer.training.version_folder import RECORD_FILE, write_version_folder

CHECKPOINTS = "checkpoints"

logger = logging.getLogger(__name__)


def train(settings: TrainSettings) -> TrainResult:
    output = Path(settings.output)
    _check_settings(settings, output)
    resume_from = _resume_checkpoint(settings, output / CHECKPOINTS)
    transformers.set_seed(settings.seed)

    if settings.cross_encoder:
        data = pair_data(load_data(settings.data, settings.data_settings))
        loss_name = resolve_loss(data, settings.loss, ModelKind.CROSS_ENCODER)
        try:
            encoder = cross_encoder_for(settings.base, data, loss_name)
        except ValueError as exc:
            raise TrainingError(f"--base {settings.base}: {exc}") from exc
    else:
        encoder = (
            settings.base
            if isinstance(settings.base, SentenceEncoder)
            else SentenceEncoder.load(settings.base)
        )
        data = _load_training_data(settings, encoder)
        loss_name = resolve_loss(data, settings.loss)
    part = build_part(settings, encoder, data, loss_name)
    loss = part.loss
    check_batch_size(len(data), settings.batch_size)

    evaluator, eval_dataset = _evaluation(settings, encoder, data.shape)
    metrics_before = evaluate_all([evaluator], encoder) if evaluator else {}

    trainer = encoder_trainer(settings, [part], output / CHECKPOINTS, evaluator, eval_dataset)
    started = time.perf_counter()
    outcome = trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - started

    metrics = evaluate_all([evaluator], encoder) if evaluator else {}
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
    check_hyperparameters(settings)
    if settings.cross_encoder and (settings.mining or settings.matryoshka_dims):
        option = "hard-negative mining" if settings.mining else "Matryoshka dimensions"
        raise TrainingError(f"{option} shape sentence embeddings; a cross-encoder has none")
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


def _evaluation(
    settings: TrainSettings, model: SentenceEncoder | CrossEncoder, shape: DataShape
) -> tuple[Evaluator | None, datasets.Dataset | None]:
    """The evaluator for --eval-data, and the same rows for eval_loss when they have the training shape
    (a cross-encoder's held-out triplets as pairs, as its training data is)."""
    if settings.eval_data is None:
        return None, None
    held_out = load_data(settings.eval_data, DataSettings(label_scale=settings.data_settings.label_scale))
    if model.kind is ModelKind.CROSS_ENCODER:
        evaluator = evaluator_for_pairs(settings.eval_data, model.num_labels)
        held_out = pair_data(held_out)
    else:
        evaluator = evaluator_for_data(settings.eval_data)
    return evaluator, held_out.dataset if held_out.shape is shape else None


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


def _model_card(
    settings: TrainSettings, data: TrainingData, loss: EmbeddingLoss, metrics: dict[str, float], outcome: Any
) -> ModelCardData:
    return ModelCardData(
        base_model=loss.model.name,
        datasets=settings.card_datasets or [data.source],
        loss=type(loss).__name__,
        loss_config=loss.config(),
        hyperparameters={**hyperparameters(settings), "steps": outcome.global_step},
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
        "hyperparameters": hyperparameters(settings),
        "steps": outcome.global_step,
        "train_loss": outcome.training_loss,
        "metrics": metrics,
        "metrics_before": metrics_before,
    }
