"""GradCache (CachedMultipleNegativesRankingLoss) on a small real network.

The cached loss must give the plain loss's value and parameter gradients, and, with
dropout on, the same as the sentence-transformers cached loss (which only holds if the
random state of each mini-batch is replayed when it is re-embedded with a graph).
"""

from __future__ import annotations

import pytest
import torch
from loss_standins import TinyEncoder, token_features
from sentence_transformers.sentence_transformer import losses as st

from embedtune_trainer.losses import (
    CachedMultipleNegativesRankingLoss,
    MultipleNegativesRankingLoss,
    grad_cached_loss,
)

BATCH = 12


def make_model(dropout: float, seed: int = 0) -> TinyEncoder:
    torch.manual_seed(seed)
    return TinyEncoder(dropout=dropout)


def value_and_grads(model: TinyEncoder, loss: torch.nn.Module, features, seed: int = 1):
    torch.manual_seed(seed)
    value = loss(features, None)
    value.backward()
    return value.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


def assert_same(a, b, tol: float = 1e-5) -> None:
    value_a, grads_a = a
    value_b, grads_b = b
    torch.testing.assert_close(value_a, value_b, atol=tol, rtol=0)
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], atol=tol, rtol=0, msg=name)


@pytest.mark.parametrize("columns", [2, 3])
@pytest.mark.parametrize("mini_batch_size", [1, 5, 32])
def test_cached_equals_plain_mnrl(columns: int, mini_batch_size: int) -> None:
    features = token_features(columns, BATCH, torch.Generator().manual_seed(columns))
    plain_model = make_model(dropout=0.0)
    cached_model = make_model(dropout=0.0)
    plain = value_and_grads(plain_model, MultipleNegativesRankingLoss(plain_model), features)
    cached = value_and_grads(
        cached_model,
        CachedMultipleNegativesRankingLoss(cached_model, mini_batch_size=mini_batch_size),
        features,
    )
    assert_same(cached, plain)
    assert all(g.abs().sum() > 0 for g in cached[1].values())


@pytest.mark.parametrize("symmetric", [False, True])
def test_cached_with_dropout_matches_sentence_transformers(symmetric: bool) -> None:
    features = token_features(3, BATCH, torch.Generator().manual_seed(7))
    ours_model = make_model(dropout=0.3)
    st_model = make_model(dropout=0.3)
    ours = value_and_grads(
        ours_model,
        CachedMultipleNegativesRankingLoss(ours_model, symmetric=symmetric, mini_batch_size=4),
        features,
    )
    directions = ("query_to_doc", "doc_to_query") if symmetric else ("query_to_doc",)
    partition = "per_direction" if symmetric else "joint"
    reference = value_and_grads(
        st_model,
        st.CachedMultipleNegativesRankingLoss(
            st_model, mini_batch_size=4, directions=directions, partition_mode=partition
        ),
        features,
    )
    assert_same(ours, reference)


def test_dropout_masks_are_replayed() -> None:
    """Without replay the second pass would draw new masks and the gradients would not match
    the ones of the plain loss evaluated with the first pass's masks."""
    features = token_features(2, BATCH, torch.Generator().manual_seed(3))
    model = make_model(dropout=0.5)
    loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=BATCH)
    cached = value_and_grads(model, loss, features, seed=11)
    # One mini-batch per column: the plain loss draws the same masks in the same order.
    plain_model = make_model(dropout=0.5)
    plain_loss = MultipleNegativesRankingLoss(plain_model)
    plain = value_and_grads(plain_model, plain_loss, features, seed=11)
    assert_same(cached, plain)


def test_backward_scales_with_the_upstream_gradient() -> None:
    features = token_features(2, BATCH, torch.Generator().manual_seed(5))
    model = make_model(dropout=0.0)
    loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=5)
    (loss(features, None) * 0.25).backward()
    quarter = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    loss(features, None).backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(quarter[name], p.grad * 0.25, atol=1e-6, rtol=0)


def test_without_grad_only_computes_the_value() -> None:
    features = token_features(2, BATCH, torch.Generator().manual_seed(9))
    model = make_model(dropout=0.0)
    with torch.no_grad():
        cached = CachedMultipleNegativesRankingLoss(model, mini_batch_size=5)(features, None)
        plain = MultipleNegativesRankingLoss(model)(features, None)
    assert not cached.requires_grad
    torch.testing.assert_close(cached, plain, atol=1e-6, rtol=0)


def test_unused_column_is_refused() -> None:
    features = token_features(2, BATCH, torch.Generator().manual_seed(2))
    model = make_model(dropout=0.0)
    with pytest.raises(ValueError, match=r"does not use text column\(s\) 1"):
        grad_cached_loss(model, features, None, lambda e, labels: e[0].pow(2).sum(), mini_batch_size=4)


def test_mini_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="mini_batch_size must be >= 1"):
        CachedMultipleNegativesRankingLoss(make_model(0.0), mini_batch_size=0)
