"""The feedback job, from a snapshot of user feedback to a model version folder.

1. Checks, before the first event, so a refusal is one error line and no state is ever
   announced: the output folder, the base and reference folders, the snapshot, the
   held-out split (both sides non-empty), each kind's data and loss, the gate's
   evaluators, and every label against its loss.
2. "training": one run over every kind's training items, each kind's batches through its
   own loss (`training.assembly`), texts truncated to `max_seq_length` tokens.
3. "evaluating": the reference and the new model each embed every held-out text once; the
   same evaluators score both, and the gate decides.
4. "exporting", only when the gate passed: the version folder with its ONNX export. A
   rejected version is written without ONNX, kept for inspection but never served.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers

from embedtune_trainer.data import DataError
from embedtune_trainer.encoder import SentenceEncoder
from embedtune_trainer.evaluation.evaluators import Evaluator, evaluate_all
from embedtune_trainer.evaluation.precomputed import PrecomputedEncoder
from embedtune_trainer.feedback.events import EventStream, StateTimer, TrainingProgress
from embedtune_trainer.feedback.gate import decide, held_out_evaluators, held_out_texts
from embedtune_trainer.feedback.kind_data import KindData, choose_losses, kind_datasets, rows_named_by_id
from embedtune_trainer.feedback.kinds import FEEDBACK_KINDS
from embedtune_trainer.feedback.options import FeedbackOptions
from embedtune_trainer.feedback.snapshot import read_snapshot, split_held_out
from embedtune_trainer.model_card import ModelCardData
from embedtune_trainer.st_format import resolve_model_path
from embedtune_trainer.training import TrainingError, TrainSettings
from embedtune_trainer.training.assembly import TrainingPart, build_part, encoder_trainer, hyperparameters
from embedtune_trainer.training.version_folder import read_record, write_version_folder

EXPORTED_FILES = 2  # onnx/model.onnx and onnx/model_qint8.onnx


@dataclass(frozen=True)
class FeedbackJob:
    feedback: Path  # the snapshot, JSON lines (`snapshot`)
    base: str  # the version folder to fine-tune
    reference: str  # the version the gate compares against (the active one)
    output: Path  # the version folder to write: must not exist, or be empty
    version: str
    parent: str
    options: FeedbackOptions
    threads: int | None = None  # torch threads; None: every core this process may use


def run_feedback_job(job: FeedbackJob, events: EventStream) -> dict[str, Any]:
    """Run the job, announcing states and progress on `events`; returns the result it reported."""
    options = job.options
    _check_output(job.output)
    resolve_model_path(job.base)
    resolve_model_path(job.reference)
    items = read_snapshot(job.feedback)
    train_items, held_out_items = split_held_out(items, options.held_out_fraction)
    _check_split(len(items), len(train_items), len(held_out_items), options.held_out_fraction)
    train_sets = kind_datasets(train_items)
    held_out = kind_datasets(held_out_items)
    losses = choose_losses(train_sets, options.losses)
    evaluators = held_out_evaluators(held_out)

    torch.set_num_threads(job.threads or _available_cores())
    transformers.set_seed(options.seed)
    settings = _train_settings(job)
    encoder = SentenceEncoder.load(job.base)
    train_length = min(options.max_seq_length, encoder.max_seq_length)  # never beyond the base's own
    parts: dict[str, TrainingPart] = {}
    for kind, part in train_sets.items():
        with rows_named_by_id(kind, part.ids):
            parts[kind] = build_part(settings, encoder, part.data, losses[kind])

    timer = StateTimer(events)
    timer.enter("training")
    outcome = _train(settings, list(parts.values()), train_length, events)
    timer.enter("evaluating")
    metrics_active, metrics_new = _score(evaluators, held_out, job.reference, encoder, events)
    decision = decide(evaluators, metrics_active, metrics_new, options.gate_margin)
    summary = {
        "accepted": decision.passed,
        "gate": decision.as_dict(),
        "metrics_active": metrics_active,
        "metrics_new": metrics_new,
        "losses": losses,
        "feedback_counts": _counts(train_sets, held_out),
        "base_model": read_record(Path(job.base)).get("base_model") or encoder.name,
        "reason": decision.reason,
    }
    card, record = _card_and_record(job, settings, parts, summary, outcome, train_length)
    if decision.passed:
        timer.enter("exporting")
        events.progress(0, EXPORTED_FILES, "files")
        exported: list[Path] = []

        def report(path: Path) -> None:
            exported.append(path)
            events.progress(len(exported), EXPORTED_FILES, "files")

        write_version_folder(encoder, job.output, card, record, export_onnx=True, on_exported=report)
    else:
        write_version_folder(encoder, job.output, card, record, export_onnx=False)
    result = {**summary, "state_seconds": timer.stop()}
    events.result(result)
    return result


def _check_output(output: Path) -> None:
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise TrainingError(
            f"--output {output}: not an empty folder; the job writes a new version folder there"
        )


def _check_split(items: int, train: int, held_out: int, fraction: float) -> None:
    if not held_out:
        raise DataError(
            f"--options held_out_fraction {fraction} holds out none of the {items} feedback items, "
            "so the gate has nothing to compare the versions on; raise it or send more feedback"
        )
    if not train:
        raise DataError(
            f"--options held_out_fraction {fraction} holds out all {items} feedback items, "
            "so none is left to train on; lower it or send more feedback"
        )


def _available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _train_settings(job: FeedbackJob) -> TrainSettings:
    options = job.options
    return TrainSettings(
        data=job.feedback,  # where the examples came from; each kind's data is loaded by `kind_data`
        output=job.output,
        base=job.base,
        epochs=options.epochs,
        batch_size=options.batch_size,
        learning_rate=options.learning_rate,
        seed=options.seed,
        checkpoints=False,  # a failed job is started again from its snapshot, never resumed
        show_progress=False,
        parent=job.parent,
        version=job.version,
    )


def _train(
    settings: TrainSettings, parts: Sequence[TrainingPart], train_length: int, events: EventStream
) -> transformers.trainer_utils.TrainOutput:
    """One run over every part, each text truncated to `train_length` tokens while it trains."""
    encoder = parts[0].loss.model
    base_length = encoder.max_seq_length
    encoder.max_seq_length = train_length
    try:
        with tempfile.TemporaryDirectory(prefix="embedtune-feedback-") as scratch:
            trainer = encoder_trainer(settings, parts, Path(scratch))
            trainer.add_callback(TrainingProgress(events))
            return trainer.train()
    finally:
        encoder.max_seq_length = base_length  # the saved model reads what the base read


def _score(
    evaluators: Sequence[Evaluator],
    held_out: Mapping[str, KindData],
    reference: str,
    trained: SentenceEncoder,
    events: EventStream,
) -> tuple[dict[str, float], dict[str, float]]:
    """(metrics of the reference, metrics of the trained model) from the same evaluators."""
    texts = held_out_texts(held_out)
    total = 2 * len(texts)
    scores = []
    for offset, model in ((0, SentenceEncoder.load(reference)), (len(texts), trained)):
        embedded = PrecomputedEncoder.embed(
            model,
            texts,
            on_progress=lambda done, offset=offset: events.progress(offset + done, total, "texts"),
        )
        scores.append(evaluate_all(evaluators, embedded))
    return scores[0], scores[1]


def _counts(train: Mapping[str, KindData], held_out: Mapping[str, KindData]) -> dict[str, dict[str, int]]:
    return {
        kind: {
            "train": len(train[kind].data) if kind in train else 0,
            "held_out": len(held_out[kind].data) if kind in held_out else 0,
        }
        for kind in FEEDBACK_KINDS
        if kind in train or kind in held_out
    }


def _card_and_record(
    job: FeedbackJob,
    settings: TrainSettings,
    parts: Mapping[str, TrainingPart],
    summary: dict[str, Any],
    outcome: transformers.trainer_utils.TrainOutput,
    train_length: int,
) -> tuple[ModelCardData, dict[str, Any]]:
    options = job.options
    settings_used = {
        **hyperparameters(settings),
        "held_out_fraction": options.held_out_fraction,
        "gate_margin": options.gate_margin,
        "train_max_seq_length": train_length,
    }
    loss_config = {kind: part.loss.config() for kind, part in parts.items()}
    trained = ", ".join(f"{counts['train']} {kind}" for kind, counts in summary["feedback_counts"].items())
    card = ModelCardData(
        base_model=summary["base_model"],
        datasets=[f"user feedback ({trained})"],
        loss=", ".join(f"{part.loss_name} ({kind})" for kind, part in parts.items()),
        loss_config=loss_config,
        hyperparameters={**settings_used, "steps": outcome.global_step},
        metrics=summary["metrics_new"],
        tags=["embedtune", "feedback", *parts],
    )
    record = {
        "version": job.version,
        "parent": job.parent,
        **summary,
        "metrics": summary["metrics_new"],  # as in every version's record: held-out metrics of this model
        "loss_config": loss_config,
        "hyperparameters": settings_used,
        "steps": outcome.global_step,
        "train_loss": outcome.training_loss,
    }
    return card, record
