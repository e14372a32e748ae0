"""Training runs on tiny encoders: refusals before step 1, resume, and that training learns."""

from __future__ import annotations

import itertools
from pathlib import Path

import datasets
import pytest
import torch
from tiny_models import make_triplets

from embedtune_trainer.data import DataError
from embedtune_trainer.encoder import SentenceEncoder
from embedtune_trainer.evaluation import TripletEvaluator
from embedtune_trainer.training import TrainingError, TrainSettings, train
from embedtune_trainer.training.trainer import EncoderTrainer


def _settings(base: Path, output: Path, rows: list[dict], **overrides) -> TrainSettings:
    values = {
        "data": datasets.Dataset.from_list(rows),
        "output": output,
        "base": str(base),
        "batch_size": 4,
        "epochs": 1,
        "learning_rate": 1e-3,
        "export_onnx": False,
        "show_progress": False,
        **overrides,
    }
    return TrainSettings(**values)


def test_loss_that_does_not_fit_is_refused_before_training(tiny_encoder_dir, tmp_path):
    pairs = [{"anchor": f"a{i}", "positive": f"b{i}"} for i in range(8)]
    with pytest.raises(TrainingError, match=r"TripletLoss.*not POSITIVE_PAIR.*MultipleNegativesRankingLoss"):
        train(_settings(tiny_encoder_dir, tmp_path / "out", pairs, loss="triplet"))
    assert not (tmp_path / "out").exists()


def test_label_outside_loss_range_is_refused_with_row(tiny_encoder_dir, tmp_path):
    rows = [
        {"sentence1": f"a{i}", "sentence2": f"b{i}", "score": s} for i, s in enumerate([0.2, 0.9, 4.0, 1.0])
    ]
    with pytest.raises(DataError, match=r"row 3: label 4.0 is refused by CosineSimilarityLoss"):
        train(_settings(tiny_encoder_dir, tmp_path / "out", rows, loss="CosineSimilarityLoss"))


def test_batch_larger_than_data_is_refused(tiny_encoder_dir, tmp_path):
    with pytest.raises(DataError, match="batch size 16 is larger than the 5 training examples"):
        train(_settings(tiny_encoder_dir, tmp_path / "out", make_triplets(5, 0), batch_size=16))


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return SentenceEncoder.load(folder).state_dict()


class _Interrupted(Exception):
    pass


@pytest.mark.slow
def test_resume_mid_epoch_ends_with_the_same_weights(tiny_encoder_dir, tmp_path, monkeypatch):
    rows = make_triplets(16, seed=1)  # 4 steps per epoch, 2 epochs
    common = {"epochs": 2, "save_steps": 3, "save_total_limit": None, "keep_checkpoints": True}
    train(_settings(tiny_encoder_dir, tmp_path / "straight", rows, **common))

    original = EncoderTrainer.compute_loss
    calls = itertools.count(1)

    def crash_on_sixth_step(self, *args, **kwargs):
        if next(calls) == 6:  # after the checkpoint at step 3, in the middle of epoch 2
            raise _Interrupted
        return original(self, *args, **kwargs)

    monkeypatch.setattr(EncoderTrainer, "compute_loss", crash_on_sixth_step)
    with pytest.raises(_Interrupted):
        train(_settings(tiny_encoder_dir, tmp_path / "resumed", rows, **common))
    monkeypatch.setattr(EncoderTrainer, "compute_loss", original)
    assert (tmp_path / "resumed" / "checkpoints" / "checkpoint-3" / "modules.json").is_file()

    result = train(_settings(tiny_encoder_dir, tmp_path / "resumed", rows, resume=True, **common))
    assert result.steps == 8
    straight, resumed = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    base = _weights(tiny_encoder_dir)
    assert any(not torch.equal(straight[k], base[k]) for k in base), "training changed nothing"
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=1e-6, msg=key)


def test_training_improves_triplet_accuracy(tiny_encoder_dir, tmp_path):
    held_out = make_triplets(64, seed=99)
    evaluator = TripletEvaluator(
        [r["anchor"] for r in held_out], [r["positive"] for r in held_out], [r["negative"] for r in held_out]
    )
    before = evaluator(SentenceEncoder.load(tiny_encoder_dir))["cosine_accuracy"]
    result = train(
        _settings(
            tiny_encoder_dir,
            tmp_path / "out",
            make_triplets(96, seed=0),
            loss="TripletLoss",
            epochs=3,
            batch_size=16,
            eval_data=datasets.Dataset.from_list(held_out),
        )
    )
    after = evaluator(SentenceEncoder.load(tmp_path / "out"))["cosine_accuracy"]
    assert result.metrics_before["triplet_cosine_accuracy"] == pytest.approx(before)
    assert result.metrics["triplet_cosine_accuracy"] == pytest.approx(after, abs=1e-6)
    assert after >= before + 0.1, (before, after)


def test_resume_without_checkpoint_is_refused_up_front(tiny_encoder_dir, tmp_path):
    with pytest.raises(TrainingError, match=r"--resume: no checkpoint in .*checkpoints"):
        train(_settings(tiny_encoder_dir, tmp_path / "out", make_triplets(8, 0), resume=True))


def test_settings_out_of_range_are_refused(tiny_encoder_dir, tmp_path):
    rows = make_triplets(8, 0)
    with pytest.raises(TrainingError, match=r"warmup ratio must be in \[0, 1\), got 1.5"):
        train(_settings(tiny_encoder_dir, tmp_path / "a", rows, warmup_ratio=1.5))
    with pytest.raises(TrainingError, match="learning rate must be > 0"):
        train(_settings(tiny_encoder_dir, tmp_path / "b", rows, learning_rate=0))
