"""Write a trained model (either kind) as a model version folder (see DESIGN.md): the sentence-transformers
folder with its model card, `embedtune.json`, and the ONNX export the server serves."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from embedtune_trainer import __version__
from embedtune_trainer.cross_encoder import CrossEncoder
from embedtune_trainer.encoder import SentenceEncoder
from embedtune_trainer.model_card import ModelCardData
from embedtune_trainer.record import RECORD_FILE, model_facts, read_record, write_record

__all__ = ["RECORD_FILE", "read_record", "write_version_folder"]

logger = logging.getLogger(__name__)


def write_version_folder(
    encoder: SentenceEncoder | CrossEncoder,
    folder: Path,
    card: ModelCardData,
    record: dict[str, Any],
    export_onnx: bool = True,
    on_exported: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Save encoder + card, the embedtune.json record, and (optionally) onnx/; returns the files.

    `on_exported(path)` follows the export file by file (`export_model_folder`'s `on_written`).
    """
    encoder.save(folder, card, title=record.get("version"))  # the folder may be a temporary name
    stamped = {
        **record,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "embedtune_version": __version__,
        **model_facts(encoder),
    }
    stamped["onnx"] = export_onnx and _export(folder, on_exported)
    write_record(folder, stamped)
    return sorted(p for p in folder.rglob("*") if p.is_file() and "checkpoints" not in p.parts)


def _export(folder: Path, on_exported: Callable[[Path], None] | None) -> bool:
    try:
        from embedtune_trainer.export import export_model_folder
    except ImportError:
        logger.warning("ONNX export is not available in this build: %s has no onnx/ folder", folder)
        return False
    export_model_folder(folder, quantize=True, on_written=on_exported)
    return True
