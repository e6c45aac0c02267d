"""Clause ids that are unique by construction: inserted articles (第X条之一), 编/章/节 nesting, numbers
printed twice, files of the same name in two folders, and the real laws that once broke a build."""

from __future__ import annotations

from collections import Counter

import pytest

from assistant.corpus.ingest import load_corpus
from assistant.corpus.structure import parse_document
from assistant.models import Document
from tests.support import REALDOCS, memory_assistant

AMENDED = """# 测试市企业融资促进条例

<!-- INFO END -->

## 第一编 总则

### 第一章 一般规定

第一条 为了促进企业融资，制定本条例。

第二条 本条例适用于本市行政区域内的企业融资活动。

### 第二章 融资支持

#### 第一节 信贷

第三条 银行业金融机构应当加大对小型微型企业的信贷支持。

第三条之一 银行业金融机构对首次贷款的小型微型企业，贷款利率不高于同期平均水平。

第三条之二 首次贷款的小型微型企业可以申请贷款贴息。

#### 第二节 担保

第四条 政府性融资担保机构的担保费率不高于1%。

## 第二编 附则

第五条 本条例自2024年1月1日起施行。
"""


def numbered(clauses):
    return [c for c in clauses if c.number != "0"]


def test_inserted_articles_are_clauses_of_their_own_with_readable_ids():
    clauses = numbered(parse_document(Document("amended", "amended.md", "测试市企业融资促进条例", text=_md(AMENDED))))
    assert [c.number for c in clauses] == ["1", "2", "3", "3之1", "3之2", "4", "5"]
    assert [c.label for c in clauses][3:5] == ["第三条之一", "第三条之二"]
    assert clauses[3].clause_id == "amended#3之1" and clauses[3].text.startswith("第三条之一 银行业金融机构对首次贷款")
    # The innermost part an article stands in, as printed: 编, 章 or 节.
    assert [c.section_label for c in clauses] == [
        "第一章 一般规定", "第一章 一般规定", "第一节 信贷", "第一节 信贷", "第一节 信贷", "第二节 担保", "第二编 附则"]


def test_a_question_can_name_an_inserted_article():
    assistant = memory_assistant(_md(AMENDED))
    answer = assistant.ask("第三条之一是怎么规定的？")
    assert answer.route == "clause" and answer.citations[0].clause_id == "doc1#3之1"
    assert "第三条之一" in answer.citations[0].heading
    assert assistant.ask("第三条讲什么？").citations[0].clause_id == "doc1#3"


def test_a_number_printed_twice_still_gives_unique_ids():
    text = ("测试办法\n第一条 第一项内容。\n第二条 第二项内容。\n第二条 印重了的第二条。\n第三条 第三项内容。\n")
    clauses = parse_document(Document("twice", "twice.txt", "测试办法", text=text))
    ids = [c.clause_id for c in clauses]
    assert len(set(ids)) == len(ids) == 5
    # By their order in the document, so every article stays citable; the labels stay as printed.
    assert [c.number for c in numbered(clauses)] == ["1", "2", "3", "4"]
    assert [c.label for c in numbered(clauses)] == ["第一条", "第二条", "第二条", "第三条"]


def test_files_of_the_same_name_in_two_folders_are_both_kept(tmp_path):
    for place, rate in (("甲市", "1%"), ("乙市", "1.5%")):
        (tmp_path / place).mkdir()
        (tmp_path / place / "融资担保办法.txt").write_text(
            f"{place}融资担保办法\n第一条 担保费率不高于{rate}。\n第二条 本办法自印发之日起施行。\n", encoding="utf-8")
    (tmp_path / "丙市").mkdir()
    (tmp_path / "丙市" / "融资担保办法.txt").write_bytes((tmp_path / "甲市" / "融资担保办法.txt").read_bytes())
    corpus = load_corpus(tmp_path)
    assert sorted(d.doc_id for d in corpus.documents) == ["乙市-融资担保办法", "融资担保办法"]
    # A byte-identical copy is named and skipped: the same text twice would only split its citations.
    assert [(p.path.split("/")[-2], p.reason) for p in corpus.problems] == [
        ("甲市", "与 丙市/融资担保办法.txt 内容相同，已跳过")]  # files are read in path order


def test_front_matter_of_a_markdown_file_is_not_text(tmp_path):
    (tmp_path / "_index.md").write_text("---\nbookCollapseSection: true\n---\n", encoding="utf-8")
    (tmp_path / "条例.md").write_text("---\nweight: 3\n---\n" + AMENDED, encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert [d.title for d in corpus.documents] == ["测试市企业融资促进条例"]
    assert "weight" not in corpus.documents[0].text
    assert [(p.path.endswith("_index.md"), p.reason) for p in corpus.problems] == [(True, "文件中没有文字内容")]


def test_html_comments_of_a_markdown_file_are_not_text(tmp_path):
    # The laws folder's converter leaves <!-- INFO END --> after each preamble and marks tables.
    (tmp_path / "条例.md").write_text(AMENDED + "\n<!-- TABLE -->\n| 项目 | 额度 |\n<!-- TABLE\nEND -->\n", encoding="utf-8")
    text = load_corpus(tmp_path).documents[0].text
    assert "<!--" not in text and "-->" not in text
    assert "| 项目 | 额度 |" in text and "第一条" in text


LAWS = REALDOCS / "laws"


@pytest.fixture(scope="module")
def laws():
    if not LAWS.is_dir():
        pytest.skip(f"real documents not found at {LAWS} (CI has ../shared/realdocs beside the checkout)")
    return LAWS


def _parsed(path):
    corpus = load_corpus(path.parent)
    doc = next(d for d in corpus.documents if d.path == path.name)
    return parse_document(doc)


def test_the_criminal_law_with_its_inserted_articles_has_unique_ids(laws):
    clauses = _parsed(laws / "刑法" / "刑法.md")
    ids = Counter(c.clause_id for c in clauses)
    assert not [i for i, n in ids.items() if n > 1]
    by_number = {c.number: c for c in clauses}
    inserted = by_number["133之1"]
    assert inserted.label == "第一百三十三条之一" and inserted.text.startswith("第一百三十三条之一")
    assert by_number["133"].label == "第一百三十三条" and by_number["452"].label == "第四百五十二条"
    assert sum("之" in c.number for c in clauses) >= 30
    # Numbering runs through the whole law (no per-chapter restart): 第一条 … 第四百五十二条.
    assert by_number["1"].section_label == "第一章 刑法的任务、基本原则和适用范围"
    assert by_number["17之1"].section_label == "第一节 犯罪和刑事责任"


def test_a_code_in_books_and_chapters_keeps_its_article_numbers(laws):
    clauses = numbered(_parsed(laws / "民法典" / "合同编.md"))
    assert len({c.clause_id for c in clauses}) == len(clauses) > 50
    assert all(c.clause_id.split("#")[1].replace("之", "").isdigit() for c in clauses)
    assert all(c.section_label.startswith("第") for c in clauses[1:])


def _md(text: str) -> str:
    """``text`` as the Markdown reader gives it (heading hashes dropped)."""
    from assistant.corpus.readers import read_md

    return read_md(None, text.encode("utf-8"))[0]
