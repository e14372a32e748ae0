"""Share a trained model version folder on the Hugging Face Hub (the tutorial's `save_to_hub`).

    .venv/bin/python examples/push_to_hub.py --model /tmp/triplets --repo-id you/my-encoder \
        --train-datasets embedding-data/QQP_triplets [--private]

Needs a Hub token (HF_TOKEN, `hf auth login`, or --token) and network access; without
either it stops with one line saying which is missing. Command line equivalent:

    embedtune push --model /tmp/triplets --repo-id you/my-encoder --train-datasets embedding-data/QQP_triplets

The model card in the folder lists the training datasets given here; the upload skips
training checkpoints. (embedtune's tests replace the Hub's HTTP calls; a live upload was
not exercised when this was written.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from embedtune_trainer.hub import PushError, PushSettings, push_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--repo-id", required=True)
    parser.add_argument("--train-datasets", default="", help="comma-separated dataset ids for the card")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--token")
    args = parser.parse_args()
    datasets = [d for d in args.train_datasets.split(",") if d] or None
    try:
        url = push_model(PushSettings(args.model, args.repo_id, args.private, args.token, datasets))
    except PushError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"pushed to {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
