"""The tutorial's four shapes of training data.

Every loss declares the shapes it accepts, so a loss that cannot use the data is
refused before a single step runs.
"""

from __future__ import annotations

import enum


class DataShape(enum.Enum):
    """The columns a training example has, in the tutorial's numbering."""

    LABELED_PAIR = 1  # (text1, text2, label): float score or int class
    POSITIVE_PAIR = 2  # (anchor, positive)
    LABELED_TEXT = 3  # (text, label): int class
    TRIPLET = 4  # (anchor, positive, negative)

    @property
    def text_columns(self) -> tuple[str, ...]:
        """Names of the text columns, in the order losses receive their embeddings."""
        return _TEXT_COLUMNS[self]

    @property
    def has_label(self) -> bool:
        return self in (DataShape.LABELED_PAIR, DataShape.LABELED_TEXT)


_TEXT_COLUMNS = {
    DataShape.LABELED_PAIR: ("text1", "text2"),
    DataShape.POSITIVE_PAIR: ("anchor", "positive"),
    DataShape.LABELED_TEXT: ("text",),
    DataShape.TRIPLET: ("anchor", "positive", "negative"),
}
