"""Readers for local files: CSV, TSV, JSON, JSON Lines and Parquet.

CSV/TSV cells stay text; labels are turned into numbers when the columns are normalised.

CSV/TSV and JSON Lines are parsed here row by row (not by pandas/pyarrow) so that a
malformed file is reported with the row number and the field that is wrong.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import datasets

from embedtune_trainer.data.errors import DataError

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson", ".parquet")

# Names given to the columns of a headerless file, by column count.
_HEADERLESS_NAMES = {
    1: ("text",),
    2: ("anchor", "positive"),
    3: ("sentence1", "sentence2", "score"),
}


def read_file(path: Path, columns: list[str] | None = None) -> datasets.Dataset:
    """Read a local file into a Dataset; `columns` names the fields of a headerless CSV/TSV."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(
            f"{path}: unsupported file type {suffix!r}; expected one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if suffix == ".parquet":
        try:
            return datasets.Dataset.from_parquet(str(path))
        except Exception as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc
    if suffix in (".jsonl", ".ndjson"):
        return _rows_to_dataset(path, _read_json_lines(path))
    if suffix == ".json":
        return _rows_to_dataset(path, _read_json(path))
    delimiter = "," if suffix == ".csv" else "\t"
    return _rows_to_dataset(path, _read_delimited(path, delimiter, columns))


def _read_delimited(path: Path, delimiter: str, columns: list[str] | None) -> list[dict[str, Any]]:
    # TSV files (MRPC, SICK) carry unescaped quotes inside sentences, so quotes mean nothing there.
    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    with path.open(newline="", encoding="utf-8-sig") as handle:
        records = [r for r in csv.reader(handle, delimiter=delimiter, quoting=quoting) if r]
    if not records:
        raise DataError(f"{path}: the file is empty")
    if columns is not None:
        names, body, first_row = list(columns), records, 1
    elif _looks_like_header(records):
        names, body, first_row = [c.strip() for c in records[0]], records[1:], 2
    else:
        width = len(records[0])
        if width not in _HEADERLESS_NAMES:
            raise DataError(
                f"{path}: no header row and {width} columns; name them (--columns a,b,c) or add a header row"
            )
        names, body, first_row = list(_HEADERLESS_NAMES[width]), records, 1
    rows = []
    for number, record in enumerate(body, start=first_row):
        if len(record) != len(names):
            raise DataError(
                f"{path}: row {number} has {len(record)} fields, expected {len(names)} ({', '.join(names)})"
            )
        rows.append(dict(zip(names, record, strict=True)))
    return rows


def _looks_like_header(records: list[list[str]]) -> bool:
    """A first row is a header when no cell is a number but a later row has a number there."""
    first = records[0]
    if any(_is_number(cell) for cell in first):
        return False
    if len(records) == 1:
        return True
    second = records[1]
    if any(_is_number(cell) for cell in second):
        return True
    # All text: a header has short identifier-like names.
    return all(cell.strip().replace("_", "").replace("-", "").isalnum() for cell in first)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _read_json_lines(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{path}: row {number} is not valid JSON ({exc.msg} at column {exc.colno})"
                ) from exc
            if not isinstance(row, dict):
                raise DataError(f"{path}: row {number} is a {type(row).__name__}, expected a JSON object")
            rows.append(row)
    return rows


def _read_json(path: Path) -> list[dict[str, Any]]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from exc
    if isinstance(payload, dict) and "data" in payload:
        payload = payload["data"]
    if isinstance(payload, dict):
        return _columns_to_rows(path, payload)
    if not isinstance(payload, list):
        raise DataError(f"{path}: expected a list of objects, got {type(payload).__name__}")
    for number, row in enumerate(payload, start=1):
        if not isinstance(row, dict):
            raise DataError(f"{path}: row {number} is a {type(row).__name__}, expected a JSON object")
    return payload


def _columns_to_rows(path: Path, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """{"col": [..], "col2": [..]} → rows, checking the columns have equal length."""
    lengths = {name: len(values) for name, values in payload.items() if isinstance(values, list)}
    if len(lengths) != len(payload) or len(set(lengths.values())) > 1:
        raise DataError(
            f"{path}: a JSON object must map each column to a list of equal length; got {lengths}"
        )
    names = list(payload)
    count = next(iter(lengths.values()), 0)
    return [{name: payload[name][i] for name in names} for i in range(count)]


def _rows_to_dataset(path: Path, rows: list[dict[str, Any]]) -> datasets.Dataset:
    if not rows:
        raise DataError(f"{path}: the file has no rows")
    names = list(rows[0])
    for number, row in enumerate(rows, start=1):
        missing = [name for name in names if name not in row]
        if missing:
            raise DataError(
                f"{path}: row {number} has no field {missing[0]!r} (fields of row 1: {', '.join(names)})"
            )
    try:
        return datasets.Dataset.from_list(rows)
    except (TypeError, ValueError) as exc:
        # pyarrow refuses mixed types in one column; find the row that differs from row 1.
        raise DataError(f"{path}: {_first_type_mismatch(rows, names) or exc}") from exc


def _first_type_mismatch(rows: list[dict[str, Any]], names: list[str]) -> str | None:
    for name in names:
        expected = type(rows[0][name])
        for number, row in enumerate(rows, start=1):
            value = row[name]
            if (
                value is not None
                and not isinstance(value, expected)
                and not _both_numbers(value, rows[0][name])
            ):
                return (
                    f"row {number} field {name!r} is {type(value).__name__} {value!r}, "
                    f"but row 1 has {expected.__name__}"
                )
    return None


def _both_numbers(a: Any, b: Any) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float))
