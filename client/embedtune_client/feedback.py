"""Feedback items, for `feedback_many`: the four shapes of example the trainer learns from.

A text is given inline (a `str`) or as a `DocumentRef` to a stored document, so an
application can say "for this query, document 17 beat document 4" without resending
the documents' text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DocumentRef:
    """A stored document, by id, where feedback takes a text."""

    id: str


TextLike = str | DocumentRef


@dataclass(frozen=True)
class Triplet:
    """For `anchor`, `positive` is a better match than `negative`."""

    anchor: TextLike
    positive: TextLike
    negative: TextLike


@dataclass(frozen=True)
class Pair:
    """Two texts that mean the same, e.g. a query and the document it should find."""

    anchor: TextLike
    positive: TextLike


@dataclass(frozen=True)
class LabeledPair:
    """Two texts with a similarity score (a float) or a class label (an int)."""

    text1: TextLike
    text2: TextLike
    label: float | int


@dataclass(frozen=True)
class LabeledText:
    """One text with its class label."""

    text: TextLike
    label: int


FeedbackItem = Triplet | Pair | LabeledPair | LabeledText
