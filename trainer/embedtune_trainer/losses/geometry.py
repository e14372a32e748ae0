"""Similarities and distances between embeddings, named by strings in loss settings.

Two families: *paired* (row i of `a` against row i of `b`, for pair and triplet losses)
and *matrix* (every row against every row, for in-batch losses). The exact arithmetic
follows sentence-transformers so that parity holds to float rounding: e.g. the euclidean
distance matrix uses the Gram expansion with exact zeros on the diagonal.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

Similarity = Literal["cosine", "dot"]
Distance = Literal["cosine", "euclidean", "manhattan"]
MatrixDistance = Literal["cosine", "euclidean"]

SIMILARITIES: tuple[str, ...] = ("cosine", "dot")
DISTANCES: tuple[str, ...] = ("cosine", "euclidean", "manhattan")
MATRIX_DISTANCES: tuple[str, ...] = ("cosine", "euclidean")


def check_choice(setting: str, value: str, choices: tuple[str, ...]) -> None:
    """Refuse an unknown metric name when the loss is built, not on the first batch."""
    if value not in choices:
        raise ValueError(f"{setting} must be one of {', '.join(choices)}; got {value!r}")


def similarity_matrix(a: torch.Tensor, b: torch.Tensor, kind: Similarity) -> torch.Tensor:
    """(len(a), len(b)) matrix of similarities."""
    if kind == "cosine":
        a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    return a @ b.T


def paired_similarity(a: torch.Tensor, b: torch.Tensor, kind: Similarity) -> torch.Tensor:
    """Similarity of row i of `a` with row i of `b`."""
    if kind == "cosine":
        a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    return (a * b).sum(dim=-1)


def paired_distance(a: torch.Tensor, b: torch.Tensor, metric: Distance, offset: float = 0.0) -> torch.Tensor:
    """Distance of row i of `a` to row i of `b`.

    `offset` is added to the difference before the norm, as `torch.pairwise_distance`
    does (1e-6) for the contrastive losses; the triplet loss uses none.
    """
    if metric == "cosine":
        return 1 - paired_similarity(a, b, "cosine")
    order = 2 if metric == "euclidean" else 1
    return torch.linalg.vector_norm(a - b + offset, ord=order, dim=-1)


def distance_matrix(x: torch.Tensor, metric: MatrixDistance) -> torch.Tensor:
    """(n, n) distances between all rows of `x`, with a zero, zero-gradient diagonal."""
    if metric == "cosine":
        return 1 - similarity_matrix(x, x, "cosine")
    # The Gram expansion cancels large terms, so it runs in float32 even under autocast.
    with torch.autocast(device_type=x.device.type, enabled=False):
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        gram = x @ x.T
    squared_norms = gram.diagonal()
    squared = (squared_norms[None, :] - 2.0 * gram + squared_norms[:, None]).clamp(min=0)
    # sqrt has an infinite slope at 0: take the root of a tiny positive number there instead
    # and zero the result, so identical rows give distance 0 and gradient 0, not NaN.
    is_zero = squared == 0
    return torch.where(is_zero, 0.0, (squared + is_zero * 1e-16).sqrt())
