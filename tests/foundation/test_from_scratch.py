"""The tutorial's "from scratch" path: any transformer plus pooling, every pooling mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedtune_trainer import Dense, Normalize, Pooling, SentenceEncoder, Transformer
from embedtune_trainer.modules.pooling import MODE_KEYS

TEXTS = ["short", "a somewhat longer sentence about rivers and banks", "", "東京 café"]


def _tiny_encoder(config, tokenizer, modes, with_dense=False) -> SentenceEncoder:
    torch.manual_seed(0)
    transformer = Transformer.from_config(config, tokenizer, max_seq_length=64)
    pooling = Pooling(transformer.dimension, modes)
    modules = [transformer, pooling]
    if with_dense:
        modules += [Dense(pooling.dimension, 16), Normalize()]
    return SentenceEncoder(modules)


@pytest.mark.parametrize("mode", sorted(MODE_KEYS))
def test_every_pooling_mode_saves_and_loads_identically(mode, tiny_bert_config, tiny_tokenizer, tmp_path):
    encoder = _tiny_encoder(tiny_bert_config, tiny_tokenizer, mode)
    before = encoder.encode(TEXTS)
    encoder.save(tmp_path / mode)
    after = SentenceEncoder.load(tmp_path / mode).encode(TEXTS)
    assert before.shape == (len(TEXTS), 32)
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("mode", sorted(MODE_KEYS))
def test_every_pooling_mode_matches_sentence_transformers(mode, tiny_bert_config, tiny_tokenizer, tmp_path):
    st = pytest.importorskip("sentence_transformers")
    encoder = _tiny_encoder(tiny_bert_config, tiny_tokenizer, mode)
    encoder.save(tmp_path / mode)
    reference = st.SentenceTransformer(str(tmp_path / mode), device="cpu").encode(TEXTS)
    assert np.abs(encoder.encode(TEXTS) - reference).max() <= 1e-5


def test_several_modes_concatenate_with_dense_and_normalize(tiny_bert_config, tiny_tokenizer, tmp_path):
    encoder = _tiny_encoder(tiny_bert_config, tiny_tokenizer, ["mean", "max"], with_dense=True)
    assert encoder[1].dimension == 64 and encoder.dimension == 16
    before = encoder.encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(before, axis=1), 1.0, atol=1e-6)
    encoder.save(tmp_path / "dense")
    np.testing.assert_array_equal(before, SentenceEncoder.load(tmp_path / "dense").encode(TEXTS))


def test_pooling_ignores_padding(tiny_bert_config, tiny_tokenizer):
    """A text's embedding does not depend on how long its batch-mates are."""
    for mode in MODE_KEYS:
        encoder = _tiny_encoder(tiny_bert_config, tiny_tokenizer, mode)
        alone = encoder.encode(["short"])
        padded = encoder.encode(
            ["short", "much longer company that forces a lot of padding tokens"], batch_size=2
        )
        assert np.abs(alone[0] - padded[0]).max() <= 1e-5, mode
