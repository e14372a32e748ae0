"""Every loss against its sentence-transformers counterpart: same value, same gradients.

Both sides run on a `TableEncoder` holding the same random embeddings, so the gradient
with respect to the embeddings is the table's gradient. Losses with parameters of their
own (SoftmaxLoss's classifier) start from the same weights and must get the same grads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from loss_standins import TableEncoder, column_features
from sentence_transformers.sentence_transformer import losses as st
from sentence_transformers.sentence_transformer.losses.batch_hard_triplet import (
    BatchHardTripletLossDistanceFunction as BatchDistance,
)
from sentence_transformers.sentence_transformer.losses.contrastive import SiameseDistanceMetric
from sentence_transformers.sentence_transformer.losses.triplet import TripletDistanceMetric
from sentence_transformers.util import dot_score, pairwise_dot_score

from embedtune_trainer import losses as ours

BATCH = 12
DIM = 8


@dataclass(frozen=True)
class Case:
    name: str
    ours: Callable
    reference: Callable
    columns: int
    labels: str | None = None
    spread: float = 1.0  # standard deviation of the random embeddings
    active: bool = True  # False: a fallback case whose gradient is legitimately zero


def make_labels(kind: str | None, generator: torch.Generator) -> torch.Tensor | None:
    def shuffled(values: list) -> torch.Tensor:
        return torch.tensor(values)[torch.randperm(len(values), generator=generator)]

    if kind is None:
        # sentence-transformers' trainer passes an empty label tensor for unlabelled data.
        return None
    if kind == "binary":
        return shuffled([0, 1] * (BATCH // 2))
    if kind == "all_positive":
        return torch.ones(BATCH, dtype=torch.long)
    if kind == "classes":
        return torch.randint(0, 3, (BATCH,), generator=generator)
    if kind == "score":
        return torch.rand(BATCH, generator=generator, dtype=torch.float64) * 2 - 1
    if kind == "tied_score":
        return (torch.rand(BATCH, generator=generator, dtype=torch.float64) * 4).round() / 4
    if kind == "groups":
        return shuffled([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    if kind == "groups_with_singleton":
        return shuffled([0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 7])
    if kind == "one_class":
        return torch.full((BATCH,), 4)
    raise AssertionError(kind)


def _triplet(distance: str, st_metric, margin: float = 5.0) -> list[Case]:
    return [
        Case(
            f"triplet-{distance}-{margin}",
            lambda m: ours.TripletLoss(m, distance=distance, margin=margin),
            lambda m: st.TripletLoss(m, distance_metric=st_metric, triplet_margin=margin),
            3,
        )
    ]


def _batch(name: str, our_cls, st_cls, labels: str = "groups", margin: bool = True) -> list[Case]:
    cases = []
    for distance, st_metric, spread in (
        ("euclidean", BatchDistance.euclidean_distance, 1.0),
        ("cosine", BatchDistance.cosine_distance, 1.0),
    ):
        our_kwargs = {"distance": distance}
        st_kwargs = {"distance_metric": st_metric}
        if margin and distance == "cosine":
            our_kwargs["margin"] = st_kwargs["margin"] = 0.5
        cases.append(
            Case(
                f"{name}-{distance}-{labels}",
                lambda m, k=our_kwargs: our_cls(m, **k),
                lambda m, k=st_kwargs: st_cls(m, **k),
                1,
                labels,
                spread,
            )
        )
    return cases


SIAMESE = {
    "cosine": SiameseDistanceMetric.COSINE_DISTANCE,
    "euclidean": SiameseDistanceMetric.EUCLIDEAN,
    "manhattan": SiameseDistanceMetric.MANHATTAN,
}

CASES: list[Case] = [
    *_triplet("euclidean", TripletDistanceMetric.EUCLIDEAN),
    *_triplet("cosine", TripletDistanceMetric.COSINE, margin=0.3),
    *_triplet("manhattan", TripletDistanceMetric.MANHATTAN, margin=8.0),
    Case("mnrl", ours.MultipleNegativesRankingLoss, st.MultipleNegativesRankingLoss, 2),
    Case("mnrl-hard-negative", ours.MultipleNegativesRankingLoss, st.MultipleNegativesRankingLoss, 3),
    Case(
        "mnrl-dot-scale5",
        lambda m: ours.MultipleNegativesRankingLoss(m, scale=5.0, similarity="dot"),
        lambda m: st.MultipleNegativesRankingLoss(m, scale=5.0, similarity_fct=dot_score),
        3,
        spread=0.3,
    ),
    *[
        Case(
            f"mnrl-symmetric-{columns}-columns",
            lambda m: ours.MultipleNegativesRankingLoss(m, symmetric=True),
            lambda m: st.MultipleNegativesRankingLoss(
                m, directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction"
            ),
            columns,
        )
        for columns in (2, 3)
    ],
    Case(
        "mnsrl-class",
        ours.MultipleNegativesSymmetricRankingLoss,
        lambda m: st.MultipleNegativesRankingLoss(
            m, directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction"
        ),
        2,
    ),
    Case(
        "cached-mnrl-table",
        lambda m: ours.CachedMultipleNegativesRankingLoss(m, mini_batch_size=5),
        lambda m: st.CachedMultipleNegativesRankingLoss(m, mini_batch_size=5),
        3,
    ),
    Case(
        "cached-mnsrl-table",
        lambda m: ours.CachedMultipleNegativesSymmetricRankingLoss(m, mini_batch_size=5),
        lambda m: st.CachedMultipleNegativesRankingLoss(
            m, mini_batch_size=5, directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction"
        ),
        2,
    ),
    *[
        Case(
            f"contrastive-{distance}",
            lambda m, d=distance: ours.ContrastiveLoss(m, distance=d),
            lambda m, d=distance: st.ContrastiveLoss(m, distance_metric=SIAMESE[d]),
            2,
            "binary",
            spread=1.0 if distance == "cosine" else 0.1,
        )
        for distance in SIAMESE
    ],
    Case(
        "contrastive-sum-margin2",
        lambda m: ours.ContrastiveLoss(m, distance="euclidean", margin=2.0, size_average=False),
        lambda m: st.ContrastiveLoss(
            m, distance_metric=SiameseDistanceMetric.EUCLIDEAN, margin=2.0, size_average=False
        ),
        2,
        "binary",
        spread=0.5,
    ),
    *[
        Case(
            f"online-contrastive-{distance}-{labels}",
            lambda m, d=distance: ours.OnlineContrastiveLoss(m, distance=d),
            lambda m, d=distance: st.OnlineContrastiveLoss(m, distance_metric=SIAMESE[d]),
            2,
            labels,
            spread=1.0 if distance == "cosine" else 0.1,
        )
        for distance in SIAMESE
        for labels in ("binary", "all_positive")
    ],
    Case(
        "softmax",
        lambda m: ours.SoftmaxLoss(m, num_labels=3),
        lambda m: st.SoftmaxLoss(m, embedding_dimension=DIM, num_labels=3),
        2,
        "classes",
    ),
    Case(
        "softmax-with-product",
        lambda m: ours.SoftmaxLoss(m, num_labels=3, parts=ours.PairFeatures(difference=False, product=True)),
        lambda m: st.SoftmaxLoss(
            m,
            embedding_dimension=DIM,
            num_labels=3,
            concatenation_sent_difference=False,
            concatenation_sent_multiplication=True,
        ),
        2,
        "classes",
    ),
    Case("cosine-similarity", ours.CosineSimilarityLoss, st.CosineSimilarityLoss, 2, "score"),
    Case("cosent", ours.CoSENTLoss, st.CoSENTLoss, 2, "score"),
    Case("cosent-ties", ours.CoSENTLoss, st.CoSENTLoss, 2, "tied_score"),
    Case(
        "cosent-dot-scale5",
        lambda m: ours.CoSENTLoss(m, scale=5.0, similarity="dot"),
        lambda m: st.CoSENTLoss(m, scale=5.0, similarity_fct=pairwise_dot_score),
        2,
        "tied_score",
        spread=0.3,
    ),
    Case(
        "mega-batch-margin-whole",
        lambda m: ours.MegaBatchMarginLoss(m, mini_batch_size=None),
        lambda m: st.MegaBatchMarginLoss(m, use_mini_batched_version=False),
        2,
    ),
    Case(
        "mega-batch-margin-mini-batched",
        lambda m: ours.MegaBatchMarginLoss(m, mini_batch_size=5),
        lambda m: st.MegaBatchMarginLoss(m, mini_batch_size=5),
        2,
    ),
    *_batch("batch-hard", ours.BatchHardTripletLoss, st.BatchHardTripletLoss),
    *_batch("batch-hard", ours.BatchHardTripletLoss, st.BatchHardTripletLoss, "groups_with_singleton"),
    *_batch("batch-all", ours.BatchAllTripletLoss, st.BatchAllTripletLoss),
    *_batch("batch-all", ours.BatchAllTripletLoss, st.BatchAllTripletLoss, "groups_with_singleton"),
    *_batch(
        "batch-soft-margin",
        ours.BatchHardSoftMarginTripletLoss,
        st.BatchHardSoftMarginTripletLoss,
        margin=False,
    ),
    *_batch("batch-semi-hard", ours.BatchSemiHardTripletLoss, st.BatchSemiHardTripletLoss),
    *_batch(
        "batch-semi-hard", ours.BatchSemiHardTripletLoss, st.BatchSemiHardTripletLoss, "groups_with_singleton"
    ),
]

# Both sides built with no settings at all: the values only match if the defaults do.
DEFAULTS: list[Case] = [
    Case("defaults-triplet", ours.TripletLoss, st.TripletLoss, 3),
    Case("defaults-mnrl", ours.MultipleNegativesRankingLoss, st.MultipleNegativesRankingLoss, 3, spread=0.3),
    Case(
        "defaults-cached-mnrl",
        ours.CachedMultipleNegativesRankingLoss,
        st.CachedMultipleNegativesRankingLoss,
        2,
        spread=0.3,
    ),
    Case("defaults-contrastive", ours.ContrastiveLoss, st.ContrastiveLoss, 2, "binary"),
    Case("defaults-online-contrastive", ours.OnlineContrastiveLoss, st.OnlineContrastiveLoss, 2, "binary"),
    Case("defaults-cosine-similarity", ours.CosineSimilarityLoss, st.CosineSimilarityLoss, 2, "score"),
    Case("defaults-cosent", ours.CoSENTLoss, st.CoSENTLoss, 2, "tied_score", spread=0.3),
    Case("defaults-mega-batch-margin", ours.MegaBatchMarginLoss, st.MegaBatchMarginLoss, 2),
    *[
        Case(f"defaults-{our_cls.__name__}", our_cls, st_cls, 1, "groups", spread=0.6)
        for our_cls, st_cls in (
            (ours.BatchHardTripletLoss, st.BatchHardTripletLoss),
            (ours.BatchAllTripletLoss, st.BatchAllTripletLoss),
            (ours.BatchHardSoftMarginTripletLoss, st.BatchHardSoftMarginTripletLoss),
            (ours.BatchSemiHardTripletLoss, st.BatchSemiHardTripletLoss),
        )
    ],
    # A batch with a single class: no negatives at all, the reference's fallbacks apply.
    *[
        Case(f"one-class-{our_cls.__name__}", our_cls, st_cls, 1, "one_class", active=active)
        for our_cls, st_cls, active in (
            (ours.BatchHardTripletLoss, st.BatchHardTripletLoss, False),
            (ours.BatchHardSoftMarginTripletLoss, st.BatchHardSoftMarginTripletLoss, False),
            (ours.BatchSemiHardTripletLoss, st.BatchSemiHardTripletLoss, True),
        )
    ],
]

# (absolute, relative). float64 shows the formulas agree: 1e-7 absolute (ST casts
# CosineSimilarityLoss labels to float32, so even float64 runs differ around 1e-8 there).
# float32 shows they agree at training precision: 1e-5 absolute plus 1e-5 relative, because
# where ST computes the same value another way (CoSENT's sort-and-logcumsumexp against our
# pairwise log-sum-exp) gradients of size ~10 differ in the last float32 bits (~1e-6 relative).
TOLERANCE = {torch.float64: (1e-7, 0.0), torch.float32: (1e-5, 1e-5)}


def run(factory: Callable, table: torch.Tensor, labels: torch.Tensor | None, columns: int, sync=None):
    model = TableEncoder(table)
    loss = factory(model).to(table.dtype)
    if sync is not None:
        sync(loss)
    value = loss(column_features(columns, BATCH), labels)
    value.backward()
    own_grads = {
        name.split(".", 1)[1]: p.grad
        for name, p in loss.named_parameters()
        if not name.startswith(("model.", "sentence_embedder."))
    }
    return loss, value.detach(), model.table.grad, own_grads


def _reference_labels(labels: torch.Tensor | None) -> torch.Tensor:
    return torch.empty(0) if labels is None else labels


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", CASES + DEFAULTS, ids=lambda c: c.name)
def test_value_and_gradients_match_sentence_transformers(case: Case, dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(sum(map(ord, case.name)))
    table = (
        torch.randn(case.columns * BATCH, DIM, generator=generator, dtype=torch.float64) * case.spread
    ).to(dtype)
    labels = make_labels(case.labels, generator)
    if labels is not None and labels.is_floating_point():
        labels = labels.to(dtype)

    ref_loss, ref_value, ref_grad, ref_own = run(
        case.reference, table, _reference_labels(labels), case.columns
    )

    def copy_own_parameters(loss: torch.nn.Module) -> None:
        with torch.no_grad():
            for name, p in loss.named_parameters():
                if not name.startswith("model."):
                    p.copy_(ref_loss.get_parameter(name))

    _, value, grad, own = run(case.ours, table, labels, case.columns, copy_own_parameters)

    atol, rtol = TOLERANCE[dtype]
    torch.testing.assert_close(value, ref_value, atol=atol, rtol=rtol)
    torch.testing.assert_close(grad, ref_grad, atol=atol, rtol=rtol)
    assert own.keys() == ref_own.keys()
    for name in own:
        torch.testing.assert_close(own[name], ref_own[name], atol=atol, rtol=rtol)
    # A loss that is 0 with 0 gradient would match anything: make sure the case tests something.
    if case.active:
        assert value.abs() > 0 and grad.abs().sum() > 0, "degenerate case: pick data where the loss is active"
