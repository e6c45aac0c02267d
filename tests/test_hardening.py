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
from assistant.corpus.readers import CorpusLimits
from tests.support import memory_assistant, policy_free_env

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


def test_corpus_files_past_their_limits_are_named_not_read(tmp_path):
    """A file too large, a .docx that decompresses to far more than it weighs, and a text of too many
    characters are skipped, each named with the limit it passed; the others are read."""
    import docx

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "policy.txt").write_text(POLICY, encoding="utf-8")
    (corpus / "big.txt").write_bytes(b"x" * 1_100_000)
    (corpus / "long.txt").write_text(POLICY + "支持小微企业。" * 2_000, encoding="utf-8")
    bomb = docx.Document()
    for _ in range(30):
        bomb.add_paragraph("融资担保" * 5_000)
    bomb.save(corpus / "bomb.docx")
    limits = CorpusLimits(max_file_bytes=1_000_000, max_chars=10_000)
    assert (corpus / "bomb.docx").stat().st_size < 50_000  # weighs little, unpacks past 40 × 10,000 bytes

    read = load_corpus(corpus, limits=limits)
    reasons = {os.path.basename(p.path): p.reason for p in read.problems}
    assert "超过上限 1 MB" in reasons["big.txt"] and "POLICY_CORPUS_MAX_FILE_MB" in reasons["big.txt"]
    assert "解压后" in reasons["bomb.docx"]
    assert "超过上限 10,000 字" in reasons["long.txt"]
    assert [d.path for d in read.documents] == ["policy.txt"]


def test_conditions_of_one_huge_paragraph_are_found_in_linear_time():
    """measures._conditions compared every match with every kept one: 800 KB of one paragraph took
    5.7 s, 30 MB never finished. A hang guard, not a speed claim: the bound is far above linear."""
    import time

    from assistant.corpus.measures import Vocabulary, _conditions

    sentence = "符合条件的小微企业，经市场监管部门认定的，首次创业的，在本市注册的，"
    body = sentence * 25_000  # 900 KB, 100,000 conditions
    started = time.monotonic()
    found = _conditions(body, Vocabulary.load())
    assert time.monotonic() - started < 20
    assert found == _conditions(sentence, Vocabulary.load()) and len(found) == 4


@pytest.mark.integration
def test_a_file_of_too_many_clauses_is_named_and_left_out_of_the_build(tmp_path):
    """200,000 identical numbered lines became 200,000 clauses (and as many vectors to embed)."""
    from assistant.search.build import build_index
    from assistant.search.index import Index
    from assistant.search.layout import is_stale
    from tests.support import make_settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "policy.txt").write_text(POLICY, encoding="utf-8")
    (corpus / "numbered.txt").write_text("\n".join(f"第{i}条 同一句话。" for i in range(1, 301)), encoding="utf-8")
    settings = make_settings(corpus, tmp_path / "index", corpus_max_clauses=100)
    report = build_index(settings)
    reasons = {os.path.basename(p.path): p.reason for p in report.problems}
    assert "300 条条款，超过上限 100 条" in reasons["numbered.txt"], reasons
    assert list(Index.open(settings).documents) == ["policy"]
    assert not is_stale(settings)  # the skipped file does not make every start rebuild


def _processes() -> dict[int, int]:
    """pid → parent pid of every live (not zombie) process, read from /proc."""
    found = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/stat") as f:
                state, parent = f.read().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):  # not a process, or gone meanwhile
            continue
        if state != "Z":
            found[int(name)] = int(parent)
    return found


def _descendants(pid: int) -> set[int]:
    parents = _processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.mark.integration
def test_build_workers_die_with_the_build(tmp_path):
    """kill -9 of a build's main process left its embedding workers running (168 MB each)."""
    import subprocess
    import sys
    import time

    from tests.support import ROOT

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "many.txt").write_text("\n".join(f"第{i}条 支持第{i}类小微企业融资，担保费率不超过1%。"
                                                for i in range(1, 3001)), encoding="utf-8")
    env = {**policy_free_env(), "PYTHONPATH": str(ROOT),
           "POLICY_CORPUS_DIR": str(corpus), "POLICY_INDEX_DIR": str(tmp_path / "index"), "POLICY_BUILD_WORKERS": "2"}
    build = subprocess.Popen([sys.executable, "-m", "assistant.cli", "index"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(workers := _descendants(build.pid)) < 2:
            assert build.poll() is None and time.monotonic() < deadline, "the build started no workers"
            time.sleep(0.2)
        time.sleep(1)  # the workers are loading their encoder
        workers = _descendants(build.pid)
        build.kill()
        build.wait()
        deadline = time.monotonic() + 15
        while alive := workers & set(_processes()):
            assert time.monotonic() < deadline, f"workers {sorted(alive)} outlived the build"
            time.sleep(0.2)
    finally:
        build.kill()


@pytest.mark.integration
def test_terminal_escapes_in_a_corpus_never_reach_the_terminal(tmp_path):
    """ANSI escapes in a title (and a file name) reached the terminal through docs, clauses, ask and the
    build's warnings: they could recolour, move the cursor or clear the screen."""
    import subprocess
    import sys

    from tests.support import ROOT

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    escape = "\x1b[2J\x1b[31m"
    (corpus / "policy.txt").write_text(POLICY, encoding="utf-8")
    (corpus / f"坏{escape}名.exe").write_text("x", encoding="utf-8")  # named in the build's problems
    (corpus / "manifest.toml").write_text(
        '[[document]]\nfile = "policy.txt"\ndoc_id = "policy"\ntitle = "测试\\u001b[2J\\u001b[31m标题\\u009b31m"\n', encoding="utf-8")
    env = {**policy_free_env(), "PYTHONPATH": str(ROOT),
           "POLICY_CORPUS_DIR": str(corpus), "POLICY_INDEX_DIR": str(tmp_path / "index")}
    for command in (["index"], ["docs"], ["clauses"], ["ask", "担保费率是多少"], ["search", "担保费率"]):
        run = subprocess.run([sys.executable, "-m", "assistant.cli", *command], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
        out = run.stdout + run.stderr
        assert run.returncode == 0, out[-2000:]
        assert "\x1b" not in out and "\u009b" not in out, (command, out[-1000:])
        if command == ["docs"]:
            assert "测试\ufffd[2J\ufffd[31m标题" in out  # shown, made harmless


@pytest.mark.integration
def test_a_fault_reaches_api_callers_in_chinese_without_python_text(seed_settings, seed_index, monkeypatch):
    """Gradio error events carried the raw Python exception text (show_error). A fault is now logged and
    the caller told, in Chinese, that it is ours; a PolicyError still says its own reason."""
    import httpx

    from assistant.errors import INTERNAL_ERROR
    from assistant.web.server import create_server
    from assistant.web.service import Service
    from tests.support import serve

    service = Service(seed_settings, seed_index)

    def broken(query, k):
        raise KeyError("/srv/secret/path 内部细节")

    monkeypatch.setattr(service, "search", broken)
    with serve(create_server(seed_settings, service)) as url, httpx.Client(timeout=60) as client:
        event = client.post(f"{url}/gradio_api/call/search", json={"data": ["融资担保", 3]}).json()["event_id"]
        stream = client.get(f"{url}/gradio_api/call/search/{event}").text
        error = json.loads(stream.split("data:", 1)[1])
        assert "event: error" in stream and error["error"] == INTERNAL_ERROR and error["title"] == "出错了", stream
        assert "secret" not in stream and "KeyError" not in stream
        event = client.post(f"{url}/gradio_api/call/match", json={"data": ["大企业", "", [], [], ""]}).json()["event_id"]
        error = json.loads(client.get(f"{url}/gradio_api/call/match/{event}").text.split("data:", 1)[1])
        assert "不在可选范围内" in error["error"] and error["title"] == "无法完成"


@pytest.mark.integration
def test_every_page_says_it_may_not_be_framed(client_url):
    with urllib.request.urlopen(client_url, timeout=60) as resp:
        headers = resp.headers
    assert headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.integration
def test_gradio_api_traffic_does_not_grow_memory(client_url):
    """Every /gradio_api/call/ask kept a Gradio session (~125 KB): 514 → 1,166 MB over 5,400 calls. A soak on
    loopback: after the caches are warm, 600 more calls may not add more than 20 KB each (they added 125)."""
    import gc

    import httpx

    questions = ["创业担保贷款最高额度是多少？", "融资担保费率是多少？", "第十八条", "我开饭馆的，贷款还不上能缓缓吗？",
                 "州税务局负责哪些措施", "印花税减免政策是什么？"]

    def call(client: httpx.Client, question: str) -> None:
        event = client.post(f"{client_url}gradio_api/call/ask", json={"data": [question]}).json()["event_id"]
        result = client.get(f"{client_url}gradio_api/call/ask/{event}").text
        assert "event: complete" in result, result[-500:]

    def rss_mb() -> float:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024

    with httpx.Client(timeout=60) as client:
        for i in range(120):
            call(client, questions[i % len(questions)])
        gc.collect()
        before = rss_mb()
        for i in range(600):
            call(client, questions[i % len(questions)])
        gc.collect()
        grown_kb = (rss_mb() - before) * 1024 / 600
    assert grown_kb < 20, f"{grown_kb:.0f} KB kept per call"


@pytest.mark.integration
def test_clients_leaving_mid_request_are_not_logged_as_faults(client_url):
    """A client that disconnected while sending its /v1 body logged a full ASGI traceback each time."""
    import logging
    import socket
    import time
    import urllib.parse

    errors: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = errors.append
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    host, port = urllib.parse.urlsplit(client_url).netloc.split(":")
    body = json.dumps({"model": "policy-assistant", "stream": True,
                       "messages": [{"role": "user", "content": "融资担保费率是多少？"}]}).encode()
    head = b"Host: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    try:
        for request, read in [(b"POST /v1/chat/completions HTTP/1.1\r\n" + head + body[:20], 0),  # mid-body
                              (b"POST /v1/chat/completions HTTP/1.1\r\n" + head + body, 60),  # mid-stream
                              (b"POST /gradio_api/call/ask HTTP/1.1\r\n" + head + body[:20], 0)]:
            with socket.create_connection((host, int(port))) as sock:
                sock.sendall(request)
                if read:
                    sock.recv(read)
        time.sleep(1.5)
        urllib.request.urlopen(client_url, timeout=30).read()  # still serving
    finally:
        logger.removeHandler(handler)
    assert not errors, [r.getMessage() for r in errors]


@pytest.fixture(scope="module")
def client_url(seed_settings, seed_index):
    """The whole server (FastAPI + Gradio + the edge guard) on loopback, as app.py runs it."""
    from assistant.web.server import create_server
    from assistant.web.service import Service
    from tests.support import serve

    with serve(create_server(seed_settings, Service(seed_settings, seed_index))) as url:
        yield url + "/"
