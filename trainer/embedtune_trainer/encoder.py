"""`SentenceEncoder`: a transformer plus pooling (optional Dense, Normalize) mapping text to a vector."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from embedtune_trainer.model_card import ModelCardData, render_model_card
from embedtune_trainer.model_kind import ModelKind
from embedtune_trainer.modules import Transformer
from embedtune_trainer.st_format import (
    DEFAULT_HUB_ID,
    DEFAULT_MODEL_NAME,
    load_modules,
    resolve_model_path,
    save_modules,
)


class SentenceEncoder(nn.Sequential):
    """The tutorial's two-layer picture as an `nn.Module`.

    `forward` takes tokenised features and returns them with "token_embeddings" and
    "sentence_embedding" added, the shape losses and the ONNX export rely on.
    """

    kind = ModelKind.BI_ENCODER

    def __init__(self, modules: Sequence[nn.Module], name: str | None = None) -> None:
        if not modules or not isinstance(modules[0], Transformer):
            raise TypeError("the first module of a SentenceEncoder must be a Transformer")
        super().__init__(*modules)
        self.name = name

    @classmethod
    def load(cls, name_or_path: str | Path) -> SentenceEncoder:
        """Load a sentence-transformers folder, a plain transformer folder, a Hub id, or "default".

        `name` records where the model came from (model cards, embedtune.json): the bundled
        "default" is named by its Hub id.
        """
        path = resolve_model_path(name_or_path)
        name = DEFAULT_HUB_ID if str(name_or_path) == DEFAULT_MODEL_NAME else str(name_or_path)
        return cls(load_modules(path), name=name)

    @property
    def transformer(self) -> Transformer:
        return self[0]

    @property
    def dimension(self) -> int:
        for module in reversed(self):
            if hasattr(module, "dimension"):
                return module.dimension
        raise AssertionError("unreachable: the first module is a Transformer")

    @property
    def max_seq_length(self) -> int:
        return self.transformer.max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self.transformer.max_seq_length = int(value)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return self.transformer.tokenize(texts)

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        for module in self:
            features = module(features)
        return features

    @torch.inference_mode()
    def encode(
        self,
        texts: str | Sequence[str],
        batch_size: int = 32,
        normalize: bool = False,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Embed texts: float32 array (n, dimension), or (dimension,) for a single string.

        Texts are sorted by token count, so most batches need no padding at all (and
        no attention mask work), then put back in order. Sorting by characters, as
        sentence-transformers does, pads about a third more tokens on STSb.
        """
        single = isinstance(texts, str)
        items = _check_texts([texts] if single else texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        was_training = self.training
        self.eval()
        order = np.argsort([-n for n in self.transformer.token_counts(items)], kind="stable")
        out = np.empty((len(items), self.dimension), dtype=np.float32)
        starts = range(0, len(items), batch_size)
        for start in tqdm(starts, desc="Encoding", disable=not show_progress, unit="batch"):
            idx = order[start : start + batch_size]
            features = {k: v.to(self.device) for k, v in self.tokenize([items[i] for i in idx]).items()}
            emb = self(features)["sentence_embedding"]
            if normalize:
                emb = torch.nn.functional.normalize(emb, p=2, dim=1)
            out[idx] = emb.float().cpu().numpy()
        self.train(was_training)
        return out[0] if single else out

    def save(self, path: str | Path, card: ModelCardData | None = None, title: str | None = None) -> Path:
        """Write the sentence-transformers folder and a model card README.md titled `title` (default:
        the folder's name)."""
        path = Path(path)
        save_modules(list(self), path)
        card = card or ModelCardData(base_model=self.name)
        architecture = [type(m).__name__ for m in self]
        readme = render_model_card(
            card, title or path.name, architecture, self.dimension, self.max_seq_length
        )
        (path / "README.md").write_text(readme)
        return path


def _check_texts(texts: Sequence[str]) -> list[str]:
    if not isinstance(texts, (list, tuple)):
        texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
    return list(texts)
