"""The first layer of a sentence encoder: a Hugging Face transformer giving token embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PretrainedConfig, PreTrainedTokenizerBase

CONFIG_FILE = "sentence_bert_config.json"


class Transformer(nn.Module):
    """Wraps `AutoModel` + `AutoTokenizer` and maps token ids to token embeddings.

    `max_seq_length` defaults to the folder's sentence_bert_config.json, else the
    smaller of the tokenizer's and the model's position limit, as sentence-transformers does.
    """

    def __init__(
        self,
        model_name_or_path: str | Path,
        max_seq_length: int | None = None,
        do_lower_case: bool = False,
    ) -> None:
        super().__init__()
        path = str(model_name_or_path)
        saved = _read_json(Path(path) / CONFIG_FILE)
        config = AutoConfig.from_pretrained(path)
        self.auto_model = AutoModel.from_pretrained(path, config=config)
        tokenizer = AutoTokenizer.from_pretrained(path)
        self._setup(
            tokenizer,
            max_seq_length or saved.get("max_seq_length"),
            do_lower_case or saved.get("do_lower_case", False),
        )

    @classmethod
    def from_config(
        cls,
        config: PretrainedConfig,
        tokenizer: PreTrainedTokenizerBase,
        max_seq_length: int | None = None,
    ) -> Transformer:
        """A randomly initialised transformer: the tutorial's "from scratch" path and tiny test models."""
        self = cls.__new__(cls)
        nn.Module.__init__(self)
        self.auto_model = AutoModel.from_config(config)
        self._setup(tokenizer, max_seq_length, False)
        return self

    def _setup(
        self, tokenizer: PreTrainedTokenizerBase, max_seq_length: int | None, do_lower_case: bool
    ) -> None:
        self.tokenizer = tokenizer
        self.do_lower_case = bool(do_lower_case)
        if max_seq_length is None:
            limits = [
                tokenizer.model_max_length,
                getattr(self.auto_model.config, "max_position_embeddings", None),
            ]
            max_seq_length = min(x for x in limits if isinstance(x, int) and 0 < x < 1_000_000)
        self.max_seq_length = int(max_seq_length)
        self._accepts_token_type_ids = "token_type_ids" in _forward_arguments(self.auto_model)

    @property
    def dimension(self) -> int:
        return int(self.auto_model.config.hidden_size)

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Pads to the longest text in the batch and truncates to `max_seq_length`."""
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        features = self.tokenizer(
            texts,
            padding=True,
            truncation="longest_first",
            max_length=self.max_seq_length,
            return_tensors="pt",
        )
        if not self._accepts_token_type_ids:
            features.pop("token_type_ids", None)
        return dict(features)

    def token_counts(self, texts: list[str]) -> list[int]:
        """Tokens each text becomes after truncation, special tokens included."""
        if not texts:
            return []
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        encoded = self.tokenizer(texts, truncation="longest_first", max_length=self.max_seq_length)
        return [len(ids) for ids in encoded["input_ids"]]

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        inputs = {k: features[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in features}
        output = self.auto_model(**inputs, return_dict=True)
        return {**features, "token_embeddings": output.last_hidden_state}

    def save(self, path: Path) -> None:
        self.auto_model.save_pretrained(path, safe_serialization=True)
        self.tokenizer.save_pretrained(path)
        config = {"max_seq_length": self.max_seq_length, "do_lower_case": self.do_lower_case}
        (Path(path) / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _forward_arguments(model: nn.Module) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)
