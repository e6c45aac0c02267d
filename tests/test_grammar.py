"""One grammar for figures: every figure the parser finds in a clause is one the verifier checks.

Mutation test on real clauses: each figure ``extract_figures`` finds, changed in its value or its
unit, must make ``verify`` reject an answer that states it, while the unchanged figure passes.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from assistant import grammar
from assistant.answer.grounding import verify
from assistant.corpus.ingest import load_corpus
from assistant.corpus.structure import extract_deadlines, extract_figures, parse_document
from assistant.models import Clause
from assistant.search.text import normalize
from tests.support import CORPUS, REALDOCS

CN_DIGITS = "一二三四五六七八九"
UNIT_FAMILIES = (grammar.AMOUNT_UNITS, grammar.RATE_UNITS, grammar.TERM_UNITS)


def clause(text: str) -> Clause:
    return Clause("t#1", "t", "1", "（一）", "", "", "标题", text, 0, len(text))


def value_mutations(figure: str) -> list[str]:
    """The figure with one digit changed (Arabic or Chinese numerals)."""
    out = []
    for i, ch in enumerate(figure):
        if ch.isdigit():
            out.append(figure[:i] + str((int(ch) + 1) % 10) + figure[i + 1:])
        elif ch in CN_DIGITS:
            out.append(figure[:i] + CN_DIGITS[(CN_DIGITS.index(ch) + 1) % 9] + figure[i + 1:])
    if not out and figure[0] in "十百千":  # 十倍 → 二十倍
        out.append("二" + figure)
    return out


def unit_mutations(figure: str) -> list[str]:
    """The figure with its unit swapped for another of the same kind (万元 → 亿元, % → ‰, 个月 → 年期)."""
    if figure[1:3] == "分之":
        return [("千" if figure[0] == "百" else "百") + figure[1:]]
    for family in UNIT_FAMILIES:
        unit = next((u for u in sorted(family, key=len, reverse=True) if figure.endswith(u)), None)
        if unit:
            stem = figure[: -len(unit)]
            return [stem + other for other in family if normalize(other) != normalize(unit)]
    return []


def seed_and_real_clauses() -> list[Clause]:
    folders = [CORPUS] + ([REALDOCS / "policy"] if (REALDOCS / "policy").is_dir() else [])
    out = []
    for folder in folders:
        for doc in load_corpus(folder).documents:
            out += [c for c in parse_document(doc) if c.figures]
    return out


CLAUSES = seed_and_real_clauses()


def test_there_are_figures_to_mutate():
    figures = {f for c in CLAUSES for f in c.figures}
    assert len(figures) >= 30, figures
    assert any(not f[0].isdigit() for f in figures), "no Chinese-numeral figure in the corpus"


@pytest.mark.parametrize("clause_", CLAUSES, ids=lambda c: c.clause_id)
def test_every_changed_figure_is_rejected(clause_):
    source = normalize(clause_.text)
    checked = 0
    for figure in clause_.figures:
        said = f"该措施的标准为{figure}。[1]"
        assert verify(said, {1: clause_}).ok, (figure, verify(said, {1: clause_}).problems)
        for mutated in value_mutations(figure) + unit_mutations(figure):
            if normalize(mutated) in source:
                continue  # the clause states that figure too: quoting it is grounded
            result = verify(f"该措施的标准为{mutated}。[1]", {1: clause_})
            assert not result.ok, f"{clause_.clause_id}: {figure} → {mutated} passed"
            checked += 1
    assert checked, clause_.figures


@pytest.mark.parametrize("text, said", [
    ("融资担保费率不超过3%。", "费率不超过3‰[1]"),  # the unit the verifier did not know
    ("贷款利率下降14%。", "利率下降4%[1]"),  # a figure inside a longer one is not stated
    ("最高贷款额度三百万元。", "最高四百万元[1]"),
    ("费率为千分之三。", "费率为百分之三[1]"),
    ("期限为3个月。", "期限为3年期[1]"),
    ("降低25个基点。", "降低25个百分点[1]"),
])
def test_figures_that_differ_from_the_clause_are_rejected(text, said):
    assert not verify(said, {1: clause(text)}).ok


@pytest.mark.parametrize("text, said", [
    ("融资担保费率不超过3%。", "费率不超过3％[1]"),  # full-width per cent is the same figure
    ("最高贷款额度300万元。", "最高三百万元[1]"),
    ("费率为千分之三。", "费率为3‰[1]"),
    ("执行至2022年底。", "2022年到期[1]"),
])
def test_the_same_figure_in_another_form_passes(text, said):
    assert verify(said, {1: clause(text)}).ok, verify(said, {1: clause(text)}).problems


def test_structure_and_verifier_share_one_unit_list():
    for unit in grammar.FIGURE_UNITS:
        assert extract_figures(f"标准为3{unit}。") == [f"3{unit}"], unit
        assert grammar.NUMBER.fullmatch(f"3{unit}"), unit


@pytest.mark.parametrize("text, expected", [
    ("一句。二句；三句！\n四句", ["一句", "二句", "三句", "四句"]),
    ("  ", []),
])
def test_sentences(text, expected):
    assert grammar.split_sentences(text) == expected
    assert [text[a:b].rstrip(grammar.SENTENCE_END) for a, b in grammar.sentence_spans(text)] == expected


def test_dates_and_doc_numbers():
    assert [d.date for d in extract_deadlines("原则上不超过2022年底")] == ["2022-12-31"]
    assert grammar.last_day(2024, 2) == "2024-02-29"
    m = grammar.DOC_NUMBER.search("依据甘政办发〔 2022 〕101 号文件")
    assert m and grammar.doc_number(m.group(0)).endswith("甘政办发〔2022〕101号")
    assert grammar.markers("见[1][2]，另见[12]") == [1, 2, 12]


def test_realdocs_folder_is_named_when_absent():
    """The mutation corpus includes ../shared/realdocs/policy when it exists (CI has it)."""
    if not (REALDOCS / "policy").is_dir():
        pytest.skip(f"real documents not found at {REALDOCS / 'policy'}")
    assert any(c.doc_id != "linxia-2022-84" for c in CLAUSES)


# --------------------------------------------------------------------------- quantities an answer states

@pytest.mark.parametrize("text, expected", [
    ("单户1000万元(含)以下的融资担保费率不高于1%", [("1000万元(含)以下", "amount", 10_000_000, "max"),
                                                 ("1%", "rate", 1, "max")]),
    ("应当自收到之日起三十日内予以确认", [("三十日内", "period", 30, "max")]),
    ("处五千元以上三万元以下罚款", [("五千元以上", "amount", 5000, "min"), ("三万元以下", "amount", 30000, "max")]),
    ("放大倍数不超过10倍", [("10倍", "multiple", 10, "max")]),
    ("不少于三分之一", [("三分之一", "rate", None, "min")]),
    ("按照利率万分之五支付", [("万分之五", "rate", "0.05", "")]),
    ("LPR减去150个基点以下部分", [("150个基点以下", "rate", "1.5", "max")]),
    ("不低于百分之六十", [("百分之六十", "rate", 60, "min")]),
    ("10个工作日内转交", [("10个工作日内", "period", 10, "max")]),
    ("原则上不超过2022年底", [("2022年底", "date", None, "max")]),
    ("自2025年6月1日起施行", [("2025年6月1日", "date", None, "")]),
    ("按季度报告", [("按季度", "period", 91, "")]),
    ("围绕工业企业65条细分产业链；本条例第七条", [("65条", "count", 65, "")]),
    ("经营融资担保业务3年以上", [("3年以上", "period", 1095, "min")]),
])
def test_quantities_read_each_kind_with_value_and_bound(text, expected):
    found = grammar.quantities(text)
    assert [(q.text, q.kind, q.bound) for q in found] == [(t, k, b) for t, k, _, b in expected]
    for q, (_, _, value, _) in zip(found, expected):
        assert value is None or q.value == Decimal(str(value)), (q, value)


def test_a_value_said_to_be_included_on_one_side_is_excluded_from_the_other():
    low, _, high, _ = grammar.quantities("对单户担保金额500万元及以下的收取不超过1%，对单户担保金额500万元以上的不超过1.5%")
    assert (low.bound, high.bound) == ("max", "gt")
    point = grammar.asked_quantities("贷款500万")[0]
    assert low.admits(point) and not high.admits(point)
    above = grammar.asked_quantities("单户担保金额500万元以上的，费率多少")[0]
    assert high.admits(above) and not low.admits(above)  # a range inside the other, not just one shared point


@pytest.mark.parametrize("question, text, value", [
    ("我贷款500万，担保费率多少", "500万", 5_000_000),
    ("借了五十万块", "五十万块", 500_000),
    ("合同约定交货后45天付款", "45天", 45),
])
def test_a_questions_own_figure_is_read_without_its_unit_word(question, text, value):
    found = grammar.asked_quantities(question)
    assert [(q.text, q.value) for q in found] == [(text, value)]
