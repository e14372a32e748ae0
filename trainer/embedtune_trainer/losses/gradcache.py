"""GradCache: a contrastive loss over a large batch at the memory cost of a small one.

In-batch-negative losses get better with bigger batches, but the encoder's activations
for the whole batch rarely fit in memory. GradCache (Gao et al. 2021, "Scaling Deep
Contrastive Learning Batch Size under Memory Limited Setup", arXiv:2101.06983) splits
the work in three passes:

1. embed every mini-batch without building a graph;
2. compute the loss on those (detached) embeddings and its gradient with respect to
   them, which is cheap: the loss only sees (batch, dim) tensors;
3. when the caller runs `backward`, re-embed each mini-batch with a graph, replaying the
   random state of pass 1 so dropout draws the same masks, and push the cached
   embedding gradient through it.

The loss value and the parameter gradients equal those of the plain loss on the whole
batch; only peak memory and time change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.checkpoint import get_device_states, set_device_states

from embedtune_trainer.losses.base import EmbeddingLoss, Features

EmbeddingCompute = Callable[[list[torch.Tensor], torch.Tensor | None], torch.Tensor]


@dataclass(frozen=True)
class RandomState:
    """CPU and accelerator generator states, captured before a mini-batch is embedded."""

    cpu: torch.Tensor
    devices: list[int]
    device_states: list[torch.Tensor]

    @classmethod
    def capture(cls, model: nn.Module, features: Features) -> RandomState:
        """The inputs' and the model's devices: dropout draws on the device the model runs on."""
        first_parameter = next(model.parameters(), None)
        tensors = [*features.values(), *([] if first_parameter is None else [first_parameter])]
        devices, device_states = get_device_states(*tensors)
        return cls(torch.get_rng_state(), devices, device_states)

    @contextmanager
    def replay(self) -> Iterator[None]:
        """Run the body with the captured state; the caller's generators are untouched after."""
        with torch.random.fork_rng(devices=self.devices):
            torch.set_rng_state(self.cpu)
            set_device_states(self.devices, self.device_states)
            yield


def batch_size_of(features: Features) -> int:
    """Rows in a tokenised column: the first dimension of its ids or mask."""
    for key in ("input_ids", "attention_mask"):
        value = features.get(key)
        if isinstance(value, torch.Tensor):
            return value.shape[0]
    for value in features.values():
        if isinstance(value, torch.Tensor) and value.ndim > 0:
            return value.shape[0]
    raise ValueError(f"cannot tell the batch size of features with keys {sorted(features)}")


def split_features(features: Features, mini_batch_size: int) -> list[Features]:
    """Row slices of a tokenised column; values that are not per-row tensors are shared."""
    rows = batch_size_of(features)
    return [
        {
            key: value[begin : begin + mini_batch_size]
            if isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape[0] == rows
            else value
            for key, value in features.items()
        }
        for begin in range(0, rows, mini_batch_size)
    ]


def grad_cached_loss(
    model: nn.Module,
    features: list[Features],
    labels: torch.Tensor | None,
    compute: EmbeddingCompute,
    mini_batch_size: int,
) -> torch.Tensor:
    """`compute(embeddings, labels)` over the whole batch, embedded `mini_batch_size` rows at a time.

    Returns a scalar whose `backward()` accumulates the model's parameter gradients, as
    the plain loss would. Without grad mode (evaluation) it only embeds and computes.
    """
    if mini_batch_size < 1:
        raise ValueError(f"mini_batch_size must be >= 1, got {mini_batch_size}")
    chunks = [split_features(column, mini_batch_size) for column in features]
    if not torch.is_grad_enabled():
        embeddings = [torch.cat([_embed(model, chunk) for chunk in column]) for column in chunks]
        return compute(embeddings, labels)

    states: list[list[RandomState]] = []
    pieces: list[list[torch.Tensor]] = []
    with torch.no_grad():
        for column in chunks:
            states.append([])
            pieces.append([])
            for chunk in column:
                states[-1].append(RandomState.capture(model, chunk))
                pieces[-1].append(_embed(model, chunk))
    embeddings = [torch.cat(column_pieces).requires_grad_() for column_pieces in pieces]
    loss = compute(embeddings, labels)
    gradients = torch.autograd.grad(loss, embeddings, allow_unused=True)
    unused = [str(index) for index, grad in enumerate(gradients) if grad is None]
    if unused:
        raise ValueError(
            f"the loss does not use text column(s) {', '.join(unused)}; remove them from the data "
            "rather than embedding them twice for nothing"
        )
    cached = [
        list(grad.split([piece.shape[0] for piece in column_pieces]))
        for grad, column_pieces in zip(gradients, pieces, strict=True)
    ]

    def replay_with_grad(grad_output: torch.Tensor) -> None:
        with torch.enable_grad():
            for column, column_states, column_grads in zip(chunks, states, cached, strict=True):
                for chunk, state, grad in zip(column, column_states, column_grads, strict=True):
                    with state.replay():
                        embedding = _embed(model, chunk)
                    if embedding.requires_grad:
                        (embedding * (grad * grad_output).to(embedding.dtype)).sum().backward()

    result = loss.detach().requires_grad_()
    result.register_hook(replay_with_grad)
    return result


def _embed(model: nn.Module, features: Features) -> torch.Tensor:
    return model(features)["sentence_embedding"]


class GradCachedLoss(EmbeddingLoss):
    """A loss that can embed its batch in mini-batches with GradCache.

    `mini_batch_size=None` embeds the batch in one pass, like any other loss.
    `forward_with` lets a wrapper (MatryoshkaLoss) swap in its own maths on the
    embeddings while keeping the caching.
    """

    def __init__(self, model: nn.Module, mini_batch_size: int | None) -> None:
        super().__init__(model)
        if mini_batch_size is not None and mini_batch_size < 1:
            raise ValueError(f"mini_batch_size must be >= 1 or None, got {mini_batch_size}")
        self.mini_batch_size = mini_batch_size

    def forward(self, features: list[Features], labels: torch.Tensor | None) -> torch.Tensor:
        return self.forward_with(features, labels, self.compute)

    def forward_with(
        self, features: list[Features], labels: torch.Tensor | None, compute: EmbeddingCompute
    ) -> torch.Tensor:
        if self.mini_batch_size is None:
            return compute(self.embed(features), labels)
        return grad_cached_loss(self.model, features, labels, compute, self.mini_batch_size)
