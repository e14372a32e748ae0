"""Bad input fails early with a message a user can act on, not a traceback from transformers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from embedtune_trainer import Pooling, SentenceEncoder
from embedtune_trainer.st_format import ModelNotFoundError


def test_missing_path_names_the_path(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFoundError, match="no-such-model"):
        SentenceEncoder.load(missing)


def test_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelNotFoundError, match=r"neither modules\.json nor config\.json"):
        SentenceEncoder.load(tmp_path)


def test_unreachable_hub_id_says_so(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="Hugging Face Hub"):
        SentenceEncoder.load("some-org/some-model-that-is-not-cached")


def test_unknown_pooling_mode_lists_the_modes():
    with pytest.raises(ValueError, match=r"unknown pooling mode.*'cls'.*'mean'"):
        Pooling(32, "average")


def test_non_string_item_names_its_index(default_encoder):
    with pytest.raises(TypeError, match=r"texts\[2\] is int"):
        default_encoder.encode(["ok", "fine", 3])


def test_empty_list_gives_zero_rows(default_encoder):
    out = default_encoder.encode([])
    assert out.shape == (0, 384) and out.dtype == np.float32


def test_bad_batch_size(default_encoder):
    with pytest.raises(ValueError, match="batch_size"):
        default_encoder.encode(["a"], batch_size=0)


@pytest.mark.slow
def test_cli_reports_errors_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "embedtune_client.cli", "export", "--model", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "embedtune export: error: model folder" in result.stderr
    assert "Traceback" not in result.stderr
