"""Feedback items of each kind as training data, and the loss each kind trains with.

Every kind's items go through `load_data` with the kind's shape, the same normalising
and checks as any training file, so feedback cannot reach training in a form `embedtune
train` would refuse. Errors about "row N" are re-worded to name that row's feedback id,
which is what the server and its users know the item by.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import datasets

from embedtune_trainer.data import DataError, DataSettings, TrainingData, load_data
from embedtune_trainer.data.columns import LABEL
from embedtune_trainer.feedback.kinds import FEEDBACK_KINDS, describe_kinds
from embedtune_trainer.feedback.snapshot import FeedbackItem
from embedtune_trainer.losses import registry
from embedtune_trainer.training import TrainingError
from embedtune_trainer.training.assembly import resolve_loss

_ROWS = re.compile(r"\brows? (\d+)(?:-(\d+))?")


@dataclass
class KindData:
    """The items of one kind as checked data; row i is feedback item `ids[i]`."""

    kind: str
    data: TrainingData
    ids: list[int]


@contextmanager
def rows_named_by_id(kind: str, ids: Sequence[int]) -> Iterator[None]:
    """Re-raise a DataError about "row N" (1-based) of `kind`'s data naming feedback id `ids[N - 1]`."""
    try:
        yield
    except DataError as exc:
        raise DataError(_ROWS.sub(lambda match: _name_rows(match, kind, ids), str(exc))) from exc


def kind_datasets(items: Sequence[FeedbackItem]) -> dict[str, KindData]:
    """One checked dataset per kind present in `items`, in `FEEDBACK_KINDS` order."""
    by_kind: dict[str, KindData] = {}
    for kind, shape in FEEDBACK_KINDS.items():
        of_kind = [item for item in items if item.kind == kind]
        if not of_kind:
            continue
        ids = [item.id for item in of_kind]
        rows = [{**item.texts, LABEL: item.label} if shape.has_label else item.texts for item in of_kind]
        with rows_named_by_id(kind, ids):
            data = load_data(datasets.Dataset.from_list(rows), DataSettings(shape=shape))
        data.source = f"{kind} feedback"
        by_kind[kind] = KindData(kind, data, ids)
    return by_kind


def choose_losses(train: Mapping[str, KindData], requested: Mapping[str, str]) -> dict[str, str]:
    """The registered loss of each kind in `train`: the requested one, else the kind's default.

    A requested name that is unknown, or a loss that does not fit its kind's data, is
    refused naming the option (`--options losses["pair"]: ...`).
    """
    for kind, name in requested.items():
        if kind not in FEEDBACK_KINDS:
            raise TrainingError(
                f'--options losses["{kind}"]: unknown feedback kind; the kinds are {describe_kinds()}'
            )
        try:
            registry.canonical_name(name)
        except ValueError as exc:
            raise TrainingError(f'--options losses["{kind}"]: {exc}') from exc
    chosen = {}
    for kind, part in train.items():
        try:
            chosen[kind] = resolve_loss(part.data, requested.get(kind))
        except ValueError as exc:
            raise TrainingError(f'--options losses["{kind}"]: {exc}') from exc
    return chosen


def _name_rows(match: re.Match[str], kind: str, ids: Sequence[int]) -> str:
    first, last = (int(group) if group else None for group in match.groups())
    if first is None or max(first, last or 0) > len(ids):
        return match.group(0)
    if last is None:
        return f"{kind} feedback id {ids[first - 1]}"
    return f"{kind} feedback ids {ids[first - 1]} to {ids[last - 1]}"
