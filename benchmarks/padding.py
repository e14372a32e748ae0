"""Padded tokens: how many tokens each batching rule adds to the STSb dev sentences.

    .venv/bin/python -m benchmarks.padding

No timing, so the figures are exact and repeatable. Two cases:

1. in process, batches of 32 after sorting by characters (sentence-transformers)
   or by tokens (embedtune's `encode` and ONNX backend);
2. the server's batch cutter on a saturated queue (8 clients, each keeping one
   32-sentence request waiting; a request's inputs join the queue when the previous
   one has been cut), with today's bound (an eighth of the longest, or 2 tokens) and
   the earlier one (half the longest, or 16 tokens).
"""

from __future__ import annotations

import random

import numpy as np

from benchmarks.common import machine, stsb_sentences, table, write_section

BATCH = 32
CLIENTS = 8
MAX_BATCH_REQUESTS = 64
MAX_BATCH_TOKENS = 16384
RULES = {
    "an eighth of the longest, or 2 tokens (now)": (8, 2),
    "half the longest, or 16 tokens (before)": (2, 16),
}


def sorted_batches(lengths: list[int], keys: list[int]) -> tuple[int, int]:
    """(padded tokens, batches needing no padding) for batches of BATCH in descending `keys` order."""
    order = np.argsort([-k for k in keys], kind="stable")
    padded = uniform = 0
    for start in range(0, len(order), BATCH):
        batch = [lengths[i] for i in order[start : start + BATCH]]
        padded += max(batch) * len(batch)
        uniform += min(batch) == max(batch)
    return padded, uniform


def server_padded_tokens(token_ids: list[np.ndarray], share: int, slack: int) -> int:
    """Padded tokens the cutter produces when CLIENTS requests of BATCH inputs wait at all times."""
    from embedtune_server.batching import _Entry, _Request, cut_batch

    rng = random.Random(0)
    order = list(range(len(token_ids)))
    rng.shuffle(order)
    requests = [order[i : i + BATCH] for i in range(0, len(order), BATCH)]
    arrivals = iter(range(len(token_ids)))
    pending: list[_Entry] = []
    waiting = 0
    padded = 0
    while waiting < len(requests) or pending:
        while waiting < len(requests) and len({id(e.request) for e in pending}) < CLIENTS:
            request = _Request(future=None, size=len(requests[waiting]), enqueued_at=0.0)
            pending += [
                _Entry(request, p, token_ids[i], next(arrivals)) for p, i in enumerate(requests[waiting])
            ]
            waiting += 1
        batch, pending = cut_batch(
            pending, MAX_BATCH_REQUESTS, MAX_BATCH_TOKENS, padding_share=share, padding_slack=slack
        )
        padded += len(batch) * max(e.length for e in batch)
    return padded


def main() -> None:
    from embedtune_server.backend import TextTokenizer
    from embedtune_trainer.st_format import resolve_model_path

    sentences = stsb_sentences("dev")
    token_ids = TextTokenizer.from_model_dir(resolve_model_path("default")).encode(sentences)
    lengths = [len(ids) for ids in token_ids]
    real = sum(lengths)

    def share(padded: int) -> str:
        return f"{100 * (padded - real) / real:.1f}%"

    rows = []
    for name, keys in (
        ("in process, sorted by characters", [len(s) for s in sentences]),
        ("in process, sorted by tokens", lengths),
    ):
        padded, uniform = sorted_batches(lengths, keys)
        rows.append([name, padded, share(padded), f"{uniform} of {-(-len(lengths) // BATCH)}"])
    for name, (rule_share, slack) in RULES.items():
        padded = server_padded_tokens(token_ids, rule_share, slack)
        rows.append([f"server cutter, {name}", padded, share(padded), "—"])
    for row in rows:
        print(" | ".join(str(c) for c in row))
    body = "\n\n".join(
        [
            f"`.venv/bin/python -m benchmarks.padding` — {len(sentences)} STSb dev sentences, {real} real "
            f"tokens (bundled model's tokenizer). In process: batches of {BATCH}. Server: the batch cutter "
            f"on a saturated queue of {CLIENTS} clients × {BATCH}-sentence requests (max_batch_requests "
            f"{MAX_BATCH_REQUESTS}, max_batch_tokens {MAX_BATCH_TOKENS}). Counts, not timings. "
            f"Machine: {machine()}.",
            table(["batching", "padded tokens", "padding over real tokens", "batches with no padding"], rows),
        ]
    )
    write_section("Padding by batching rule", body)


if __name__ == "__main__":
    main()
