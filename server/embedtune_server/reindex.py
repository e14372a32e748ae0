"""`python -m embedtune_server.reindex`: fill a model version's embedding space and index it.

Run by the server as a background child during an activation (see jobs/activation.py):
it embeds, with the version's own ONNX graph, every stored document that has no vector
in the space, stores the vectors beside the live ones, and saves an index of the whole
space to home/index/<space>/ with the write sequence it reflects. Documents written
meanwhile are embedded too; the index is built from a snapshot in which all have one.
The folder is written under a temporary name and renamed into place when complete.
Progress goes to stdout as JSON lines; this process never imports torch either.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from embedtune_server.corpus import Corpus
from embedtune_server.durable import replace_durably
from embedtune_server.settings import SQLITE_SYNCHRONOUS_MODES, ServerSettings
from embedtune_server.store import open_database


def _emit(event: dict) -> None:
    print(json.dumps(event), flush=True)


def replace_folder(built: Path, target: Path) -> None:
    """Put `built` where `target` is, so a reader finds the old folder or the new one, whole."""
    retired = target.with_name(f".{target.name}.old")
    shutil.rmtree(retired, ignore_errors=True)
    if target.exists():
        os.replace(target, retired)  # made durable by the folder's fsync in replace_durably
    replace_durably(built, target)
    shutil.rmtree(retired, ignore_errors=True)


async def reindex(settings: ServerSettings, model_dir: Path, space: str) -> None:
    from embedtune_server.backend.onnx_backend import OnnxBackend

    backend = OnnxBackend(model_dir, quantized=settings.quantize)
    database = open_database(settings)
    corpus = Corpus(database, settings)

    async def embed(texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(backend.encode, texts, max_batch_tokens=settings.max_batch_tokens)

    def progress(done: int, total: int) -> None:
        _emit({"event": "progress", "done": done, "total": total, "unit": "documents"})

    index = await corpus.rebuild(space, backend.dimension, embed, progress)
    built = corpus.building_folder(space)
    shutil.rmtree(built, ignore_errors=True)
    corpus.save_built(space, index, built)
    replace_folder(built, corpus.index_folder(space))
    _emit({"event": "result", "seq": corpus.index_seq(space), "documents": index.size})
    database.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m embedtune_server.reindex", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--space", required=True)
    parser.add_argument("--quantize", action="store_true")
    parser.add_argument("--max-batch-tokens", type=int, required=True)
    parser.add_argument("--index-factory", default="Flat")
    parser.add_argument("--index-search-params", default="")
    parser.add_argument("--index-train-size", type=int, default=0)
    parser.add_argument("--sqlite-synchronous", choices=SQLITE_SYNCHRONOUS_MODES, default="FULL")
    args = parser.parse_args(argv)
    settings = ServerSettings(
        home=args.home,
        quantize=args.quantize,
        max_batch_tokens=args.max_batch_tokens,
        index_factory=args.index_factory,
        index_search_params=args.index_search_params,
        index_train_size=args.index_train_size,
        sqlite_synchronous=args.sqlite_synchronous,
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    asyncio.run(reindex(settings, args.model_dir, args.space))
    return 0


if __name__ == "__main__":
    sys.exit(main())
