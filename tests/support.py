"""Constants and helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from assistant.config import Settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
FIXTURES = ROOT / "tests" / "fixtures"
SEED_ID = "linxia-2022-84"


def make_settings(corpus: Path, index: Path, **overrides) -> Settings:
    """Settings for a test, independent of the developer's POLICY_* environment.

    The feedback database sits beside the index, so no test writes into the repository.
    """
    overrides.setdefault("feedback_db", index.parent / "feedback.sqlite3")
    return Settings.from_env(env={}, corpus_dir=corpus, index_dir=index, **overrides)


def copy_corpus(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for path in CORPUS.iterdir():
        if path.is_file():
            shutil.copy2(path, dest / path.name)
    return dest
