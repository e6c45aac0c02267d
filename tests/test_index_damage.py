"""A damaged, partly deleted, foreign or outdated ``index/``: a clear message at open, or an automatic rebuild.

One intact index is built per module; each case copies it, damages the copy, and checks that

* with ``auto_build`` off, opening fails with a :class:`PolicyError` naming the rebuild command
  (never a library traceback, and never later, at the first question);
* with ``auto_build`` on and the corpus present, :func:`open_index` rebuilds and the index answers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from assistant.answer.assistant import Assistant
from assistant.errors import PolicyError
from assistant.search.build import build_index, open_index
from assistant.search.layout import FORMAT_VERSION, current_generation
from tests.support import ROOT, SEED_ID, copy_corpus, make_settings

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("intact")
    settings = make_settings(copy_corpus(base / "corpus"), base / "index")
    build_index(settings)
    return settings


def live(index_dir: Path) -> Path:
    gen = current_generation(index_dir)
    assert gen is not None
    return gen


def edit_manifest(**changes) -> Callable[[Path], None]:
    def damage(index_dir: Path) -> None:
        path = live(index_dir) / "manifest.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        path.write_text(json.dumps(data), encoding="utf-8")
    return damage


def truncate(name: str, keep: float = 0.5) -> Callable[[Path], None]:
    def damage(index_dir: Path) -> None:
        path = live(index_dir) / name
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])
    return damage


def delete(name: str) -> Callable[[Path], None]:
    def damage(index_dir: Path) -> None:
        path = live(index_dir) / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return damage


def overwrite(name: str, data: bytes) -> Callable[[Path], None]:
    def damage(index_dir: Path) -> None:
        (live(index_dir) / name).write_bytes(data)
    return damage


def drop_last_clause(index_dir: Path) -> None:
    path = live(index_dir) / "clauses.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]), encoding="utf-8")


def chroma_file(index_dir: Path) -> Path:
    return live(index_dir) / "chroma" / "chroma.sqlite3"


def garbage(name: str, size: int = 4096) -> Callable[[Path], None]:
    """4 KB of garbage in the middle of a file (``*`` in ``name``: the first match), as in the attack review."""
    def damage(index_dir: Path) -> None:
        path = next(live(index_dir).glob(name))
        data = bytearray(path.read_bytes())
        at = max(0, len(data) // 2 - size // 2)
        data[at:at + size] = bytes((i * 37 + 11) % 256 for i in range(min(size, len(data) - at)))
        path.write_bytes(bytes(data))
    return damage


DAMAGES: dict[str, Callable[[Path], None]] = {
    "pointer deleted": lambda d: (d / "CURRENT").unlink(),
    "pointer to a missing generation": lambda d: (d / "CURRENT").write_text("gen-nothing-here\n", encoding="utf-8"),
    "pointer holds garbage": lambda d: (d / "CURRENT").write_bytes(b"\x00\xff../../etc\n"),
    "generation folder deleted": lambda d: shutil.rmtree(live(d)),
    "manifest deleted": delete("manifest.json"),
    "manifest truncated": truncate("manifest.json"),
    "manifest not an object": overwrite("manifest.json", b"[1, 2, 3]"),
    "older format version": edit_manifest(format_version=FORMAT_VERSION - 1),
    "older format without fields": edit_manifest(max_chars=None, collection=None, chroma=None),
    "other encoder": edit_manifest(encoder="st:some-other-model"),
    "other vector store": edit_manifest(chroma="http://10.0.0.1:8000"),
    "clauses deleted": delete("clauses.jsonl"),
    "clauses truncated": truncate("clauses.jsonl"),
    "a clause line missing": drop_last_clause,
    "clauses not json lines": overwrite("clauses.jsonl", b"{}\n[]\n"),
    "documents deleted": delete("documents.json"),
    "documents truncated": truncate("documents.json"),
    "bm25 deleted": delete("bm25"),
    "bm25 vocabulary truncated": lambda d: next((live(d) / "bm25").glob("vocab*")).write_bytes(b"{"),
    "bm25 size file garbage": overwrite("bm25/size.txt", b"many"),
    "chroma folder deleted": delete("chroma"),
    "chroma database deleted": lambda d: chroma_file(d).unlink(),
    "chroma database truncated": lambda d: chroma_file(d).write_bytes(chroma_file(d).read_bytes()[:4096]),
    "chroma database garbage": lambda d: chroma_file(d).write_bytes(b"not a database" * 100),
    # Each of these gave a traceback at the first question, made the app exit at start, or (indptr) a
    # silently different answer: every file is now checked against its sum in the manifest.
    "normalized texts truncated": truncate("normalized.json"),
    "normalized texts garbage": garbage("normalized.json"),
    "substring index truncated": truncate("substrings.npz"),
    "substring index garbage": garbage("substrings.npz"),
    "bm25 indices garbage": garbage("bm25/indices*"),
    "bm25 indptr garbage": garbage("bm25/indptr*"),
    "bm25 data garbage": garbage("bm25/data*"),
    "tokens garbage": garbage("tokens.jsonl"),
    "chroma database 4 KB of garbage": garbage("chroma/chroma.sqlite3"),
    "chroma vectors garbage": garbage("chroma/*/data_level0.bin"),
    "chroma vector segment deleted": lambda d: shutil.rmtree(next(p for p in (live(d) / "chroma").iterdir()
                                                                 if p.is_dir())),
}


def damaged_copy(built, tmp_path: Path, name: str):
    index_dir = tmp_path / "index"
    shutil.copytree(built.index_dir, index_dir)
    DAMAGES[name](index_dir)
    return make_settings(built.corpus_dir, index_dir, auto_build=False)


def ask(settings, index) -> None:
    answer = Assistant.from_settings(settings, index=index).ask("创业担保贷款最高额度是多少？")
    assert answer.citations and answer.citations[0].clause_id == f"{SEED_ID}#6", answer.text


@pytest.mark.parametrize("name", list(DAMAGES))
def test_damage_is_reported_at_open_with_the_rebuild_command(built, tmp_path, name):
    settings = damaged_copy(built, tmp_path, name)
    try:
        index = open_index(settings)
    except PolicyError as exc:
        message = str(exc)
        assert "policy-assistant index" in message, message
        return
    # Some damage is harmless (Chroma rebuilds a deleted vector segment from its database); whatever
    # opens must answer: damage found only at the first question is found too late.
    assert name in HARMLESS, f"{name}: the damaged index opened without complaint"
    ask(settings, index)


# Chroma keeps vectors in its SQLite database too and rebuilds a deleted HNSW segment folder from it; an
# index this small is searched by an exact scan over the vectors read from that database (checked by
# their sum), so its HNSW files are never read.
HARMLESS = {"chroma vector segment deleted", "chroma vectors garbage"}


@pytest.mark.parametrize("name", list(DAMAGES))
def test_damage_is_repaired_by_auto_build(built, tmp_path, name):
    settings = dataclasses.replace(damaged_copy(built, tmp_path, name), auto_build=True)
    messages: list[str] = []
    index = open_index(settings, log=messages.append)
    ask(settings, index)
    assert index.manifest.clause_count == 29


def test_the_cli_names_the_damaged_file_without_a_traceback(built, tmp_path):
    settings = damaged_copy(built, tmp_path, "substring index garbage")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "POLICY_AUTO_BUILD": "false",
           "POLICY_INDEX_DIR": str(settings.index_dir), "POLICY_CORPUS_DIR": str(settings.corpus_dir),
           "POLICY_ENCODER": settings.encoder}
    run = subprocess.run([sys.executable, "-m", "assistant.cli", "ask", "创业担保贷款最高额度是多少？"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "Traceback" not in run.stdout + run.stderr, run.stderr[-2000:]
    assert "substrings.npz" in run.stderr and "policy-assistant index --rebuild" in run.stderr, run.stderr


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` made read-only for this process: a read-only bind mount as root (whom file modes do not
    stop), the write bits taken away otherwise."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
        for p in modes:
            p.chmod(modes[p] & ~0o222)
        try:
            yield folder
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    mounted = folder.with_name(folder.name + "-ro")
    mounted.mkdir()
    run = subprocess.run(["mount", "--bind", str(folder), str(mounted)], capture_output=True, text=True)
    if run.returncode != 0:
        pytest.skip(f"cannot make a read-only folder here (root without mount: {run.stderr.strip()})")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mounted)], check=True, capture_output=True)
        yield mounted
    finally:
        subprocess.run(["umount", str(mounted)], capture_output=True)


@pytest.mark.parametrize("auto_build", [False, True])
def test_a_read_only_index_folder_is_said_plainly(built, tmp_path, auto_build):
    """A read-only index folder (a shared volume mounted read-only): a message about writing, not a
    traceback from the build lock, and not a rebuild command that cannot help."""
    shutil.copytree(built.index_dir, tmp_path / "index")
    with read_only(tmp_path / "index") as index_dir:
        with pytest.raises(PolicyError) as caught:
            open_index(make_settings(built.corpus_dir, index_dir, auto_build=auto_build))
    message = str(caught.value)
    assert "可写" in message and "--rebuild" not in message, message
