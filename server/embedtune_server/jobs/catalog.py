"""The trainer's loss names, learned from the trainer itself.

The server never imports torch, so it cannot read the trainer's loss registry; it runs
`python -m embedtune_trainer losses --json` once and keeps the answer. That lets
StartTraining refuse an unknown loss, or one that does not fit a kind of feedback,
before a job starts, with the trainer's own list of what fits.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from embedtune_server.jobs.children import run_child
from embedtune_server.validation import ValidationError

CATALOG_COMMAND = (sys.executable, "-m", "embedtune_trainer", "losses", "--json")


@dataclass(frozen=True)
class LossCatalog:
    names: Mapping[str, str]  # every accepted lowercase spelling -> the loss's name
    kinds: Mapping[str, Mapping[str, Mapping]]  # kind -> label kind -> {"default", "fitting"}

    def canonical(self, requested: str, field: str) -> str:
        """The loss's registered name for any accepted spelling; ValidationError names `field`."""
        name = self.names.get(requested.strip().lower())
        if name is None:
            known = ", ".join(sorted(set(self.names.values())))
            raise ValidationError(f"{field}: unknown loss {requested!r}; known: {known}")
        return name

    def label_kind(self, kind: str, has_float_label: bool) -> str:
        """The label kind the trainer will see for `kind` feedback (only labeled pairs have a choice)."""
        label_kinds = list(self.kinds[kind])
        if len(label_kinds) == 1:
            return label_kinds[0]
        return "float" if has_float_label else "int"

    def resolve(self, kind: str, label_kind: str, requested: str | None, field: str) -> str:
        """The loss `kind` feedback with `label_kind` labels trains with: `requested`, or the default."""
        choices = self.kinds[kind][label_kind]
        if requested is None:
            return str(choices["default"])
        name = self.canonical(requested, field)
        if name not in choices["fitting"]:
            raise ValidationError(
                f"{field}: {name} does not train on {kind} feedback with {label_kind} labels;"
                f" losses that fit: {', '.join(choices['fitting'])}"
            )
        return name


class CatalogSource:
    """Fetches the catalog on first use and keeps it for the life of the process."""

    def __init__(self, log_path: Path) -> None:
        self._log_path = log_path
        self._catalog: LossCatalog | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> LossCatalog:
        async with self._lock:
            if self._catalog is None:
                answers: list[dict] = []
                result = await run_child(CATALOG_COMMAND, self._log_path, answers.append)
                if result.returncode != 0 or not answers:
                    raise RuntimeError(f"the trainer's loss catalog is unavailable: {result.error_line}")
                self._catalog = LossCatalog(answers[-1]["names"], answers[-1]["kinds"])
            return self._catalog
