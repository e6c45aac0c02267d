"""Attacks and faults from the hardening review, each reproduced and held (fast lane unless marked).

A long /search query, a corpus that links out of itself, a /v1 body of megabytes or nested a thousand
deep, a lone surrogate as the asker's area, and the headers every page carries.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest

from assistant.answer.assistant import MAX_QUESTION_CHARS
from assistant.corpus.ingest import corpus_sources, load_corpus
from tests.support import memory_assistant

POLICY = """测试州关于支持小微企业融资的措施
测州办发〔2025〕9号
（一）降低融资担保费率。政府性融资担保机构的担保费率不超过1%。（责任单位：州金融办）
（二）开展银企对接活动。每季度至少组织一次银企对接会。（责任单位：州工信局）
"""


def test_a_search_query_is_read_like_a_question_up_to_its_limit():
    """/search cut nothing: a 200k-character query held a worker for 38 s. It is now read up to the
    question limit, so a pasted book costs what its first 2,000 characters cost."""
    assistant = memory_assistant(POLICY)
    head = "融资担保费率" + "啊" * (MAX_QUESTION_CHARS - 6)
    assert [h.clause.clause_id for h in assistant.search(head + "银企对接" * 50_000)] == \
        [h.clause.clause_id for h in assistant.search(head)]


def test_the_corpus_is_a_jail(tmp_path):
    """Only regular files inside the corpus folders are read: a link out of it (to a password file), a
    dangling link, a FIFO, a hidden file and a sub-folder's manifest are named with their reason and
    never read; a link that stays inside is fine."""
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "policy.txt").write_text(POLICY, encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:机密内容\n", encoding="utf-8")
    (corpus / "x.txt").symlink_to(secret)
    (corpus / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    (corpus / "inside.txt").symlink_to(corpus / "policy.txt")
    os.mkfifo(corpus / "pipe.txt")
    (corpus / ".hidden.txt").write_text(POLICY, encoding="utf-8")
    (corpus / "sub" / "manifest.toml").write_text("[[document]]\n", encoding="utf-8")

    read = load_corpus(corpus)
    assert all("机密" not in d.text for d in read.documents)
    reasons = {os.path.basename(p.path): p.reason for p in read.problems}
    assert "指向语料目录之外" in reasons["x.txt"] and "不存在" in reasons["dangling.txt"]
    assert "不是普通文件" in reasons["pipe.txt"]
    assert any(".hidden.txt" in w and "隐藏" in w for w in read.warnings)
    assert any("manifest.toml" in w and "子目录" in w for w in read.warnings)
    # The link inside the folder is the file it points to: read once, under its own name.
    assert [d.path for d in read.documents] == ["policy.txt"]
    assert any("inside.txt" in w and "按原文件读取" in w for w in read.warnings)
    # What the index fingerprints is what was read: no key that never matches (a rebuild on every start).
    assert [key for key, _ in corpus_sources(corpus)] == ["policy.txt"]


@pytest.mark.integration
@pytest.mark.parametrize("body, status, says", [
    (b'{"model": "policy-assistant", "messages": [{"role": "user", "content": "' + b"a" * (2 * 1024 * 1024) + b'"}]}',
     413, "请求体过大"),
    (b"[" * 1000 + b"]" * 1000, 400, "有效"),  # nested a thousand deep: was a 500
    (json.dumps({"model": "policy-assistant", "region": "\ud800",
                 "messages": [{"role": "user", "content": "融资担保费率是多少？"}]}).encode(), 200, ""),
])
def test_v1_bodies_are_bounded_and_malformed_ones_answered_in_chinese(client_url, body, status, says):
    request = urllib.request.Request(client_url + "v1/chat/completions", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            code, text = resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        code, text = exc.code, exc.read().decode("utf-8")
    assert code == status, text
    assert says in text


@pytest.mark.integration
def test_every_page_says_it_may_not_be_framed(client_url):
    with urllib.request.urlopen(client_url, timeout=60) as resp:
        headers = resp.headers
    assert headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture(scope="module")
def client_url(seed_settings, seed_index):
    """The whole server (FastAPI + Gradio + the edge guard) on loopback, as app.py runs it."""
    from assistant.web.server import create_server
    from assistant.web.service import Service
    from tests.support import serve

    with serve(create_server(seed_settings, Service(seed_settings, seed_index))) as url:
        yield url + "/"
