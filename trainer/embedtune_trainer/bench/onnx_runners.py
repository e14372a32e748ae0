"""A bi-encoder and a cross-encoder run the way the server runs them: ONNX Runtime on the exported graph.

Both runners share everything but the graph: the same session options and threads, the
folder's own tokenizer and max_seq_length, texts (or pairs) sorted by length so a batch
pads little, and the same batch size. So a timing difference between them is the
models' difference, not the runtimes'.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tqdm.auto import tqdm
from transformers import AutoTokenizer

from embedtune_trainer.export import FP32_FILE, INT8_FILE, ONNX_DIR
from embedtune_trainer.record import read_record

Pair = tuple[str, str]


class _OnnxModel:
    def __init__(self, folder: Path, quantized: bool, threads: int, batch_size: int) -> None:
        graph = Path(folder) / ONNX_DIR / (INT8_FILE if quantized else FP32_FILE)
        if not graph.is_file():
            raise FileNotFoundError(
                f"{graph} is missing; export the model first: "
                f"python -m embedtune_trainer export --model {folder}{' --quantize' if quantized else ''}"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.batch_size = batch_size
        self.max_seq_length = _max_seq_length(Path(folder), self.tokenizer.model_max_length)

    def _run(
        self, output: str, firsts: list[str], seconds: list[str] | None, progress: str | None = None
    ) -> np.ndarray:
        """`output` for every input in input order, run longest first; a progress bar named
        `progress` when given (a corpus takes minutes)."""
        lengths = [len(a) + (len(seconds[i]) if seconds else 0) for i, a in enumerate(firsts)]
        order = np.argsort([-n for n in lengths], kind="stable")
        results: list[np.ndarray] = [np.empty(0)] * len(firsts)
        starts = range(0, len(order), self.batch_size)
        for start in tqdm(starts, desc=progress, unit="batch", disable=progress is None, leave=False):
            idx = order[start : start + self.batch_size]
            features = self.tokenizer(
                [firsts[i] for i in idx],
                [seconds[i] for i in idx] if seconds else None,
                padding=True,
                truncation="longest_first",
                max_length=self.max_seq_length,
                return_tensors="np",
            )
            feeds = {k: v.astype(np.int64) for k, v in features.items() if k in self.inputs}
            for row, i in zip(self.session.run([output], feeds)[0], idx, strict=True):
                results[i] = row
        return np.stack(results) if results else np.empty((0, 0), dtype=np.float32)


class OnnxBiEncoder(_OnnxModel):
    def encode(self, texts: Sequence[str], progress: str | None = None) -> np.ndarray:
        """Unit-length sentence embeddings (n, dimension), so a dot product is the cosine."""
        embeddings = self._run("sentence_embedding", list(texts), None, progress).astype(np.float32)
        return embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)


class OnnxCrossEncoder(_OnnxModel):
    def __init__(self, folder: Path, quantized: bool, threads: int, batch_size: int) -> None:
        super().__init__(folder, quantized, threads, batch_size)
        record = read_record(Path(folder))
        if record.get("kind") != "cross-encoder":
            raise ValueError(f"{folder} is not an exported cross-encoder (its embedtune.json has no kind)")
        if record.get("num_labels") != 1:
            raise ValueError(f"{folder}: the pairs experiment needs a one-score cross-encoder (num_labels 1)")

    def score(self, pairs: Sequence[Pair]) -> np.ndarray:
        """One raw logit per pair; the activation is monotonic, so rankings need no more."""
        firsts = [a for a, _ in pairs]
        seconds = [b for _, b in pairs]
        return self._run("logits", firsts, seconds)[:, 0].astype(np.float32) if pairs else np.empty(0)


def _max_seq_length(folder: Path, tokenizer_limit: int) -> int:
    """embedtune.json's, else a sentence-transformers module config's, else the tokenizer's."""
    recorded = read_record(folder).get("max_seq_length")
    if recorded:
        return int(recorded)
    config = folder / "sentence_bert_config.json"
    saved = json.loads(config.read_text()).get("max_seq_length") if config.is_file() else None
    return int(saved or tokenizer_limit)
