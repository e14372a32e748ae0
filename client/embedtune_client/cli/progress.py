"""A progress bar for long CLI work: tqdm when installed, else a plain counter.

tqdm is not a client dependency, so the client alone still shows progress.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, TextIO


class _Counter:
    """Prints `desc: done/total` (or `desc: done` while the total is 0, unknown) on one line of
    stderr, from the start as tqdm does, rewritten as work is done."""

    def __init__(self, total: int, desc: str, stream: TextIO) -> None:
        self.total, self.desc, self.stream, self.done = total, desc, stream, 0
        self.update(0)

    def update(self, count: int) -> None:
        self.done += count
        shown = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        self.stream.write(f"\r{self.desc}: {shown}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()

    def __enter__(self) -> _Counter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def progress_bar(total: int, desc: str, unit: str = "doc") -> Any:
    """A context manager with `update(count)`, `close()` and a settable `total` (0: unknown)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _Counter(total, desc, sys.stderr)
    return tqdm(total=total or None, desc=desc, unit=unit)
