"""Loss names, the default loss for each data shape, and the check that a loss fits the data.

Names are matched case-insensitively, with or without the "Loss" suffix, plus a few
common abbreviations ("mnrl", "cmnrl"). Defaults follow the sentence-transformers
training tutorial, except for triplets: MultipleNegativesRankingLoss, the negative being
its hard negative beside the other rows' positives, rather than TripletLoss, which with
its defaults (euclidean, margin 5) left retrieval where it was while MNRL improved it
(measured in docs/benchmarks.md, SciFact section). For class-labelled texts the tutorial
lists four batch triplet losses without ranking them; BatchAllTripletLoss is our default
because it is the one with the fewest demands on the data: BatchHardTripletLoss documents
that it additionally needs hard positives and negatives, and on a batch where the mined
hardest pair is an outlier or a mislabel it learns from that one triplet alone, where
BatchAll averages over every active triplet (it is also the loss ST's TREC batch-triplet
example trains with).

Cross-encoder losses (`pair_score.PairScoreLoss`) sit in the same registry, declaring the
model kind they train; every lookup takes the model kind (bi-encoder unless said), so a
bi-encoder loss is refused for a cross-encoder and the other way round. A cross-encoder's
data is always pairs (triplets arrive expanded), and BinaryCrossEntropyLoss is the default
for scores and 0/1 labels alike, as in sentence-transformers' cross-encoder examples;
class ids need CrossEntropyLoss, named explicitly.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from torch import nn

from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.losses.base import EmbeddingLoss
from embedtune_trainer.losses.batch_all_triplet import BatchAllTripletLoss
from embedtune_trainer.losses.batch_hard_soft_margin_triplet import BatchHardSoftMarginTripletLoss
from embedtune_trainer.losses.batch_hard_triplet import BatchHardTripletLoss
from embedtune_trainer.losses.batch_semi_hard_triplet import BatchSemiHardTripletLoss
from embedtune_trainer.losses.binary_cross_entropy import BinaryCrossEntropyLoss
from embedtune_trainer.losses.cached_multiple_negatives_ranking import (
    CachedMultipleNegativesRankingLoss,
    CachedMultipleNegativesSymmetricRankingLoss,
)
from embedtune_trainer.losses.contrastive import ContrastiveLoss
from embedtune_trainer.losses.cosent import CoSENTLoss
from embedtune_trainer.losses.cosine_similarity import CosineSimilarityLoss
from embedtune_trainer.losses.cross_entropy import CrossEntropyLoss
from embedtune_trainer.losses.matryoshka import MatryoshkaLoss
from embedtune_trainer.losses.mega_batch_margin import MegaBatchMarginLoss
from embedtune_trainer.losses.mse import MSELoss
from embedtune_trainer.losses.multiple_negatives_ranking import (
    MultipleNegativesRankingLoss,
    MultipleNegativesSymmetricRankingLoss,
)
from embedtune_trainer.losses.online_contrastive import OnlineContrastiveLoss
from embedtune_trainer.losses.softmax import SoftmaxLoss
from embedtune_trainer.losses.triplet import TripletLoss
from embedtune_trainer.model_kind import ModelKind

LOSSES: MappingProxyType[str, type[EmbeddingLoss]] = MappingProxyType(
    {
        cls.__name__: cls
        for cls in (
            TripletLoss,
            MultipleNegativesRankingLoss,
            MultipleNegativesSymmetricRankingLoss,
            CachedMultipleNegativesRankingLoss,
            CachedMultipleNegativesSymmetricRankingLoss,
            ContrastiveLoss,
            OnlineContrastiveLoss,
            SoftmaxLoss,
            CosineSimilarityLoss,
            CoSENTLoss,
            MegaBatchMarginLoss,
            BatchHardTripletLoss,
            BatchAllTripletLoss,
            BatchHardSoftMarginTripletLoss,
            BatchSemiHardTripletLoss,
            BinaryCrossEntropyLoss,
            MSELoss,
            CrossEntropyLoss,
        )
    }
)
# Losses that wrap another loss: built and checked through the wrapped one.
WRAPPERS: MappingProxyType[str, type[EmbeddingLoss]] = MappingProxyType({"MatryoshkaLoss": MatryoshkaLoss})

ALIASES: MappingProxyType[str, str] = MappingProxyType(
    {
        "mnrl": "MultipleNegativesRankingLoss",
        "mnsrl": "MultipleNegativesSymmetricRankingLoss",
        "cmnrl": "CachedMultipleNegativesRankingLoss",
        "cmnsrl": "CachedMultipleNegativesSymmetricRankingLoss",
    }
)

# (shape, label kind of the data) -> default loss name, for each model kind.
DEFAULT_LOSSES: MappingProxyType[tuple[DataShape, str | None], str] = MappingProxyType(
    {
        (DataShape.LABELED_PAIR, "float"): "CosineSimilarityLoss",
        (DataShape.LABELED_PAIR, "int"): "ContrastiveLoss",
        (DataShape.POSITIVE_PAIR, None): "MultipleNegativesRankingLoss",
        (DataShape.LABELED_TEXT, "int"): "BatchAllTripletLoss",
        (DataShape.TRIPLET, None): "MultipleNegativesRankingLoss",  # see the module docstring
    }
)
CROSS_ENCODER_DEFAULT_LOSSES: MappingProxyType[tuple[DataShape, str | None], str] = MappingProxyType(
    {
        (DataShape.LABELED_PAIR, "float"): "BinaryCrossEntropyLoss",
        (DataShape.LABELED_PAIR, "int"): "BinaryCrossEntropyLoss",
    }
)
_DEFAULTS = {ModelKind.BI_ENCODER: DEFAULT_LOSSES, ModelKind.CROSS_ENCODER: CROSS_ENCODER_DEFAULT_LOSSES}

# The label kinds a loss accepts for each kind it declares: an int label is a valid float
# score (0/1 pairs train CosineSimilarityLoss fine), a float is never a valid class id.
ACCEPTED_LABEL_KINDS: MappingProxyType[str | None, frozenset[str | None]] = MappingProxyType(
    {
        None: frozenset({None}),
        "int": frozenset({"int"}),
        "float": frozenset({"float", "int"}),
    }
)


def canonical_name(name: str) -> str:
    """The registered class name for `name`, or a ValueError listing the known names."""
    key = name.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    for registered in (*LOSSES, *WRAPPERS):
        lowered = registered.lower()
        if key in (lowered, lowered.removesuffix("loss")):
            return registered
    known = ", ".join(sorted((*LOSSES, *WRAPPERS, *ALIASES)))
    raise ValueError(f"unknown loss {name!r}; known losses: {known}")


def loss_class(name: str) -> type[EmbeddingLoss]:
    registered = canonical_name(name)
    return LOSSES.get(registered) or WRAPPERS[registered]


def default_loss(
    shape: DataShape, label_kind: str | None, model_kind: ModelKind = ModelKind.BI_ENCODER
) -> str:
    """The tutorial's loss for this shape of data (label kind: "float", "int" or None)."""
    try:
        return _DEFAULTS[model_kind][(shape, label_kind)]
    except KeyError:
        raise ValueError(
            f"{shape.name} data with label kind {label_kind!r} has no default {model_kind.value} loss; "
            f"{model_kind.value} losses that fit {shape.name}: "
            f"{', '.join(losses_for_shape(shape, model_kind)) or 'none'}"
        ) from None


def losses_of(model_kind: ModelKind) -> list[str]:
    """Registered losses that train this kind of model."""
    return [name for name, cls in LOSSES.items() if cls.model_kind is model_kind]


def losses_for_shape(shape: DataShape, model_kind: ModelKind = ModelKind.BI_ENCODER) -> list[str]:
    """Registered losses of this model kind that train on this shape, whatever its labels."""
    return [name for name in losses_of(model_kind) if shape in LOSSES[name].shapes]


def losses_fitting(
    shape: DataShape, label_kind: str | None, model_kind: ModelKind = ModelKind.BI_ENCODER
) -> list[str]:
    """Registered losses that train on this shape with this label kind (None: unlabelled)."""
    return [
        name
        for name in losses_for_shape(shape, model_kind)
        if label_kind in ACCEPTED_LABEL_KINDS[LOSSES[name].label_kind]
    ]


def check_loss_fits(
    loss_name: str,
    shape: DataShape,
    label_kind: str | None,
    wrapped: str | None = None,
    model_kind: ModelKind = ModelKind.BI_ENCODER,
) -> None:
    """Raise a ValueError, listing the losses that do fit, unless `loss_name` can train on this data.

    For a wrapper (MatryoshkaLoss) pass the wrapped loss's name as `wrapped`.
    """
    name = canonical_name(loss_name)
    if name in WRAPPERS:
        if wrapped is None:
            raise ValueError(f"{name} wraps another loss: say which one to check against the data")
        if model_kind is not ModelKind.BI_ENCODER:
            raise ValueError(f"{name} wraps sentence-embedding losses; it cannot train a {model_kind.value}")
        check_loss_fits(wrapped, shape, label_kind)
        return
    cls = LOSSES[name]
    if cls.model_kind is not model_kind:
        raise ValueError(
            f"{name} trains a {cls.model_kind.value}, not a {model_kind.value}; {model_kind.value} losses: "
            f"{', '.join(losses_of(model_kind))}"
        )
    fitting_shape = ", ".join(losses_for_shape(shape, model_kind)) or "none"
    if shape not in cls.shapes:
        accepted = ", ".join(sorted(s.name for s in cls.shapes))
        raise ValueError(
            f"{name} trains on {accepted} data, not {shape.name}; "
            f"losses that fit {shape.name}: {fitting_shape}"
        )
    if label_kind not in ACCEPTED_LABEL_KINDS[cls.label_kind]:
        fitting = ", ".join(losses_fitting(shape, label_kind, model_kind)) or "none"
        raise ValueError(
            f"{name} needs {_describe(cls.label_kind)}, but the data has {_describe(label_kind, True)}; "
            f"losses that fit {shape.name} data with {_describe(label_kind)}: {fitting}"
        )


def build_loss(name: str, model: nn.Module, **kwargs: Any) -> EmbeddingLoss:
    """Instantiate a loss by name; keyword arguments are its hyperparameters.

    A wrapper takes `loss` (a name or a built loss) and, for a name, `loss_kwargs`.
    """
    cls = loss_class(name)
    if cls in WRAPPERS.values():
        inner = kwargs.pop("loss", None)
        inner_kwargs = kwargs.pop("loss_kwargs", {})
        if inner is None:
            raise ValueError(f"{cls.__name__} needs loss=<name of the loss to wrap>")
        if isinstance(inner, str):
            inner = build_loss(inner, model, **inner_kwargs)
        return cls(model, inner, **kwargs)
    return cls(model, **kwargs)


def _describe(label_kind: str | None, data: bool = False) -> str:
    if label_kind is None:
        return "none" if data else "no label"
    return f"{label_kind} labels"
