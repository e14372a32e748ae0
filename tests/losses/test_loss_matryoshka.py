"""MatryoshkaLoss against sentence-transformers' MatryoshkaLoss, and its refusals."""

from __future__ import annotations

import pytest
import torch
from loss_standins import TableEncoder, column_features
from sentence_transformers.sentence_transformer import losses as st

from embedtune_trainer import losses as ours
from embedtune_trainer.losses.base import EmbeddingLoss

BATCH = 10
DIM = 8

INNER = {
    "mnrl": (ours.MultipleNegativesRankingLoss, st.MultipleNegativesRankingLoss, 3, None),
    "cosent": (ours.CoSENTLoss, st.CoSENTLoss, 2, "score"),
    "triplet": (ours.TripletLoss, st.TripletLoss, 3, None),
    "batch-all": (ours.BatchAllTripletLoss, st.BatchAllTripletLoss, 1, "groups"),
    "cached-mnrl": (
        lambda m: ours.CachedMultipleNegativesRankingLoss(m, mini_batch_size=3),
        lambda m: st.CachedMultipleNegativesRankingLoss(m, mini_batch_size=3),
        2,
        None,
    ),
    "mega-batch-mini-batched": (
        lambda m: ours.MegaBatchMarginLoss(m, mini_batch_size=4),
        lambda m: st.MegaBatchMarginLoss(m, mini_batch_size=4),
        2,
        None,
    ),
}


def labels_for(kind: str | None, generator: torch.Generator) -> torch.Tensor | None:
    if kind == "score":
        return torch.rand(BATCH, generator=generator, dtype=torch.float64)
    if kind == "groups":
        return torch.tensor([0, 0, 1, 1, 1, 2, 2, 3, 3, 3])
    return None


def run(model: TableEncoder, loss: torch.nn.Module, columns: int, labels):
    value = loss(column_features(columns, BATCH), labels)
    value.backward()
    return value.detach(), model.table.grad


@pytest.mark.parametrize(
    ("dims", "weights"),
    [([8, 4, 2], None), ([2, 8, 4], [0.25, 1.0, 0.5])],
    ids=["plain", "unsorted-weighted"],
)
@pytest.mark.parametrize("inner", list(INNER))
def test_matches_sentence_transformers(inner: str, dims: list[int], weights: list[float] | None) -> None:
    our_cls, st_cls, columns, label_kind = INNER[inner]
    generator = torch.Generator().manual_seed(len(inner))
    table = torch.randn(columns * BATCH, DIM, generator=generator, dtype=torch.float64)
    labels = labels_for(label_kind, generator)

    st_model = TableEncoder(table)
    reference = st.MatryoshkaLoss(st_model, st_cls(st_model), dims, matryoshka_weights=weights)
    ref_value, ref_grad = run(st_model, reference, columns, torch.empty(0) if labels is None else labels)

    our_model = TableEncoder(table)
    loss = ours.MatryoshkaLoss(our_model, our_cls(our_model), dims, matryoshka_weights=weights)
    value, grad = run(our_model, loss, columns, labels)

    torch.testing.assert_close(value, ref_value, atol=1e-7, rtol=0)
    torch.testing.assert_close(grad, ref_grad, atol=1e-7, rtol=0)
    assert value > 0 and grad.abs().sum() > 0


def test_differs_from_the_inner_loss_alone() -> None:
    """Truncation must change something, or the parity test above proves little."""
    table = torch.randn(2 * BATCH, DIM, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = TableEncoder(table)
    inner = ours.MultipleNegativesRankingLoss(model)
    features = column_features(2, BATCH)
    wrapped = ours.MatryoshkaLoss(model, inner, [DIM, 2], matryoshka_weights=[0.0, 1.0])
    assert not torch.isclose(wrapped(features, None), inner(features, None))


def test_n_dims_per_step_picks_a_subset() -> None:
    table = torch.randn(2 * BATCH, DIM, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    model = TableEncoder(table)
    inner = ours.MultipleNegativesRankingLoss(model)
    embeddings = [table[:BATCH], table[BATCH:]]
    single = {
        dim: ours.MatryoshkaLoss(model, inner, [dim]).compute(embeddings, None).item() for dim in (8, 4, 2)
    }
    loss = ours.MatryoshkaLoss(model, inner, [8, 4, 2], n_dims_per_step=1)
    torch.manual_seed(0)
    seen = {round(loss.compute(embeddings, None).item(), 9) for _ in range(20)}
    assert seen <= {round(v, 9) for v in single.values()}
    assert len(seen) > 1


class _ForwardOverridingLoss(EmbeddingLoss):
    def forward(self, features, labels):
        return torch.zeros(())


def test_refuses_a_loss_that_overrides_forward() -> None:
    model = TableEncoder(torch.randn(4, DIM))
    with pytest.raises(ValueError, match="cannot wrap _ForwardOverridingLoss: it overrides forward"):
        ours.MatryoshkaLoss(model, _ForwardOverridingLoss(model), [DIM])


@pytest.mark.parametrize(
    ("dims", "weights", "message"),
    [
        ([], None, "at least one dimension"),
        ([8, 0], None, "must all be > 0"),
        ([16, 8], None, r"\[16\] exceed the model's embedding size 8"),
        ([8, 4], [1.0], "matryoshka_weights has 1 entries, matryoshka_dims has 2"),
    ],
)
def test_bad_settings_are_refused(dims, weights, message) -> None:
    model = TableEncoder(torch.randn(4, DIM))
    with pytest.raises(ValueError, match=message):
        ours.MatryoshkaLoss(model, ours.CoSENTLoss(model), dims, matryoshka_weights=weights)


def test_inherits_shapes_and_label_kind() -> None:
    model = TableEncoder(torch.randn(4, DIM))
    loss = ours.MatryoshkaLoss(model, ours.CoSENTLoss(model), [8, 4])
    assert loss.shapes == ours.CoSENTLoss.shapes
    assert loss.label_kind == "float"
    assert loss.config()["matryoshka_dims"] == [8, 4]


def test_refuses_a_loss_with_full_size_parameters() -> None:
    model = TableEncoder(torch.randn(4, DIM))
    with pytest.raises(ValueError, match=r"cannot wrap SoftmaxLoss: its own parameters \(classifier.weight"):
        ours.MatryoshkaLoss(model, ours.SoftmaxLoss(model, num_labels=3), [DIM, 4])
