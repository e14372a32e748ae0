"""Which model version to serve, and obtaining the first one on an empty home.

Order: `--model` naming a model version folder (it has onnx/model.onnx) is served as
is; else the version the home's `active` pointer names; else (empty home) the
trainer exports `--model` into models/v1 in a SUBPROCESS, so this process never
imports torch, and `active` is written by atomic rename.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from embedtune_server.settings import ServerSettings

log = logging.getLogger(__name__)

FIRST_VERSION = "v1"
ACTIVE_POINTER = "active"


@dataclass(frozen=True)
class ModelVersion:
    version: str
    folder: Path


def is_model_folder(path: Path) -> bool:
    return (path / "onnx" / "model.onnx").is_file()


def version_of(folder: Path) -> str:
    """The version recorded in the folder's embedtune.json, else the folder's name."""
    try:
        return str(json.loads((folder / "embedtune.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return folder.resolve().name


def write_active(home: Path, version: str) -> None:
    """Point `home/active` at `version` by atomic rename: readers see the old or the new one."""
    tmp = home / f".{ACTIVE_POINTER}.tmp"
    tmp.write_text(version + "\n")
    with open(tmp) as f:
        os.fsync(f.fileno())
    os.replace(tmp, home / ACTIVE_POINTER)


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


def resolve_model(
    settings: ServerSettings,
    run: Callable[[Sequence[str]], object] = lambda cmd: subprocess.run(cmd, check=True),
) -> ModelVersion:
    """The model version to serve, exporting the first one if the home has none."""
    given = Path(settings.model).expanduser()
    if is_model_folder(given):
        return ModelVersion(version_of(given), given.resolve())
    home = settings.home
    pointer = home / ACTIVE_POINTER
    if pointer.is_file():
        version = pointer.read_text().strip()
        folder = home / "models" / version
        if not is_model_folder(folder):
            raise FileNotFoundError(f"{pointer} names {version!r} but {folder} has no onnx/model.onnx")
        return ModelVersion(version, folder)
    folder = home / "models" / FIRST_VERSION
    if folder.exists():  # left over from an export that did not finish
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    log.info("empty home %s: exporting model %r to %s", home, settings.model, folder)
    run(export_command(settings.model, folder))
    if not is_model_folder(folder):
        raise RuntimeError(f"the trainer's export finished but {folder} has no onnx/model.onnx")
    write_active(home, FIRST_VERSION)
    return ModelVersion(FIRST_VERSION, folder)
