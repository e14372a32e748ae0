"""Batch samplers and hard-negative mining, on hand-made rows and embeddings."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch
from tiny_models import build_tiny_encoder

from embedtune_trainer.losses.registry import build_loss
from embedtune_trainer.training.collator import EncoderCollator, merging_pays
from embedtune_trainer.training.mining import mine_hard_negatives
from embedtune_trainer.training.samplers import (
    LengthGroupedBatchSampler,
    NoDuplicatesBatchSampler,
    RandomBatchSampler,
)
from embedtune_trainer.training.settings import MiningSettings
from embedtune_trainer.training.trainer import LossModule, accepts_merged_columns


def test_no_duplicates_keeps_repeated_texts_apart_and_uses_every_row():
    # Five anchors share the text "q"; they must land in five different batches.
    rows = [("q", f"p{i}") for i in range(5)] + [(f"a{i}", f"b{i}") for i in range(15)]
    sampler = NoDuplicatesBatchSampler(rows, batch_size=4, seed=3)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(20))
    assert len(batches) == len(sampler)
    for batch in batches:
        texts = [t for i in batch for t in rows[i]]
        assert len(texts) == len(set(texts)), batch


def test_samplers_are_deterministic_per_epoch_and_differ_between_epochs():
    for make in (
        lambda: NoDuplicatesBatchSampler([(f"a{i}", f"b{i}") for i in range(40)], 8, seed=1),
        lambda: LengthGroupedBatchSampler([i % 13 for i in range(40)], 8, seed=1, window=2),
        lambda: RandomBatchSampler(40, 8, seed=1),
    ):
        first, second = make(), make()
        first.set_epoch(2)
        second.set_epoch(2)
        assert list(first) == list(second)
        second.set_epoch(3)
        assert list(first) != list(second)


def test_length_grouping_cuts_padding_and_covers_every_row():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 200, size=256).tolist()
    grouped = list(LengthGroupedBatchSampler(lengths, 16, seed=0, window=16))
    shuffled = list(RandomBatchSampler(256, 16, seed=0))
    assert sorted(i for b in grouped for i in b) == list(range(256))

    def padded(batches):  # tokens including padding, padding to each batch's longest
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    assert padded(grouped) < 0.8 * padded(shuffled)
    assert len(grouped) == len(LengthGroupedBatchSampler(lengths, 16, seed=0, window=16))


def test_drop_last_drops_the_short_batch():
    assert [len(b) for b in RandomBatchSampler(10, 4, drop_last=True)] == [4, 4]
    assert len(LengthGroupedBatchSampler([1] * 10, 4, drop_last=True)) == 2


class _TableEncoder:
    """Returns fixed vectors per text: mining maths without a model."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def encode(self, texts, batch_size=32, normalize=False, show_progress=False):
        vectors = np.array([self.table[t] for t in texts], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True) if normalize else vectors


def test_mining_skips_positive_and_near_duplicates():
    angle = {"q": 0.0, "p": 0.30, "dup": 0.31, "hard": 0.6, "easy": 1.5, "q2": 1.5, "p2": 1.55}
    encoder = _TableEncoder({t: [np.cos(a), np.sin(a)] for t, a in angle.items()})
    pairs = datasets.Dataset.from_list(
        [
            {"anchor": "q", "positive": "p"},
            {"anchor": "x1", "positive": "dup"},
            {"anchor": "x2", "positive": "hard"},
            {"anchor": "x3", "positive": "easy"},
            {"anchor": "q2", "positive": "p2"},
        ]
    )
    encoder.table.update({"x1": [1.0, 0.2], "x2": [1.0, 0.5], "x3": [0.1, 1.0]})
    triplets, report = mine_hard_negatives(encoder, pairs, MiningSettings(top_k=5, margin=0.02))
    first = [r for r in triplets if r["anchor"] == "q"]
    # "dup" scores within the margin of the positive: skipped; "hard" is the next nearest.
    assert first == [{"anchor": "q", "positive": "p", "negative": "hard"}]
    assert report.pairs == 5
    assert report.triplets + report.anchors_without_negative >= 5
    for row in triplets:
        assert row["negative"] != row["positive"]


def test_mining_with_nothing_to_mine_says_so():
    encoder = _TableEncoder({"a": [1.0, 0.0], "b": [1.0, 0.0]})
    pairs = datasets.Dataset.from_list([{"anchor": "a", "positive": "b"}])
    with pytest.raises(ValueError, match="found no negative"):
        mine_hard_negatives(encoder, pairs, MiningSettings())


def test_merged_columns_give_the_same_loss_as_separate_passes():

    encoder = build_tiny_encoder(dropout=0.0)
    rows = [
        {"text1": "a cat sits on the mat", "text2": "a cat is sitting", "label": 0.9},
        {"text1": "rain", "text2": "the weather is wet and grey today", "label": 0.4},
        {"text1": "stocks fell", "text2": "markets dropped", "label": 0.8},
    ]
    columns = ("text1", "text2")
    separate = EncoderCollator(encoder.tokenize, columns, torch.float32)(rows)
    merged = EncoderCollator(encoder.tokenize, columns, torch.float32, merge_columns=True, merge_slack=10)(
        rows
    )
    assert "column_sizes" not in separate and merged["column_sizes"] == [3, 3]
    assert len(merged["features"]) == 1 and merged["features"][0]["input_ids"].shape[0] == 6

    module = LossModule([build_loss("CosineSimilarityLoss", encoder)])
    assert accepts_merged_columns(module.losses[0])
    one_pass = module(merged["features"], merged["labels"], merged["column_sizes"])
    two_passes = module(separate["features"], separate["labels"])
    torch.testing.assert_close(one_pass, two_passes, rtol=1e-5, atol=1e-6)


def test_columns_of_very_different_lengths_stay_separate():
    short = {"input_ids": torch.zeros(16, 12)}
    long = {"input_ids": torch.zeros(16, 256)}
    assert merging_pays([short, {"input_ids": torch.zeros(16, 14)}], 1.25)
    assert not merging_pays([short, long, long], 1.25)
