"""Chroma server mode for real: ``chroma run`` on loopback, an index built through HttpClient, and two
separate app processes answering from the same server and the same (shared) index folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from assistant.answer.assistant import Assistant
from assistant.errors import IndexMismatchError
from assistant.search.build import build_index
from assistant.search.index import Index
from tests.support import ROOT, ChromaServer, free_port, make_settings, policy_free_env

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

QUESTIONS = [
    "创业担保贷款最高额度是多少？",
    "融资担保费率是多少？",
    "我开饭馆的，贷款还不上能缓缓吗？",
    "第十八条",
    "州税务局负责哪些措施",
    "印花税减免政策是什么？",
]

# What two replicas must agree on (latency and timings differ by process).
_ANSWER_KEYS = ("answer", "retrieved", "refused", "route", "notes")

_REPLICA = """
import json, sys
from assistant.answer.assistant import Assistant
from assistant.config import Settings
from assistant.search.index import Index

settings = Settings.from_env()
assistant = Assistant.from_settings(settings, index=Index.open(settings))
out = []
for q in json.loads(sys.argv[1]):
    a = assistant.ask(q).to_dict()
    out.append({k: a[k] for k in %r} | {"citations": [c["clause_id"] for c in a["citations"]]})
print(json.dumps(out, ensure_ascii=False))
""" % (_ANSWER_KEYS,)


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    """(host, port) of a real ``chroma run`` on loopback with a temporary path."""
    base = tmp_path_factory.mktemp("chroma-server")
    server = ChromaServer(base / "data", free_port(), base / "chroma.log").start()
    yield server.host, server.port
    server.stop()


@pytest.fixture(scope="module")
def server_settings(chroma_server, tmp_path_factory):
    from tests.support import copy_corpus

    base = tmp_path_factory.mktemp("server-index")
    host, port = chroma_server
    settings = make_settings(copy_corpus(base / "corpus"), base / "index", chroma_host=host, chroma_port=port)
    build_index(settings)
    return settings


def _replica_env(settings) -> dict:
    env = policy_free_env()
    env.update({"PYTHONPATH": str(ROOT), "POLICY_CORPUS_DIR": str(settings.corpus_dir),
                "POLICY_INDEX_DIR": str(settings.index_dir), "POLICY_CHROMA_HOST": settings.chroma_host,
                "POLICY_CHROMA_PORT": str(settings.chroma_port), "POLICY_AUTO_BUILD": "false"})
    return env


def test_build_goes_to_the_server(server_settings):
    index = Index.open(server_settings)
    assert index.manifest.chroma == f"http://127.0.0.1:{server_settings.chroma_port}"
    assert not (index.dir / "chroma").exists()  # vectors are on the server, not in the folder
    assert index.vectors.collection.count() == index.manifest.part_count
    assert index.vectors.collection.metadata["generation"] == index.manifest.generation


def test_two_app_processes_answer_like_embedded_mode(server_settings, seed_settings, seed_index):
    env = _replica_env(server_settings)
    replicas = [subprocess.Popen([sys.executable, "-c", _REPLICA, json.dumps(QUESTIONS, ensure_ascii=False)],
                                 cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
    outputs = []
    for proc in replicas:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        outputs.append(json.loads(out))
    embedded = Assistant.from_settings(seed_settings, index=seed_index)
    expected = []
    for q in QUESTIONS:
        a = embedded.ask(q).to_dict()
        expected.append({k: a[k] for k in _ANSWER_KEYS} | {"citations": [c["clause_id"] for c in a["citations"]]})
    assert outputs[0] == outputs[1] == expected


def test_folder_and_server_must_agree(server_settings, tmp_path):
    import shutil

    import chromadb

    # A replica whose copy of the index folder is another generation than the server's collection.
    copy = tmp_path / "index"
    shutil.copytree(server_settings.index_dir, copy)
    settings = make_settings(server_settings.corpus_dir, copy, chroma_host=server_settings.chroma_host,
                             chroma_port=server_settings.chroma_port, auto_build=False)
    index = Index.open(settings)
    client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port)
    collection = client.get_collection(index.manifest.collection)
    collection.modify(metadata={**collection.metadata, "generation": "someone-else"})
    try:
        with pytest.raises(IndexMismatchError, match="不一致"):
            _ = Index.open(settings).vectors.collection
    finally:
        collection.modify(metadata={**collection.metadata, "generation": index.manifest.generation})
    # A half-copied folder: the clause records do not match the manifest.
    gen = index.dir.name
    clauses = copy / gen / "clauses.jsonl"
    clauses.write_text(clauses.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    with pytest.raises(IndexMismatchError):
        Index.open(settings)


def test_rebuild_keeps_the_collection_running_replicas_read(chroma_server, tmp_path):
    """``--rebuild`` on a shared server: a replica that opened the old generation keeps answering from it."""
    import chromadb

    from tests.support import copy_corpus

    host, port = chroma_server
    settings = make_settings(copy_corpus(tmp_path / "corpus"), tmp_path / "index", chroma_host=host,
                             chroma_port=port, collection_prefix="rebuild-test")
    build_index(settings)
    old = Index.open(settings)
    before = Assistant.from_settings(settings, index=old).ask(QUESTIONS[0]).to_dict()["answer"]
    build_index(settings, rebuild=True)
    names = {c.name for c in chromadb.HttpClient(host=host, port=port).list_collections()}
    assert old.manifest.collection in names
    assert Index.open(settings).manifest.collection in names
    fresh = Assistant.from_settings(settings, index=old)  # no answer cache: the old collection is queried
    assert fresh.ask(QUESTIONS[0]).to_dict()["answer"] == before
    # A second rebuild may drop the first generation: no replica can still be on it after two swaps.
    build_index(settings, rebuild=True)
    names = {c.name for c in chromadb.HttpClient(host=host, port=port).list_collections()}
    assert old.manifest.collection not in names


def test_a_frozen_chroma_server_holds_nothing(tmp_path, monkeypatch):
    """Chroma frozen (SIGSTOP) under 45 concurrent /v1 questions: the page and the model list still
    answer at once, every question is answered from keyword search within the timeout, the calls after
    the first ones do not wait at all, and once the server is back the vectors are used again."""
    import signal
    import time
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from assistant.answer.assistant import KEYWORDS_ONLY_NOTE
    from assistant.search import vectorstore
    from assistant.web.server import create_server
    from tests.support import ChromaServer, copy_corpus, free_port, serve

    monkeypatch.setattr(vectorstore, "COOLDOWN", 3.0)  # read when this server's breaker is made
    chroma = ChromaServer(tmp_path / "data", free_port(), tmp_path / "chroma.log").start()
    # exact_search_max_parts=0: every question queries the server (as on a large index).
    settings = make_settings(copy_corpus(tmp_path / "corpus"), tmp_path / "index", chroma_host=chroma.host,
                             chroma_port=chroma.port, chroma_timeout=2.0, exact_search_max_parts=0)
    build_index(settings)
    body = {"model": "policy-assistant", "messages": [{"role": "user", "content": QUESTIONS[0]}]}

    def ask(url: str) -> str:
        reply = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120)
        assert reply.status_code == 200, reply.text
        return reply.json()["choices"][0]["message"]["content"]

    try:
        with serve(create_server(settings)) as url:
            assert KEYWORDS_ONLY_NOTE not in ask(url)
            os.kill(chroma.proc.pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                with ThreadPoolExecutor(45) as pool:
                    answers = [pool.submit(ask, url) for _ in range(45)]
                    time.sleep(0.5)
                    t = time.monotonic()
                    assert httpx.get(f"{url}/", timeout=30).status_code == 200
                    assert httpx.get(f"{url}/v1/models", timeout=30).status_code == 200
                    other_routes = time.monotonic() - t
                    texts = [a.result(timeout=120) for a in answers]
                elapsed = time.monotonic() - started
            finally:
                os.kill(chroma.proc.pid, signal.SIGCONT)
            assert other_routes < 3, other_routes
            # The first questions wait out one 2 s timeout; the circuit then answers the rest at once.
            assert elapsed < 20, elapsed
            assert all(KEYWORDS_ONLY_NOTE in t and "万元" in t for t in texts), texts[0]
            time.sleep(vectorstore.COOLDOWN + 0.5)
            assert KEYWORDS_ONLY_NOTE not in ask(url)
    finally:
        chroma.stop()
