"""Shared fixtures: a copy of the real corpus, and a real index built once per session.

Everything is real: the bundled USE encoder, jieba, and an embedded Chroma under tmp paths.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.index import build_index
from tests.support import copy_corpus, make_settings


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A private, writable copy of corpus/ for tests that change documents."""
    return copy_corpus(tmp_path / "corpus")


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory) -> Settings:
    """Settings of an index built once from the real corpus; tests must not modify it."""
    base = tmp_path_factory.mktemp("seed")
    settings = make_settings(copy_corpus(base / "corpus"), base / "index")
    build_index(settings)
    return settings


@pytest.fixture(scope="session")
def seed_index(seed_settings):
    from assistant.index import Index

    return Index.open(seed_settings)
