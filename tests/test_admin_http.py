"""The admin actions over raw HTTP, the way a script (not the page) would call them.

The admin buttons' events are private to the Gradio API (no ``gradio_client`` endpoint), but the page
itself calls them through ``/gradio_api/queue/join`` by event number, and so can anyone who reads
``/config``. These tests do exactly that against the real app: without the right password nothing is
written or rebuilt; a file path outside Gradio's upload cache is refused even with the password;
without a configured password the events do not exist at all.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from assistant.search.layout import current_generation
from tests.support import copy_corpus

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

PASSWORD = "s3cret"


class GradioHTTP:
    """Calls a Blocks event by its trigger's elem_id through the queue, as the browser does."""

    def __init__(self, url: str):
        self.url = url
        with urllib.request.urlopen(url + "config", timeout=30) as resp:
            self.config = json.load(resp)
        ids = {c["id"]: c.get("props", {}).get("elem_id") for c in self.config["components"]}
        self.events = {ids.get(target[0]): dep for dep in self.config["dependencies"] for target in dep["targets"]}

    def call(self, elem_id: str, data: list) -> dict:
        """The final queue message (``process_completed``) of the event triggered by ``elem_id``."""
        dep = self.events[elem_id]
        session = uuid.uuid4().hex
        body = json.dumps({"data": data, "fn_index": dep["id"], "trigger_id": dep["targets"][0][0],
                           "session_hash": session, "event_data": None}).encode()
        request = urllib.request.Request(self.url + "gradio_api/queue/join", body,
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30):
            pass
        with urllib.request.urlopen(f"{self.url}gradio_api/queue/data?session_hash={session}", timeout=120) as s:
            for raw in s:
                line = raw.decode("utf-8").strip()
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        return message
        raise AssertionError("the queue stream ended without process_completed")

    def upload(self, path: Path) -> dict:
        """Put ``path`` into Gradio's upload cache, as the file widget does; returns its FileData."""
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{path.name}\"\r\n"
                f"Content-Type: text/plain\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(self.url + "gradio_api/upload", body,
                                         {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            server_path = json.load(resp)[0]
        return {"path": server_path, "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


def output_text(message: dict) -> str:
    return json.dumps(message.get("output", {}), ensure_ascii=False)


@pytest.fixture(scope="module")
def admin_app(start_app, tmp_path_factory):
    base = tmp_path_factory.mktemp("admin-http")
    corpus = copy_corpus(base / "corpus")
    # The refusals below give a dozen wrong passwords from this one client: more than the deployment's
    # default lets through before throttling (tested on its own app, last).
    app = start_app(fresh=True, POLICY_ADMIN_PASSWORD=PASSWORD, POLICY_CORPUS_DIR=str(corpus),
                    POLICY_INDEX_DIR=str(base / "index"), POLICY_AUTO_BUILD="true", POLICY_ADMIN_MAX_FAILURES="100")
    return app, corpus, base / "index"


@pytest.fixture()
def new_document(tmp_path) -> Path:
    path = tmp_path / "新政策.txt"
    path.write_text("关于测试的通知\n一、支持措施\n（一）测试贴息。对测试企业给予测试贴息77万元。（责任单位：州测试局）\n",
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("password", ["", "wrong", "S3CRET", PASSWORD + " ", None])
def test_reindex_and_upload_need_the_password(admin_app, new_document, password):
    app, corpus, index_dir = admin_app
    gradio = GradioHTTP(app.url)
    before_files = sorted(p.name for p in corpus.iterdir())
    before_generation = current_generation(index_dir)

    reindexed = gradio.call("admin-reindex", [password])
    assert "密码错误" in output_text(reindexed), reindexed
    uploaded = gradio.call("admin-upload", [password, gradio.upload(new_document)])
    assert "密码错误" in output_text(uploaded), uploaded

    assert sorted(p.name for p in corpus.iterdir()) == before_files
    assert current_generation(index_dir) == before_generation


@pytest.mark.parametrize("target", ["outside", "traversal", "corpus", "hostname"])
def test_a_file_path_outside_the_upload_cache_is_refused(admin_app, new_document, target):
    """A forged FileData naming a server file (with an accepted suffix) is not read into the corpus,
    even with the password. Gradio checks such paths only on a server it launched itself; mounted
    on FastAPI (our server) it did not, and these requests added /tmp files to the corpus."""
    app, corpus, index_dir = admin_app
    gradio = GradioHTTP(app.url)
    cached = Path(gradio.upload(new_document)["path"])
    path = {"outside": str(new_document),  # a readable .txt the server never received
            "traversal": f"{cached.parent}/../../../../{new_document}",
            "corpus": str(next(corpus.glob("*.txt"))),
            "hostname": "/etc/hostname"}[target]
    before_files = sorted(p.name for p in corpus.iterdir())
    before_generation = current_generation(index_dir)
    forged = {"path": path, "orig_name": "新政策.txt", "meta": {"_type": "gradio.FileData"}}
    message = gradio.call("admin-upload", [PASSWORD, forged])
    text = output_text(message)
    assert "已加入语料" not in text and ("只接受通过本页面上传的文件" in text or message.get("success") is False), message
    assert sorted(p.name for p in corpus.iterdir()) == before_files
    assert current_generation(index_dir) == before_generation


def test_the_right_password_over_http_adds_the_document(admin_app, new_document):
    """The control case: the same raw calls succeed with the password (so the refusals above are real)."""
    app, corpus, _ = admin_app
    gradio = GradioHTTP(app.url)
    message = gradio.call("admin-upload", [PASSWORD, gradio.upload(new_document)])
    assert "已加入语料：新政策.txt" in output_text(message), message
    assert (corpus / "新政策.txt").is_file()


def test_guessing_the_password_is_throttled(start_app, tmp_path, new_document):
    """After POLICY_ADMIN_MAX_FAILURES wrong passwords from one client, every try is refused for the window,
    the right password too (guessing gains nothing), and nothing is written."""
    corpus = copy_corpus(tmp_path / "corpus")
    app = start_app(fresh=True, POLICY_ADMIN_PASSWORD=PASSWORD, POLICY_CORPUS_DIR=str(corpus),
                    POLICY_INDEX_DIR=str(tmp_path / "index"), POLICY_AUTO_BUILD="true", POLICY_ADMIN_MAX_FAILURES="3")
    gradio = GradioHTTP(app.url)
    for guess in ("a", "b", "c"):
        assert "密码错误。" in output_text(gradio.call("admin-reindex", [guess]))
    for password in ("d", PASSWORD):
        assert "密码错误次数过多" in output_text(gradio.call("admin-reindex", [password]))
    refused = gradio.call("admin-upload", [PASSWORD, gradio.upload(new_document)])
    assert "密码错误次数过多" in output_text(refused) and not (corpus / new_document.name).exists()
    log = app.log_path.read_text(encoding="utf-8", errors="replace")
    assert "admin password: wrong password" in log and "after too many failures" in log


def test_without_a_password_there_are_no_admin_events(app_server):
    gradio = GradioHTTP(app_server.url)
    with pytest.raises(urllib.error.HTTPError) as closed:  # and no upload route: nothing reaches the cache
        gradio.upload(Path(__file__))
    assert closed.value.code == 403 and "不接受文件上传" in closed.value.read().decode("utf-8")
    assert "admin-upload" not in gradio.events and "admin-reindex" not in gradio.events
    names = {dep.get("api_name") for dep in gradio.config["dependencies"]}
    assert not names & {"upload", "reindex"}
    # An event number past the last one is refused by the queue, not run.
    body = json.dumps({"data": ["x"], "fn_index": len(gradio.config["dependencies"]) + 5,
                       "session_hash": uuid.uuid4().hex}).encode()
    request = urllib.request.Request(app_server.url + "gradio_api/queue/join", body,
                                     {"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(request, timeout=30)
