"""Load a model folder as the kind it holds, for commands that take either (export)."""

from __future__ import annotations

from pathlib import Path

from embedtune_trainer.cross_encoder import CrossEncoder
from embedtune_trainer.cross_encoder.folder import is_cross_encoder_folder
from embedtune_trainer.encoder import SentenceEncoder
from embedtune_trainer.st_format import resolve_model_path


def load_model(name_or_path: str | Path) -> SentenceEncoder | CrossEncoder:
    """A CrossEncoder for a cross-encoder folder (see `cross_encoder.folder`), else a SentenceEncoder."""
    if is_cross_encoder_folder(resolve_model_path(name_or_path)):
        return CrossEncoder.load(name_or_path)
    return SentenceEncoder.load(name_or_path)
