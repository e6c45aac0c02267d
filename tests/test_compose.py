"""Composing and grounding on a small document of our own, over an in-memory index (fast lane).

Real parser, jieba, BM25, lexicon and verifier; the deterministic test encoder instead of USE and no
Chroma, so these run in well under a second each. Ranking quality is the eval's business, not this file's.
"""

from __future__ import annotations

import datetime as dt
import typing

import pytest

from assistant.answer.grounding import CorpusText, evidence, should_refuse
from assistant.answer.routes import ROUTES, ComposeKind
from assistant.models import ROUTED, RouteKind
from tests.support import memory_assistant

POLICY = """测试州人民政府办公室关于支持小微企业融资的若干措施
测州办发〔2025〕7号
各县市人民政府：
为贯彻落实《甘肃省进一步强化金融支持中小微企业纾困发展实施方案》（甘政办发〔2022〕101号），制定以下措施。
测试州人民政府办公室
2025年3月1日
一、加大信贷支持
（一）发放创业担保贷款。对符合条件的个人创业者，创业担保贷款最高额度为30万元；小微企业创业担保贷款最高额度为300万元，贷款期限不超过3年。（责任单位：州人社局、州财政局）
（二）降低融资担保费率。政府性融资担保机构的担保费率不超过1%，单户担保金额500万元以下的不超过0.5%。（责任单位：州金融办）
（三）实施延期还本付息。对受影响的小微企业贷款，可延期还本付息，延期期限原则上不超过2023年底。（责任单位：人行测试州中心支行、州金融办）
二、优化金融服务
（四）推广线上信贷产品。鼓励银行机构开发线上信用贷款产品，实现随借随还。（责任单位：州金融办）
（五）开展银企对接活动。每季度至少组织一次银企对接会。（责任单位：州工信局）
"""
TODAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def assistant():
    return memory_assistant(POLICY, today=TODAY)


def cid(n: int) -> str:
    return f"doc1#{n}"


def test_a_figure_question_quotes_the_figures_with_citation_and_units(assistant):
    answer = assistant.ask("创业担保贷款最高额度是多少？")
    assert answer.route == "search" and not answer.refused and not answer.checks
    assert answer.citations[0].clause_id == cid(1)
    assert "30万元" in answer.text and "300万元" in answer.text
    assert "〔测州办发〔2025〕7号 第（一）条 发放创业担保贷款〕" in answer.text
    assert "责任单位：州人社局、州财政局" in answer.text
    quote = answer.citations[0]
    assert POLICY[quote.start:quote.end] == quote.quote  # spans index into the document text


def test_a_unit_question_lists_every_measure_of_the_unit(assistant):
    answer = assistant.ask("州金融办负责哪些措施")
    assert answer.route == "unit"
    assert [c.clause_id for c in answer.citations] == [cid(2), cid(3), cid(4)]
    assert answer.text.startswith("州金融办是以下三条措施的责任单位")
    assert all("州金融办" in c.quote for c in answer.citations)


def test_a_clause_number_gets_the_whole_clause(assistant):
    answer = assistant.ask("第（二）条")
    assert answer.route == "clause" and [c.clause_id for c in answer.citations] == [cid(2)]
    assert "全文" in answer.text and "不超过0.5%" in answer.text


def test_a_document_question_gets_the_documents_facts(assistant):
    answer = assistant.ask("这个文件的文号是多少")
    assert answer.route == "document" and answer.citations[0].clause_id == cid(0)
    assert "文号：测州办发〔2025〕7号" in answer.text and "印发日期：2025年3月1日" in answer.text


def test_a_follow_up_about_this_clause_names_its_units(assistant):
    first = assistant.ask("担保费率是多少？")
    assert first.citations[0].clause_id == cid(2)
    who = assistant.ask("这条谁负责？", [first])
    assert who.route == "followup" and who.citations[0].clause_id == cid(2)
    assert "的责任单位：州金融办" in who.text


def test_a_measure_past_its_deadline_gets_a_note(assistant):
    answer = assistant.ask("贷款到期还不上能延期还本付息吗？")
    assert answer.citations[0].clause_id == cid(3)
    assert any("期限已过" in n and "2023年底" in n for n in answer.notes)


def test_an_area_without_documents_is_refused(assistant):
    """深圳 has no document here: said so, with the nearest clauses, never answered from another area's."""
    answer = assistant.ask("深圳的创业担保贷款最高额度是多少？")
    assert answer.refused and not answer.citations and "本库没有深圳市的政策文件" in answer.text
    assert "12345" in answer.text and answer.related


def test_a_topic_no_document_mentions_is_refused(assistant):
    question = "小微企业的印花税能减免吗？"
    retrieval = assistant.retriever.retrieve(question)
    corpus = CorpusText.of(c.text for c in assistant.index.clauses)
    refuse, why = should_refuse(evidence(retrieval, corpus, assistant.lexicon), assistant.lexicon.refusal)
    assert refuse and "印花税" in why, why
    answer = assistant.ask(question)
    assert answer.refused and not answer.citations and "12345" in answer.text and answer.related


@pytest.mark.parametrize("question, clause, missing", [
    ("申请延期还本付息需要准备哪些材料？", 3, "材料"),  # the measure is there, a list of materials is not
    ("银企对接会的补贴标准是多少钱？", 5, "具体金额"),  # 银企对接 is there, no amount next to it
])
def test_the_subject_without_the_asked_thing_is_a_partial_answer(assistant, question, clause, missing):
    answer = assistant.ask(question)
    first = answer.text.split("\n\n")[0]
    assert answer.partial and not answer.refused and not answer.checks
    assert first.startswith("文件规定：") and first.endswith(f"；但没有规定{missing}。"), first
    assert answer.citations[0].clause_id == cid(clause)


def test_every_route_kind_has_a_composer_and_only_free_text_may_be_rephrased():
    kinds = set(typing.get_args(ComposeKind))
    assert set(ROUTES) == kinds and set(ROUTED) <= kinds and {s.route for s in ROUTES.values()} <= set(typing.get_args(RouteKind))
    assert {k for k, spec in ROUTES.items() if spec.llm} == {"search", "followup"}
