"""The web app's parts without a browser: named Gradio API endpoints, lookup, rendering, admin uploads.

The real server runs on loopback with the real index; ``gradio_client`` calls the named endpoints.
The browser tests (tests/test_browser_*.py) cover what a user sees.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from assistant.errors import UploadError
from assistant.lexicon import Lexicon
from assistant.models import Answer, Citation
from assistant.search.lookup import LookupQuery, lookup, sections, units
from assistant.search.routing import Router
from assistant.web.admin import accept_upload, password_ok, safe_name
from assistant.web.render import answer_html, chat_text, citation_cards, question_preview
from assistant.web.service import Service
from tests.support import ROOT, SEED_ID, serve


def cid(n: int) -> str:
    return f"{SEED_ID}#{n}"


@pytest.fixture(scope="module")
def service(seed_settings, seed_index):
    return Service(seed_settings, seed_index)


@pytest.fixture(scope="module")
def client(seed_settings, service):
    """A real server (FastAPI + Gradio, as app.py runs it) on loopback, and a gradio_client for it."""
    from gradio_client import Client

    from assistant.web.server import create_server

    with serve(create_server(seed_settings, service)) as url:
        yield Client(url + "/", verbose=False)


def test_ask_endpoint(client):
    data = client.predict("融资担保费率是多少？", api_name="/ask")
    assert "不高于1%" in data["answer"] and data["refused"] is False
    assert data["citations"][0]["clause_id"] == cid(4) and data["retrieved"][0] == cid(4)
    assert "州政府金融办" in data["citations"][0]["units"] and data["latency_ms"] > 0
    refused = client.predict("深圳的创业补贴标准是多少？", api_name="/ask")
    assert refused["refused"] is True and "12345" in refused["answer"]
    assert "请输入" in client.predict("   ", api_name="/ask")["answer"]
    # The seed does not apply in 浙江省; in 临夏州 it does.
    elsewhere = client.predict("融资担保费率是多少？", "浙江省", api_name="/ask_in_region")
    assert elsewhere["refused"] is True and "适用于浙江省" in elsewhere["answer"]
    here = client.predict("融资担保费率是多少？", "临夏州", api_name="/ask_in_region")
    assert here["citations"][0]["clause_id"] == cid(4) and here["region"] == "临夏回族自治州"


def test_lookup_endpoint_by_number_unit_and_keyword(client):
    html, text, rows = client.predict("第十八条", "", "（全部）", "（全部）", api_name="/lookup")
    assert [r["clause_id"] for r in rows] == [cid(18)] and rows[0]["doc_number"] == "临州办发〔2022〕84号"
    assert text.startswith("〔临州办发〔2022〕84号 第（十八）条") and rows[0]["text"] in text
    _, _, rows = client.predict("", "", "州税务局", "（全部）", api_name="/lookup")
    assert [r["clause_id"] for r in rows] == [cid(n) for n in (2, 3, 17, 28)]
    _, _, rows = client.predict("", "担保费率", "州财政局", "（全部）", api_name="/lookup")
    assert [r["clause_id"] for r in rows] == [cid(4)]
    html, _, rows = client.predict("", "<script>alert(1)</script>", "（全部）", "（全部）", api_name="/lookup")
    assert rows == [] and "<script>" not in html
    _, _, rows = client.predict("", "", "（全部）", "（全部）", SEED_ID, api_name="/lookup")  # by document
    assert len(rows) == 29 and {r["doc_id"] for r in rows} == {SEED_ID}


def test_search_endpoint(client):
    rows = client.predict("延期还本付息", 3, api_name="/search")
    assert len(rows) == 3 and rows[0]["clause_id"] == cid(8) and rows[0]["why"]


def test_cli_search_and_web_search_return_one_hit_shape(seed_settings, client, capsys):
    from assistant.cli import main

    query = "延期还本付息"
    assert main(["--corpus", str(seed_settings.corpus_dir), "--index-dir", str(seed_settings.index_dir),
                 "search", query, "--k", "3", "--json"]) == 0
    cli_hits = json.loads(capsys.readouterr().out)
    web_hits = client.predict(query, 3, api_name="/search")
    assert [sorted(h) for h in cli_hits] == [sorted(h) for h in web_hits]
    assert [(h["clause_id"], h["score"]) for h in cli_hits] == [(h["clause_id"], h["score"]) for h in web_hits]
    assert {"doc_number", "units_span", "body_span", "dense", "bm25", "why"} <= set(cli_hits[0])


def test_reload_reads_the_vocabularies_again(tmp_path, corpus_dir):
    """An admin reload builds a new assistant with the lexicon read afresh from POLICY_LEXICON_DIR."""
    from assistant.search.build import build_index
    from tests.support import make_settings

    lexicon_dir = tmp_path / "lexicon"
    lexicon_dir.mkdir()
    settings = make_settings(corpus_dir, tmp_path / "index", lexicon_dir=lexicon_dir)
    build_index(settings)
    service = Service(settings)
    assert not service.assistant.retriever.glossary.expand("我想要茶水钱").terms
    glossary = (ROOT / "assistant" / "data" / "glossary.tsv").read_text(encoding="utf-8")
    (lexicon_dir / "glossary.tsv").write_text(glossary + "茶水钱\t贴息\n", encoding="utf-8")
    service.reload()
    assert service.assistant.retriever.glossary.expand("我想要茶水钱").terms == ("贴息",)
    assert cid(6) in service.assistant.ask("茶水钱有多少").retrieved[:3]


def test_lookup_filters(seed_index):
    router = Router(seed_index, Lexicon.load())
    counts = [sum(u in c.units for c in seed_index.clauses) for u in units(seed_index)]
    assert counts == sorted(counts, reverse=True) and len(counts) > 20  # the most often named first
    assert len(sections(seed_index)) == 5 and sections(seed_index)[0].startswith("一、")
    by_section = lookup(seed_index, LookupQuery(section=sections(seed_index)[1]), router)
    assert by_section and all(c.section == by_section[0].section for c in by_section)
    assert [c.clause_id for c in lookup(seed_index, LookupQuery(number="（十二）"), router)] == [cid(12)]
    assert [c.clause_id for c in lookup(seed_index, LookupQuery(number="12"), router)] == [cid(12)]
    assert [c.clause_id for c in lookup(seed_index, LookupQuery(number=cid(12)), router)] == [cid(12)]
    assert [c.clause_id for c in lookup(seed_index, LookupQuery(keyword="擔保費率"), router)] == [cid(4)]  # traditional
    assert lookup(seed_index, LookupQuery(), router) == []
    assert lookup(seed_index, LookupQuery(number="第九十九条"), router) == []


@pytest.mark.parametrize("payload", [
    "<script>window.x=1</script>", '<img src=x onerror="window.x=1">', "![x](http://example.com/x.png)",
    "[点我](javascript:alert(1))", "$x^2$",
])
def test_chat_text_shows_markup_literally(payload):
    import html

    shown = chat_text(payload)
    assert "<" not in shown and ">" not in shown and '"' not in shown
    assert html.unescape(shown) == payload


def test_the_answers_bold_figures_are_the_only_markup():
    shown = answer_html("单户1000万元(含)以下费率不高于**1%**<img src=x onerror=alert(1)>**<b>x</b>**")
    assert shown.startswith("单户1000万元(含)以下费率不高于<strong>1%</strong>&lt;img")
    assert "<b>" not in shown and "<strong>&lt;b&gt;x&lt;/b&gt;</strong>" in shown


def test_long_question_is_previewed():
    assert question_preview("问" * 5000).endswith("（共 5000 字）")


def test_citation_cards_highlight_the_quote_and_escape(seed_index):
    clause = seed_index.by_id[cid(6)]
    lo = clause.text.index("对符合条件的小微企业")
    cite = Citation(clause.clause_id, clause.title, "h", clause.text[lo:lo + 20], clause.start + lo,
                    clause.start + lo + 20, clause.units)
    html = citation_cards(seed_index, Answer(question="<b>", text="", citations=[cite]))
    assert f"<mark>{clause.text[lo:lo + 20]}</mark>" in html and "州财政局" in html
    refusal = citation_cards(seed_index, Answer(question="q", text="", refused=True, related=[cid(4)]))
    assert "可能相关" in refusal and "加大融资担保支持力度" in refusal


def _docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.parametrize("name, data, message", [
    ("../../etc/passwd.txt", "政策文本".encode(), None),  # traversal is reduced to a base name
    ("fake.md", b"%PDF-1.4 ...", "扩展名与内容不符"),
    ("notes.exe", b"MZ\x90\x00", "只接受"),
    ("fake.pdf", "其实是文本".encode(), "扩展名与内容不符"),
    ("fake.docx", b"PK\x03\x04broken", "压缩包已损坏"),
    ("binary.txt", bytes(range(256)) * 4, "不是可读取的文本文件"),
    ("big.txt", b"a" * (1024 * 1024 + 1), "文件过大"),
    ("...", b"x", "无效"),
    ("empty.txt", b"", "文件为空"),
])
def test_upload_validation(tmp_path, seed_settings, name, data, message):
    settings = dataclasses.replace(seed_settings, corpus_dir=tmp_path, upload_max_mb=1)
    if message is None:
        saved = accept_upload(settings, name, data)
        assert saved.path == (tmp_path / "passwd.txt").resolve() and saved.kind == "txt"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["passwd.txt"]
        return
    with pytest.raises(UploadError, match=message):
        accept_upload(settings, name, data)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, kind", [("措施.md", "md"), ("措施.html", "html"), ("措施.htm", "htm")])
def test_every_text_kind_the_indexer_reads_can_be_uploaded(tmp_path, seed_settings, name, kind):
    settings = dataclasses.replace(seed_settings, corpus_dir=tmp_path)
    saved = accept_upload(settings, name, "<p>（一）测试措施。</p>".encode())
    assert saved.kind == kind and saved.path.name == name


def test_docx_and_pdf_are_recognised_by_content(tmp_path, seed_settings):
    settings = dataclasses.replace(seed_settings, corpus_dir=tmp_path)
    assert accept_upload(settings, "a.docx", _docx_bytes()).kind == "docx"
    assert accept_upload(settings, "b.pdf", b"%PDF-1.4\n%%EOF").kind == "pdf"
    assert safe_name("政策/文件（2024）.txt") == "文件（2024）.txt"


def test_admin_password(seed_settings):
    assert not password_ok(seed_settings, "")  # no password set: admin is off
    settings = dataclasses.replace(seed_settings, admin_password="s3cret")
    assert password_ok(settings, "s3cret") and not password_ok(settings, "s3cre") and not password_ok(settings, None)


# ---------------------------------------------------------------- hostile upload names and places

POLICY_TEXT = "关于测试的通知\n一、支持措施\n（一）测试贴息。对测试企业给予贴息。（责任单位：州测试局）\n".encode()


@pytest.mark.parametrize("name, saved_as", [
    ("/etc/cron.d/evil.txt", "evil.txt"),  # absolute path: only the base name is kept
    ("C:\\Windows\\System32\\evil.txt", "evil.txt"),  # Windows path
    ("..\\..\\evil.txt", "evil.txt"),
    ("\\\\server\\share\\evil.txt", "evil.txt"),  # UNC path
    ("evil\x00.txt", "evil_.txt"),  # NUL byte
    ("ev\nil\r.txt", "ev_il_.txt"),  # line breaks (log injection)
    ("..txt", "txt"),  # would be hidden: rejected below as it has no suffix left
    ("%2e%2e%2fevil.txt", "_2e_2e_2fevil.txt"),  # URL-encoded traversal stays a plain name
    ("政策" * 200 + ".txt", None),  # very long: shortened, suffix kept, fits the file system
    ("a" * 300 + ".txt", None),
])
def test_hostile_upload_names_stay_inside_the_corpus(tmp_path, seed_settings, name, saved_as):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    settings = dataclasses.replace(seed_settings, corpus_dir=corpus)
    if saved_as == "txt":
        with pytest.raises(UploadError):
            accept_upload(settings, name, POLICY_TEXT)
        assert list(tmp_path.rglob("*.txt")) == []
        return
    saved = accept_upload(settings, name, POLICY_TEXT)
    assert saved.path.parent == corpus.resolve() and saved.path.read_bytes() == POLICY_TEXT
    assert saved.path.suffix == ".txt" and len(saved.path.name.encode("utf-8")) <= 255
    if saved_as:
        assert saved.path.name == saved_as
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [saved.path]


def plant_link(tmp_path: Path, seed_settings, link_name: str):
    """A corpus folder holding ``link_name`` -> a file outside it; returns (settings, corpus, target)."""
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    corpus.mkdir()
    outside.mkdir()
    target = outside / "victim.txt"
    target.write_text("不能被覆盖", encoding="utf-8")
    (corpus / link_name).symlink_to(target)
    return dataclasses.replace(seed_settings, corpus_dir=corpus), corpus, target


def test_upload_does_not_follow_a_symlink_named_like_the_upload(tmp_path, seed_settings):
    settings, corpus, target = plant_link(tmp_path, seed_settings, "policy.txt")
    try:
        saved = accept_upload(settings, "policy.txt", POLICY_TEXT)
    except UploadError:
        saved = None
    assert target.read_text(encoding="utf-8") == "不能被覆盖"
    if saved is not None:  # replacing the link itself is fine: the file now lives inside the corpus
        assert not saved.path.is_symlink() and saved.path.parent == corpus.resolve()


def test_upload_temp_file_is_not_a_predictable_symlink(tmp_path, seed_settings):
    """The temporary file is created fresh (O_EXCL): a planted link named like it is not written through."""
    settings, corpus, target = plant_link(tmp_path, seed_settings, ".upload-new.txt")
    saved = accept_upload(settings, "new.txt", POLICY_TEXT)
    assert target.read_text(encoding="utf-8") == "不能被覆盖"
    assert saved.path == (corpus / "new.txt").resolve() and saved.path.read_bytes() == POLICY_TEXT
    assert not [p for p in corpus.iterdir() if p.name.startswith(".upload") and not p.is_symlink()]


def test_upload_into_a_symlinked_corpus_folder_is_refused_or_kept_inside(tmp_path, seed_settings):
    real = tmp_path / "real-corpus"
    real.mkdir()
    (tmp_path / "corpus").symlink_to(real, target_is_directory=True)
    settings = dataclasses.replace(seed_settings, corpus_dir=tmp_path / "corpus")
    saved = accept_upload(settings, "ok.txt", POLICY_TEXT)
    assert saved.path == real.resolve() / "ok.txt"


def test_match_endpoint(client):
    data = client.predict("个体工商户", "餐饮", ["首贷"], ["贷款"], "临夏州", api_name="/match")
    assert data["profile"]["type"] == "个体工商户" and data["region"] == "临夏回族自治州"
    explicit = [m for m in data["measures"] if m["group"] == "明确适用"]
    assert "linxia-2022-84#13" in [m["clause_id"] for m in explicit]  # 个体工商户贷款余额、户数持续增长
    assert all(set(m) >= {"clause_id", "group", "title", "benefit", "figures", "conditions", "units", "notes"}
               for m in data["measures"])
    assert any(m["group"] == "可能适用" for m in data["measures"])
    # The seed does not apply in 浙江省: nothing to offer there.
    assert client.predict("小型企业", "", [], ["贷款"], "浙江省", api_name="/match")["measures"] == []
    with pytest.raises(Exception, match="不在可选范围内"):
        client.predict("大企业", "", [], [], "", api_name="/match")
    # The chat's everyday words, each said as the choice it became; results by what they are to the owner.
    data = client.predict("个体户", "开饭馆的", [], ["贷款还不上"], "临夏州", api_name="/match")
    assert data["profile"]["type"] == "个体工商户" and data["profile"]["needs"] == ["延期还本付息"]
    assert "“开饭馆的”按行业“餐饮”查找。" in data["read_as"]
    assert data["measures"][0]["result"] == "可以申请" and data["measures"][0]["lead"]


def test_the_chat_disables_send_while_answering_and_keeps_sources_in_each_message(service):
    """The chat handler: 发送 off from the first update until the answer is complete; the answer's clause
    cards inside its own message (the earlier answers keep theirs); an empty send adds nothing."""
    from assistant.web.chat import EMPTY_HINT, Handlers

    handlers = Handlers(service)
    updates = list(handlers.respond("创业担保贷款最高能贷多少？", [], []))
    chat, answers, _, send, hint, _, saved = updates[-1]
    assert updates[0][3]["interactive"] is False and send["interactive"] is True and hint == ""
    assert "<strong>300万元</strong>" in chat[-1]["content"]
    assert saved["current"]["answers"][0]["question"] == "创业担保贷款最高能贷多少？"  # kept in the browser
    message = chat[-1]["content"]
    assert f"<details class='cite' data-clause='{cid(6)}'>" in message
    assert SEED_ID not in re.sub(r"data-clause='[^']*'", "", message)  # no internal id a person would see
    later = list(handlers.respond("融资担保费率是多少？", chat, answers))[-1]
    assert "创业担保贷款" in later[0][1]["content"] and "<details class='cite'" in later[0][1]["content"]
    assert len(later[1]) == 2
    [empty] = list(handlers.respond("   ", later[0], later[1]))
    assert empty[0] == later[0] and empty[1] == later[1] and empty[4] == EMPTY_HINT


def test_hit_test_reports_each_channel_and_the_refusal(service):
    from assistant.web.chat import Handlers
    from assistant.web.render import channel_label

    handlers = Handlers(service)
    shown = handlers.hit_test("创业担保贷款最高能贷多少？")
    names = [e.id for e in service.assistant.encoders]
    assert "结论</th><td>回答" in shown and all(f">{channel_label(n)}</th>" in shown for n in names)
    first = service.assistant.retriever.retrieve("创业担保贷款最高能贷多少？", 1).hits[0]
    assert set(first.channels) == set(names) and first.channels[names[0]] == pytest.approx(first.dense, abs=1e-4)
    assert "拒答" in handlers.hit_test("深圳的创业补贴标准是多少？")
    assert "请输入" in handlers.hit_test("  ")


def test_only_corpus_folder_files_can_be_deleted(tmp_path, seed_settings):
    from assistant.web.admin import corpus_files, remove_file

    settings = dataclasses.replace(seed_settings, corpus_dir=tmp_path)
    (tmp_path / "甲.txt").write_text("（一）措施。", encoding="utf-8")
    (tmp_path / ".upload-x.txt").write_text("x", encoding="utf-8")  # an upload in progress: not listed
    (tmp_path / "manifest.toml").write_text("", encoding="utf-8")
    assert corpus_files(settings) == ["甲.txt"]
    path, data = remove_file(settings, "甲.txt")
    assert not path.exists() and data == "（一）措施。".encode()
    for name in ("甲.txt", "../etc/passwd", "manifest.toml", ".upload-x.txt"):
        with pytest.raises(UploadError, match="没有文件"):
            remove_file(settings, name)
