"""What `losses --json` prints: every accepted loss spelling, and the losses that fit each kind.

The server checks a requested loss name and shows the choices without importing torch,
so it reads this once from the trainer. All of it is derived from the loss registry and
`FEEDBACK_KINDS`, never kept by hand.
"""

from __future__ import annotations

from typing import Any

from embedtune_trainer.feedback.kinds import FEEDBACK_KINDS, label_kinds
from embedtune_trainer.losses import registry
from embedtune_trainer.model_kind import ModelKind

NO_LABEL = "none"  # the catalog's key for data without a label


def loss_names() -> dict[str, str]:
    """Every lowercase spelling `registry.canonical_name` accepts for a loss that trains on its own.

    Wrappers (MatryoshkaLoss) are left out: they need a second loss to wrap, which a
    feedback kind's single loss name cannot say. So are cross-encoder losses.
    """
    losses = registry.losses_of(ModelKind.BI_ENCODER)  # feedback trains the served bi-encoder
    spellings = [
        *(name.lower() for name in losses),
        *(name.lower().removesuffix("loss") for name in losses),
        *registry.ALIASES,
    ]
    return {spelling: registry.canonical_name(spelling) for spelling in spellings}


def loss_catalog() -> dict[str, Any]:
    """{"names": {spelling: CanonicalName}, "kinds": {kind: {label kind: {"default", "fitting"}}}}."""
    kinds = {
        kind: {
            (label_kind or NO_LABEL): {
                "default": registry.default_loss(shape, label_kind),
                "fitting": registry.losses_fitting(shape, label_kind),
            }
            for label_kind in label_kinds(kind)
        }
        for kind, shape in FEEDBACK_KINDS.items()
    }
    return {"names": loss_names(), "kinds": kinds}
