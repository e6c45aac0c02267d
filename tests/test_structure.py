"""The clause parser on the real seed document (临州办发〔2022〕84号)."""

from __future__ import annotations

import hashlib

import pytest

from assistant.corpus.ingest import detect_metadata, load_corpus
from assistant.corpus.structure import body_text, extract_deadlines, parse_document, split_parts, split_units
from assistant.models import Document
from tests.support import CORPUS, SEED_ID

# sha256 of ../shared/seed/linxia-2022-84.txt as received: the corpus copy must stay byte-identical.
SEED_SHA256 = "06bf9f660941ab3d803f04200ce9b76196c1f821478c1a3471c2ab6bc7941a0d"


@pytest.fixture(scope="module")
def seed():
    corpus = load_corpus(CORPUS)
    doc = next(d for d in corpus.documents if d.doc_id == SEED_ID)
    return doc, parse_document(doc)


def test_seed_file_is_unchanged():
    assert hashlib.sha256((CORPUS / "linxia-2022-84.txt").read_bytes()).hexdigest() == SEED_SHA256


def test_seed_has_29_clauses_in_5_sections(seed):
    _, clauses = seed
    assert [c.clause_id for c in clauses] == [f"{SEED_ID}#{n}" for n in range(29)]
    sections = {(c.section_number, c.section) for c in clauses if c.number != "0"}
    assert len(sections) == 5
    assert ("一", "落实金融政策措施，加大信贷投放力度") in sections
    assert ("五", "凝聚合力强化保障，担当尽责推动落实") in sections
    assert clauses[9].section_number == "二" and clauses[8].section_number == "一"


def test_titles_and_labels(seed):
    _, clauses = seed
    by_number = {c.number: c for c in clauses}
    assert by_number["6"].title == "用好财政贴息政策"
    assert by_number["6"].label == "(六)"
    assert by_number["18"].title == "用好省一体化融资信用服务平台网络"
    assert by_number["28"].label == "(二十八)"
    assert by_number["28"].title == "明确职责推动政策落地见效"


def test_spans_round_trip_to_source(seed):
    doc, clauses = seed
    for clause in clauses:
        assert doc.text[clause.start:clause.end] == clause.text
    # Clauses follow each other in order and do not overlap.
    assert all(a.end <= b.start for a, b in zip(clauses, clauses[1:]))


def test_preamble_is_clause_zero(seed):
    _, clauses = seed
    preamble = clauses[0]
    assert preamble.number == "0"
    assert "临州办发〔2022〕84号" in preamble.text
    assert "2022年11月27日" in preamble.text
    assert preamble.text.rstrip().endswith("提出如下措施。")
    assert "一、落实金融政策措施" not in preamble.text


def test_heading_stays_with_body(seed):
    _, clauses = seed
    clause = clauses[6]
    assert clause.text.startswith("(六)用好财政贴息政策。对符合条件的小微企业")
    assert clause.text.endswith("各银行业金融机构)")


def test_units_are_a_clean_list(seed):
    _, clauses = seed
    assert "临夏金控融资担保公司" in clauses[4].units
    assert clauses[6].units[0] == "州财政局"
    # "各县市政府和临夏经济开发区管委会" is two units; 州财政局（国资委） keeps its name only.
    assert "各县市政府" in clauses[7].units and "临夏经济开发区管委会" in clauses[7].units
    assert "州财政局" in clauses[7].units
    assert all("（" not in u and "(" not in u and "和临夏" not in u for c in clauses for u in c.units)
    assert "州税务局" in clauses[2].units and "州税务局" not in clauses[1].units
    assert clauses[0].units == ()


def test_figures_and_deadlines(seed):
    _, clauses = seed
    assert {"300万元", "2.88%", "150个基点", "50%"} <= set(clauses[6].figures)
    assert {"1000万元", "1%", "1.5%", "50万元"} <= set(clauses[4].figures)
    assert "3个百分点" in clauses[21].figures
    assert [(d.text, d.date) for d in clauses[8].deadlines] == [("2022年底", "2022-12-31")]
    # The issue date in the preamble is not a deadline.
    assert clauses[0].deadlines == ()


def test_deadline_forms():
    found = {d.text: d.date for d in extract_deadlines("执行至2024年12月31日；2023年6月底前完成；截至2025年")}
    assert found == {"2024年12月31日": "2024-12-31", "2023年6月底前": "2023-06-30", "2025年": "2025-12-31"}
    assert extract_deadlines("力争2022年实现增长") == []


def test_unit_splitting_keeps_names_with_he():
    assert split_units("州住房和城乡建设局、各县市政府和临夏经济开发区管委会") == [
        "州住房和城乡建设局", "各县市政府", "临夏经济开发区管委会"]


def test_metadata_read_from_text_matches_manifest(seed):
    doc, _ = seed
    detected = detect_metadata(doc.text)
    assert detected["doc_number"] == doc.doc_number == "临州办发〔2022〕84号"
    assert detected["issue_date"] == doc.issue_date == "2022-11-27"
    assert detected["issuer"] == doc.issuer == "临夏回族自治州人民政府办公室"
    assert detected["title"] == doc.title
    assert detected["cites"] == ["甘政办发〔2022〕101号"]


def test_long_clause_is_split_at_sentence_ends(seed):
    _, clauses = seed
    clause = clauses[28]
    parts = split_parts(clause, 120)
    assert len(parts) > 1
    assert [p.part_id for p in parts] == [f"{clause.clause_id}/{i}" for i in range(len(parts))]
    for part in parts[1:]:
        assert part.text.startswith(clause.title + "：")
    for part in parts:
        assert len(part.text) <= 120 + len(clause.title) + 1
    # Every sentence of the body is in exactly one part, at a sentence end.
    body = body_text(clause)
    rejoined = parts[0].text + "".join(p.text[len(clause.title) + 1:] for p in parts[1:])
    assert rejoined == body
    assert all(p.text.endswith(("。", "；")) for p in parts[:-1])
    # The 责任单位 note is not embedded; a short clause stays whole.
    assert "责任单位" not in body
    assert split_parts(clauses[7], 1000)[0].part_id == clauses[7].clause_id


def test_restarting_numbers_are_qualified_by_section():
    text = ("关于测试的通知\n一、总体要求\n（一）第一项内容。\n（二）第二项内容。\n"
            "二、保障措施\n（一）第三项内容。\n（二）第四项内容。\n")
    doc = Document("t", "t.txt", "关于测试的通知", text=text)
    numbers = [c.number for c in parse_document(doc)]
    assert numbers == ["0", "1.1", "1.2", "2.1", "2.2"]
