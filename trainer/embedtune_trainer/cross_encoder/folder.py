"""The sentence-transformers CrossEncoder folder: telling one apart, reading its settings, writing its files.

The folder is a Hugging Face sequence-classification folder (config.json with
num_labels, model.safetensors, tokenizer files) plus the three files
sentence-transformers 6.3 writes beside it: modules.json (one Transformer at the
root), sentence_bert_config.json (its task "sequence-classification", scores from the
logits) and config_sentence_transformers.json (model_type "CrossEncoder" and the
activation as a torch class path). The maximum sequence length travels as the
tokenizer's model_max_length, which is where sentence-transformers reads it.

Reading also accepts the older forms: a plain sequence-classification folder whose
config.json holds the activation under "sentence_transformers" (releases 4-5) or
"sbert_ce_default_activation_function" (releases before 4).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import transformers

from embedtune_trainer.cross_encoder.activation import Activation

MODULES_FILE = "modules.json"
MODULE_CONFIG_FILE = "sentence_bert_config.json"
ST_CONFIG_FILE = "config_sentence_transformers.json"
ST_MODEL_TYPE = "CrossEncoder"
# The sentence-transformers release whose folder form we write.
ST_RELEASE = "6.3.0"
_TRANSFORMER_TYPE = "sentence_transformers.base.modules.transformer.Transformer"
_MODULE_CONFIG = {
    "transformer_task": "sequence-classification",
    "modality_config": {"text": {"method": "forward", "method_output_name": "logits"}},
    "module_output_name": "scores",
}


def is_cross_encoder_folder(path: Path) -> bool:
    """A sentence-transformers CrossEncoder folder, or a plain sequence-classification folder."""
    st_config = _read_json(path / ST_CONFIG_FILE)
    if st_config.get("model_type") == ST_MODEL_TYPE:
        return True
    if (path / MODULES_FILE).is_file():
        return _read_json(path / MODULE_CONFIG_FILE).get("transformer_task") == "sequence-classification"
    architectures = _read_json(path / "config.json").get("architectures") or []
    return any(name.endswith("ForSequenceClassification") for name in architectures)


def read_activation(path: Path, num_labels: int) -> Activation:
    """The activation the folder names, newest form first; sentence-transformers' default when none."""
    named = _read_json(path / ST_CONFIG_FILE).get("activation_fn")
    if named is None:
        config = _read_json(path / "config.json")
        named = (config.get("sentence_transformers") or {}).get("activation_fn") or config.get(
            "sbert_ce_default_activation_function"
        )
    return Activation.from_torch_path(named) if named else Activation.default_for(num_labels)


def read_max_seq_length(path: Path, tokenizer: Any, config: transformers.PretrainedConfig) -> int:
    """A saved max_seq_length, else the tokenizer's limit capped at the model's positions (as ST does)."""
    saved = _read_json(path / MODULE_CONFIG_FILE).get("max_seq_length")
    if saved is not None:
        return int(saved)
    limits = [tokenizer.model_max_length, getattr(config, "max_position_embeddings", None)]
    return min(x for x in limits if isinstance(x, int) and 0 < x < 1_000_000)


def write_st_files(path: Path, activation: Activation) -> None:
    """The files sentence-transformers writes beside the Hugging Face folder."""
    modules = [{"idx": 0, "name": "0", "path": "", "type": _TRANSFORMER_TYPE}]
    (path / MODULES_FILE).write_text(json.dumps(modules, indent=2) + "\n")
    (path / MODULE_CONFIG_FILE).write_text(json.dumps(_MODULE_CONFIG, indent=4) + "\n")
    st_config = {
        "__version__": {
            "sentence_transformers": ST_RELEASE,
            "transformers": transformers.__version__,
            "pytorch": torch.__version__.split("+")[0],
        },
        "activation_fn": activation.torch_path,
        "default_prompt_name": None,
        "model_type": ST_MODEL_TYPE,
        "prompts": {},
    }
    (path / ST_CONFIG_FILE).write_text(json.dumps(st_config, indent=2, sort_keys=True) + "\n")


def backbone_folder(path: Path) -> Path:
    """The transformer folder inside a sentence-transformers bi-encoder folder (itself for a plain one)."""
    modules = _read_json(path / MODULES_FILE) if (path / MODULES_FILE).is_file() else []
    for entry in modules:
        if entry.get("type", "").rsplit(".", 1)[-1] == "Transformer":
            return path / entry.get("path", "")
    return path


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else {}
