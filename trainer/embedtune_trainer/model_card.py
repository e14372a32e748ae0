"""The README.md that travels with every saved model: what it is, how it was made, how to use it."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field


@dataclass
class ModelCardData:
    """What the trainer knows about a model; rendered by `render_model_card`."""

    base_model: str | None = None
    datasets: list[str] = field(default_factory=list)
    loss: str | None = None
    loss_config: dict = field(default_factory=dict)
    hyperparameters: dict = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    language: str | None = None
    license: str | None = None
    tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def render_model_card(
    card: ModelCardData, name: str, architecture: list[str], dimension: int, max_seq_length: int
) -> str:
    """Hub-style card: YAML front matter the Hub indexes, then a human summary and a usage snippet."""
    front = _front_matter(card, "sentence-similarity", ["sentence-similarity", "feature-extraction"])
    body = [
        f"# {name}",
        "",
        f"A sentence encoder that maps text to a {dimension}-dimensional vector for semantic search, "
        "clustering and similarity. Made with [embedtune](https://github.com/embedtune/embedtune); "
        "the folder is in the sentence-transformers format.",
        "",
        "## Model",
        "",
        f"- Base model: {card.base_model or 'trained from a plain transformer'}",
        f"- Layers: {' → '.join(architecture)}",
        f"- Embedding dimension: {dimension}",
        f"- Max sequence length: {max_seq_length} tokens",
    ]
    body += _training_and_evaluation(card)
    body += [
        "",
        "## Usage",
        "",
        "```python",
        "from embedtune_trainer import SentenceEncoder",
        "",
        'encoder = SentenceEncoder.load("path/to/this/folder")',
        'embeddings = encoder.encode(["A sentence", "Another one"], normalize=True)',
        "```",
        "",
        "With sentence-transformers:",
        "",
        "```python",
        "from sentence_transformers import SentenceTransformer",
        "",
        'model = SentenceTransformer("path/to/this/folder")',
        'embeddings = model.encode(["A sentence", "Another one"])',
        "```",
        "",
    ]
    return "\n".join([*front, "", *body])


def render_cross_encoder_card(
    card: ModelCardData, name: str, num_labels: int, activation: str, max_seq_length: int
) -> str:
    """The card of a cross-encoder folder: the same front matter and training record, its own usage."""
    front = _front_matter(card, "text-ranking", ["cross-encoder", "reranker", "text-ranking"])
    output = "one score" if num_labels == 1 else f"{num_labels} class logits"
    body = [
        f"# {name}",
        "",
        f"A cross-encoder that reads a (query, text) pair together and gives {output} "
        f"(activation at prediction: {activation}). Made with "
        "[embedtune](https://github.com/embedtune/embedtune); "
        "the folder is in the sentence-transformers CrossEncoder format.",
        "",
        "## Model",
        "",
        f"- Base model: {card.base_model or 'trained from a plain transformer'}",
        f"- Labels: {num_labels}",
        f"- Max sequence length: {max_seq_length} tokens (query and text together)",
    ]
    body += _training_and_evaluation(card)
    body += [
        "",
        "## Usage",
        "",
        "```python",
        "from embedtune_trainer.cross_encoder import CrossEncoder",
        "",
        'model = CrossEncoder.load("path/to/this/folder")',
        'scores = model.predict([("A query", "A candidate text"), ("A query", "Another one")])',
        "```",
        "",
        "With sentence-transformers:",
        "",
        "```python",
        "from sentence_transformers import CrossEncoder",
        "",
        'model = CrossEncoder("path/to/this/folder")',
        'scores = model.predict([("A query", "A candidate text"), ("A query", "Another one")])',
        "```",
        "",
    ]
    return "\n".join([*front, "", *body])


def _front_matter(card: ModelCardData, pipeline_tag: str, kind_tags: list[str]) -> list[str]:
    """The YAML block the Hub indexes."""
    front = ["---", "library_name: sentence-transformers", f"pipeline_tag: {pipeline_tag}"]
    tags = ["sentence-transformers", *kind_tags, "embedtune", *card.tags]
    front += ["tags:", *[f"- {t}" for t in dict.fromkeys(tags)]]
    if card.base_model:
        front.append(f"base_model: {card.base_model}")
    if card.datasets:
        front += ["datasets:", *[f"- {d}" for d in card.datasets]]
    if card.language:
        front.append(f"language: {card.language}")
    if card.license:
        front.append(f"license: {card.license}")
    front.append("---")
    return front


def _training_and_evaluation(card: ModelCardData) -> list[str]:
    body: list[str] = []
    if card.loss:
        body += [
            "",
            "## Training",
            "",
            f"- Loss: `{card.loss}`" + (f" {json.dumps(card.loss_config)}" if card.loss_config else ""),
        ]
        body += [f"- Data: {', '.join(card.datasets)}" if card.datasets else "- Data: not recorded"]
        body += [f"- {k}: {v}" for k, v in card.hyperparameters.items()]
    if card.metrics:
        body += ["", "## Evaluation", "", "| metric | value |", "|---|---|"]
        body += [
            f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |"
            for k, v in card.metrics.items()
        ]
    return body
