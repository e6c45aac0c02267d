"""The answer a person reads: its first line answers, from the cited clause's own words (fast lane).

Two small documents of our own, a prefecture's measures and a national regulation, over an in-memory
index with the real parser, jieba, lexicon and verifier (deterministic test encoder). Whether the first
line states the expected fact on real questions is the eval's business (evals/qa_answer.jsonl); these
tests pin the shapes: a figure in bold, the asker's range, one line per level and per side, a partial
answer said as one, definitions, who, yes/no, and a first line the verifier can check.
"""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.answer.assistant import Assistant
from assistant.answer.grounding import verify_lead
from assistant.lexicon import Lexicon
from assistant.search.index import Index
from tests.support import HashingEncoder, memory_document

LOCAL = """临夏州金融支持小微企业测试措施
测临办发〔2025〕3号
（一）创业担保贷款。对符合条件的小微企业提供最高额度为300万元的创业担保贷款，贷款期限不超过3年。（责任单位：州人社局、州财政局、州金融办、州市场监管局、州工信局）
（二）融资担保费率。单户1000万元(含)以下的融资担保费率不高于1%，单户1000万元以上的融资担保费率不高于1.5%。（责任单位：州金融办）
（三）延期还本付息。对受疫情影响的个体工商户贷款实施延期还本付息，延期贷款不影响征信记录。（责任单位：人行测试州中心支行）
（四）首贷服务。银行要优先为首贷户提供担保，新增首贷户数量高于上年。（责任单位：州金融办）
"""
NATIONAL = """测试中小企业款项条例
第一条 为了保障中小企业款项支付，制定本条例。
第二条 本条例所称中小企业，是指依法设立，依据国务院批准的中小企业划分标准确定的中型企业、小型企业和微型企业。
第三条 机关、事业单位应当自货物交付之日起30日内支付款项；合同另有约定的，付款期限最长不得超过60日。
第四条 机关、事业单位不得强制中小企业接受商业汇票等非现金支付方式。
第五条 融资担保机构对单户担保金额500万元及以下的小微企业收取的担保费率原则上不超过1%，对单户担保金额500万元以上的小微企业收取的担保费率原则上不超过1.5%。
"""
TODAY = dt.date(2026, 12, 2)


@pytest.fixture(scope="module")
def assistant():
    docs = [memory_document(LOCAL, "local", level="州", place="临夏回族自治州", region_code="6229"),
            memory_document(NATIONAL, "national", level="国家", title="测试中小企业款项条例",
                            short_name="测试中小企业款项条例")]
    encoder = HashingEncoder()
    index = Index.in_memory(docs, encoder)
    return Assistant(index.settings, index, encoder, Lexicon.load(), today=TODAY)


def first_lines(answer) -> list[str]:
    return answer.text.split("\n\n")[0].splitlines()


def test_a_figure_question_opens_with_the_figure_in_bold(assistant):
    answer = assistant.ask("创业担保贷款最高能贷多少？", region="临夏州")
    assert first_lines(answer) == ["对符合条件的小微企业提供最高额度为**300万元**的创业担保贷款"]
    assert answer.citations[0].clause_id == "local#1" and not answer.checks and not answer.partial
    assert "“对符合条件的小微企业提供最高额度为300万元的创业担保贷款" in answer.text  # the clause under it


def test_the_askers_own_figure_picks_its_range_at_every_level(assistant):
    answer = assistant.ask("我贷款1200万，担保费率最高多少？", region="临夏州")
    lines = first_lines(answer)
    assert [ln.split("：")[0] for ln in lines] == ["本地（临夏州）", "国家"]
    assert all("**1.5%**" in ln and "**1%**" not in ln for ln in lines), lines
    small = first_lines(assistant.ask("我贷款300万，担保费率最高多少？", region="临夏州"))
    assert all("**1%**" in ln and "**1.5%**" not in ln for ln in small), small


def test_a_comparison_gives_each_side_its_line_and_quote(assistant):
    answer = assistant.ask("测临办发〔2025〕3号和测试中小企业款项条例对担保费率的规定分别是多少？")
    lines = first_lines(answer)
    assert [ln.split("：")[0] for ln in lines] == ["测临办发〔2025〕3号", "测试中小企业款项条例"], lines
    assert {c.clause_id for c in answer.citations} >= {"local#2", "national#5"}
    assert "【测临办发〔2025〕3号】" in answer.text and "【测试中小企业款项条例】" in answer.text


@pytest.mark.parametrize("question, says", [
    ("创业担保贷款需要准备哪些材料？", "；但没有规定材料。"),  # 创业担保贷款 is there, a list of materials is not
    ("首贷户是什么意思？", ""),  # used, never defined
])
def test_a_partial_answer_says_what_the_text_does_not(assistant, question, says):
    answer = assistant.ask(question, region="临夏州")
    lead = first_lines(answer)[0]
    assert answer.partial and not answer.refused and answer.citations and not answer.checks
    assert lead.endswith(says) if says else lead == "文件没有对“首贷户”作出定义。"


def test_a_defined_term_is_answered_by_its_definition(assistant):
    answer = assistant.ask("中小企业是什么意思？", region="临夏州")
    assert first_lines(answer)[0].startswith("本条例所称中小企业，是指依法设立") and not answer.partial


def test_who_is_responsible_names_every_unit(assistant):
    answer = assistant.ask("创业担保贷款找哪个部门？", region="临夏州")
    assert first_lines(answer) == ["责任单位：州人社局、州财政局、州金融办、州市场监管局、州工信局"]


@pytest.mark.parametrize("question, opens", [
    ("机关单位能强制我们收商业汇票吗？", "不得：机关、事业单位不得强制中小企业接受商业汇票等非现金支付方式"),
    ("延期还本付息会不会影响征信？", "文件规定："),
])
def test_a_yes_no_question_opens_with_the_texts_verdict(assistant, question, opens):
    lead = first_lines(assistant.ask(question, region="临夏州"))[0]
    assert lead.startswith(opens), lead
    assert "不影响征信记录" in lead or opens.startswith("不得")


def test_a_subject_no_document_names_is_refused(assistant):
    answer = assistant.ask("稳岗补贴怎么申请？", region="临夏州")
    assert answer.refused and not answer.citations


def test_the_verifier_checks_the_first_line_piece_by_piece(assistant):
    clause = [assistant.index.by_id["local#1"].text]
    assert not verify_lead(["对符合条件的小微企业提供最高额度为**300万元**的创业担保贷款"], clause)
    assert verify_lead(["创业担保贷款最高额度为**500万元**"], clause)  # a figure the clause does not state
    assert not verify_lead(["文件规定：贷款期限不超过3年；但没有规定材料。"], clause, ["材料"])
    assert verify_lead(["文件规定：贷款期限不超过3年；但没有规定利息。"], clause, ["材料"])


def test_the_y_of_something_else_does_not_answer_x_de_y():
    """国家融资担保基金的注册资本: a clause on 融资担保公司's 注册资本, ranked first but stating too little of the
    subject to pass on its own words, gives the Y of something else while other hits name X; the answer says
    what the text does say of X and that it gives no amount."""
    from tests.support import memory_assistant

    company = """测试融资担保公司管理办法
第一条 设立融资担保公司，注册资本不低于人民币2000万元，且为实缴货币资本。
第二条 融资担保公司应当按照审慎经营原则开展业务，注册资本应当与业务规模相适应。
第三条 融资担保公司变更注册资本的，应当经监督管理部门批准。
"""
    fund = """测试国家融资担保基金意见
（一）各地要充分依托现有政府性融资担保机构开展业务，主要通过再担保、股权投资等方式与省、市、县融资担保机构开展合作，国家融资担保基金予以支持，避免层层下设机构。
（二）省级再担保机构要加强对市县融资担保机构的业务指导。
"""
    answer = memory_assistant(company, fund, today=TODAY).ask("国家融资担保基金的注册资本是多少？")
    lead = first_lines(answer)[0]
    assert answer.partial or answer.refused, lead
    assert "2000万元" not in lead and "国家融资担保基金" in lead, lead
    same = memory_assistant(company, fund, today=TODAY).ask("融资担保公司的注册资本是多少？")
    assert "**2000万元**" in first_lines(same)[0]


def test_a_clause_number_several_documents_have_offers_each_as_a_choice_that_answers_it():
    """A bare 第二条 that two documents have: the answer asks which, with one choice per document; asking a
    choice's question answers that document's clause."""
    from tests.support import memory_assistant

    first = "测试担保办法\n第一条 为了规范担保，制定本办法。\n第二条 担保费率不高于百分之一。\n"
    second = "测试贴息办法\n第一条 为了规范贴息，制定本办法。\n第二条 贴息比例为百分之五十。\n"
    assistant = memory_assistant(first, second, today=TODAY)
    asked = assistant.ask("第二条")
    assert asked.clarify and len(asked.choices) == 2, asked.text
    labels, questions = zip(*asked.choices)
    assert any("测试担保办法" in label for label in labels) and any("测试贴息办法" in label for label in labels)
    for question in questions:
        answer = assistant.ask(question, [asked])
        says, not_says = ("担保费率", "贴息比例") if "担保" in question else ("贴息比例", "担保费率")
        assert says in answer.text and not_says not in answer.text and not answer.choices, (question, answer.text)
