"""Tiny encoders built here, so trainer tests run in seconds on two cores."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_models import build_tiny_encoder


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny encoder folder (sentence-transformers layout) to use as --base."""
    folder = tmp_path_factory.mktemp("tiny-encoder")
    build_tiny_encoder().save(folder)
    return folder
