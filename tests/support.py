"""Constants and helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import os
import re
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
    # The fast encoder alone: tests that build indexes stay seconds; the e5 channel has its own fixture
    # (tests/test_channels.py), built once per run.
    overrides.setdefault("encoder", "use-multilingual")
    return Settings.from_env(env={}, corpus_dir=corpus, index_dir=index, **overrides)


def policy_free_env() -> dict[str, str]:
    """This process's environment for a child process, without the developer's POLICY_* settings, but with
    the tests' fast encoder (an index the child builds takes seconds, not the e5 channel's minutes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICY_")}
    env["POLICY_ENCODER"] = "use-multilingual"
    return env


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


class HashingEncoder:
    """A deterministic test encoder: normalized character 1- and 2-grams hashed into 256 dimensions.

    No model and no randomness, so the unit tests of structure, grounding and composing run in
    milliseconds over an in-memory index (``Index.in_memory``). Similar wording gives similar
    vectors, which is all those tests need; quality numbers always come from the real encoder (evals).
    """

    id = "test-hashing"
    dim = 256
    max_chars = 200
    similarity_floor = 0.0

    def embed_documents(self, texts):
        import zlib

        import numpy as np

        from assistant.search.text import normalize

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            text = normalize(text)
            for n in (1, 2):
                for i in range(len(text) - n + 1):
                    gram = text[i:i + n]
                    if gram.strip():
                        code = zlib.crc32(gram.encode("utf-8"))
                        out[row, code % self.dim] += 1.0 if code & 0x100 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms, norms, 1.0)

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def memory_document(text: str, doc_id: str = "test", **meta):
    """A Document of ``text`` with metadata read from it, as ingest would (no file)."""
    import hashlib

    from assistant.corpus.ingest import detect_metadata
    from assistant.models import Document

    found = detect_metadata(text)
    fields = {"title": found["title"] or doc_id, "doc_number": found["doc_number"], "issuer": found["issuer"],
              "issue_date": found["issue_date"], "cites": tuple(found["cites"]), "dates": tuple(found["dates"]), **meta}
    return Document(doc_id, f"{doc_id}.txt", text=text, sha256=hashlib.sha256(text.encode()).hexdigest(), **fields)


def memory_assistant(*texts: str, today=None):
    """An Assistant over an in-memory index of ``texts`` with the deterministic encoder (no Chroma, no files)."""
    from assistant.answer.assistant import Assistant
    from assistant.lexicon import Lexicon
    from assistant.search.index import Index

    encoder = HashingEncoder()
    docs = [memory_document(text, f"doc{i}") for i, text in enumerate(texts, start=1)]
    index = Index.in_memory(docs, encoder)
    return Assistant(index.settings, index, encoder, Lexicon.load(), today=today)


def reprs(value) -> list[str]:
    """Strings in a JSON value that are a Python object's repr (Measure(…), Support(…)), not JSON all the way down."""
    if isinstance(value, dict):
        return [r for v in value.values() for r in reprs(v)]
    if isinstance(value, list):
        return [r for v in value for r in reprs(v)]
    return [value] if isinstance(value, str) and re.match(r"^[A-Z][A-Za-z]+\(\w+=", value) else []
