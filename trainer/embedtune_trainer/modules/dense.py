"""An optional layer after pooling: a linear projection with an activation (e.g. 768 → 256, tanh)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn


class Dense(nn.Module):
    """Projects the sentence embedding; saved as 2_Dense/ with the legacy config keys."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.bias = bool(bias)
        self.activation = activation if activation is not None else nn.Tanh()
        self.linear = nn.Linear(self.in_features, self.out_features, bias=self.bias)

    @property
    def dimension(self) -> int:
        return self.out_features

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {
            **features,
            "sentence_embedding": self.activation(self.linear(features["sentence_embedding"])),
        }

    def get_config(self) -> dict:
        cls = type(self.activation)
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias,
            "activation_function": f"{cls.__module__}.{cls.__name__}",
        }

    def save(self, path: Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "config.json").write_text(json.dumps(self.get_config(), indent=2) + "\n")
        save_file(
            {k: v.contiguous() for k, v in self.state_dict().items()}, str(Path(path) / "model.safetensors")
        )

    @classmethod
    def load(cls, path: Path) -> Dense:
        path = Path(path)
        config = json.loads((path / "config.json").read_text())
        layer = cls(
            config["in_features"],
            config["out_features"],
            bias=config.get("bias", True),
            activation=_activation(config.get("activation_function", "torch.nn.modules.activation.Tanh")),
        )
        if (path / "model.safetensors").is_file():
            state = load_file(str(path / "model.safetensors"))
        else:
            state = torch.load(path / "pytorch_model.bin", map_location="cpu", weights_only=True)
        layer.load_state_dict(state)
        return layer


def _activation(qualified_name: str) -> nn.Module:
    """Only torch's own activation classes: a config file must not name arbitrary code."""
    module_name, _, class_name = qualified_name.rpartition(".")
    if not module_name.startswith("torch."):
        raise ValueError(f"Dense activation_function {qualified_name!r} is not a torch class")
    return getattr(importlib.import_module(module_name), class_name)()
