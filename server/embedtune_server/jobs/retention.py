"""Keeping the home's size bounded: old versions go, with their vectors and indexes.

The active version and the `keep_versions - 1` newest others stay (rollback targets);
older ones lose their registry row first, then their stored embeddings, index folders
and (when it lives in the home) their model folder. Job folders are kept for the newest
jobs only. At start-up, leftovers of work that
never finished go too: partial folders, folders no registered version names, and
embeddings of spaces whose version is not registered.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

from embedtune_server.bootstrap import MODELS_DIR
from embedtune_server.corpus import Corpus
from embedtune_server.spaces import space_of, version_of_space
from embedtune_server.store.database import Database
from embedtune_server.store.models import ModelRegistry

log = logging.getLogger(__name__)

_NUMBERED = re.compile(r"v\d+")
# Job folders (feedback snapshot, child logs) kept for the newest jobs; the records stay in the store.
JOB_FOLDERS_KEPT = 20


def prune_versions(
    home: Path, database: Database, registry: ModelRegistry, corpus: Corpus, keep: int
) -> list[str]:
    """Remove the versions beyond retention; returns their names."""
    active = registry.active()
    others = [m for m in registry.all() if m.version != active]  # oldest first
    doomed = others[: max(0, len(others) - (keep - 1))]
    models_dir = (home / MODELS_DIR).resolve()
    for model in doomed:
        spaces = [space_of(model.version, quantized) for quantized in (False, True)]
        with database.write() as connection:
            registry.remove(connection, model.version)
            for space in spaces:
                corpus.documents.drop_space(connection, space)
        for space in spaces:
            shutil.rmtree(corpus.index_folder(space), ignore_errors=True)
        if model.folder.resolve().parent == models_dir:
            shutil.rmtree(model.folder, ignore_errors=True)
        log.info("retention: removed version %s", model.version)
    return [m.version for m in doomed]


def remove_leftovers(home: Path, database: Database, registry: ModelRegistry, corpus: Corpus) -> None:
    """What a crash can leave behind: partial folders, unlisted version folders, orphan embeddings."""
    versions = {m.version for m in registry.all()}
    for parent in (home / MODELS_DIR, home / "index"):
        if not parent.is_dir():
            continue
        for folder in parent.iterdir():
            # Only names the server gives: a version ("v12") or a temporary ".name".
            unlisted = (
                parent.name == MODELS_DIR and _NUMBERED.fullmatch(folder.name) and folder.name not in versions
            )
            if folder.name.startswith(".") or unlisted:
                log.warning("removing leftover %s", folder)
                shutil.rmtree(folder, ignore_errors=True)
    orphans = [space for space in corpus.documents.spaces() if version_of_space(space) not in versions]
    if orphans:
        with database.write() as connection:
            for space in orphans:
                corpus.documents.drop_space(connection, space)
        log.warning("removed the embeddings of unlisted versions: %s", ", ".join(sorted(orphans)))


def prune_job_folders(home: Path, keep: int = JOB_FOLDERS_KEPT) -> None:
    """Remove the folders of all but the newest `keep` jobs."""
    folders = sorted((f for f in (home / "jobs").glob("*") if f.name.isdigit()), key=lambda f: int(f.name))
    for folder in folders[:-keep] if keep else folders:
        shutil.rmtree(folder, ignore_errors=True)
