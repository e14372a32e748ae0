"""`embedtune push` with the Hub's HTTP layer replaced: no live upload happens in tests."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
import huggingface_hub.constants
import pytest
from huggingface_hub import HfApi, ModelCard

from embedtune_trainer.cli import register
from embedtune_trainer.hub import PushError, PushSettings, push_model


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    """A model folder as far as pushing is concerned: files and a card."""
    folder = tmp_path / "v1"
    (folder / "onnx").mkdir(parents=True)
    (folder / "checkpoints" / "checkpoint-1").mkdir(parents=True)
    (folder / "modules.json").write_text("[]")
    (folder / "onnx" / "model.onnx").write_bytes(b"onnx")
    (folder / "README.md").write_text(
        "---\ntags:\n- embedtune\ndatasets:\n- local.csv\n---\n\n# v1\n\nA model.\n"
    )
    return folder


@pytest.fixture
def fake_hub(monkeypatch):
    calls = {}

    def create_repo(self, repo_id, private=False, exist_ok=False, repo_type=None, **kwargs):
        calls["create_repo"] = {"repo_id": repo_id, "private": private, "token": self.token}
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, folder_path, repo_id, repo_type=None, ignore_patterns=None, **kwargs):
        calls["upload_folder"] = {"folder": Path(folder_path), "repo_id": repo_id, "ignore": ignore_patterns}
        calls["card"] = (Path(folder_path) / "README.md").read_text()

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    return calls


def test_push_creates_repo_uploads_folder_and_lists_datasets(model_folder, fake_hub):
    url = push_model(
        PushSettings(model_folder, "me/tiny", private=True, token="hf_test", train_datasets=["me/pairs"])
    )
    assert url == "https://huggingface.co/me/tiny"
    assert fake_hub["create_repo"] == {"repo_id": "me/tiny", "private": True, "token": "hf_test"}
    assert fake_hub["upload_folder"]["folder"] == model_folder
    assert "checkpoints/**" in fake_hub["upload_folder"]["ignore"]
    card = ModelCard(fake_hub["card"])
    assert card.data.datasets == ["me/pairs"]
    assert card.data.tags == ["embedtune"]
    assert "A model." in card.text


def test_push_cli_reports_url(model_folder, fake_hub, capsys):
    assert _cli(["push", "--model", str(model_folder), "--repo-id", "me/tiny", "--token", "hf_test"]) == 0
    assert "me/tiny" in capsys.readouterr().out
    assert fake_hub["create_repo"]["private"] is False


def test_push_without_network_is_a_clear_error(model_folder, monkeypatch, capsys):
    # Nothing listens on port 9: the real HTTP client fails to connect, as with no network.
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(
        PushError, match=r"could not reach the Hugging Face Hub to push me/tiny \(ConnectError"
    ):
        push_model(PushSettings(model_folder, "me/tiny", token="hf_test"))
    assert _cli(["push", "--model", str(model_folder), "--repo-id", "me/tiny", "--token", "hf_test"]) == 2
    err = capsys.readouterr().err
    assert "could not reach the Hugging Face Hub" in err
    assert "Traceback" not in err


def test_push_offline_mode_and_missing_token(model_folder, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PushError, match="offline mode is on"):
        push_model(PushSettings(model_folder, "me/tiny", token="hf_test"))
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(PushError, match="no Hugging Face token"):
        push_model(PushSettings(model_folder, "me/tiny"))


def test_push_refuses_a_folder_that_is_not_a_model(tmp_path):
    with pytest.raises(PushError, match="not a model folder"):
        push_model(PushSettings(tmp_path, "me/tiny", token="hf_test"))


def _cli(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)
