"""Case 4 of the tutorial: (anchor, positive, negative) triplets with TripletLoss.

    .venv/bin/python examples/train_triplets.py --output /tmp/triplets

The rows use the Hub's QQP_triplets layout (`{"set": {"query", "pos": [...], "neg": [...]}}`),
which the loader flattens; `--all-combinations` makes every (pos, neg) pair a triplet.
The same run from the command line, with the rows in a JSONL file:

    embedtune train --data qqp.jsonl --loss TripletLoss --output /tmp/triplets --epochs 1 --batch-size 4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import datasets

from embedtune_trainer.data import DataSettings, NestedExpansion
from embedtune_trainer.training import TrainSettings, train
from embedtune_trainer.training.summary import format_summary

QQP_ROWS = [
    {
        "set": {
            "query": "How do I learn Python fast?",
            "pos": ["What is the quickest way to learn Python?"],
            "neg": ["How do I cook rice?", "Is Python a snake?"],
        }
    },
    {
        "set": {
            "query": "Why is the sky blue?",
            "pos": ["What makes the sky look blue?"],
            "neg": ["Why is grass green?", "How far away is the sun?"],
        }
    },
    {
        "set": {
            "query": "How can I lose weight?",
            "pos": ["What is a good way to lose weight?"],
            "neg": ["How can I gain muscle?", "What is the weight of the Earth?"],
        }
    },
    {
        "set": {
            "query": "What is the best phone to buy?",
            "pos": ["Which smartphone should I buy?"],
            "neg": ["How do I fix my phone screen?", "What is the best laptop?"],
        }
    },
    {
        "set": {
            "query": "How do I start a business?",
            "pos": ["What are the steps to start a company?"],
            "neg": ["How do I close my bank account?", "What is business class?"],
        }
    },
    {
        "set": {
            "query": "How do I improve my English?",
            "pos": ["What can I do to get better at English?"],
            "neg": ["How do I learn French?", "Where is England?"],
        }
    },
    {
        "set": {
            "query": "What causes earthquakes?",
            "pos": ["Why do earthquakes happen?"],
            "neg": ["What causes rain?", "How big was the largest earthquake?"],
        }
    },
    {
        "set": {
            "query": "How do I sleep better?",
            "pos": ["What helps you fall asleep faster?"],
            "neg": ["How much should I eat?", "Why do cats sleep so much?"],
        }
    },
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--all-combinations", action="store_true")
    args = parser.parse_args()

    nested = NestedExpansion.ALL if args.all_combinations else NestedExpansion.FIRST
    data = datasets.Dataset.from_list(QQP_ROWS)
    result = train(
        TrainSettings(
            data=data,
            data_settings=DataSettings(nested=nested),
            output=args.output,
            loss="TripletLoss",
            epochs=1,
            batch_size=4,
        )
    )
    print(format_summary(result))


if __name__ == "__main__":
    main()
