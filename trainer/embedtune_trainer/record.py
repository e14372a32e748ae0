"""embedtune.json: what a model version folder is, beside the model files.

Training writes the whole record (data, loss, metrics); export merges in the facts a
runtime needs to serve the folder without torch (`model_facts`), so a folder exported
from any source says what it holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedtune_trainer.model_kind import ModelKind

if TYPE_CHECKING:
    from embedtune_trainer.cross_encoder import CrossEncoder
    from embedtune_trainer.encoder import SentenceEncoder

RECORD_FILE = "embedtune.json"


def read_record(folder: Path) -> dict[str, Any]:
    path = Path(folder) / RECORD_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def write_record(folder: Path, record: dict[str, Any]) -> Path:
    path = Path(folder) / RECORD_FILE
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


def model_facts(model: SentenceEncoder | CrossEncoder) -> dict[str, Any]:
    """Kind and input limit, plus what the graph's output means: the dimension of a sentence
    embedding, or a cross-encoder's label count and the activation its scores get."""
    facts: dict[str, Any] = {"kind": model.kind.value, "max_seq_length": model.max_seq_length}
    if model.kind is ModelKind.CROSS_ENCODER:
        facts.update(num_labels=model.num_labels, activation=model.activation.value)
    else:
        facts["dimension"] = model.dimension
    return facts
