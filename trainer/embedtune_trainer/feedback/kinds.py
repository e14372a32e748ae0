"""The kinds of feedback the server collects and the data shape each one trains as.

`FEEDBACK_KINDS` is the one place this is declared: a kind's text roles are its shape's
text columns, its label kinds and losses come from the loss registry for that shape, and
the server learns all of it from `losses --json` (`catalog`).
"""

from __future__ import annotations

from types import MappingProxyType

from embedtune_trainer.data import DataShape
from embedtune_trainer.losses import registry

FEEDBACK_KINDS: MappingProxyType[str, DataShape] = MappingProxyType(
    {
        "triplet": DataShape.TRIPLET,  # anchor, positive, negative
        "pair": DataShape.POSITIVE_PAIR,  # anchor, positive
        "labeled_pair": DataShape.LABELED_PAIR,  # text1, text2; label: float score or int class
        "labeled_text": DataShape.LABELED_TEXT,  # text; label: int class
    }
)


def roles(kind: str) -> tuple[str, ...]:
    """The text roles of a feedback item of this kind, e.g. ("anchor", "positive")."""
    return FEEDBACK_KINDS[kind].text_columns


def label_kinds(kind: str) -> list[str | None]:
    """The label kinds this kind's data can have ("float", "int", or None for no label).

    The registry has a default loss for every (shape, label kind) a shape can have.
    """
    shape = FEEDBACK_KINDS[kind]
    return [label_kind for (registered, label_kind) in registry.DEFAULT_LOSSES if registered is shape]


def describe_kinds() -> str:
    return ", ".join(FEEDBACK_KINDS)
