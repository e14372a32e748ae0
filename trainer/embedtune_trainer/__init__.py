"""embedtune's trainer: sentence encoders, losses, fine-tuning, evaluation and export.

Names are imported on first use, so `import embedtune_trainer.cli` (done by the
`embedtune` command for every subcommand) does not load torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "SentenceEncoder": "embedtune_trainer.encoder",
    "ModelCardData": "embedtune_trainer.model_card",
    "Transformer": "embedtune_trainer.modules",
    "Pooling": "embedtune_trainer.modules",
    "Dense": "embedtune_trainer.modules",
    "Normalize": "embedtune_trainer.modules",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'embedtune_trainer' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
