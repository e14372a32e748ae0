"""`OnnxBackend.encode`'s batches (what re-embedding uses): sorted, within the token budget, same vectors."""

from __future__ import annotations

import random

import numpy as np
import pytest

from embedtune_server.backend import OnnxBackend
from embedtune_server.backend.onnx_backend import length_sorted_batches

# fp32 rows of one text computed in batches of different shapes agree to this (GEMM blocking differs).
SAME_VECTOR_ATOL = 1e-5


@pytest.mark.parametrize("budget", [None, 1, 40, 100, 1000])
def test_batches_cover_every_input_once_longest_first_within_the_budget(budget):
    rng = random.Random(budget)
    lengths = [rng.randint(1, 60) for _ in range(200)]
    batches = length_sorted_batches(lengths, batch_size=16, max_batch_tokens=budget)

    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    for batch in batches:
        assert 1 <= len(batch) <= 16
        if budget is not None and len(batch) > 1:
            assert len(batch) * max(lengths[i] for i in batch) <= budget
    if budget is not None:
        # A batch closes only when the next input would break a limit.
        for batch in batches[:-1]:
            assert len(batch) == 16 or (len(batch) + 1) * lengths[batch[0]] > budget


def test_encode_within_a_token_budget_returns_the_same_vectors_in_input_order(tiny_model_dir):
    backend = OnnxBackend(tiny_model_dir, intra_op_threads=1, streams=2)
    rng = random.Random(0)
    words = "the a model serves queries documents index vectors batch token".split()
    texts = [" ".join(rng.choices(words, k=rng.randint(1, 40))) for _ in range(50)]
    lengths = [len(ids) for ids in backend.tokenizer.encode(texts)]
    budget = 2 * max(lengths)

    seen: list[list[int]] = []
    infer = backend.infer

    def recording_infer(token_ids):
        seen.append([len(ids) for ids in token_ids])
        return infer(token_ids)

    backend.infer = recording_infer
    budgeted = backend.encode(texts, max_batch_tokens=budget)
    assert all(len(batch) * max(batch) <= budget for batch in seen)
    assert max(len(batch) for batch in seen) < 32  # the budget, not batch_size, cut these batches

    seen.clear()
    unbudgeted = backend.encode(texts)
    assert max(len(batch) for batch in seen) == 32
    np.testing.assert_allclose(budgeted, unbudgeted, atol=SAME_VECTOR_ATOL)
    one_by_one = np.stack([backend.encode([text])[0] for text in texts[:5]])
    np.testing.assert_allclose(budgeted[:5], one_by_one, atol=SAME_VECTOR_ATOL)
