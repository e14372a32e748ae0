"""The server's cross-encoder: ONNX Runtime over an exported sentence-transformers CrossEncoder folder.

The same narrow interface as the encoder (`infer` token ids to outputs, `tokenizer`,
`streams`), so the same batcher runs it: an input is a (query, text) pair read as one
sequence, and its output is one score. The folder's embedtune.json says how to read
the graph's `logits` (kind "cross-encoder", num_labels, activation, max_seq_length).

Reranking needs one number per pair, so only a one-logit model (num_labels 1) is
served; a classifier with more labels is refused at start-up. Its activation is applied
here, so a score means what sentence-transformers' `CrossEncoder.predict` returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from embedtune_server.backend.onnx_backend import SessionPool, graph_path, padded_feeds
from embedtune_server.backend.tokenizer import PairTokenizer, PairTokens

KIND = "cross-encoder"
RECORD_FILE = "embedtune.json"
OUTPUT = "logits"


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


# What turns the one logit into the score; "softmax" over one logit would score every pair 1.
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": _sigmoid,
    "identity": lambda logits: logits,
}


class CrossEncoderConfigError(ValueError):
    """The folder is not a cross-encoder the server can rerank with."""


def read_cross_encoder_record(folder: Path) -> dict:
    """The folder's embedtune.json, checked: a one-logit cross-encoder with a known activation."""
    path = Path(folder) / RECORD_FILE
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        reason = f"{path}: unreadable ({exc}); export the folder with the trainer"
        raise CrossEncoderConfigError(reason) from exc
    if not isinstance(record, dict) or record.get("kind") != KIND:
        kind = record.get("kind") if isinstance(record, dict) else None
        raise CrossEncoderConfigError(f"{path}: kind is {kind!r}, not {KIND!r}")
    if record.get("num_labels") != 1:
        raise CrossEncoderConfigError(
            f"{path}: num_labels={record.get('num_labels')}; reranking needs one score per pair"
            " (a num_labels=1 model)"
        )
    if record.get("activation") not in ACTIVATIONS:
        raise CrossEncoderConfigError(
            f"{path}: activation {record.get('activation')!r} is not one of {sorted(ACTIVATIONS)}"
        )
    if not isinstance(record.get("max_seq_length"), int) or record["max_seq_length"] < 1:
        raise CrossEncoderConfigError(f"{path}: max_seq_length must be a positive integer")
    return record


class CrossEncoderBackend:
    """A cross-encoder on a `SessionPool`; `infer` is safe from `streams` threads at once."""

    def __init__(
        self,
        folder: Path,
        quantized: bool = False,
        intra_op_threads: int = 0,
        streams: int = 0,
        release_memory: bool = True,
    ) -> None:
        self.folder = Path(folder)
        record = read_cross_encoder_record(self.folder)
        graph = graph_path(self.folder, quantized)
        self._pool = SessionPool(graph, intra_op_threads, streams, release_memory)
        if OUTPUT not in self._pool.outputs:
            raise CrossEncoderConfigError(f"{graph} has no {OUTPUT!r} output: export it with the trainer")
        self.streams = self._pool.streams
        self.quantized = quantized
        self.version = str(record.get("version") or self.folder.resolve().name)
        self.tokenizer = PairTokenizer.from_model_dir(self.folder, record["max_seq_length"])
        self._activation = ACTIVATIONS[record["activation"]]

    @property
    def max_seq_length(self) -> int:
        return self.tokenizer.max_seq_length

    def infer(self, pairs: list[PairTokens]) -> np.ndarray:
        """Scores (n,) float32 for already tokenised pairs; pads to the longest."""
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        feeds = padded_feeds(
            [p.ids for p in pairs],
            self.tokenizer.pad_token_id,
            self._pool.input_names,
            [p.type_ids for p in pairs],
        )
        logits = self._pool.run(OUTPUT, feeds).astype(np.float32, copy=False)
        return self._activation(logits[:, 0])

    def release_idle(self) -> None:
        """Hand back the memory of the sessions that are idle (with `release_memory`)."""
        self._pool.release_idle()
