"""Constants and helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(app) -> Iterator[str]:
    """Serve an ASGI app with a real uvicorn on a free loopback port; yields ``http://127.0.0.1:<port>``."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
