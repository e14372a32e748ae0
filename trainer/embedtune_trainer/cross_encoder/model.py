"""`CrossEncoder`: a transformer reading a (query, text) pair together, giving one score or N class logits.

Unlike a `SentenceEncoder` nothing is computed per text: every pair costs a full
transformer pass, which buys accuracy (the two texts attend to each other) at a cost
that grows with the number of pairs. Pairs are tokenised as sentence-transformers'
CrossEncoder does: `[CLS] query [SEP] text [SEP]`, truncated "longest_first" to
`max_seq_length`, so a folder scores the same in both.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedTokenizerBase,
)

from embedtune_trainer.cross_encoder.activation import Activation
from embedtune_trainer.cross_encoder.folder import (
    backbone_folder,
    is_cross_encoder_folder,
    read_activation,
    read_max_seq_length,
    write_st_files,
)
from embedtune_trainer.model_card import ModelCardData, render_cross_encoder_card
from embedtune_trainer.model_kind import ModelKind
from embedtune_trainer.st_format import DEFAULT_HUB_ID, DEFAULT_MODEL_NAME, resolve_model_path

Pair = tuple[str, str]
_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


class CrossEncoder(nn.Module):
    """`forward(features)` returns the features plus "logits" (batch, num_labels), before any activation."""

    kind = ModelKind.CROSS_ENCODER

    def __init__(
        self,
        auto_model: nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        max_seq_length: int,
        activation: Activation | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__()
        self.auto_model = auto_model
        self.tokenizer = tokenizer
        self.max_seq_length = int(max_seq_length)
        self.activation = activation or Activation.default_for(self.num_labels)
        self.name = name
        self._accepts_token_type_ids = "token_type_ids" in inspect.signature(auto_model.forward).parameters

    @classmethod
    def load(cls, name_or_path: str | Path, num_labels: int | None = None) -> CrossEncoder:
        """A CrossEncoder folder as saved; anything else (a plain transformer, a bi-encoder folder,
        "default" for the bundled MiniLM backbone, a Hub id) gets a new `num_labels` head (default 1).
        """
        path = resolve_model_path(name_or_path)
        name = DEFAULT_HUB_ID if str(name_or_path) == DEFAULT_MODEL_NAME else str(name_or_path)
        if is_cross_encoder_folder(path):
            config = AutoConfig.from_pretrained(path)
            if num_labels is not None and num_labels != config.num_labels:
                raise ValueError(
                    f"{name_or_path} is a cross-encoder with {config.num_labels} labels, not {num_labels}"
                )
            activation = read_activation(path, config.num_labels)
        else:
            path = backbone_folder(path)
            config = AutoConfig.from_pretrained(path, num_labels=num_labels or 1)
            activation = None
        model = AutoModelForSequenceClassification.from_pretrained(path, config=config)
        tokenizer = AutoTokenizer.from_pretrained(path)
        return cls(model, tokenizer, read_max_seq_length(path, tokenizer, config), activation, name=name)

    @classmethod
    def from_config(
        cls, config: PretrainedConfig, tokenizer: PreTrainedTokenizerBase, max_seq_length: int
    ) -> CrossEncoder:
        """A randomly initialised cross-encoder (`config.num_labels` outputs), e.g. a tiny test model."""
        return cls(AutoModelForSequenceClassification.from_config(config), tokenizer, max_seq_length)

    @property
    def num_labels(self) -> int:
        return int(self.auto_model.config.num_labels)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def tokenize(self, pairs: Sequence[Pair]) -> dict[str, torch.Tensor]:
        """Each pair as one sequence, padded to the longest and truncated "longest_first"."""
        firsts, seconds = _split_pairs(pairs)
        features = self.tokenizer(
            firsts,
            seconds,
            padding=True,
            truncation="longest_first",
            max_length=self.max_seq_length,
            return_tensors="pt",
        )
        return {k: v for k, v in features.items() if k != "token_type_ids" or self._accepts_token_type_ids}

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        inputs = {k: features[k] for k in _INPUT_NAMES if k in features}
        return {**features, "logits": self.auto_model(**inputs, return_dict=True).logits}

    @torch.inference_mode()
    def predict(
        self,
        pairs: Sequence[Pair],
        batch_size: int = 32,
        apply_activation: bool = True,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Scores as float32: (n,) for a one-logit head, (n, num_labels) otherwise.

        With `apply_activation` the folder's activation is applied, as
        sentence-transformers' `CrossEncoder.predict` does by default. Pairs run longest
        first, so each batch pads little, and come back in input order.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        firsts, seconds = _split_pairs(pairs)
        lengths = [len(a) + len(b) for a, b in zip(firsts, seconds, strict=True)]
        order = np.argsort([-n for n in lengths], kind="stable")
        out = np.empty((len(firsts), self.num_labels), dtype=np.float32)
        was_training = self.training
        self.eval()
        starts = range(0, len(order), batch_size)
        for start in tqdm(starts, desc="Scoring", disable=not show_progress, unit="batch"):
            idx = order[start : start + batch_size]
            batch = [(firsts[i], seconds[i]) for i in idx]
            features = {k: v.to(self.device) for k, v in self.tokenize(batch).items()}
            logits = self(features)["logits"].float()
            out[idx] = (self.activation.apply(logits) if apply_activation else logits).cpu().numpy()
        self.train(was_training)
        return out[:, 0] if self.num_labels == 1 else out

    def save(self, path: str | Path, card: ModelCardData | None = None, title: str | None = None) -> Path:
        """Write the sentence-transformers CrossEncoder folder (see `folder`) and a model card README.md."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.auto_model.save_pretrained(path, safe_serialization=True)
        self.tokenizer.model_max_length = self.max_seq_length
        self.tokenizer.save_pretrained(path)
        write_st_files(path, self.activation)
        card = card or ModelCardData(base_model=self.name)
        readme = render_cross_encoder_card(
            card, title or path.name, self.num_labels, self.activation.value, self.max_seq_length
        )
        (path / "README.md").write_text(readme)
        return path


def _split_pairs(pairs: Sequence[Pair]) -> tuple[list[str], list[str]]:
    firsts, seconds = [], []
    for i, pair in enumerate(pairs):
        if isinstance(pair, str) or len(pair) != 2 or not all(isinstance(t, str) for t in pair):
            raise TypeError(f"pairs[{i}] must be two texts (query, text), got {pair!r:.80}")
        firsts.append(pair[0])
        seconds.append(pair[1])
    return firsts, seconds
