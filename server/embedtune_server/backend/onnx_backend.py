"""The server's encoder: ONNX Runtime over an exported model version folder.

The ONNX Runtime sessions (`SessionPool`) and the batch inputs (`padded_feeds`) are the
same for every graph the server runs; the cross-encoder (cross_encoder.py) uses them too.

A narrow interface, as TEI's backends have: `infer` token ids to embeddings, and
`health`. Tokenising is separate (see tokenizer.py) so the batcher can count tokens
before it forms batches and tokenising can overlap inference.

The backend holds `streams` sessions, and `infer` may run on that many threads at
once. On a small CPU several one-thread sessions, each running its own batch, beat
one session spreading every batch over all cores: a sentence batch is a long chain
of small operators, and each parallel operator pays a fork/join across threads
(docs/benchmarks.md, "Encoding throughput", measures both layouts).

Each session has its own CPU arena, which grows to the largest batch it has run. With
`release_memory` (the server's default) a session that ran a batch hands its memory back
once it is idle (`release_idle`, which the batcher calls when a stream has had nothing
queued for a moment): the arena shrinks to the chunks in use, and glibc returns the freed
heap pages. Under load a session reuses its arena from batch to batch: shrinking after
every batch would make the next one allocate it again. Without `release_memory` each stream keeps its
largest batch's memory for the process's life (docs/architecture.md, "Memory", and
docs/benchmarks.md, "Serving memory").
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from embedtune_server.backend.tokenizer import RIGHT, TextTokenizer
from embedtune_server.memory import trim_heap

ONNX_DIR = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model_qint8.onnx"
OUTPUT = "sentence_embedding"


# Past this many streams, more threads per stream serve large batches better.
MAX_AUTO_STREAMS = 4

# ONNX Runtime can fuse residual Add + LayerNormalization into SkipLayerNormalization. On
# the int8 graph (the projections' biases fold into the int8 MatMuls, so the pattern
# matches) the fused CPU kernel measured slower than the two ops it replaces wherever ORT
# fused the pairs, and never faster. Turning it off leaves the embeddings unchanged
# (docs/benchmarks.md, "ONNX Runtime fusions").
DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]


def resolve_parallelism(streams: int, intra_op_threads: int, cores: int | None = None) -> tuple[int, int]:
    """(streams, threads per stream) from settings where 0 means "choose for this machine".

    Auto: one stream per core up to MAX_AUTO_STREAMS, and the cores shared out among
    the streams, so streams x threads never exceeds the cores unless asked to.
    """
    if streams < 0 or intra_op_threads < 0:
        raise ValueError(f"streams and intra_op_threads must be >= 0, got {streams} and {intra_op_threads}")
    cores = cores or os.cpu_count() or 1
    streams = streams or min(cores, MAX_AUTO_STREAMS)
    return streams, intra_op_threads or max(1, cores // streams)


def padded_feeds(
    token_ids: Sequence[np.ndarray],
    pad_token_id: int,
    input_names: set[str],
    token_type_ids: Sequence[np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """The graph's inputs for one batch: ids padded to the longest, its attention mask, and the
    token types (zero where not given: a single text is all segment 0)."""
    width = max(len(ids) for ids in token_ids)
    input_ids = np.full((len(token_ids), width), pad_token_id, dtype=np.int64)
    attention_mask = np.zeros((len(token_ids), width), dtype=np.int64)
    for row, ids in enumerate(token_ids):
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
    feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
    if "token_type_ids" in input_names:
        types = np.zeros_like(input_ids)
        for row, row_types in enumerate(token_type_ids or ()):
            types[row, : len(row_types)] = row_types
        feeds["token_type_ids"] = types
    return feeds


def graph_path(model_dir: Path, quantized: bool) -> Path:
    """The folder's fp32 or int8 graph; FileNotFoundError saying how to export it when missing."""
    graph = Path(model_dir) / ONNX_DIR / (INT8_FILE if quantized else FP32_FILE)
    if not graph.is_file():
        hint = " (export with --quantize)" if quantized else ""
        raise FileNotFoundError(f"{graph} is missing: export the model with `embedtune export`{hint}")
    return graph


@dataclass
class _Slot:
    session: ort.InferenceSession
    ran_since_release: bool = False


class SessionPool:
    """`streams` ONNX Runtime sessions of one graph; `run` is safe from that many threads at once.

    Each call takes a free session and gives it back, so `streams` batches run together
    and a batch never shares a session.
    """

    def __init__(
        self, graph: Path, intra_op_threads: int = 0, streams: int = 0, release_memory: bool = True
    ) -> None:
        self.streams, self.intra_op_threads = resolve_parallelism(streams, intra_op_threads)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.release_memory = release_memory
        self._shrink = ort.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        sessions = [
            ort.InferenceSession(
                str(graph),
                options,
                providers=["CPUExecutionProvider"],
                disabled_optimizers=DISABLED_OPTIMIZERS,
            )
            for _ in range(self.streams)
        ]
        self._slots: queue.SimpleQueue[_Slot] = queue.SimpleQueue()
        for session in sessions:
            self._slots.put(_Slot(session))
        self.input_names = {i.name for i in sessions[0].get_inputs()}
        self.outputs = {o.name: o for o in sessions[0].get_outputs()}
        # The smallest batch the graph takes: a shrinking run on it leaves the arena near empty.
        self._one_token = padded_feeds([np.zeros(1, dtype=np.int64)], 0, self.input_names)

    def run(self, output: str, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The graph's `output` for `feeds`, on a session no other thread is using."""
        slot = self._slots.get()
        try:
            return slot.session.run([output], feeds)[0]
        finally:
            slot.ran_since_release = True
            self._slots.put(slot)

    @contextlib.contextmanager
    def _free_slots(self) -> Iterator[list[_Slot]]:
        """The sessions no thread is running now, kept from other threads until the block ends."""
        free: list[_Slot] = []
        with contextlib.suppress(queue.Empty):
            for _ in range(self.streams):
                free.append(self._slots.get_nowait())
        try:
            yield free
        finally:
            for slot in free:
                self._slots.put(slot)

    @property
    def holding_batch_memory(self) -> int:
        """How many free sessions ran a batch since their last release (0 once `release_idle` ran)."""
        with self._free_slots() as free:
            return sum(slot.ran_since_release for slot in free)

    def release_idle(self) -> None:
        """With `release_memory`, hand back the memory of every free session that ran a batch
        since its last release; sessions busy now are released by whoever finds them idle."""
        if not self.release_memory:
            return
        with self._free_slots() as free:
            ran = [slot for slot in free if slot.ran_since_release]
            for slot in ran:
                # ONNX Runtime shrinks an arena only at the end of a run made with this option.
                slot.session.run(None, self._one_token, self._shrink)
                slot.ran_since_release = False
        if ran:  # otherwise no batch has freed heap pages since the last release
            trim_heap()


class OnnxBackend:
    """The encoder on a `SessionPool`; `infer` is safe from `streams` threads at once."""

    def __init__(
        self,
        model_dir: Path,
        quantized: bool = False,
        intra_op_threads: int = 0,
        streams: int = 0,
        release_memory: bool = True,
    ) -> None:
        self.model_dir = Path(model_dir)
        graph = graph_path(self.model_dir, quantized)
        self._pool = SessionPool(graph, intra_op_threads, streams, release_memory)
        self.release_memory = release_memory
        self.streams, self.intra_op_threads = self._pool.streams, self._pool.intra_op_threads
        self.quantized = quantized
        self.tokenizer = TextTokenizer.from_model_dir(self.model_dir)
        if OUTPUT not in self._pool.outputs:
            raise ValueError(f"{graph} has no {OUTPUT!r} output: re-export it with `embedtune export`")
        width = self._pool.outputs[OUTPUT].shape[1]
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
        feeds = padded_feeds(token_ids, self.tokenizer.pad_token_id, self._pool.input_names)
        return self._pool.run(OUTPUT, feeds).astype(np.float32, copy=False)

    def release_idle(self) -> None:
        """Hand back the memory of the sessions that are idle (with `release_memory`)."""
        self._pool.release_idle()

    def encode(
        self,
        texts: list[str],
        truncate: bool = True,
        direction: str = RIGHT,
        batch_size: int = 32,
        max_batch_tokens: int | None = None,
    ) -> np.ndarray:
        """Tokenise and infer outside the batcher (re-embedding, tests, tools, benchmarks).

        Texts are sorted by token count so each batch pads little, then put back in
        order; the batches run on all streams at once. With `max_batch_tokens`, a batch
        also stays within that many padded tokens, as the server's batches do: long
        inputs then run a few at a time, which costs less per input on CPU.
        """
        token_ids = self.tokenizer.encode(texts, truncate=truncate, direction=direction)
        lengths = [len(ids) for ids in token_ids]
        batches = length_sorted_batches(lengths, batch_size, max_batch_tokens)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        with ThreadPoolExecutor(self.streams, thread_name_prefix="embedtune-encode") as pool:
            vectors = pool.map(lambda idx: self.infer([token_ids[i] for i in idx]), batches)
            for idx, batch_vectors in zip(batches, vectors, strict=True):
                out[idx] = batch_vectors
        self.release_idle()
        return out

    def health(self) -> None:
        """Raises if the session cannot embed a short text."""
        out = self.encode(["health"])
        if out.shape != (1, self.dimension) or not np.isfinite(out).all():
            raise RuntimeError(f"backend health check failed: output shape {out.shape}")

    def _probe_dimension(self) -> int:
        return int(self.infer(self.tokenizer.encode(["dimension probe"])).shape[1])


def length_sorted_batches(
    lengths: Sequence[int], batch_size: int, max_batch_tokens: int | None = None
) -> list[np.ndarray]:
    """Indices of the inputs, longest first, cut into batches of at most `batch_size` inputs.

    With `max_batch_tokens`, a batch also holds at most that many padded tokens (inputs x
    its longest, which is its first); an input longer than the budget runs alone.
    """
    order = np.argsort([-length for length in lengths], kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    while start < len(order):
        size = batch_size
        if max_batch_tokens is not None:
            size = max(1, min(size, max_batch_tokens // max(1, lengths[order[start]])))
        batches.append(order[start : start + size])
        start += size
    return batches


def _ends_with_normalize(model_dir: Path) -> bool:
    modules = model_dir / "modules.json"
    if not modules.is_file():
        return False
    entries = json.loads(modules.read_text())
    return bool(entries) and entries[-1]["type"].endswith("Normalize")
