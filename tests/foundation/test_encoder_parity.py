"""Our PyTorch encoder computes what sentence-transformers computes on the bundled model."""

from __future__ import annotations

import numpy as np
import pytest

TOLERANCE = 1e-5  # max abs difference per value, fp32 on the same CPU kernels


@pytest.mark.slow
def test_default_encoder_equals_sentence_transformers(torch_embeddings, st_reference, varied_sentences):
    ours = torch_embeddings
    reference = st_reference.encode(varied_sentences, batch_size=32, convert_to_numpy=True)
    assert ours.shape == reference.shape == (len(varied_sentences), 384)
    assert ours.dtype == np.float32
    assert np.abs(ours - reference).max() <= TOLERANCE


@pytest.mark.slow
def test_batch_size_and_order_do_not_change_embeddings(default_encoder, varied_sentences):
    texts = varied_sentences[:60]
    whole = default_encoder.encode(texts, batch_size=64)
    one_by_one = default_encoder.encode(texts, batch_size=1)
    reversed_batch = default_encoder.encode(texts[::-1], batch_size=7)[::-1]
    assert np.abs(whole - one_by_one).max() <= TOLERANCE
    assert np.abs(whole - reversed_batch).max() <= TOLERANCE


@pytest.mark.slow
def test_normalize_gives_unit_vectors_and_matches_reference(default_encoder, st_reference, varied_sentences):
    texts = varied_sentences[:40]
    ours = default_encoder.encode(texts, normalize=True)
    reference = st_reference.encode(texts, normalize_embeddings=True)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert np.abs(ours - reference).max() <= TOLERANCE


def test_long_text_is_truncated_to_max_seq_length(default_encoder):
    assert default_encoder.max_seq_length == 256
    long_text = "word " * 1000
    features = default_encoder.tokenize([long_text])
    assert features["input_ids"].shape[1] == default_encoder.max_seq_length
    # Words past the limit cannot change the embedding.
    a, b = default_encoder.encode([long_text, long_text + " completely different ending " * 50])
    assert np.abs(a - b).max() <= TOLERANCE


def test_single_string_gives_one_vector(default_encoder):
    one = default_encoder.encode("A man is playing a guitar.")
    batch = default_encoder.encode(["A man is playing a guitar."])
    assert one.shape == (384,)
    assert np.abs(one - batch[0]).max() <= TOLERANCE
