"""Folders move both ways between embedtune and sentence-transformers without changing embeddings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedtune_trainer import SentenceEncoder

TOLERANCE = 1e-5
TEXTS = ["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell.", "", "東京"]


def test_saved_folder_loads_in_sentence_transformers(default_encoder, tmp_path):
    st = pytest.importorskip("sentence_transformers")
    folder = default_encoder.save(tmp_path / "ours")
    reference = st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    assert np.abs(default_encoder.encode(TEXTS) - reference).max() <= TOLERANCE


def test_saved_folder_uses_the_legacy_form(default_encoder, tmp_path):
    folder = default_encoder.save(tmp_path / "ours")
    modules = json.loads((folder / "modules.json").read_text())
    assert [m["type"] for m in modules] == [
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
        "sentence_transformers.models.Normalize",
    ]
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] is True
    assert set(pooling) <= {
        "word_embedding_dimension",
        "pooling_mode_cls_token",
        "pooling_mode_max_tokens",
        "pooling_mode_mean_tokens",
        "pooling_mode_mean_sqrt_len_tokens",
        "pooling_mode_weightedmean_tokens",
        "pooling_mode_lasttoken",
    }
    assert json.loads((folder / "sentence_bert_config.json").read_text()) == {
        "max_seq_length": 256,
        "do_lower_case": False,
    }
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n") and "384-dimensional" in card
    # The bundled model is recorded by its Hub id, not by the alias "default".
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in card


def test_folder_saved_by_sentence_transformers_loads_in_ours(st_reference, tmp_path):
    st = pytest.importorskip("sentence_transformers")
    # A model with every optional layer, saved by sentence-transformers itself.
    transformer = st_reference[0]
    pooling = st.models.Pooling(384, pooling_mode="cls")
    dense = st.models.Dense(384, 128)
    model = st.SentenceTransformer(modules=[transformer, pooling, dense, st.models.Normalize()], device="cpu")
    model.save(str(tmp_path / "theirs"))
    ours = SentenceEncoder.load(tmp_path / "theirs")
    assert [type(m).__name__ for m in ours] == ["Transformer", "Pooling", "Dense", "Normalize"]
    assert ours.dimension == 128
    assert np.abs(ours.encode(TEXTS) - model.encode(TEXTS)).max() <= TOLERANCE


def test_plain_transformer_folder_loads_with_mean_pooling(default_encoder, st_reference, tmp_path):
    st = pytest.importorskip("sentence_transformers")
    default_encoder.transformer.auto_model.save_pretrained(tmp_path / "plain")
    default_encoder.transformer.tokenizer.save_pretrained(tmp_path / "plain")
    ours = SentenceEncoder.load(tmp_path / "plain")
    assert [type(m).__name__ for m in ours] == ["Transformer", "Pooling"]
    assert ours[1].modes == ["mean"]
    reference = st.SentenceTransformer(str(tmp_path / "plain"), device="cpu").encode(TEXTS)
    assert np.abs(ours.encode(TEXTS) - reference).max() <= TOLERANCE
