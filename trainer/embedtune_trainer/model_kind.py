"""The two kinds of model embedtune trains and exports: what a model version folder holds."""

from __future__ import annotations

import enum


class ModelKind(enum.Enum):
    """Bi-encoder: one vector per text, compared later. Cross-encoder: one score per (query, text) pair."""

    BI_ENCODER = "bi-encoder"
    CROSS_ENCODER = "cross-encoder"
