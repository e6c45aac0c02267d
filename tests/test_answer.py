"""Answering on the real corpus and index: routing, glossary, refusal, validity notes, follow-ups, verifier."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.answer.assistant import Assistant
from assistant.answer.grounding import verify
from assistant.lexicon import Lexicon
from assistant.search.routing import Router
from assistant.search.text import normalize
from tests.support import SEED_ID

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

TODAY = dt.date(2026, 11, 27)


@pytest.fixture(scope="module")
def assistant(seed_settings, seed_index):
    return Assistant.from_settings(seed_settings, index=seed_index, today=TODAY)


def cid(n: int) -> str:
    return f"{SEED_ID}#{n}"


@pytest.mark.parametrize("question, number, whole", [
    ("第十二条", 12, True), ("第12条", 12, True), ("（十二）", 12, True), ("(十二)", 12, True),
    ("第六条讲什么", 6, True), ("第六条的贴息比例是多少", 6, False),
])
def test_clause_references_go_straight_to_the_clause(seed_index, question, number, whole):
    route = Router(seed_index, Lexicon.load()).route(normalize(question))
    assert route.kind == "clause" and route.clauses[0].clause_id == cid(number)
    assert route.whole_clause is whole


@pytest.mark.parametrize("question, unit, expected", [
    ("州税务局负责哪些措施", "州税务局", [2, 3, 17, 28]),
    ("州市场监管局是哪些条款的责任单位", "州市场监管局", [2, 3, 5, 6, 9, 17, 18]),
    ("州工信局负责哪些措施？", "州工信局", [4, 7, 9, 10, 11, 17, 18, 20, 28]),
    ("税务局牵头哪些", "州税务局", [2, 3, 17, 28]),
])
def test_unit_questions_list_every_clause_from_metadata(assistant, question, unit, expected):
    answer = assistant.ask(question)
    assert answer.route == "unit"
    assert [c.clause_id for c in answer.citations] == [cid(n) for n in expected]
    assert answer.text.startswith(f"{unit}是以下")
    assert all(unit in c.quote for c in answer.citations)


@pytest.mark.parametrize("question", ["这个文件的文号是多少", "什么时候印发的", "发文机关是谁"])
def test_document_questions_go_to_the_preamble(assistant, question):
    answer = assistant.ask(question)
    assert answer.route == "document" and answer.citations[0].clause_id == cid(0)
    assert "临州办发〔2022〕84号" in answer.text and "2022年11月27日" in answer.text
    assert "甘政办发〔2022〕101号" in answer.text and "不在本库中" in answer.text


def test_fact_answer_quotes_figures_verbatim_with_citation(assistant):
    answer = assistant.ask("融资担保费率是多少？")
    assert not answer.refused and answer.retrieved[0] == cid(4)
    assert "1%" in answer.text and "1.5%" in answer.text
    assert "〔临州办发〔2022〕84号 第（四）条 加大融资担保支持力度〕" in answer.text
    assert "责任单位：州政府金融办" in answer.text
    quote = answer.citations[0]
    source = (seed_text := assistant.index.by_id[cid(4)]).text
    assert quote.quote in source
    assert seed_text.start <= quote.start < quote.end <= seed_text.end
    assert set(answer.timings) >= {"retrieve", "compose", "verify", "total"}


@pytest.mark.parametrize("question, expected", [
    ("利息补贴有哪些", 6),  # 利息补贴 → 贴息
    ("我想去新三板上市有啥支持？", 7),  # 上市 → 挂牌融资
    ("跟银行有纠纷不想打官司怎么办", 26),  # 打官司 → 金融纠纷调解
])
def test_glossary_maps_everyday_words(assistant, question, expected):
    assert assistant.retriever.glossary.expand(question).terms
    assert cid(expected) in assistant.ask(question).retrieved[:3]


def test_traditional_and_english_questions(assistant):
    assert assistant.ask("創業擔保貸款最高額度是多少？").retrieved[0] == cid(6)
    english = assistant.ask("What is the cap on the financing guarantee fee rate?")
    assert cid(4) in english.retrieved[:3]


NOT_ANSWERED = "现有政策文件中没有找到能回答这个问题的规定。"


@pytest.mark.parametrize("question, lead", [
    ("增值税留抵退税怎么办", NOT_ANSWERED),
    ("深圳的创业补贴标准", "本库没有深圳市的政策文件，无法回答该地区或层级的规定。"),  # an area with no documents
    ("2024年有哪些新的小微企业贷款政策？", NOT_ANSWERED),
    ("办理这些政策的咨询电话是多少？", NOT_ANSWERED),  # nothing the documents say is about it
])
def test_refusal_is_one_sentence_with_hotline_and_nearest_clauses(assistant, question, lead):
    answer = assistant.ask(question)
    assert answer.refused and not answer.citations
    assert answer.text.startswith(lead)
    assert "12345" in answer.text and "可能相关" in answer.text
    assert len(answer.related) == 3 and answer.notes


def test_a_measure_without_what_was_asked_is_a_partial_answer(assistant):
    """创业担保贷款 is there; a list of materials is not: said as a partial answer, with its clause."""
    answer = assistant.ask("创业担保贷款的申请需要准备哪些材料？")
    lead = answer.text.split("\n\n")[0]
    assert answer.partial and not answer.refused and lead.endswith("；但没有规定材料。") and not answer.checks
    assert answer.citations[0].clause_id == cid(6)


def test_answerable_question_is_not_refused(assistant):
    assert not assistant.ask("我开饭馆的，贷款还不上能缓缓吗？").refused


def test_expired_deadline_gives_a_validity_note(assistant):
    late = assistant.ask("延期还本付息政策到什么时候？")
    assert late.retrieved[0] == cid(8)
    assert any("2022年底" in n and "已过" in n for n in late.notes)
    early = assistant.ask("延期还本付息政策到什么时候？", today=dt.date(2022, 12, 1))
    assert not any("已过" in n for n in early.notes)


def test_follow_ups_resolve_against_the_previous_turn(assistant):
    first = assistant.ask("融资担保费率是多少？")
    who = assistant.ask("这条谁负责？", history=[first])
    assert who.citations[0].clause_id == first.citations[0].clause_id == cid(4)
    assert "临夏金控融资担保公司" in who.text
    more = assistant.ask("那担保费呢？", history=[assistant.ask("创业担保贷款贴息怎么算？")])
    assert more.retrieved[0] == cid(4)


def test_empty_and_huge_questions_are_polite(assistant):
    empty = assistant.ask("   ")
    assert empty.refused and "请输入" in empty.text
    huge = assistant.ask("贷款" * 3000)
    assert any("2000" in n for n in huge.notes)


def test_verifier_rejects_numbers_not_in_cited_clause(seed_index):
    clause = seed_index.by_id[cid(6)]
    good = verify("创业担保贷款最高额度为300万元，贴息按不高于贷款本金2.88%给予[1]。", {1: clause})
    assert good.ok, good.problems
    bad = verify("创业担保贷款最高额度为500万元[1]。", {1: clause})
    assert not bad.ok and any("500万元" in p for p in bad.problems)
    wrong_marker = verify("最高额度为300万元[2]。", {1: clause})
    assert not wrong_marker.ok and any("[2]" in p for p in wrong_marker.problems)
    # 30 is not "in" the clause just because 300 is.
    assert not verify("最高30万元[1]", {1: clause}).ok


def test_chain_runs_retrieve_compose_verify(assistant):
    answer = assistant.as_chain().invoke({"question": "创业担保贷款最高额度是多少？"})
    assert answer.citations and answer.citations[0].clause_id == cid(6) and "300万元" in answer.text


def test_langchain_retriever_interface(assistant):
    docs = assistant.retriever.as_langchain().invoke("融资担保费率")
    assert docs[0].metadata["clause_id"] == cid(4) and docs[0].metadata["why"]


def test_two_units_get_the_measures_they_share(assistant):
    answer = assistant.ask("州人社局和州民委负责哪条措施？")
    assert answer.route == "unit" and [c.clause_id for c in answer.citations] == [cid(6)]
    assert answer.text.startswith("州人社局、州民委是以下一条措施的共同责任单位")


def test_english_question_about_the_document_goes_to_the_preamble(assistant):
    answer = assistant.ask("Who issued this document, and on what date?")
    assert answer.route == "document" and "2022年11月27日" in answer.text


def test_list_question_quotes_every_measure_not_just_the_heading(assistant):
    answer = assistant.ask("文件里有哪些贴息政策？")
    assert "用好财政贴息政策。”" not in answer.text  # the bare heading sentence is not a quote
    for figure in ("300万元", "2.88%", "50%"):
        assert figure in answer.text
    assert len({c.clause_id for c in answer.citations}) >= 2


def test_unit_answer_lists_at_most_the_limit_and_says_how_many(tmp_path):
    from assistant.answer.assistant import MAX_LISTED_CLAUSES
    from assistant.search.build import build_index
    from tests.support import make_settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    measures = "\n".join(f"{n}. 测试措施{n}。对测试企业给予支持。（责任单位：州测试局）" for n in range(1, 36))
    (corpus / "many.txt").write_text(f"关于测试措施的通知\n{measures}\n", encoding="utf-8")
    settings = make_settings(corpus, tmp_path / "index")
    build_index(settings)
    answer = Assistant.from_settings(settings, today=TODAY).ask("州测试局负责哪些措施")
    assert answer.route == "unit" and len(answer.citations) == MAX_LISTED_CLAUSES
    assert answer.text.startswith(f"州测试局是35条措施的责任单位，以下列出前{MAX_LISTED_CLAUSES}条")
