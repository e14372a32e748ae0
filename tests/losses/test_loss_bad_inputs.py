"""Bad batches and settings fail in `compute` / the constructor with a message naming the
loss, the row and the limit, not with a shape error deep inside torch."""

from __future__ import annotations

import pytest
import torch
from loss_standins import TableEncoder

from embedtune_trainer import losses as ours

BATCH = 6
DIM = 4


def model() -> TableEncoder:
    return TableEncoder(torch.randn(4, DIM))


def columns(n: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(n)
    return [torch.randn(BATCH, DIM, generator=generator) for _ in range(n)]


def ints(*values: int) -> torch.Tensor:
    return torch.tensor(values)


@pytest.mark.parametrize(
    ("loss", "n_columns", "labels", "message"),
    [
        (
            lambda m: ours.SoftmaxLoss(m, num_labels=3),
            2,
            ints(0, 1, 2, 3, 0, 1),
            r"SoftmaxLoss: label in row 3 is 3, must be in \[0, 2\]",
        ),
        (lambda m: ours.SoftmaxLoss(m, num_labels=3), 2, ints(0, -1, 2, 1, 0, 1), "row 1 is -1"),
        (
            lambda m: ours.SoftmaxLoss(m, num_labels=3),
            2,
            torch.tensor([0.0, 1, 2, 1, 0, 1]),
            "SoftmaxLoss needs integer class labels, got dtype torch.float32",
        ),
        (ours.ContrastiveLoss, 2, ints(0, 1, 1, 2, 0, 1), "ContrastiveLoss needs labels 0 or 1, row 3 has 2"),
        (
            ours.ContrastiveLoss,
            2,
            torch.tensor([0.0, 1.0, 0.5, 1.0, 0.0, 1.0]),
            "needs labels 0 or 1, row 2 has 0.5",
        ),
        (
            ours.OnlineContrastiveLoss,
            2,
            ints(0, 1, -1, 1, 0, 1),
            "OnlineContrastiveLoss needs labels 0 or 1, row 2",
        ),
        (
            ours.CosineSimilarityLoss,
            2,
            torch.tensor([0.1, 0.2, 0.3, 4.0, 0.5, 0.6]),
            r"CosineSimilarityLoss: label in row 3 is 4.0, must be in \[-1.0, 1.0\]",
        ),
        (ours.CoSENTLoss, 2, torch.tensor([0.1, float("nan"), 0.3, 0.4, 0.5, 0.6]), "label in row 1 is nan"),
        (ours.CoSENTLoss, 2, torch.tensor([0.1, 0.2, 0.3]), r"expects one label per row \(6\), got 3"),
        (ours.CosineSimilarityLoss, 2, None, "CosineSimilarityLoss needs labels, got None"),
        (
            ours.BatchAllTripletLoss,
            1,
            torch.tensor([0.0, 0, 1, 1, 2, 2]),
            "BatchAllTripletLoss needs integer class labels",
        ),
        (ours.BatchSemiHardTripletLoss, 1, ints(0, 0, 1, 1, -2, 2), "row 4 is -2, must be >= 0"),
        (ours.TripletLoss, 2, None, "TripletLoss expects 3 text columns, got 2"),
        (ours.MultipleNegativesRankingLoss, 1, None, "expects at least 2 text columns, got 1"),
        (ours.BatchHardTripletLoss, 2, ints(0, 0, 1, 1, 2, 2), "expects 1 text columns, got 2"),
        (ours.CoSENTLoss, 3, torch.rand(BATCH), "CoSENTLoss expects 2 text columns, got 3"),
    ],
)
def test_bad_batch_is_refused(loss, n_columns: int, labels, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        loss(model()).compute(columns(n_columns), labels)


def test_columns_of_different_batch_sizes_are_refused() -> None:
    anchor, positive = columns(2)
    with pytest.raises(ValueError, match=r"different batch sizes \[5, 6\]"):
        ours.MultipleNegativesRankingLoss(model()).compute([anchor, positive[:5]], None)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda m: ours.TripletLoss(m, distance="hamming"),
            "distance must be one of cosine, euclidean, manhattan",
        ),
        (
            lambda m: ours.BatchHardTripletLoss(m, distance="manhattan"),
            "distance must be one of cosine, euclidean",
        ),
        (lambda m: ours.MultipleNegativesRankingLoss(m, scale=0), "scale must be > 0"),
        (lambda m: ours.CoSENTLoss(m, similarity="l2"), "similarity must be one of cosine, dot"),
        (lambda m: ours.SoftmaxLoss(m, num_labels=0), "num_labels must be >= 1"),
        (
            lambda m: ours.SoftmaxLoss(m, 3, ours.PairFeatures(embeddings=False, difference=False)),
            "at least one of",
        ),
        (lambda m: ours.MegaBatchMarginLoss(m, mini_batch_size=0), "mini_batch_size must be >= 1 or None"),
    ],
)
def test_bad_settings_are_refused(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(model())


def test_good_labels_pass_the_same_checks() -> None:
    """The checks above must not refuse valid data."""
    m = model()
    assert ours.SoftmaxLoss(m, num_labels=3).compute(columns(2), ints(0, 1, 2, 2, 0, 1)) > 0
    assert ours.ContrastiveLoss(m).compute(columns(2), torch.tensor([0.0, 1, 1, 0, 0, 1])) > 0
    assert ours.CosineSimilarityLoss(m).compute(columns(2), torch.tensor([-1.0, 1, 0.5, 0, 0, 1])) > 0
    assert ours.BatchAllTripletLoss(m).compute(columns(1), ints(0, 0, 1, 1, 2, 2)) > 0
