"""Training data as a cross-encoder reads it: (text1, text2, label) pairs.

Scored and labelled pairs are used as they are. A triplet becomes two pairs, (anchor,
positive, 1) and (anchor, negative, 0): the cross-encoder learns to score the pair,
where a bi-encoder learns from the triplet's contrast. Data without a label or a
negative (positive pairs, labelled texts) gives a cross-encoder nothing to tell apart,
and is refused.
"""

from __future__ import annotations

import datasets

from embedtune_trainer.data import DataError, DataShape, TrainingData
from embedtune_trainer.data.columns import LABEL

POSITIVE, NEGATIVE = 1, 0


def pair_data(data: TrainingData) -> TrainingData:
    """`data` as LABELED_PAIR rows; triplets expanded, positive pair first."""
    if data.shape is DataShape.LABELED_PAIR:
        return data
    if data.shape is not DataShape.TRIPLET:
        raise DataError(
            f"a cross-encoder trains on labelled pairs ({_columns(DataShape.LABELED_PAIR)}) or triplets "
            f"({_columns(DataShape.TRIPLET)}), each becoming a positive pair (label 1) and a negative "
            f"(label 0); {data.shape.name.lower()} data ({_columns(data.shape)}) has no label or "
            "negative to learn from"
        )
    rows = data.dataset
    first, second = DataShape.LABELED_PAIR.text_columns
    pairs = {first: [], second: [], LABEL: []}
    for anchor, positive, negative in zip(rows["anchor"], rows["positive"], rows["negative"], strict=True):
        pairs[first] += [anchor, anchor]
        pairs[second] += [positive, negative]
        pairs[LABEL] += [POSITIVE, NEGATIVE]
    return TrainingData(
        dataset=datasets.Dataset.from_dict(pairs),
        shape=DataShape.LABELED_PAIR,
        source=data.source,
        counts={**data.counts, "pairs": 2 * len(rows)},
    )


def _columns(shape: DataShape) -> str:
    return ", ".join((*shape.text_columns, *((LABEL,) if shape.has_label else ())))
