"""What a cross-encoder applies to its logits when it predicts, by name and as sentence-transformers saves it.

sentence-transformers stores the activation as a dotted torch class path and, unless told
otherwise, applies Sigmoid to a one-logit head and Identity to an N-class head. The ONNX
graph always returns raw logits; embedtune.json names the activation so a runtime without
torch (the server) applies the same one.
"""

from __future__ import annotations

import enum

import torch


class Activation(enum.Enum):
    SIGMOID = "sigmoid"
    IDENTITY = "identity"
    SOFTMAX = "softmax"

    @classmethod
    def default_for(cls, num_labels: int) -> Activation:
        """sentence-transformers' choice when a folder names none."""
        return cls.SIGMOID if num_labels == 1 else cls.IDENTITY

    @classmethod
    def from_torch_path(cls, path: str) -> Activation:
        """The activation a sentence-transformers config names, e.g. "torch.nn.modules.activation.Sigmoid"."""
        name = path.rsplit(".", 1)[-1]
        for activation, torch_path in _TORCH_PATHS.items():
            if torch_path.rsplit(".", 1)[-1] == name:
                return activation
        known = ", ".join(_TORCH_PATHS.values())
        raise ValueError(f"activation {path!r} is not supported by embedtune; supported: {known}")

    @property
    def torch_path(self) -> str:
        return _TORCH_PATHS[self]

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if self is Activation.SIGMOID:
            return torch.sigmoid(logits)
        if self is Activation.SOFTMAX:
            return torch.softmax(logits, dim=-1)
        return logits


_TORCH_PATHS = {
    Activation.SIGMOID: "torch.nn.modules.activation.Sigmoid",
    Activation.IDENTITY: "torch.nn.modules.linear.Identity",
    Activation.SOFTMAX: "torch.nn.modules.activation.Softmax",
}
