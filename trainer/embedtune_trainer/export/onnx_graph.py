"""Export a model to one ONNX graph: a SentenceEncoder with token and sentence outputs, a CrossEncoder logits.

Both graphs take input_ids, attention_mask (and token_type_ids where the transformer
uses them), with dynamic batch and sequence axes. A SentenceEncoder's graph returns
`last_hidden_state`, which sentence-transformers' ONNX backend reads, and
`sentence_embedding` (pooling, Dense and Normalize inside the graph), which the server
reads. A CrossEncoder's graph returns `logits` (batch, num_labels), before any
activation: embedtune.json names the activation the runtime applies.

Attention is exported in its eager form (matmul, masked softmax, matmul). The SDPA form
traces to the same maths plus a NaN guard after every softmax (IsNaN and Where over the
batch × heads × sequence² probabilities), there for rows with no key to attend to. Our
rows always have one (every input keeps its [CLS] token), and the guard's cost grows with
the square of the sequence, which long documents pay in full when they are re-embedded.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from embedtune_trainer.model_kind import ModelKind

if TYPE_CHECKING:
    from embedtune_trainer.cross_encoder import CrossEncoder
    from embedtune_trainer.encoder import SentenceEncoder

OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class _GraphOutputs:
    """What one kind of model's graph returns, and a sample input to trace it with."""

    sample: Sequence[Any]  # what the model's `tokenize` takes: two inputs of different lengths
    outputs: dict[str, tuple[str, dict[int, str]]]  # ONNX output → (forward's key, dynamic axes)


_GRAPHS = {
    ModelKind.BI_ENCODER: _GraphOutputs(
        sample=["embedtune exports this sentence", "and a second, longer one to pad"],
        outputs={
            "last_hidden_state": ("token_embeddings", {0: "batch", 1: "sequence"}),
            "sentence_embedding": ("sentence_embedding", {0: "batch"}),
        },
    ),
    ModelKind.CROSS_ENCODER: _GraphOutputs(
        sample=[("embedtune exports this query", "a text"), ("a second query", "and a longer text to pad")],
        outputs={"logits": ("logits", {0: "batch"})},
    ),
}


class _GraphWrapper(nn.Module):
    """Positional inputs and a tuple of outputs, the form torch.onnx.export traces."""

    def __init__(self, model: nn.Module, input_names: list[str], output_keys: list[str]) -> None:
        super().__init__()
        self.model = model
        self.input_names = input_names
        self.output_keys = output_keys

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(dict(zip(self.input_names, inputs, strict=True)))
        return tuple(out[key] for key in self.output_keys)


def export_onnx(model: SentenceEncoder | CrossEncoder, path: Path) -> Path:
    """Write `path` (e.g. model_dir/onnx/model.onnx) and return it."""
    graph = _GRAPHS[model.kind]
    model = model.eval().cpu()
    sample = model.tokenize(graph.sample)
    input_names = [n for n in INPUT_NAMES if n in sample]
    dynamic_axes = {n: {0: "batch", 1: "sequence"} for n in input_names}
    dynamic_axes.update({name: axes for name, (_, axes) in graph.outputs.items()})
    output_keys = [key for key, _ in graph.outputs.values()]
    path.parent.mkdir(parents=True, exist_ok=True)
    with _eager_attention(hugging_face_model(model)), torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _GraphWrapper(model, input_names, output_keys),
            tuple(sample[n] for n in input_names),
            str(path),
            input_names=input_names,
            output_names=list(graph.outputs),
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    return path


def hugging_face_model(model: SentenceEncoder | CrossEncoder) -> nn.Module:
    """The transformers model inside either kind."""
    return model.auto_model if model.kind is ModelKind.CROSS_ENCODER else model.transformer.auto_model


@contextlib.contextmanager
def _eager_attention(model: nn.Module) -> Iterator[None]:
    """The transformer computes attention in its eager form while the graph is traced."""
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        yield
    finally:
        model.set_attn_implementation(before)
