"""Export a SentenceEncoder to one ONNX graph with token and sentence outputs.

The graph takes input_ids, attention_mask (and token_type_ids where the transformer
uses them) and returns `last_hidden_state`, which sentence-transformers' ONNX
backend reads, and `sentence_embedding` (pooling, Dense and Normalize inside the
graph), which the server reads. Batch and sequence axes are dynamic.

Attention is exported in its eager form (matmul, masked softmax, matmul). The SDPA form
traces to the same maths plus a NaN guard after every softmax (IsNaN and Where over the
batch × heads × sequence² probabilities), there for rows with no key to attend to. Our
rows always have one (every text keeps its [CLS] token), and the guard's cost grows with
the square of the sequence, which long documents pay in full when they are re-embedded.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from embedtune_trainer.encoder import SentenceEncoder

OPSET = 17


class _GraphWrapper(nn.Module):
    """Positional inputs and a tuple of outputs, the form torch.onnx.export traces."""

    def __init__(self, encoder: SentenceEncoder, input_names: list[str]) -> None:
        super().__init__()
        self.encoder = encoder
        self.input_names = input_names

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.encoder(dict(zip(self.input_names, inputs, strict=True)))
        return out["token_embeddings"], out["sentence_embedding"]


def export_onnx(encoder: SentenceEncoder, path: Path) -> Path:
    """Write `path` (e.g. model_dir/onnx/model.onnx) and return it."""
    encoder = encoder.eval().cpu()
    sample = encoder.tokenize(["embedtune exports this sentence", "and a second, longer one to pad"])
    input_names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    dynamic_axes = {n: {0: "batch", 1: "sequence"} for n in input_names}
    dynamic_axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    dynamic_axes["sentence_embedding"] = {0: "batch"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with _eager_attention(encoder), torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _GraphWrapper(encoder, input_names),
            tuple(sample[n] for n in input_names),
            str(path),
            input_names=input_names,
            output_names=["last_hidden_state", "sentence_embedding"],
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    return path


@contextlib.contextmanager
def _eager_attention(encoder: SentenceEncoder) -> Iterator[None]:
    """The transformer computes attention in its eager form while the graph is traced."""
    model = encoder.transformer.auto_model
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        yield
    finally:
        model.set_attn_implementation(before)
