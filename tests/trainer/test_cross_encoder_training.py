"""`embedtune train --cross-encoder`: refusals before step 1, the head and activation per loss, learning."""

from __future__ import annotations

import argparse
import json

import datasets
import numpy as np
import pytest
import torch
from tiny_models import build_tiny_cross_encoder, make_triplets

from embedtune_trainer.cli import register
from embedtune_trainer.cross_encoder import Activation, CrossEncoder
from embedtune_trainer.cross_encoder.evaluators import evaluator_for_pairs
from embedtune_trainer.cross_encoder.pairs import pair_data
from embedtune_trainer.data import DataError, DataSettings, DataShape, load_data
from embedtune_trainer.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from embedtune_trainer.training import TrainingError, TrainSettings, train


def _settings(base, output, rows, **overrides) -> TrainSettings:
    values = {
        "data": datasets.Dataset.from_list(rows),
        "output": output,
        "base": base,
        "cross_encoder": True,
        "batch_size": 8,
        "epochs": 1,
        "learning_rate": 1e-3,
        "export_onnx": False,
        "show_progress": False,
        **overrides,
    }
    return TrainSettings(**values)


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_triplets_become_a_positive_and_a_negative_pair():
    data = load_data(
        datasets.Dataset.from_list([{"anchor": "q", "positive": "p", "negative": "n"}]),
        DataSettings(shape=DataShape.TRIPLET),
    )
    pairs = pair_data(data)
    assert pairs.shape is DataShape.LABELED_PAIR
    assert pairs.dataset.to_list() == [
        {"text1": "q", "text2": "p", "label": 1},
        {"text1": "q", "text2": "n", "label": 0},
    ]


@pytest.mark.parametrize(
    ("rows", "loss", "match"),
    [
        (make_triplets(8, 0), "mnrl", r"MultipleNegativesRankingLoss trains a bi-encoder, not a cross-enc"),
        (
            [{"text1": f"a{i}", "text2": f"b{i}", "label": i / 10} for i in range(8)],
            "CrossEntropyLoss",
            r"CrossEntropyLoss needs int labels, but the data has float.*: BinaryCrossEntropyLoss, MSELoss",
        ),
        (
            [{"anchor": f"a{i}", "positive": f"b{i}"} for i in range(8)],
            None,
            r"a cross-encoder trains on labelled pairs .* positive_pair data .* has no label or negative",
        ),
    ],
)
def test_a_loss_or_data_that_does_not_fit_is_refused_before_training(tmp_path, rows, loss, match):
    base = build_tiny_cross_encoder()
    with pytest.raises((TrainingError, DataError), match=match):
        train(_settings(base, tmp_path / "out", rows, loss=loss))
    assert not (tmp_path / "out").exists()


def test_a_cross_encoder_loss_is_refused_for_a_bi_encoder(tiny_encoder_dir, tmp_path):
    rows = [{"text1": f"a{i}", "text2": f"b{i}", "label": i % 2} for i in range(8)]
    with pytest.raises(TrainingError, match=r"BinaryCrossEntropyLoss trains a cross-encoder, not a bi-"):
        train(
            _settings(
                str(tiny_encoder_dir), tmp_path / "out", rows, loss="binarycrossentropy", cross_encoder=False
            )
        )


def test_a_label_outside_the_loss_range_is_refused_with_its_row(tmp_path):
    rows = [{"text1": f"a{i}", "text2": f"b{i}", "label": s} for i, s in enumerate([0.2, 0.9, 4.0, 1.0])]
    with pytest.raises(DataError, match=r"row 3: label 4.0 is refused by BinaryCrossEntropyLoss"):
        train(_settings(build_tiny_cross_encoder(), tmp_path / "out", rows, batch_size=2))


@pytest.mark.parametrize(
    ("loss", "labels", "num_labels", "activation"),
    [
        (BinaryCrossEntropyLoss, [0.0, 0.5, 1.0], 1, Activation.SIGMOID),
        (MSELoss, [0.0, 2.5, 5.0], 1, Activation.IDENTITY),
        (CrossEntropyLoss, [0, 1, 2], 3, Activation.IDENTITY),
    ],
)
def test_each_loss_sizes_the_head_and_sets_the_activation(tmp_path, loss, labels, num_labels, activation):
    rows = [{"text1": f"a{i}", "text2": f"b{i}", "label": labels[i % 3]} for i in range(6)]
    base = build_tiny_cross_encoder(num_labels=num_labels)
    result = train(_settings(base, tmp_path / "out", rows, loss=loss.__name__, batch_size=3, max_steps=1))
    saved = CrossEncoder.load(tmp_path / "out")
    assert (result.loss, saved.num_labels, saved.activation) == (loss.__name__, num_labels, activation)


@pytest.mark.slow
def test_short_training_makes_a_made_up_reranking_task_correct(tmp_path, one_torch_thread):
    """Topics as bags of words: a query's same-topic candidate must rank first. A random
    cross-encoder ranks at chance; the CLI run on triplets must learn it."""
    train_file, held_out_file = tmp_path / "train.jsonl", tmp_path / "held-out.jsonl"
    train_file.write_text("".join(json.dumps(row) + "\n" for row in make_triplets(400, seed=1, words=5)))
    held_out_file.write_text("".join(json.dumps(row) + "\n" for row in make_triplets(40, seed=99, words=5)))
    base = tmp_path / "tiny-ce"
    # Five-word texts give the tiny model enough evidence per pair to learn in a few hundred steps.
    build_tiny_cross_encoder(seed=0, dropout=0.0).save(base)
    evaluator = evaluator_for_pairs(held_out_file, num_labels=1)
    before = evaluator(CrossEncoder.load(base))

    output = tmp_path / "ce-v1"
    argv = ["train", "--cross-encoder", "--base", str(base), "--data", str(train_file)]
    argv += ["--eval-data", str(held_out_file), "--output", str(output), "--epochs", "8"]
    assert _cli([*argv, "--batch-size", "32", "--lr", "1e-3", "--warmup-ratio", "0", "--no-export"]) == 0

    trained = CrossEncoder.load(output)
    after = evaluator(trained)
    assert after["mrr@10"] >= 0.9 > before["mrr@10"] + 0.1
    record = json.loads((output / "embedtune.json").read_text())
    assert record["kind"] == "cross-encoder" and record["loss"] == "BinaryCrossEntropyLoss"
    assert record["data"]["pairs"] == 800
    assert record["metrics"]["rerank_ndcg@10"] == pytest.approx(after["ndcg@10"], abs=1e-6)

    query = "cat dog horse rabbit mouse"
    candidates = [
        "rain snow wind fog sun",
        "car truck bus tram bike",
        "cow sheep goat cat dog",
        "bread cheese apple rice soup",
    ]
    scores = trained.predict([(query, text) for text in candidates])
    assert int(np.argmax(scores)) == 2
    assert torch.is_grad_enabled()  # predict leaves the global state alone
