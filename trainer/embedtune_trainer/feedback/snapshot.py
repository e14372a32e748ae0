"""The feedback snapshot the server hands the job, and which of its items are held out.

One JSON object per line:

    {"id": 17, "kind": "triplet", "texts": {"anchor": "...", "positive": "...", "negative": "..."},
     "label": null}

`texts` holds exactly the kind's roles (`kinds.roles`); `label` is null for triplets and
pairs, a number for labeled pairs (float score or int class) and an int class for
labeled texts. The structure is checked here, line by line; the texts and labels
themselves are checked by the data loading every training set goes through (`kind_data`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedtune_trainer.data import DataError
from embedtune_trainer.feedback.kinds import FEEDBACK_KINDS, describe_kinds, label_kinds, roles


@dataclass(frozen=True)
class FeedbackItem:
    id: int
    kind: str
    texts: dict[str, str]
    label: float | int | None


def is_held_out(feedback_id: int, fraction: float) -> bool:
    """Whether the gate holds this feedback item out of training.

    The rule depends on the id alone: the first 8 bytes of SHA-256 of the id's decimal
    digits, read as a big-endian fraction of 2**64, held out when below `fraction`. So an
    item stays on its side across snapshots, retries and snapshots of different sizes,
    and the held-out share tends to `fraction` over many ids. The server does not
    re-implement it; it reports the counts the job gives back.
    """
    digest = hashlib.sha256(str(feedback_id).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_held_out(
    items: Sequence[FeedbackItem], fraction: float
) -> tuple[list[FeedbackItem], list[FeedbackItem]]:
    """(training items, held-out items) by `is_held_out`, each in snapshot order."""
    held_out = [is_held_out(item.id, fraction) for item in items]
    return (
        [item for item, out in zip(items, held_out, strict=True) if not out],
        [item for item, out in zip(items, held_out, strict=True) if out],
    )


def read_snapshot(path: Path) -> list[FeedbackItem]:
    """Every item of the snapshot; a DataError names the line and the field that is wrong."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"--feedback {path}: cannot read it ({exc})") from exc
    items: list[FeedbackItem] = []
    first_line: dict[int, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item = _parse(line, f"--feedback {path}: line {number}")
        if item.id in first_line:
            raise DataError(
                f"--feedback {path}: line {number}: id {item.id} is also on line {first_line[item.id]}"
            )
        first_line[item.id] = number
        items.append(item)
    if not items:
        raise DataError(f"--feedback {path}: the snapshot has no feedback items")
    return items


def _parse(line: str, where: str) -> FeedbackItem:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(row, dict):
        raise DataError(f"{where}: a {type(row).__name__}, expected a JSON object")
    feedback_id = row.get("id")
    if isinstance(feedback_id, bool) or not isinstance(feedback_id, int):
        raise DataError(f"{where}: field 'id' is {feedback_id!r}, expected an integer")
    kind = row.get("kind")
    if kind not in FEEDBACK_KINDS:
        raise DataError(f"{where}: field 'kind' is {kind!r}, expected one of {describe_kinds()}")
    return FeedbackItem(feedback_id, kind, _texts(row.get("texts"), kind, where), _label(row, kind, where))


def _texts(texts: Any, kind: str, where: str) -> dict[str, str]:
    wanted = roles(kind)
    if not isinstance(texts, dict) or set(texts) != set(wanted):
        found = (", ".join(texts) or "no roles") if isinstance(texts, dict) else repr(texts)
        raise DataError(f"{where}: field 'texts' has {found}; a {kind} has {', '.join(wanted)}")
    for role in wanted:
        if not isinstance(texts[role], str):
            raise DataError(f"{where}: field 'texts.{role}' is {texts[role]!r}, expected a string")
    return {role: texts[role] for role in wanted}


def _label(row: dict[str, Any], kind: str, where: str) -> float | int | None:
    label = row.get("label")
    accepted = label_kinds(kind)
    if accepted == [None]:
        if label is not None:
            raise DataError(f"{where}: field 'label' is {label!r}; a {kind} has no label (null)")
        return None
    if isinstance(label, int) and not isinstance(label, bool):
        return label
    if "float" in accepted and isinstance(label, float):
        return label
    expected = "a number" if "float" in accepted else "an integer class"
    raise DataError(f"{where}: field 'label' is {label!r}, expected {expected}")
