"""An optional last layer: scale each sentence embedding to unit length, so dot product is cosine."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Normalize(nn.Module):
    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {**features, "sentence_embedding": F.normalize(features["sentence_embedding"], p=2, dim=1)}
