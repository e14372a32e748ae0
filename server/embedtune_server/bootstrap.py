"""Which model version to serve at start-up, and obtaining the first one on an empty home.

Order: the active version recorded in the store; else (a home from an earlier release)
the version its `active` file names, registered and recorded; else `--model` naming a
model version folder (it has onnx/model.onnx), registered where it is; else the trainer
exports `--model` into models/v1 in a SUBPROCESS, so this process never imports torch.
`--model` matters only for a home without an active version.

The cross-encoder (`--cross-encoder`) is obtained the same way, at every start: a folder
that has onnx/model.onnx is served where it is; anything else is exported by the
trainer, once, into HOME/cross-encoders/ (delete that folder to export again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from embedtune_server.durable import replace_durably
from embedtune_server.settings import ServerSettings
from embedtune_server.store.database import Database
from embedtune_server.store.models import ModelRecord, ModelRegistry

log = logging.getLogger(__name__)

FIRST_VERSION = "v1"
LEGACY_ACTIVE_FILE = "active"
RECORD_FILE = "embedtune.json"
MODELS_DIR = "models"
CROSS_ENCODERS_DIR = "cross-encoders"
# What a version's embedtune.json says that the registry keeps for ListModels.
_DETAILS = ("losses", "feedback_counts", "metrics", "metrics_new", "metrics_active", "gate")


def is_model_folder(path: Path) -> bool:
    return (path / "onnx" / "model.onnx").is_file()


def read_record(folder: Path) -> dict:
    """The folder's embedtune.json, or {} when it has none (or an unreadable one)."""
    try:
        record = json.loads((folder / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def version_of(folder: Path) -> str:
    """The version recorded in the folder's embedtune.json, else the folder's name."""
    return str(read_record(folder).get("version") or folder.resolve().name)


def export_command(model: str, output: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "embedtune_trainer",
        "export",
        "--model",
        model,
        "--output",
        str(output),
        "--quantize",
    ]


def partial_folder(home: Path, version: str) -> Path:
    """Where a version is written before it is complete; renamed to models/<version> after."""
    return home / MODELS_DIR / f".{version}.partial"


def registered(folder: Path, version: str, fallback_name: str, **fields: object) -> ModelRecord:
    """A record for a complete version folder, from its embedtune.json; `fields` override it."""
    recorded = read_record(folder)
    values: dict = {
        "version": version,
        "folder": folder.resolve(),
        "base_model": str(recorded.get("base_model") or fallback_name),
        "parent": str(recorded.get("parent") or ""),
        "details": {key: recorded[key] for key in _DETAILS if key in recorded},
    }
    return ModelRecord(**{**values, **fields})


def active_model(
    settings: ServerSettings,
    database: Database,
    registry: ModelRegistry,
    run: Callable[[Sequence[str]], object] = lambda cmd: subprocess.run(cmd, check=True),
) -> ModelRecord:
    """The version to serve, registering (and, on an empty home, exporting) the first one."""
    home = settings.home
    active = registry.active()
    if active is not None:
        record = registry.get(active)
        if record is None or not is_model_folder(record.folder):
            where = record.folder if record else home / MODELS_DIR / active
            raise FileNotFoundError(f"the active version {active!r} has no onnx/model.onnx in {where}")
        return record
    record = _first_record(settings, run)
    with database.write() as connection:
        registry.add(connection, record)
        registry.set_active(connection, record.version)
    (home / LEGACY_ACTIVE_FILE).unlink(missing_ok=True)
    return record


def _first_record(settings: ServerSettings, run: Callable[[Sequence[str]], object]) -> ModelRecord:
    home = settings.home
    legacy = home / LEGACY_ACTIVE_FILE
    if legacy.is_file():
        version = legacy.read_text().strip()
        folder = home / MODELS_DIR / version
        if not is_model_folder(folder):
            raise FileNotFoundError(f"{legacy} names {version!r} but {folder} has no onnx/model.onnx")
        return registered(folder, version, version)
    given = Path(settings.model).expanduser()
    if is_model_folder(given):
        return registered(given, version_of(given), given.resolve().name)
    partial = partial_folder(home, FIRST_VERSION)
    log.info("empty home %s: exporting model %r", home, settings.model)
    _export_into(settings.model, partial, run)
    folder = home / MODELS_DIR / FIRST_VERSION
    if folder.exists():  # a complete export from a start that died before registering it
        shutil.rmtree(folder)
    replace_durably(partial, folder)
    return registered(folder, FIRST_VERSION, settings.model)


def cross_encoder_folder(
    settings: ServerSettings,
    run: Callable[[Sequence[str]], object] = lambda cmd: subprocess.run(cmd, check=True),
) -> Path:
    """The exported folder of `--cross-encoder`: the folder given, or the trainer's export of it."""
    source = str(settings.cross_encoder)
    given = Path(source).expanduser()
    if is_model_folder(given):
        return given
    folder = settings.home / CROSS_ENCODERS_DIR / _export_name(source)
    if is_model_folder(folder):
        return folder
    # Exported under its final name (the export records that name as the version), then moved in.
    partial = folder.parent / ".partial" / folder.name
    log.info("exporting cross-encoder %r into %s", source, folder)
    _export_into(source, partial, run)
    replace_durably(partial, folder)
    partial.parent.rmdir()
    return folder


def _export_into(source: str, partial: Path, run: Callable[[Sequence[str]], object]) -> None:
    """The trainer's export of `source` into `partial`, a leftover of an unfinished one removed
    first; RuntimeError if the export ends without a complete folder."""
    if partial.exists():
        log.warning("removing leftover %s: an export that did not finish", partial)
        shutil.rmtree(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    run(export_command(source, partial))
    if not is_model_folder(partial):
        raise RuntimeError(f"the trainer's export finished but {partial} has no onnx/model.onnx")


def _export_name(source: str) -> str:
    """Where the export of `source` goes: its last part, and a digest of the whole (the resolved
    path of a local folder) so two sources of the same name never share an export."""
    path = Path(source).expanduser()
    key = str(path.resolve()) if path.exists() else source
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"{path.name or 'cross-encoder'}-{digest}"
