"""From a path, Hub id or Dataset to normalised, checked examples of one shape."""

from __future__ import annotations

from dataclasses import dataclass, field

import datasets

from embedtune_trainer.data.columns import LABEL, normalise_columns
from embedtune_trainer.data.layouts import NestedExpansion, flatten_nested
from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.data.sources import DataSource, load_source
from embedtune_trainer.data.validation import LabelRule, check_labels, check_texts, numeric_labels


@dataclass(frozen=True)
class DataSettings:
    """How to read one data source."""

    shape: DataShape | None = None  # None: detect from the column names
    split: str = "train"  # for Hub ids and DatasetDicts
    columns: list[str] | None = None  # names for the fields of a headerless CSV/TSV
    nested: NestedExpansion = NestedExpansion.FIRST
    label_scale: float | None = None  # divide labels by this (e.g. 5 for STSb's 0–5 scores)
    limit: int | None = None  # keep only the first N examples


@dataclass
class TrainingData:
    """Examples in canonical columns (`shape.text_columns` + "label"), checked."""

    dataset: datasets.Dataset
    shape: DataShape
    source: str
    label_names: list[str] | None = None  # class names when text labels were mapped to ids
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def class_count(self) -> int:
        """Classes in class-labelled data: its class names, else the largest class id + 1."""
        return len(self.label_names) if self.label_names else int(max(self.dataset[LABEL])) + 1


def load_data(
    source: DataSource, settings: DataSettings | None = None, rule: LabelRule | None = None
) -> TrainingData:
    """Load, flatten, normalise and check `source`; `rule` checks labels against a loss."""
    settings = settings or DataSettings()
    raw = load_source(source, split=settings.split, columns=settings.columns)
    raw_rows = len(raw)
    flat = flatten_nested(raw, settings.nested)
    if settings.limit is not None:
        flat = flat.select(range(min(settings.limit, len(flat))))
    dataset, shape = normalise_columns(flat, settings.shape)
    check_texts(dataset, shape)
    label_names = None
    if shape.has_label:
        labels, label_names = numeric_labels(dataset[LABEL])
        if settings.label_scale:
            labels = [value / settings.label_scale for value in labels]
        check_labels(labels, rule or LabelRule())
        dataset = dataset.remove_columns(LABEL).add_column(LABEL, labels)
    elif rule is not None and rule.kind is not None:
        check_labels([], rule)
    return TrainingData(
        dataset=dataset,
        shape=shape,
        source=describe_source(source),
        label_names=label_names,
        counts={"raw_rows": raw_rows, "examples": len(dataset)},
    )


def describe_source(source: DataSource) -> str:
    if isinstance(source, (datasets.Dataset, datasets.DatasetDict)):
        return "in-memory dataset"
    return str(source)
