"""The server's encoder: ONNX Runtime over an exported model version folder.

A narrow interface, as TEI's backends have: `infer` token ids to embeddings, and
`health`. Tokenising is separate (see tokenizer.py) so the batcher can count tokens
before it forms batches and tokenising can overlap inference.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from embedtune_server.backend.tokenizer import RIGHT, TextTokenizer

ONNX_DIR = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model_qint8.onnx"
OUTPUT = "sentence_embedding"


class OnnxBackend:
    """One ONNX Runtime session; `infer` is safe to call from one thread at a time per batch."""

    def __init__(self, model_dir: Path, quantized: bool = False, intra_op_threads: int = 0) -> None:
        self.model_dir = Path(model_dir)
        graph = self.model_dir / ONNX_DIR / (INT8_FILE if quantized else FP32_FILE)
        if not graph.is_file():
            hint = " (export with --quantize)" if quantized else ""
            raise FileNotFoundError(f"{graph} is missing: export the model with `embedtune export`{hint}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.quantized = quantized
        self.tokenizer = TextTokenizer.from_model_dir(self.model_dir)
        self._input_names = {i.name for i in self.session.get_inputs()}
        outputs = {o.name: o for o in self.session.get_outputs()}
        if OUTPUT not in outputs:
            raise ValueError(f"{graph} has no {OUTPUT!r} output: re-export it with `embedtune export`")
        width = outputs[OUTPUT].shape[1]
        self.dimension = width if isinstance(width, int) else self._probe_dimension()
        self.normalized = _ends_with_normalize(self.model_dir)

    @property
    def max_seq_length(self) -> int:
        return self.tokenizer.max_seq_length

    @property
    def model_name(self) -> str:
        return self.model_dir.name

    def infer(self, token_ids: list[np.ndarray]) -> np.ndarray:
        """Embeddings (n, dimension) float32 for already tokenised texts; pads to the longest."""
        if not token_ids:
            return np.zeros((0, self.dimension), dtype=np.float32)
        width = max(len(ids) for ids in token_ids)
        input_ids = np.full((len(token_ids), width), self.tokenizer.pad_token_id, dtype=np.int64)
        attention_mask = np.zeros((len(token_ids), width), dtype=np.int64)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        return self.session.run([OUTPUT], feeds)[0].astype(np.float32, copy=False)

    def encode(
        self, texts: list[str], truncate: bool = True, direction: str = RIGHT, batch_size: int = 32
    ) -> np.ndarray:
        """Tokenise and infer outside the batcher (tests, tools, benchmarks).

        Texts are sorted by token count so each batch pads little, then put back in order.
        """
        token_ids = self.tokenizer.encode(texts, truncate=truncate, direction=direction)
        order = np.argsort([-len(ids) for ids in token_ids], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            out[idx] = self.infer([token_ids[i] for i in idx])
        return out

    def health(self) -> None:
        """Raises if the session cannot embed a short text."""
        out = self.encode(["health"])
        if out.shape != (1, self.dimension) or not np.isfinite(out).all():
            raise RuntimeError(f"backend health check failed: output shape {out.shape}")

    def _probe_dimension(self) -> int:
        return int(self.infer(self.tokenizer.encode(["dimension probe"])).shape[1])


def _ends_with_normalize(model_dir: Path) -> bool:
    modules = model_dir / "modules.json"
    if not modules.is_file():
        return False
    entries = json.loads(modules.read_text())
    return bool(entries) and entries[-1]["type"].endswith("Normalize")
