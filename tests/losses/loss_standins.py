"""Stand-in encoders for the loss tests.

`TableEncoder` returns fixed embeddings looked up by row id, so our loss and the
sentence-transformers reference see exactly the same inputs and the gradient with respect
to the embeddings is the table's gradient. `TinyEncoder` is a small real network (token
embedding, masked mean pooling, linear, dropout) for the GradCache tests.
"""

from __future__ import annotations

import torch
from torch import nn


class TableEncoder(nn.Module):
    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = nn.Parameter(table.clone())
        self.dimension = table.shape[1]

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"sentence_embedding": self.table[features["ids"]]}

    # What sentence-transformers asks of a model besides forward.
    def __getitem__(self, index: int) -> nn.Module:
        return nn.Identity()

    def get_embedding_dimension(self) -> int:
        return self.dimension

    def _get_untruncated_embedding_dimension(self) -> int:
        return self.dimension

    @property
    def device(self) -> torch.device:
        return self.table.device


def column_features(n_columns: int, batch: int) -> list[dict[str, torch.Tensor]]:
    """Column c of the batch is rows c*batch .. (c+1)*batch-1 of the table."""
    return [{"ids": torch.arange(c * batch, (c + 1) * batch)} for c in range(n_columns)]


class TinyEncoder(nn.Module):
    def __init__(self, vocab: int = 40, dimension: int = 16, dropout: float = 0.1) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, dimension)
        self.projection = nn.Linear(dimension, dimension)
        self.dropout = nn.Dropout(dropout)
        self.dimension = dimension

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        mask = features["attention_mask"].unsqueeze(-1).float()
        pooled = (self.embedding(features["input_ids"]) * mask).sum(1) / mask.sum(1)
        return {"sentence_embedding": self.dropout(self.projection(pooled))}

    def __getitem__(self, index: int) -> nn.Module:
        return self.embedding

    def get_embedding_dimension(self) -> int:
        return self.dimension

    @property
    def device(self) -> torch.device:
        return self.projection.weight.device


def token_features(
    n_columns: int, batch: int, generator: torch.Generator, vocab: int = 40, length: int = 7
) -> list[dict[str, torch.Tensor]]:
    """Random token ids with right padding of random length (at least one real token)."""
    columns = []
    for _ in range(n_columns):
        ids = torch.randint(1, vocab, (batch, length), generator=generator)
        lengths = torch.randint(1, length + 1, (batch,), generator=generator)
        mask = (torch.arange(length)[None, :] < lengths[:, None]).long()
        columns.append({"input_ids": ids * mask, "attention_mask": mask})
    return columns
