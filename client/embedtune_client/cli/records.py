"""Documents read from a JSONL or CSV file for `embedtune index add`.

Every problem is reported as `FILE:LINE: what is wrong`, so a bad row in a large
file can be found and fixed without guessing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}


class InputFileError(ValueError):
    """A document file that cannot be loaded; the message names the file and line."""


@dataclass(frozen=True)
class RecordFields:
    """Which fields hold the id and the text; `metadata` None means every other field."""

    id: str = "id"
    text: str = "text"
    metadata: Sequence[str] | None = None


@dataclass(frozen=True)
class Record:
    line: int
    id: str
    text: str
    metadata: dict[str, str]


def file_format(path: Path, explicit: str | None = None) -> str:
    """ "jsonl", "csv" or "tsv", from `explicit` or the file's extension."""
    if explicit:
        return explicit
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise InputFileError(f"{path}: unknown file type {path.suffix!r}; use {known} or --format") from None


def read_records(path: Path, fields: RecordFields, fmt: str | None = None) -> Iterator[Record]:
    """The file's documents in file order; raises InputFileError at the first bad line."""
    kind = file_format(path, fmt)
    try:
        with open(path, encoding="utf-8", newline="") as file:
            rows = _jsonl_rows(path, file) if kind == "jsonl" else _csv_rows(path, file, kind, fields)
            for line, row in rows:
                yield _record(path, line, row, fields)
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise InputFileError(f"{path}: {exc.strerror}") from None


def validate(path: Path, fields: RecordFields, fmt: str | None = None) -> int:
    """Check the whole file, ids unique included, before anything is sent; returns the count."""
    first_line: dict[str, int] = {}
    for record in read_records(path, fields, fmt):
        if record.id in first_line:
            raise InputFileError(
                f"{path}:{record.line}: duplicate id {record.id!r} (first on line {first_line[record.id]})"
            )
        first_line[record.id] = record.line
    if not first_line:
        raise InputFileError(f"{path}: no documents")
    return len(first_line)


def _jsonl_rows(path: Path, file) -> Iterator[tuple[int, dict]]:
    for line, text in enumerate(file, start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputFileError(f"{path}:{line}: invalid JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(row, dict):
            raise InputFileError(f"{path}:{line}: expected a JSON object, got {type(row).__name__}")
        yield line, row


def _csv_rows(path: Path, file, kind: str, fields: RecordFields) -> Iterator[tuple[int, dict]]:
    reader = csv.DictReader(file, delimiter="\t" if kind == "tsv" else ",")
    header = reader.fieldnames or []
    for column in (fields.id, fields.text):
        if column not in header:
            raise InputFileError(f"{path}:1: no {column!r} column in the header {header}")
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                raise InputFileError(f"{path}:{line}: more fields than the header's {len(header)}")
            if any(value is None for value in row.values()):
                raise InputFileError(f"{path}:{line}: fewer fields than the header's {len(header)}")
            yield line, row
    except csv.Error as exc:
        raise InputFileError(f"{path}:{reader.line_num}: {exc}") from None


def _record(path: Path, line: int, row: dict, fields: RecordFields) -> Record:
    where = f"{path}:{line}"
    if fields.id not in row:
        raise InputFileError(f"{where}: missing the id field {fields.id!r}")
    if fields.text not in row:
        raise InputFileError(f"{where}: missing the text field {fields.text!r}")
    raw_id, text = row[fields.id], row[fields.text]
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or raw_id == "":
        raise InputFileError(
            f"{where}: {fields.id!r} must be a non-empty string or an integer, got {raw_id!r}"
        )
    if not isinstance(text, str) or not text.strip():
        raise InputFileError(f"{where}: {fields.text!r} must be a non-empty string, got {text!r}")
    names = (
        fields.metadata
        if fields.metadata is not None
        else [k for k in row if k not in (fields.id, fields.text)]
    )
    metadata = {name: _metadata_value(row[name]) for name in names if row.get(name) is not None}
    return Record(line=line, id=str(raw_id), text=text, metadata=metadata)


def _metadata_value(value: object) -> str:
    """Metadata is str→str on the wire: strings stay, anything else is written as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
