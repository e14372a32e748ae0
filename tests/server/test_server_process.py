"""The server process: never imports torch, bootstraps its first model, exposes every setting as a flag."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.app import DEBUG_MODULES_ENV
from embedtune_server.bootstrap import active_model
from embedtune_server.cli import register, settings_from
from embedtune_server.settings import ServerSettings
from embedtune_server.store import open_database
from embedtune_server.store.models import ModelRegistry


def test_server_process_never_imports_torch(launch, tmp_path):
    modules_file = tmp_path / "modules.txt"
    server = launch(env={DEBUG_MODULES_ENV: str(modules_file)})
    with server.channel() as channel:
        embed, index, feedback = server.stubs(channel)
        embed.Embed(pb.EmbedRequest(inputs=["no torch here"]))
        index.Upsert(pb.UpsertRequest(documents=[pb.Document(id="a", text="a document")]))
        index.Search(pb.SearchRequest(text="document", k=1))
        item = pb.FeedbackItem(
            pair=pb.PositivePair(anchor=pb.TextRef(text="q"), positive=pb.TextRef(document_id="a"))
        )
        feedback.SubmitFeedback(pb.SubmitFeedbackRequest(items=[item]))
    assert server.stop() == 0
    modules = set(modules_file.read_text().split())
    assert {"onnxruntime", "faiss", "grpc", "embedtune_server.app"} <= modules  # the list is real
    heavy = sorted(
        m for m in modules if m.split(".")[0] in {"torch", "transformers", "sentence_transformers"}
    )
    assert heavy == []


def fake_export(calls: list):
    def run(command):
        calls.append(list(command))
        folder = Path(command[command.index("--output") + 1])
        (folder / "onnx").mkdir(parents=True)
        (folder / "onnx" / "model.onnx").write_bytes(b"graph")
        (folder / "embedtune.json").write_text('{"base_model": "org/base-model"}')

    return run


def first_model(settings: ServerSettings, run):
    """The version a server would start with, and the active version the store then records."""
    database = open_database(settings)
    try:
        registry = ModelRegistry(database)
        return active_model(settings, database, registry, run=run), registry.active()
    finally:
        database.close()


def test_empty_home_exports_the_first_version_in_a_subprocess_and_records_it_active(tmp_path):
    settings = ServerSettings(home=tmp_path / "home", model="default")
    calls: list = []
    model, active = first_model(settings, fake_export(calls))
    partial = tmp_path / "home" / "models" / ".v1.partial"
    assert calls == [
        [sys.executable, "-m", "embedtune_trainer", "export", "--model", "default",
         "--output", str(partial), "--quantize"]
    ]  # fmt: skip
    assert (model.version, model.folder) == ("v1", (tmp_path / "home" / "models" / "v1").resolve())
    assert model.base_model == "org/base-model" and not partial.exists()
    again, active = first_model(settings, fake_export(calls))
    assert again.version == active == "v1" and len(calls) == 1  # the store's active version wins now


def half_written_export(folder: Path) -> Path:
    """What a crash during an export leaves: an ONNX file cut short, no embedtune.json."""
    (folder / "onnx").mkdir(parents=True)
    (folder / "onnx" / "model.onnx").write_bytes(b"\x08\x07")
    return folder


def test_a_half_written_first_export_is_removed_with_one_warning_and_exported_again(tmp_path, caplog):
    partial = half_written_export(tmp_path / "home" / "models" / ".v1.partial")
    calls: list = []
    with caplog.at_level(logging.WARNING, logger="embedtune_server.bootstrap"):
        # fake_export creates onnx/ afresh: it fails if the half-written folder is still there
        model, active = first_model(ServerSettings(home=tmp_path / "home"), fake_export(calls))
    assert len(calls) == 1 and model.version == active == "v1" and not partial.exists()
    assert (model.folder / "embedtune.json").is_file()
    assert [r.getMessage() for r in caplog.records] == [
        f"removing leftover {partial}: an export that did not finish"
    ]


def test_leftovers_of_a_crash_are_removed_at_start_up_with_one_warning_each(launch, tmp_path):
    """An empty home given a model folder, holding a half-written first export and a half-built index."""
    home = tmp_path / "home"
    leftovers = [half_written_export(home / "models" / ".v1.partial"), home / "index" / ".v1-fp32.building"]
    leftovers[1].mkdir(parents=True)
    (leftovers[1] / "index.faiss").write_bytes(b"cut short")
    server = launch(home=home)
    with server.channel() as channel:
        assert len(server.stubs(channel)[0].Embed(pb.EmbedRequest(inputs=["serving"])).embeddings) == 1
    assert not any(folder.exists() for folder in leftovers)
    log = server.log_text()
    assert [log.count(f"removing leftover {folder}") for folder in leftovers] == [1, 1]


def test_model_folder_is_registered_where_it_is(tmp_path):
    folder = tmp_path / "my-model"
    (folder / "onnx").mkdir(parents=True)
    (folder / "onnx" / "model.onnx").write_bytes(b"graph")
    (folder / "embedtune.json").write_text('{"version": "v7"}')
    model, active = first_model(ServerSettings(home=tmp_path / "home", model=str(folder)), pytest.fail)
    assert (model.version, model.folder, model.base_model, active) == (
        "v7",
        folder.resolve(),
        "my-model",
        "v7",
    )


def test_a_home_from_an_earlier_release_is_taken_over(tmp_path):
    home = tmp_path / "home"
    (home / "models" / "v3" / "onnx").mkdir(parents=True)
    (home / "models" / "v3" / "onnx" / "model.onnx").write_bytes(b"graph")
    (home / "active").write_text("v3\n")
    model, active = first_model(ServerSettings(home=home, model="default"), pytest.fail)
    assert model.version == active == "v3"
    assert not (home / "active").exists()  # the store is the one record now


def test_active_file_naming_a_missing_version_is_an_error(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "active").write_text("v3\n")
    with pytest.raises(FileNotFoundError, match="v3"):
        first_model(ServerSettings(home=home), pytest.fail)


def test_every_setting_is_a_flag_and_parses_back(monkeypatch):
    monkeypatch.delenv("EMBEDTUNE_HOME", raising=False)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["serve", "--port", "7000", "--max-search-k", "5", "--quantize", "--sqlite-synchronous", "NORMAL",
         "--api-key", "k", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--index-factory", "HNSW32"]
    )  # fmt: skip
    settings = settings_from(args)
    assert (settings.port, settings.max_search_k, settings.quantize) == (7000, 5, True)
    assert (settings.sqlite_synchronous, settings.api_key, settings.tls_cert) == (
        "NORMAL",
        "k",
        Path("c.pem"),
    )
    assert settings.host == "127.0.0.1" and settings.home == Path("embedtune-home")
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--sqlite-synchronous", "OFF"])


def test_keys_from_the_environment_apply_and_never_show_in_help(monkeypatch, capsys):
    monkeypatch.setenv("EMBEDTUNE_API_KEY", "env-api-secret")
    monkeypatch.setenv("EMBEDTUNE_ADMIN_KEY", "env-admin-secret")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    settings = settings_from(parser.parse_args(["serve"]))
    assert (settings.api_key, settings.admin_key) == ("env-api-secret", "env-admin-secret")
    assert settings_from(parser.parse_args(["serve", "--api-key", "flag-key"])).api_key == "flag-key"
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--help"])
    shown = capsys.readouterr().out
    assert "$EMBEDTUNE_API_KEY" in shown and "secret" not in shown


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--index-factory", "Bogus"], "--index-factory 'Bogus': FAISS refuses it"),
        (["--index-factory", "IVF16,PQ7"], "--index-factory 'IVF16,PQ7': FAISS refuses it"),
        (["--index-search-params", "bogus=1"], "--index-search-params 'bogus=1': FAISS refuses it"),
    ],
)
def test_a_setting_the_model_cannot_serve_stops_the_server_with_one_line(
    onnx_model_dir, tmp_path, flags, named
):
    finished = subprocess.run(
        [sys.executable, "-m", "embedtune_server", "serve", "--home", str(tmp_path / "home"),
         "--model", str(onnx_model_dir), "--port", "0", *flags],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert finished.returncode == 2, finished.stderr
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], finished.stderr


def test_settings_refuse_nonsense():
    with pytest.raises(ValueError, match="max_search_k"):
        ServerSettings(max_search_k=0)
    with pytest.raises(ValueError, match="tls_cert and tls_key"):
        ServerSettings(tls_cert=Path("c.pem"))
    with pytest.raises(ValueError, match=r"inference_streams must be 0 \(automatic\) or more, got -1"):
        ServerSettings(inference_streams=-1)


@pytest.mark.parametrize("preset", [None, "true"])
def test_serving_process_settings_keep_an_explicit_tokenizer_choice(monkeypatch, preset):
    from embedtune_server.app import GIL_SWITCH_INTERVAL_S, tune_process

    monkeypatch.setenv("TOKENIZERS_PARALLELISM", preset or "unset")  # restored after the test
    if preset is None:
        monkeypatch.delenv("TOKENIZERS_PARALLELISM")
    before = sys.getswitchinterval()
    try:
        tune_process()
        assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S)
        assert os.environ["TOKENIZERS_PARALLELISM"] == (preset or "false")
    finally:
        sys.setswitchinterval(before)
