"""Server mode against a real ``chroma run`` that stops and starts again.

* Unreachable at start: opening the index fails at once with a clear message naming the server.
* Stopped mid-operation: a question is retried with backoff, then answered with a Chinese error
  message (an Answer, not a traceback) within a few seconds; once the server is back, answers resume.
* The web UI (app.py in a browser) shows that message in the chat instead of hanging.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time

import pytest
from gradio_client import Client
from playwright.sync_api import expect

from assistant.answer.assistant import KEYWORDS_ONLY_NOTE, Assistant
from assistant.search import vectorstore
from assistant.search.build import build_index
from assistant.search.index import Index
from assistant.search.vectorstore import ChromaUnavailableError
from tests.support import ROOT, SEED_ID, ChromaServer, copy_corpus, free_port, make_settings
from tests.test_browser_chat import ask as browser_ask
from tests.test_browser_chat import last_answer

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

QUESTION = "创业担保贷款最高额度是多少？"


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    base = tmp_path_factory.mktemp("chroma-server")
    server = ChromaServer(base / "data", free_port(), base / "chroma.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server_settings(chroma, tmp_path_factory):
    base = tmp_path_factory.mktemp("server-mode")
    settings = make_settings(copy_corpus(base / "corpus"), base / "index", chroma_host="127.0.0.1",
                             chroma_port=chroma.port, auto_build=False,
                             exact_search_max_parts=0)  # every question queries the server
    build_index(settings)
    return settings


def test_server_down_mid_operation_retries_then_answers_from_keywords(chroma, server_settings, monkeypatch):
    """The server stops: the question is retried with backoff, then answered from keyword search with a
    note saying so; the next questions do not wait for the server at all (the circuit is open), and
    once it is back and the cooldown is over, the vectors are used again."""
    monkeypatch.setattr(vectorstore, "COOLDOWN", 2.0)
    assistant = Assistant.from_settings(server_settings, index=Index.open(server_settings))
    assert assistant.ask(QUESTION).citations[0].clause_id == f"{SEED_ID}#6"
    chroma.stop()
    try:
        started = time.monotonic()
        answer = assistant.ask(QUESTION)
        seconds = time.monotonic() - started
        assert answer.route == "search" and not answer.refused and KEYWORDS_ONLY_NOTE in answer.text
        assert answer.citations[0].clause_id == f"{SEED_ID}#6", answer.text
        assert 1.5 < seconds < 15, f"{seconds:.1f} s: retried with backoff, then gave up"
        started = time.monotonic()
        assert KEYWORDS_ONLY_NOTE in assistant.ask("融资担保费率是多少？").text
        assert time.monotonic() - started < 1, "the open circuit answers at once"
        # Routes that need no vectors still work while the server is down.
        assert [c.clause_id for c in assistant.ask("第十八条").citations] == [f"{SEED_ID}#18"]
        # Starting the index now fails at once, naming the server.
        with pytest.raises(ChromaUnavailableError, match=f"127.0.0.1:{chroma.port}"):
            Index.open(server_settings)
    finally:
        chroma.start()
    time.sleep(vectorstore.COOLDOWN)
    # Back again: the same assistant reconnects.
    answer = assistant.ask(QUESTION)
    assert answer.citations[0].clause_id == f"{SEED_ID}#6" and KEYWORDS_ONLY_NOTE not in answer.text


def test_small_index_keeps_answering_from_memory_while_the_server_is_down(chroma, server_settings):
    """With exact search (the default for small indexes) the vectors are read once; after that an
    outage costs nothing, and only a fresh start needs the server."""
    settings = dataclasses.replace(server_settings, exact_search_max_parts=20_000)
    assistant = Assistant.from_settings(settings, index=Index.open(settings))
    assert assistant.ask(QUESTION).citations[0].clause_id == f"{SEED_ID}#6"
    chroma.stop()
    try:
        answer = assistant.ask("融资担保费率是多少？")
        assert answer.route != "error" and "不高于1%" in answer.text, answer.text
        with pytest.raises(ChromaUnavailableError, match=f"127.0.0.1:{chroma.port}"):
            Index.open(settings)
    finally:
        chroma.start()


def test_server_restarting_during_a_question_is_retried(chroma, server_settings):
    """The server comes back within the backoff window: the question is answered normally."""
    import threading

    assistant = Assistant.from_settings(server_settings, index=Index.open(server_settings))
    chroma.stop()
    restart = threading.Timer(0.4, chroma.start)
    restart.start()
    try:
        answer = assistant.ask(QUESTION)
    finally:
        restart.join()
    assert answer.route != "error" and answer.citations[0].clause_id == f"{SEED_ID}#6", answer.text


def test_web_chat_answers_from_keywords_when_the_server_is_down(chroma, server_settings, start_app, browser_page):
    app = start_app(fresh=True, POLICY_CORPUS_DIR=str(server_settings.corpus_dir),
                    POLICY_INDEX_DIR=str(server_settings.index_dir), POLICY_CHROMA_HOST="127.0.0.1",
                    POLICY_CHROMA_PORT=str(chroma.port), POLICY_EXACT_SEARCH_MAX_PARTS="0")
    page = browser_page
    page.goto(app.url)
    browser_ask(page, QUESTION)
    assert "300万元" in last_answer(page)
    chroma.stop()
    try:
        # Answered from keyword search, saying so (waits until the placeholder is replaced).
        browser_ask(page, "融资担保费率是多少？")
        expect(page.locator("#chat .message-row").last).to_contain_text("只按关键词检索")
        assert "不高于1%" in last_answer(page)
        # The /search API still finds clauses by their words.
        hits = Client(app.url, verbose=False).predict("融资担保", 5, api_name="/search")
        assert hits and "担保" in str(hits[0])
    finally:
        chroma.start()
    browser_ask(page, "融资担保费率是多少？")
    assert "不高于1%" in last_answer(page)


def test_app_start_with_the_server_unreachable_exits_with_a_clear_message(chroma, server_settings):
    """`make run` while the server is down: a Chinese message naming the server, a non-zero exit, no trace."""
    env = {**os.environ, "POLICY_CORPUS_DIR": str(server_settings.corpus_dir),
           "POLICY_INDEX_DIR": str(server_settings.index_dir), "POLICY_CHROMA_HOST": "127.0.0.1",
           "POLICY_CHROMA_PORT": str(chroma.port), "POLICY_PORT": str(free_port()), "POLICY_AUTO_BUILD": "false"}
    chroma.stop()
    try:
        run = subprocess.run([sys.executable, str(ROOT / "app.py")], env=env, capture_output=True, text=True,
                             timeout=120, check=False)
    finally:
        chroma.start()
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"无法连接 Chroma 服务器 http://127.0.0.1:{chroma.port}" in output, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
