"""Checks run on normalised data before a single training step.

Each failure is a DataError naming the row (1-based, as in the file) and the column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import datasets

from embedtune_trainer.data.columns import LABEL
from embedtune_trainer.data.errors import DataError
from embedtune_trainer.data.shapes import DataShape


@dataclass(frozen=True)
class LabelRule:
    """What a loss accepts as labels: "float", "int" or None (labels ignored), and a closed range."""

    kind: str | None = None
    low: float | None = None
    high: float | None = None


def check_texts(dataset: datasets.Dataset, shape: DataShape) -> None:
    if len(dataset) == 0:
        raise DataError("the data has no rows")
    for column in shape.text_columns:
        for number, value in enumerate(dataset[column], start=1):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                raise DataError(f"row {number}: column {column!r} is missing")
            if not isinstance(value, str):
                raise DataError(
                    f"row {number}: column {column!r} is {type(value).__name__} {value!r}, expected text"
                )
            if not value.strip():
                raise DataError(f"row {number}: column {column!r} is empty text")


def numeric_labels(values: list[Any]) -> tuple[list[float | int], list[str] | None]:
    """Labels as numbers; text class names (e.g. NLI labels) become class ids 0..n-1 in sorted order.

    Returns the numbers and the class names (None when the labels were numeric).
    """
    as_numbers = [_to_number(v) for v in values]
    if all(n is not None for n in as_numbers):
        if any(isinstance(n, float) for n in as_numbers):
            return [float(n) for n in as_numbers], None  # type: ignore[arg-type]
        return as_numbers, None  # type: ignore[return-value]
    if all(isinstance(v, str) and v.strip() and _to_number(v) is None for v in values):
        names = sorted({v.strip() for v in values})
        index = {name: i for i, name in enumerate(names)}
        return [index[v.strip()] for v in values], names
    number = next(i for i, n in enumerate(as_numbers, start=1) if n is None)
    raise DataError(f"row {number}: column {LABEL!r} is {values[number - 1]!r}, expected a number")


def check_labels(labels: list[float | int], rule: LabelRule) -> None:
    for number, value in enumerate(labels, start=1):
        if not math.isfinite(value):
            raise DataError(f"row {number}: column {LABEL!r} is {value}, labels must be finite numbers")
        if rule.kind == "int" and float(value) != int(value):
            raise DataError(f"row {number}: column {LABEL!r} is {value}, the loss needs integer class labels")
        if rule.low is not None and value < rule.low:
            raise DataError(f"row {number}: column {LABEL!r} is {value}, below the loss's minimum {rule.low}")
        if rule.high is not None and value > rule.high:
            raise DataError(
                f"row {number}: column {LABEL!r} is {value}, above the loss's maximum {rule.high}"
            )


def check_batch_size(rows: int, batch_size: int, what: str = "training") -> None:
    if batch_size < 1:
        raise DataError(f"batch size must be at least 1, got {batch_size}")
    if batch_size > rows:
        raise DataError(
            f"batch size {batch_size} is larger than the {rows} {what} examples; "
            f"use --batch-size {rows} or less"
        )


def _to_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return (
            int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
        )
    return None
