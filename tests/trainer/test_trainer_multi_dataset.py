"""One run over several datasets: batches of one dataset each, each through its own loss."""

from __future__ import annotations

from collections import defaultdict

import datasets
import pytest
import torch
from tiny_models import build_tiny_encoder, make_triplets

from embedtune_trainer.data import DataSettings, DataShape, load_data
from embedtune_trainer.training.assembly import build_part, encoder_trainer
from embedtune_trainer.training.collator import EncoderCollator, RoutingCollator
from embedtune_trainer.training.dataset_mix import DATASET_KEY, DatasetMix
from embedtune_trainer.training.samplers import InterleavedBatchSampler, RandomBatchSampler
from embedtune_trainer.training.settings import TrainSettings


def test_interleaved_batches_never_mix_datasets_and_cover_every_row():
    sizes, offsets = (30, 10, 5), (0, 30, 40)
    sampler = InterleavedBatchSampler(
        [RandomBatchSampler(size, 4, seed=1) for size in sizes], offsets, seed=7
    )
    batches = list(sampler)
    assert len(batches) == len(sampler) == 8 + 3 + 2
    assert sorted(i for batch in batches for i in batch) == list(range(45))
    owners = [next(p for p in (2, 1, 0) if batch[0] >= offsets[p]) for batch in batches]
    for batch, owner in zip(batches, owners, strict=True):
        end = offsets[owner] + sizes[owner]
        assert all(offsets[owner] <= i < end for i in batch), batch
    assert [owners.count(p) for p in range(3)] == [8, 3, 2]  # in proportion to the batches
    assert owners != sorted(owners)  # interleaved, not one dataset after another


def test_interleaving_is_seeded_per_epoch():
    def make() -> InterleavedBatchSampler:
        return InterleavedBatchSampler([RandomBatchSampler(n, 4, seed=1) for n in (20, 12)], [0, 20], seed=3)

    first, second = make(), make()
    first.set_epoch(1)
    second.set_epoch(1)
    assert list(first) == list(second)
    second.set_epoch(2)
    assert list(first) != list(second)


def test_mix_tags_rows_and_the_collator_refuses_mixed_batches():
    mix = DatasetMix(
        [
            datasets.Dataset.from_list([{"anchor": "a", "positive": "b"}] * 3),
            datasets.Dataset.from_list([{"text": "t", "label": 1}] * 2),
        ]
    )
    assert len(mix) == 5 and mix.offsets == [0, 3]
    assert mix[2] == {"anchor": "a", "positive": "b", DATASET_KEY: 0}
    assert mix[3] == {"text": "t", "label": 1, DATASET_KEY: 1}
    encoder = build_tiny_encoder()
    collator = RoutingCollator(
        [
            EncoderCollator(encoder.tokenize, ("anchor", "positive")),
            EncoderCollator(encoder.tokenize, ("text",), torch.long),
        ]
    )
    batch = collator([mix[3], mix[4]])
    assert batch[DATASET_KEY] == 1 and len(batch["features"]) == 1 and batch["labels"].tolist() == [1, 1]
    with pytest.raises(ValueError, match="one dataset"):
        collator([mix[0], mix[3]])


def _rows(words: list[str], count: int, columns: tuple[str, ...], label=None) -> list[dict]:
    """Rows whose texts use only `words`, so a decoded batch tells which dataset it came from."""
    rows = []
    for i in range(count):
        row = {c: " ".join(words[(i + j + k) % len(words)] for k in range(2)) for j, c in enumerate(columns)}
        row[columns[0]] = f"{words[i % len(words)]} {words[(3 * i + 1) % len(words)]} {i}"
        if label is not None:
            row["label"] = label(i)
        rows.append(row)
    return rows


def test_each_dataset_trains_through_its_own_loss(tmp_path):
    encoder = build_tiny_encoder()
    tables = {
        DataShape.TRIPLET: make_triplets(12, seed=0),
        DataShape.POSITIVE_PAIR: _rows(["red", "blue", "green", "yellow"], 8, ("anchor", "positive")),
        DataShape.LABELED_PAIR: _rows(
            ["north", "south", "east", "west"], 6, ("text1", "text2"), label=lambda i: i / 6
        ),
    }
    losses = {
        DataShape.TRIPLET: "TripletLoss",
        DataShape.POSITIVE_PAIR: "MultipleNegativesRankingLoss",
        DataShape.LABELED_PAIR: "CosineSimilarityLoss",
    }
    settings = TrainSettings(
        data=datasets.Dataset.from_list(tables[DataShape.TRIPLET]),
        output=tmp_path,
        batch_size=4,
        learning_rate=1e-3,
        checkpoints=False,
        show_progress=False,
        merge_columns=False,  # every batch through the loss's own forward, which the spies wrap
    )
    parts = [
        build_part(
            settings,
            encoder,
            load_data(datasets.Dataset.from_list(rows), DataSettings(shape=shape)),
            losses[shape],
        )
        for shape, rows in tables.items()
    ]
    seen: dict[int, list[list[str]]] = defaultdict(list)  # part → first-column texts of each batch
    for number, part in enumerate(parts):
        original = part.loss.forward

        def spy(features, labels, number=number, original=original):
            decoded = encoder.transformer.tokenizer.batch_decode(
                features[0]["input_ids"], skip_special_tokens=True
            )
            seen[number].append(decoded)
            return original(features, labels)

        part.loss.forward = spy
    before = {k: v.clone() for k, v in encoder.state_dict().items()}

    outcome = encoder_trainer(settings, parts, tmp_path / "checkpoints").train()

    assert outcome.global_step == 3 + 2 + 2
    for number, (shape, rows) in enumerate(tables.items()):
        first_column = shape.text_columns[0]
        expected = sorted(row[first_column] for row in rows)
        batches = seen[number]
        # Every row of the dataset went through its loss, and nothing else did.
        assert sorted(text for batch in batches for text in batch) == expected, shape
    assert not list(tmp_path.glob("checkpoints/checkpoint-*"))
    assert any(not torch.equal(before[k], v) for k, v in encoder.state_dict().items())
