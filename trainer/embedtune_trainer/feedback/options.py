"""The feedback job's `--options`: one JSON object, every key present (the server resolves defaults).

Each value is checked for its type and range here, so a bad one is refused with its
key's name before anything is loaded.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from typing import Any

from embedtune_trainer.training import TrainingError


@dataclass(frozen=True)
class FeedbackOptions:
    losses: dict[str, str]  # feedback kind → loss name; kinds left out train with their default
    epochs: float
    batch_size: int
    learning_rate: float
    held_out_fraction: float  # share of feedback ids held out for the gate (`snapshot.is_held_out`)
    gate_margin: float  # the new version must beat the active one by more than this
    seed: int
    max_seq_length: int  # tokens per text while training; the saved model keeps the base's own

    @classmethod
    def from_json(cls, text: str) -> FeedbackOptions:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TrainingError(f"--options is not valid JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(values, dict):
            raise TrainingError(f"--options must be a JSON object, got {type(values).__name__}")
        names = [f.name for f in fields(cls)]
        missing = [name for name in names if name not in values]
        unknown = [name for name in values if name not in names]
        if missing:
            raise TrainingError(f"--options: {', '.join(missing)} missing; every key is required")
        if unknown:
            raise TrainingError(f"--options: unknown {', '.join(unknown)}; the keys are {', '.join(names)}")
        return cls(
            losses=_losses(values["losses"]),
            epochs=_number(values, "epochs", above=0.0),
            batch_size=_integer(values, "batch_size", low=1),
            learning_rate=_number(values, "learning_rate", above=0.0),
            held_out_fraction=_number(values, "held_out_fraction", low=0.0, high=1.0),
            gate_margin=_number(values, "gate_margin"),
            seed=_integer(values, "seed", low=0),
            max_seq_length=_integer(values, "max_seq_length", low=1),
        )


def _losses(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise TrainingError(f"--options losses must map feedback kinds to loss names, got {value!r}")
    return dict(value)


def _number(
    values: dict[str, Any],
    key: str,
    above: float | None = None,
    low: float | None = None,
    high: float | None = None,
) -> float:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TrainingError(f"--options {key} must be a finite number, got {value!r}")
    too_low = (above is not None and value <= above) or (low is not None and value < low)
    if too_low or (high is not None and value > high):
        raise TrainingError(f"--options {key} must be {_bounds(above, low, high)}, got {value!r}")
    return float(value)


def _integer(values: dict[str, Any], key: str, low: int) -> int:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise TrainingError(f"--options {key} must be an integer >= {low}, got {value!r}")
    return value


def _bounds(above: float | None, low: float | None, high: float | None) -> str:
    lower = f"> {above}" if above is not None else f">= {low}" if low is not None else ""
    return " and ".join(part for part in (lower, f"<= {high}" if high is not None else "") if part)
