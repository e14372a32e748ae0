"""The second layer: pool token embeddings into one sentence embedding."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

# Mode name → the key sentence-transformers has always written in 1_Pooling/config.json.
# The order is the order in which several modes are concatenated.
MODE_KEYS = {
    "cls": "pooling_mode_cls_token",
    "max": "pooling_mode_max_tokens",
    "mean": "pooling_mode_mean_tokens",
    "mean_sqrt_len": "pooling_mode_mean_sqrt_len_tokens",
    "weightedmean": "pooling_mode_weightedmean_tokens",
    "lasttoken": "pooling_mode_lasttoken",
}


class Pooling(nn.Module):
    """Mean (default), CLS, max, mean/sqrt(len), position-weighted mean or last-token pooling.

    Several modes may be given; their results are concatenated, as in sentence-transformers.
    """

    def __init__(self, word_embedding_dimension: int, mode: str | list[str] = "mean") -> None:
        super().__init__()
        modes = [mode] if isinstance(mode, str) else list(mode)
        unknown = [m for m in modes if m not in MODE_KEYS]
        if unknown or not modes:
            raise ValueError(f"unknown pooling mode {unknown or modes!r}; choose from {sorted(MODE_KEYS)}")
        self.word_embedding_dimension = int(word_embedding_dimension)
        self.modes = [m for m in MODE_KEYS if m in modes]

    @property
    def dimension(self) -> int:
        return self.word_embedding_dimension * len(self.modes)

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        tokens = features["token_embeddings"]
        mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
        pooled = [_POOLERS[m](tokens, mask) for m in self.modes]
        return {**features, "sentence_embedding": torch.cat(pooled, dim=1)}

    def get_config(self) -> dict:
        config = {"word_embedding_dimension": self.word_embedding_dimension}
        config.update({key: name in self.modes for name, key in MODE_KEYS.items()})
        return config

    def save(self, path: Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "config.json").write_text(json.dumps(self.get_config(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Pooling:
        """Reads the legacy `pooling_mode_*` keys and the newer `pooling_mode` / `embedding_dimension`."""
        config = json.loads((Path(path) / "config.json").read_text())
        dimension = config.get("word_embedding_dimension", config.get("embedding_dimension"))
        if "pooling_mode" in config:
            named = config["pooling_mode"]
            modes = [_NEW_MODE_NAMES.get(m, m) for m in ([named] if isinstance(named, str) else named)]
        else:
            modes = [name for name, key in MODE_KEYS.items() if config.get(key)]
        return cls(dimension, modes)


def _mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def _mean_sqrt_len(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (tokens * mask).sum(1) / torch.sqrt(mask.sum(1).clamp(min=1e-9))


def _max(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return tokens.masked_fill(mask == 0, -1e9).max(dim=1).values


def _cls(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return tokens[:, 0]


def _weighted_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # Later tokens weigh more (position 1..n), as in SGPT's weighted mean.
    weights = torch.arange(1, tokens.shape[1] + 1, device=tokens.device, dtype=tokens.dtype)
    weighted = mask * weights.view(1, -1, 1)
    return (tokens * weighted).sum(1) / weighted.sum(1).clamp(min=1e-9)


def _last_token(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # The last position whose mask is 1: right and left padding alike.
    positions = torch.arange(tokens.shape[1], device=tokens.device).view(1, -1)
    last = (mask.squeeze(-1).long() * (positions + 1)).argmax(dim=1)
    return tokens[torch.arange(tokens.shape[0], device=tokens.device), last]


_POOLERS = {
    "cls": _cls,
    "max": _max,
    "mean": _mean,
    "mean_sqrt_len": _mean_sqrt_len,
    "weightedmean": _weighted_mean,
    "lasttoken": _last_token,
}
_NEW_MODE_NAMES = {"mean_sqrt_len_tokens": "mean_sqrt_len"}
