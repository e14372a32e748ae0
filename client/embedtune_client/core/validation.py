"""Argument checks made before any call, so a bad argument fails fast and locally.

Each error names the argument, the offending position and, where one applies, the
limit. Type mistakes raise TypeError, bad values ValueError.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np


def str_list(name: str, values: Iterable[str]) -> list[str]:
    """`values` as a list of str; a lone str is refused rather than split into characters."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, not a single {type(values).__name__}")
    try:
        items = list(values)
    except TypeError:
        raise TypeError(f"{name} must be a list of strings, got {type(values).__name__}") from None
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(item).__name__}")
    return items


def id_list(name: str, values: Iterable[str]) -> list[str]:
    """Like `str_list`, and every id is non-empty."""
    ids = str_list(name, values)
    for i, value in enumerate(ids):
        if not value:
            raise ValueError(f"{name}[{i}] is empty; ids must be non-empty strings")
    return ids


def unique(name: str, ids: Sequence[str]) -> None:
    """Refuse a repeated id: the server would reject the whole request."""
    first_seen: dict[str, int] = {}
    for i, value in enumerate(ids):
        if value in first_seen:
            raise ValueError(f"{name}[{i}] repeats {value!r} (first at {name}[{first_seen[value]}])")
        first_seen[value] = i


def same_length(name_a: str, a: Sequence[Any], name_b: str, b: Sequence[Any]) -> None:
    if len(a) != len(b):
        raise ValueError(f"{name_a} and {name_b} must have the same length, got {len(a)} and {len(b)}")


def metadata_list(metadata: Sequence[Mapping[str, str]] | None, count: int) -> list[dict[str, str]]:
    """One str→str dict per document: `None` gives empty dicts."""
    if metadata is None:
        return [{} for _ in range(count)]
    if isinstance(metadata, Mapping):
        raise TypeError("metadata must be a list with one dict per document, not a single dict")
    items = list(metadata)
    if len(items) != count:
        raise ValueError(f"metadata must have one entry per document: got {len(items)} for {count}")
    return [string_map(f"metadata[{i}]", item) for i, item in enumerate(items)]


def string_map(name: str, value: Mapping[str, str] | None) -> dict[str, str]:
    """A str→str dict, as proto maps require."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict of str to str, got {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(
                f"{name}[{key!r}] must map str to str, got {type(key).__name__} to {type(item).__name__}"
            )
    return dict(value)


def positive_int(name: str, value: int, maximum: int = 0) -> int:
    """An int in 1..maximum (no upper bound when `maximum` is 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1 or (maximum and value > maximum):
        bound = f"1..{maximum}" if maximum else "at least 1"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def text_lengths(name: str, texts: Sequence[str], max_chars: int) -> None:
    """Refuse a text longer than the server's `max_input_chars` (no check when 0)."""
    if not max_chars:
        return
    for i, text in enumerate(texts):
        if len(text) > max_chars:
            raise ValueError(f"{name}[{i}] has {len(text)} characters; the server's limit is {max_chars}")


def query_vector(name: str, vector: np.ndarray) -> np.ndarray:
    """A query embedding as a finite 1-D float32 array (a (1, d) row is accepted)."""
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D vector, got shape {np.shape(vector)}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array
