"""Where data comes from: a local file, an in-memory Dataset, or a Hub dataset id."""

from __future__ import annotations

from pathlib import Path

import datasets

from embedtune_trainer.data.errors import DataError
from embedtune_trainer.data.readers import SUPPORTED_SUFFIXES, read_file

DataSource = str | Path | datasets.Dataset | datasets.DatasetDict


def load_source(
    source: DataSource, split: str = "train", columns: list[str] | None = None
) -> datasets.Dataset:
    """The raw rows of `source`, before any flattening or column renaming."""
    if isinstance(source, datasets.DatasetDict):
        if split not in source:
            raise DataError(f"the DatasetDict has no split {split!r}; splits: {', '.join(source)}")
        return source[split]
    if isinstance(source, datasets.Dataset):
        return source
    path = Path(source)
    if path.is_file():
        return read_file(path, columns)
    if path.is_dir() or path.suffix.lower() in SUPPORTED_SUFFIXES or str(source).startswith((".", "/", "~")):
        raise DataError(f"{source}: no such data file (expected {', '.join(SUPPORTED_SUFFIXES)})")
    return _load_from_hub(str(source), split)


def _load_from_hub(dataset_id: str, split: str) -> datasets.Dataset:
    try:
        loaded = datasets.load_dataset(dataset_id, split=split)
    except (ConnectionError, OSError, TimeoutError) as exc:
        raise DataError(
            f"{dataset_id!r} is not a local file, and loading it from the Hugging Face Hub failed: "
            f"{type(exc).__name__}: {exc}. Check the network (or HF_HUB_OFFLINE) and the dataset id."
        ) from exc
    except ValueError as exc:
        raise DataError(f"Hub dataset {dataset_id!r}: {exc}") from exc
    except Exception as exc:  # the Hub client raises many types; all mean "cannot load"
        raise DataError(f"could not load Hub dataset {dataset_id!r}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(loaded, datasets.Dataset):
        raise DataError(f"Hub dataset {dataset_id!r} split {split!r} is not a plain dataset")
    return loaded
