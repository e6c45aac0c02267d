"""Constants and helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from assistant.config import Settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
FIXTURES = ROOT / "tests" / "fixtures"
SEED_ID = "linxia-2022-84"
# Published documents beside the checkout (never copied into it); tests that need them skip, naming
# this path, when it is absent.
REALDOCS = ROOT.parent / "shared" / "realdocs"


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


def stop_process(proc: subprocess.Popen | None, timeout: float = 15) -> None:
    """Terminate ``proc`` (if still running), then kill it if it does not exit within ``timeout``."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


class ChromaServer:
    """A real ``chroma run`` on a loopback port with a persistent path; can be stopped and started again."""

    def __init__(self, path: Path, port: int, log: Path):
        self.path, self.port, self.log = path, port, log
        self.host = "127.0.0.1"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ChromaServer":
        chroma = Path(sys.executable).with_name("chroma")
        assert chroma.exists(), f"chromadb's chroma CLI not found next to {sys.executable}"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([str(chroma), "run", "--path", str(self.path), "--host", self.host,
                                          "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.host}:{self.port}/api/v2/heartbeat", timeout=2):
                    return self
            except OSError:
                assert self.proc.poll() is None, self.log.read_text(errors="replace")[-3000:]
                time.sleep(0.1)
        stop_process(self.proc)
        raise RuntimeError(f"chroma run did not answer on port {self.port} within 30 s:\n"
                           f"{self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        stop_process(self.proc)


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
