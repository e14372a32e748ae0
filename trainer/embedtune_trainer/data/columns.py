"""Tell a dataset's shape from its column names and rename them to the canonical ones.

The canonical names are `DataShape.text_columns` plus "label". Each canonical column
accepts the aliases the Hub's sentence-embedding datasets commonly use.
"""

from __future__ import annotations

import datasets

from embedtune_trainer.data.errors import DataError
from embedtune_trainer.data.shapes import DataShape

LABEL = "label"

# Canonical column → accepted names (compared case-insensitively), most specific first.
ALIASES: dict[str, tuple[str, ...]] = {
    "anchor": ("anchor", "query", "question", "sentence", "text1", "sentence1", "sentence_a", "premise"),
    "positive": (
        "positive",
        "pos",
        "answer",
        "document",
        "passage",
        "text2",
        "sentence2",
        "sentence_b",
        "entailment",
    ),
    "negative": ("negative", "neg", "hard_negative", "negative_1", "contradiction"),
    "text1": ("text1", "sentence1", "sentence_a", "premise", "question1", "sentence", "anchor", "query"),
    "text2": ("text2", "sentence2", "sentence_b", "hypothesis", "question2", "answer", "positive", "pos"),
    "text": ("text", "sentence", "content", "document", "passage"),
    LABEL: ("label", "score", "similarity", "relatedness", "relatedness_score", "labels", "class", "target"),
}

# Detection order: the shape with the most columns that fits wins.
_DETECTION_ORDER = (
    DataShape.TRIPLET,
    DataShape.LABELED_PAIR,
    DataShape.POSITIVE_PAIR,
    DataShape.LABELED_TEXT,
)


def canonical_columns(shape: DataShape) -> tuple[str, ...]:
    return shape.text_columns + ((LABEL,) if shape.has_label else ())


def detect_shape(columns: list[str]) -> DataShape:
    """The shape whose columns are all present (by alias); an error lists what was found."""
    for shape in _DETECTION_ORDER:
        if _match_columns(columns, shape) is not None:
            return shape
    raise DataError(
        f"cannot tell the data's shape from its columns [{', '.join(columns)}]. Accepted shapes:\n"
        + describe_accepted_shapes()
        + "\nRename the columns, or give the shape explicitly (--shape)."
    )


def describe_accepted_shapes() -> str:
    lines = []
    for shape in sorted(DataShape, key=lambda s: s.value):
        parts = [f"{name} ({'/'.join(ALIASES[name])})" for name in canonical_columns(shape)]
        lines.append(f"  {shape.value} {shape.name.lower()}: " + ", ".join(parts))
    return "\n".join(lines)


def normalise_columns(
    dataset: datasets.Dataset, shape: DataShape | None = None
) -> tuple[datasets.Dataset, DataShape]:
    """Keep only the shape's columns, renamed to the canonical names, in canonical order."""
    columns = list(dataset.column_names)
    if shape is None:
        shape = detect_shape(columns)
    mapping = _match_columns(columns, shape)
    if mapping is None:
        wanted = canonical_columns(shape)
        if len(columns) != len(wanted):
            raise DataError(
                f"data shape {shape.name.lower()} needs columns {', '.join(wanted)}; "
                f"found [{', '.join(columns)}]. "
                f"Accepted names:\n{describe_accepted_shapes()}"
            )
        mapping = dict(zip(wanted, columns, strict=True))  # same count: take the columns in file order
    dataset = dataset.select_columns(list(mapping.values()))
    renames = {source: target for target, source in mapping.items() if source != target}
    if renames:
        # Two-step rename so that swapping names (e.g. anchor↔text1) cannot collide.
        dataset = dataset.rename_columns({s: f"__{t}" for s, t in renames.items()})
        dataset = dataset.rename_columns({f"__{t}": t for t in renames.values()})
    return dataset.select_columns(list(canonical_columns(shape))), shape


def _match_columns(columns: list[str], shape: DataShape) -> dict[str, str] | None:
    """canonical → actual column for every column of `shape`, or None when one is missing."""
    by_lower = {c.lower(): c for c in columns}
    mapping: dict[str, str] = {}
    for canonical in canonical_columns(shape):
        found = next(
            (
                by_lower[a]
                for a in ALIASES[canonical]
                if a in by_lower and by_lower[a] not in mapping.values()
            ),
            None,
        )
        if found is None:
            return None
        mapping[canonical] = found
    return mapping
