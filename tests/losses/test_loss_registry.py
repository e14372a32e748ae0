"""Loss names, per-shape defaults, and the refusal of losses that cannot use the data."""

from __future__ import annotations

import pytest
import torch
from loss_standins import TableEncoder

from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.losses import (
    BatchAllTripletLoss,
    CachedMultipleNegativesRankingLoss,
    CosineSimilarityLoss,
    EmbeddingLoss,
    MatryoshkaLoss,
    MultipleNegativesRankingLoss,
    SoftmaxLoss,
    TripletLoss,
    build_loss,
    check_loss_fits,
    default_loss,
    loss_class,
    losses_fitting,
    losses_for_shape,
)
from embedtune_trainer.losses.registry import DEFAULT_LOSSES, LOSSES

LABEL_KINDS = {
    DataShape.LABELED_PAIR: ("float", "int"),
    DataShape.POSITIVE_PAIR: (None,),
    DataShape.LABELED_TEXT: ("int",),
    DataShape.TRIPLET: (None,),
}


def model() -> TableEncoder:
    return TableEncoder(torch.randn(4, 8))


@pytest.mark.parametrize(
    ("shape", "label_kind", "expected"),
    [
        (DataShape.LABELED_PAIR, "float", "CosineSimilarityLoss"),
        (DataShape.LABELED_PAIR, "int", "ContrastiveLoss"),
        (DataShape.POSITIVE_PAIR, None, "MultipleNegativesRankingLoss"),
        (DataShape.LABELED_TEXT, "int", "BatchAllTripletLoss"),
        (DataShape.TRIPLET, None, "MultipleNegativesRankingLoss"),
    ],
)
def test_every_shape_has_a_default_that_fits(shape, label_kind, expected) -> None:
    assert default_loss(shape, label_kind) == expected
    check_loss_fits(expected, shape, label_kind)


def test_every_shape_and_label_kind_is_covered() -> None:
    assert set(DEFAULT_LOSSES) == {(s, k) for s, kinds in LABEL_KINDS.items() for k in kinds}


def test_no_default_for_impossible_data() -> None:
    with pytest.raises(ValueError, match="LABELED_TEXT data with label kind 'float' has no default"):
        default_loss(DataShape.LABELED_TEXT, "float")


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_builds_and_declares_what_it_takes(name: str) -> None:
    kwargs = {"num_labels": 3} if name == "SoftmaxLoss" else {}
    loss = build_loss(name, model(), **kwargs)
    assert isinstance(loss, EmbeddingLoss)
    assert loss.shapes and loss.label_kind in (None, "int", "float")
    assert all(s.has_label == (loss.label_kind is not None) for s in loss.shapes)
    for shape in loss.shapes:
        assert name in losses_for_shape(shape, loss.model_kind)
        assert name in losses_fitting(shape, loss.label_kind, loss.model_kind)
    assert isinstance(loss.config(), dict)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("TripletLoss", TripletLoss),
        ("tripletloss", TripletLoss),
        ("Triplet", TripletLoss),
        (" MNRL ", MultipleNegativesRankingLoss),
        ("cmnrl", CachedMultipleNegativesRankingLoss),
        ("batchalltriplet", BatchAllTripletLoss),
        ("matryoshka", MatryoshkaLoss),
    ],
)
def test_names_are_case_insensitive_with_aliases(name: str, cls: type) -> None:
    assert loss_class(name) is cls


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown loss 'TripletLos'.*CoSENTLoss.*TripletLoss"):
        loss_class("TripletLos")


def test_a_loss_for_another_shape_is_refused_with_the_alternatives() -> None:
    with pytest.raises(ValueError) as refusal:
        check_loss_fits("TripletLoss", DataShape.POSITIVE_PAIR, None)
    message = str(refusal.value)
    assert "TripletLoss trains on TRIPLET data, not POSITIVE_PAIR" in message
    listed = message.split("losses that fit POSITIVE_PAIR: ")[1].split(", ")
    assert set(listed) == {
        "MultipleNegativesRankingLoss",
        "MultipleNegativesSymmetricRankingLoss",
        "CachedMultipleNegativesRankingLoss",
        "CachedMultipleNegativesSymmetricRankingLoss",
        "MegaBatchMarginLoss",
    }


INT_LABEL_PAIR_LOSSES = {"ContrastiveLoss", "OnlineContrastiveLoss", "SoftmaxLoss"}
FLOAT_LABEL_PAIR_LOSSES = {"CosineSimilarityLoss", "CoSENTLoss"}


@pytest.mark.parametrize(
    ("name", "shape", "label_kind", "listed"),
    [
        ("ContrastiveLoss", DataShape.LABELED_PAIR, "float", FLOAT_LABEL_PAIR_LOSSES),
        ("SoftmaxLoss", DataShape.LABELED_PAIR, "float", FLOAT_LABEL_PAIR_LOSSES),
        ("OnlineContrastiveLoss", DataShape.LABELED_PAIR, None, {"none"}),
        ("BatchHardTripletLoss", DataShape.LABELED_TEXT, "float", {"none"}),
    ],
)
def test_label_kind_mismatch_is_refused(name, shape, label_kind, listed) -> None:
    with pytest.raises(ValueError, match=f"{name} needs int labels") as refusal:
        check_loss_fits(name, shape, label_kind)
    assert set(str(refusal.value).rsplit(": ", 1)[1].split(", ")) == listed


def test_float_losses_accept_int_scores() -> None:
    """0/1 labels are valid similarity scores; a float is never a valid class id."""
    check_loss_fits("CosineSimilarityLoss", DataShape.LABELED_PAIR, "int")
    check_loss_fits("CoSENTLoss", DataShape.LABELED_PAIR, "int")


def test_labels_given_to_an_unlabelled_loss_are_refused() -> None:
    with pytest.raises(ValueError, match="needs no label, but the data has int labels"):
        check_loss_fits("MultipleNegativesRankingLoss", DataShape.TRIPLET, "int")


def test_matryoshka_is_built_and_checked_through_the_wrapped_loss() -> None:
    loss = build_loss("MatryoshkaLoss", model(), loss="cosinesimilarity", matryoshka_dims=[8, 4])
    assert isinstance(loss, MatryoshkaLoss) and isinstance(loss.loss, CosineSimilarityLoss)
    check_loss_fits("MatryoshkaLoss", DataShape.LABELED_PAIR, "float", wrapped="CosineSimilarityLoss")
    with pytest.raises(ValueError, match="losses that fit TRIPLET"):
        check_loss_fits("MatryoshkaLoss", DataShape.TRIPLET, None, wrapped="CosineSimilarityLoss")
    with pytest.raises(ValueError, match="wraps another loss"):
        check_loss_fits("MatryoshkaLoss", DataShape.TRIPLET, None)


def test_build_passes_hyperparameters() -> None:
    loss = build_loss("SoftmaxLoss", model(), num_labels=5)
    assert isinstance(loss, SoftmaxLoss) and loss.classifier.out_features == 5
    assert build_loss("mnrl", model(), scale=10.0).config()["scale"] == 10.0
