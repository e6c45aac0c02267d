"""Bad corpus files in a real build: each is reported naming its file (and line), and nothing indexed is lost.

tests/test_readers.py checks each reader on its own (empty, binary, truncated .docx/.pdf at 25 cut
points, bad encodings). Here the same kinds of file sit in ``corpus/`` next to the seed document and
go through ``build_index`` and ``open_index``: the good documents (GBK and UTF-16 ones included) are
indexed and answer, the bad ones are listed as problems, a document without numbering becomes
paragraph units that can be cited, a duplicate doc_id is skipped naming both files, and a manifest
with a syntax error names the file and line and leaves the previous index serving.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import docx
import pytest

from assistant.answer.assistant import Assistant
from assistant.corpus.ingest import load_corpus, load_manifest
from assistant.errors import ManifestError
from assistant.search.build import build_index, open_index
from assistant.search.index import Index
from assistant.search.layout import current_generation, is_stale, skipped_files
from tests.support import FIXTURES, SEED_ID, make_settings

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

POLICY = (FIXTURES / "readers" / "policy.txt").read_text(encoding="utf-8")
PLAIN = """关于做好小店经济金融服务的说明
小店经营者可以向辖区内的银行申请小额信用贷款，单户授信额度最高可达88万元，银行应当在5个工作日内给出审批结果。
对于经营困难的小店，银行可以协商调整还款计划，不得随意抽贷、断贷、压贷。
小店融资服务由县商务局会同县金融办负责协调推进。
"""


def docx_bytes(text: str) -> bytes:
    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


BAD = {
    "empty.txt": (b"", "文件为空"),
    "binary.txt": (bytes(range(256)) * 16, "二进制"),
    "truncated.docx": (docx_bytes(POLICY)[:3000], "Word"),
    "truncated.pdf": ((FIXTURES / "readers" / "policy.pdf").read_bytes()[:2000], "PDF"),
    "picture.png": (b"\x89PNG\r\n\x1a\n" + bytes(100), "不支持的文件类型"),
    "undecodable.txt": ("政策".encode("gbk") + b"\x80\xff\x80\xff", "编码"),
}


@pytest.fixture
def seeded(tmp_path, corpus_dir):
    """The seed corpus with a built index (the "already indexed" state every case starts from)."""
    settings = make_settings(corpus_dir, tmp_path / "index")
    build_index(settings)
    return settings


def test_bad_files_are_reported_and_good_encodings_indexed(seeded):
    corpus = seeded.corpus_dir
    for name, (data, _) in BAD.items():
        (corpus / name).write_bytes(data)
    (corpus / "gbk.txt").write_bytes(POLICY.replace("测试州", "甲州").encode("gbk"))
    (corpus / "utf16.txt").write_bytes(POLICY.replace("测试州", "乙州").encode("utf-16"))  # with BOM
    (corpus / "utf16le.txt").write_bytes(POLICY.replace("测试州", "丙州").encode("utf-16-le"))  # without
    stages: list[str] = []
    report = build_index(seeded, on_stage=stages.append)
    problems = {Path(p.path).name: str(p) for p in report.problems}
    assert set(problems) == set(BAD), problems
    for name, (_, reason) in BAD.items():
        assert name in problems[name] and reason in problems[name], problems[name]
    # Each stage is announced as it begins (what the admin page shows as progress), in order.
    assert stages == ["read", "parse", "vectors", "tokenize", "write"]
    # The generation keeps why each file was skipped (管理 lists it long after the build that found it).
    index = Index.open(seeded)
    kept = {Path(path).name: reason for path, reason in skipped_files(index.dir)}
    assert set(kept) == set(BAD), kept
    for name, (_, reason) in BAD.items():
        assert reason in kept[name], (name, kept[name])
    assert set(index.documents) == {SEED_ID, "gbk", "utf16", "utf16le"}
    assert index.document("utf16").doc_number == "乙州办发〔2024〕7号" or index.document("utf16").title
    assert sum(1 for c in index.clauses if c.doc_id == SEED_ID) == 29, "nothing already indexed is lost"
    for doc_id in ("gbk", "utf16", "utf16le"):
        assert sum(1 for c in index.clauses if c.doc_id == doc_id and c.number != "0") == 6
    # Skipped files do not make the index look stale, and the next build is a no-op.
    assert not is_stale(seeded) and build_index(seeded).unchanged


@pytest.mark.parametrize("suffix", [".txt", ".docx"])
def test_document_without_numbering_becomes_citable_paragraphs(seeded, suffix):
    path = seeded.corpus_dir / f"xiaodian{suffix}"
    path.write_bytes(PLAIN.encode("utf-8") if suffix == ".txt" else docx_bytes(PLAIN))
    report = build_index(seeded)
    assert report.problems == []
    index = Index.open(seeded)
    paragraphs = [c for c in index.clauses if c.doc_id == "xiaodian" and c.number != "0"]
    assert len(paragraphs) == 3
    assert all(c.text in PLAIN for c in paragraphs)
    assert index.by_id["xiaodian#0"].text == "关于做好小店经济金融服务的说明"
    answer = Assistant.from_settings(seeded, index=index).ask("小店信用贷款单户授信额度最高多少？")
    assert not answer.refused, answer.text
    assert answer.citations[0].clause_id == paragraphs[0].clause_id and "88万元" in answer.text
    assert "第1段" in answer.citations[0].heading
    # The numbering of other documents is untouched: 第十八条 still goes to the seed's measure.
    assert [c.clause_id for c in Assistant.from_settings(seeded, index=index).ask("第十八条").citations] == [f"{SEED_ID}#18"]


def test_duplicate_doc_id_is_skipped_naming_both_files(seeded):
    (seeded.corpus_dir / "new policy.txt").write_text(POLICY, encoding="utf-8")
    (seeded.corpus_dir / "new-policy.txt").write_text(POLICY.replace("测试州", "丁州"), encoding="utf-8")
    report = build_index(seeded)
    assert len(report.problems) == 1
    message = str(report.problems[0])
    assert "new-policy.txt" in message and "new policy.txt" in message and "重复" in message
    index = Index.open(seeded)
    assert "new-policy" in index.documents and SEED_ID in index.documents


MANIFEST_OK = f"""
[[document]]
doc_id = "{SEED_ID}"
file = "{SEED_ID}.txt"
"""


def test_manifest_duplicate_doc_id_names_the_lines(tmp_path):
    (tmp_path / "manifest.toml").write_text(MANIFEST_OK + MANIFEST_OK.replace(".txt", "-copy.txt"), encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path)
    message = str(info.value)
    assert "manifest.toml" in message and SEED_ID in message
    assert "第 2 行" in message and "第 6 行" in message, message


def test_manifest_syntax_error_names_file_and_line_and_keeps_the_index(seeded):
    manifest = seeded.corpus_dir / "manifest.toml"
    original = manifest.read_text(encoding="utf-8") if manifest.exists() else ""
    lines = original.splitlines() + ['[[document]]', 'doc_id = "broken', 'file = "x.txt"']
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad_line = len(lines) - 1
    before = current_generation(seeded.index_dir)
    with pytest.raises(ManifestError) as info:
        load_corpus(seeded.corpus_dir)
    message = str(info.value)
    assert str(manifest) in message and f"line {bad_line}" in message, message
    with pytest.raises(ManifestError):
        build_index(seeded)
    assert current_generation(seeded.index_dir) == before
    # The app starting now (auto_build on, corpus changed) serves the previous index and says why.
    logged: list[str] = []
    index = open_index(seeded, log=logged.append)
    assert index.dir == before and index.manifest.clause_count == 29
    assert any("manifest.toml" in m for m in logged), logged
    assert Assistant.from_settings(seeded, index=index).ask("创业担保贷款最高额度是多少？").citations[0].clause_id == f"{SEED_ID}#6"


def test_corpus_folder_removed_keeps_serving(seeded):
    shutil.rmtree(seeded.corpus_dir)
    index = open_index(seeded)
    assert index.manifest.clause_count == 29
