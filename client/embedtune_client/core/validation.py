"""Argument checks made before any call, so a bad argument fails fast and locally.

Each error names the argument, the offending position and, where one applies, the
limit. Type mistakes raise TypeError, bad values ValueError.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from embedtune_client.results import Job

T = TypeVar("T")
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)


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


def positive_int(name: str, value: int) -> int:
    """An int of at least 1."""
    return int_between(name, value, 1)


def int_between(name: str, value: int, minimum: int, maximum: int | None = None) -> int:
    """An int in minimum..maximum (a bool is refused, not taken as 0 or 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return int(value)


def number(name: str, value: float, above: float | None = None, below: float | None = None) -> float:
    """A finite number that fits the wire's 32-bit float, strictly between `above` and `below` if given."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    result = float(value)
    if not math.isfinite(result) or abs(result) > FLOAT32_MAX:
        raise ValueError(f"{name} must be a finite number (a 32-bit float), got {value}")
    if above is not None and result <= above:
        raise ValueError(f"{name} must be greater than {above:g}, got {value}")
    if below is not None and result >= below:
        raise ValueError(f"{name} must be less than {below:g}, got {value}")
    return result


def non_empty_str(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} is an empty string")
    return value


def optional(check: Callable[..., T], name: str, value: Any, *bounds: Any) -> T | None:
    """`check(name, value, *bounds)`, or None when the argument was left out (the server's default)."""
    return None if value is None else check(name, value, *bounds)


def losses(name: str, value: Mapping[str, str] | None, kinds: Sequence[str]) -> dict[str, str]:
    """A loss name per feedback kind; an unknown kind is refused rather than silently ignored."""
    chosen = string_map(name, value)
    for kind, loss in chosen.items():
        if kind not in kinds:
            raise ValueError(f"{name}: unknown feedback kind {kind!r}; expected one of {', '.join(kinds)}")
        if not loss:
            raise ValueError(f"{name}[{kind!r}] is an empty string; give a loss name")
    return chosen


def job_id(name: str, job: Job | int) -> int:
    """The id of a `Job`, or an id given as an int."""
    if isinstance(job, Job):
        return job.id
    if isinstance(job, bool) or not isinstance(job, (int, np.integer)):
        raise TypeError(f"{name} must be a Job or a job id (an int), got {type(job).__name__}")
    return int_between(name, job, 1, UINT64_MAX)


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
