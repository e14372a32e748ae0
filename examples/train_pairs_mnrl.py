"""Case 2 of the tutorial: (anchor, positive) pairs with MultipleNegativesRankingLoss.

    .venv/bin/python examples/train_pairs_mnrl.py --output /tmp/pairs [--mine-hard-negatives]

Every other positive in a batch serves as a negative, so batches are built with no text
repeated inside one (the trainer does this for in-batch-negative losses). The rows use the
Hub's sentence-compression layout (`{"set": [long, short]}`). With --mine-hard-negatives a
negative is mined from the base encoder's nearest neighbours for each pair first.
Command line equivalent:

    embedtune train --data pairs.jsonl --loss mnrl --output /tmp/pairs --batch-size 4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import datasets

from embedtune_trainer.training import MiningSettings, TrainSettings, train

PAIRS = [
    (
        "The mayor announced on Monday that the city will build three new parks next year.",
        "City to build new parks",
    ),
    (
        "Scientists have discovered a new species of frog in the rainforests of Peru.",
        "New frog species found",
    ),
    ("The national team won the championship after a dramatic penalty shoot-out.", "Team wins championship"),
    (
        "Heavy snow closed several roads and schools across the region on Tuesday.",
        "Snow closes roads, schools",
    ),
    ("The company reported record profits for the third quarter in a row.", "Company posts record profits"),
    ("A new study suggests that regular walking improves memory in older adults.", "Walking helps memory"),
    ("The museum will open a new exhibition of modern art next month.", "Museum opens art exhibition"),
    ("Firefighters rescued a family from a burning building early this morning.", "Family rescued from fire"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--mine-hard-negatives", action="store_true")
    args = parser.parse_args()

    data = datasets.Dataset.from_list([{"set": [long, short]} for long, short in PAIRS])
    result = train(
        TrainSettings(
            data=data,
            output=args.output,
            loss="MultipleNegativesRankingLoss",
            epochs=1,
            batch_size=4,
            mining=MiningSettings(top_k=5, margin=0.0) if args.mine_hard_negatives else None,
        )
    )
    print(f"saved to {result.output}: {result.examples} {result.shape} examples, {result.steps} steps")


if __name__ == "__main__":
    main()
