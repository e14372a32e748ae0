"""Flatten the Hub's nested layouts into one example per row.

embedding-data/* datasets keep each example in one `set` column:
- QQP_triplets: `{"query": str, "pos": [str, ...], "neg": [str, ...]}`
- sentence-compression (and most pair sets): `[text_a, text_b]`
"""

from __future__ import annotations

import enum
import itertools
from typing import Any

import datasets

from embedtune_trainer.data.errors import DataError

NESTED_COLUMNS = ("set", "texts")


class NestedExpansion(enum.Enum):
    """How many triplets a `{query, pos: [...], neg: [...]}` row becomes."""

    FIRST = "first"  # (query, pos[0], neg[0])
    ALL = "all"  # every (pos, neg) combination


def flatten_nested(
    dataset: datasets.Dataset, expansion: NestedExpansion = NestedExpansion.FIRST
) -> datasets.Dataset:
    """Return `dataset` with a nested `set`/`texts` column expanded into flat text columns."""
    column = next((c for c in NESTED_COLUMNS if c in dataset.column_names), None)
    if column is None or len(dataset) == 0:
        return dataset
    rows: list[dict[str, Any]] = []
    for number, value in enumerate(dataset[column], start=1):
        rows.extend(_expand(value, number, column, expansion))
    if not rows:
        raise DataError(f"column {column!r}: no row has both a positive and a negative")
    return datasets.Dataset.from_list(rows)


def _expand(value: Any, number: int, column: str, expansion: NestedExpansion) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return _expand_query_set(value, number, column, expansion)
    if isinstance(value, (list, tuple)):
        if len(value) == 2:
            return [{"anchor": value[0], "positive": value[1]}]
        if len(value) == 3:
            return [{"anchor": value[0], "positive": value[1], "negative": value[2]}]
        raise DataError(
            f"row {number} field {column!r} has {len(value)} texts; expected 2 (pair) or 3 (triplet)"
        )
    raise DataError(f"row {number} field {column!r} is {type(value).__name__}; expected a list or an object")


def _expand_query_set(
    value: dict[str, Any], number: int, column: str, expansion: NestedExpansion
) -> list[dict[str, Any]]:
    if "query" not in value:
        raise DataError(f"row {number} field {column!r} has no 'query' (keys: {', '.join(value)})")
    positives = _as_list(value.get("pos"))
    negatives = _as_list(value.get("neg"))
    if not positives:
        raise DataError(f"row {number} field {column}.pos is empty; every query needs a positive")
    if not negatives:
        chosen = positives if expansion is NestedExpansion.ALL else positives[:1]
        return [{"anchor": value["query"], "positive": p} for p in chosen]
    pairs = (
        itertools.product(positives, negatives)
        if expansion is NestedExpansion.ALL
        else [(positives[0], negatives[0])]
    )
    return [{"anchor": value["query"], "positive": p, "negative": n} for p, n in pairs]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
