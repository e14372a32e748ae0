"""Real quality: STS Benchmark dev pairs through the served ONNX graphs rank as sentence-transformers'
reference ranks them.

The graphs are the bundled model's session export, run by the backend the server serves with.
The reference is computed independently: sentence-transformers on the same folder, and
scipy's Spearman. A pipeline with the wrong pooling, or without the trained weights,
cannot come near the reference; `FLOOR` is far below the reference and far above them.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from embedtune_server.backend import OnnxBackend

pytestmark = pytest.mark.slow  # sentence-transformers encodes the pairs for the reference

PAIRS_EVERY = 5  # every fifth dev pair: a few hundred, spread over the file's score range
FLOOR = 0.8
# fp32 computes the reference's vectors up to float rounding, so only Spearman's last digits may
# move; int8 moves every vector a little, and a few close pairs may swap ranks.
TOLERANCE = {False: 0.002, True: 0.01}


def cosine_spearman(first: np.ndarray, second: np.ndarray, gold: list[float]) -> float:
    cosine = (first * second).sum(1) / (np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1))
    return float(spearmanr(cosine, gold).statistic)


@pytest.fixture(scope="module")
def pairs(stsb_dev) -> tuple[list[str], list[str], list[float]]:
    chosen = stsb_dev[::PAIRS_EVERY]
    return [a for a, _, _ in chosen], [b for _, b, _ in chosen], [score for _, _, score in chosen]


@pytest.fixture(scope="module")
def reference(pairs, st_reference) -> float:
    first, second, gold = pairs
    return cosine_spearman(st_reference.encode(first), st_reference.encode(second), gold)


@pytest.mark.parametrize("quantized", [False, True], ids=["fp32", "int8"])
def test_served_graph_ranks_stsb_pairs_as_the_reference_does(onnx_model_dir, pairs, reference, quantized):
    first, second, gold = pairs
    backend = OnnxBackend(onnx_model_dir, quantized=quantized)
    served = cosine_spearman(backend.encode(first), backend.encode(second), gold)
    assert served > FLOOR
    assert served == pytest.approx(reference, abs=TOLERANCE[quantized])
