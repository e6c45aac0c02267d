"""Questions about named documents, clause numbers across documents, metadata and versions, on the
seed beside the 8 real documents of realdocs/policy (read in place)."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.models import Answer
from assistant.web.render import clause_card

LAW = "中小企业促进法-2017-09-01"
GUOBAN = "guoban-2019-6"
SEED = "linxia-2022-84"
PAY_2020, PAY_2025 = "保障中小企业款项支付条例-2020-07-05", "保障中小企业款项支付条例-2025-03-17"


def docs_cited(answer: Answer, assistant) -> set[str]:
    return {assistant.index.by_id[c.clause_id].doc_id for c in answer.citations}


def test_a_named_law_answers_from_that_law_only(multi_assistant):
    answer = multi_assistant.ask("中小企业促进法对融资有什么规定？")
    assert not answer.refused and docs_cited(answer, multi_assistant) == {LAW}
    # Its own chapter 融资促进 is quoted, not the 第一条 of documents that only mention the law.
    assert all(multi_assistant.index.by_id[c.clause_id].section == "融资促进" for c in answer.citations)
    assert "〔中小企业促进法 第" in answer.text


@pytest.mark.parametrize("question, clause_id, heading", [
    ("中小企业促进法第十九条", f"{LAW}#19", "中小企业促进法 第十九条"),
    ("中小企業促進法第十九條講了什麼", f"{LAW}#19", "中小企业促进法 第十九条"),
    ("6号文第九条", f"{GUOBAN}#9", "国办发〔2019〕6号 第（九）条"),
    ("84号文第（六）条", f"{SEED}#6", "临州办发〔2022〕84号 第（六）条 用好财政贴息政策"),
    ("融资担保条例第十九条是怎么规定的", "融资担保公司监督管理条例-2017-08-02#19", "融资担保公司监督管理条例 第十九条"),
])
def test_clause_numbers_inside_a_named_document(multi_assistant, question, clause_id, heading):
    answer = multi_assistant.ask(question)
    assert answer.route == "clause" and answer.citations[0].clause_id == clause_id
    assert answer.citations[0].heading.startswith(heading)


def test_a_bare_clause_number_asks_which_document_unless_the_conversation_settled_it(multi_assistant):
    answer = multi_assistant.ask("第十九条讲什么？")
    assert "请问您指的是哪一份" in answer.text
    listed = docs_cited(answer, multi_assistant)
    assert {LAW, GUOBAN, SEED} <= listed and PAY_2020 not in listed  # texts not in force are not offered
    first = multi_assistant.ask("中小企业促进法对融资有什么规定？")
    settled = multi_assistant.ask("第十九条讲什么？", [first])
    assert settled.citations[0].clause_id == f"{LAW}#19" and "哪一份" not in settled.text


@pytest.mark.parametrize("question, name", [
    ("甘政办发〔2022〕101号有哪些措施？", "甘政办发〔2022〕101号"),
    ("《江苏省中小企业促进条例》对融资担保有什么规定？", "《江苏省中小企业促进条例》"),
    ("民法典规定的保证期间是多长？", "《民法典》"),
])
def test_a_named_document_that_is_not_in_the_corpus_is_refused(multi_assistant, question, name):
    answer = multi_assistant.ask(question)
    assert answer.refused and name in answer.text + " ".join(answer.notes)
    assert not answer.citations


def test_metadata_questions_work_for_every_document(multi_assistant):
    effective = multi_assistant.ask("中小企业促进法什么时候施行？")
    assert effective.route == "document" and "自2018年1月1日起施行" in effective.text
    assert effective.citations[0].clause_id == f"{LAW}#61"  # the 施行 article, not only the preamble
    issuer = multi_assistant.ask("国办发〔2019〕6号是谁发布的？")
    assert "发文机关：国务院办公厅" in issuer.text and "印发日期：2019年1月22日" in issuer.text
    henan = multi_assistant.ask("河南的实施办法是由哪个机关通过的？")
    assert "河南省人民代表大会常务委员会" in henan.text and docs_cited(henan, multi_assistant) == {
        "河南省实施-中小企业促进法-办法-2008-06-06"}


def test_answers_come_from_the_version_in_force_and_old_text_is_marked(multi_assistant):
    current = multi_assistant.ask("大型企业从中小企业采购货物，多少天内要支付款项？")
    assert docs_cited(current, multi_assistant) == {PAY_2025} and "60日" in current.text
    old = multi_assistant.ask("修订前的款项支付条例对大型企业付款期限是怎么规定的？")
    assert docs_cited(old, multi_assistant) == {PAY_2020}
    assert "已被2025年修订版取代" in old.text and "现行规定见保障中小企业款项支付条例（2025年修订）" in old.text


def test_a_question_set_in_a_past_year_is_answered_by_the_text_in_force_then(multi_assistant):
    answer = multi_assistant.ask("2023年的时候，机关从中小企业采购货物多少天内要付款？")
    assert docs_cited(answer, multi_assistant) == {PAY_2020} and "30日" in answer.text
    assert "已被2025年修订版取代" in answer.citations[0].heading  # marked: today the 2025 text applies
    new_policies = multi_assistant.ask("2024年出台了哪些新的小微企业贷款政策？")
    assert new_policies.refused  # a year no document mentions, asked about for itself


def test_a_revision_not_yet_in_force_gets_a_note(multi_assistant):
    before = multi_assistant.ask("大型企业从中小企业采购货物，多少天内要支付款项？", today=dt.date(2025, 5, 1))
    assert PAY_2025 in docs_cited(before, multi_assistant)
    assert "尚未施行（“自2025年6月1日起施行”）" in before.text
    assert "以上引文仅供了解原规定" not in before.text  # the old text still applies that day


def test_an_area_named_answers_from_its_documents(multi_assistant):
    answer = multi_assistant.ask("临夏州对融资担保费率有什么规定？")
    assert answer.citations[0].clause_id == f"{SEED}#4" and "1%" in answer.text
    zhejiang = multi_assistant.ask("浙江对民营企业融资有什么支持？")
    assert docs_cited(zhejiang, multi_assistant) == {"浙江省民营企业发展促进条例-2020-01-16"}


def test_lookup_by_document_number_and_chapter(multi_assistant):
    from assistant.search.lookup import LookupQuery, documents, lookup, section_choices, sections

    index, router = multi_assistant.index, multi_assistant.retriever.router
    every_19 = lookup(index, LookupQuery(number="第十九条"), router)
    assert {c.doc_id for c in every_19} >= {LAW, GUOBAN, SEED}  # staff see every document's 第十九条
    assert [c.clause_id for c in lookup(index, LookupQuery(number="第十九条", doc_id=LAW), router)] == [f"{LAW}#19"]
    assert "第三章 融资促进" in sections(index)
    chapter = lookup(index, LookupQuery(section="第三章 融资促进", doc_id=LAW), router)
    assert [c.number for c in chapter] == [str(n) for n in range(13, 24)]
    assert documents(index)[0] == ("临州办发〔2022〕84号", SEED)  # the most local first
    # The 章节 list: each heading with its document (all documents), or the chosen document's own; a heading
    # picked from it finds that document's chapter only, however its spaces are printed.
    every = section_choices(index)
    assert ("第三章 融资促进（中小企业促进法）", f"{LAW}§第三章 融资促进") in every
    keys = [(value.split("§")[0], "".join(value.split("§")[1].split())) for _, value in every]
    assert len(keys) == len(set(keys))  # 第一章 总则 / 第一章 总 则 of one document: once
    own = section_choices(index, LAW)
    assert own and all("（" not in label and value.startswith(f"{LAW}§") for label, value in own)
    first = [v for label, v in every if label.startswith("第一章")]
    assert len(first) >= 2  # several documents have a 第一章
    assert {c.doc_id for c in lookup(index, LookupQuery(section=first[0]), router)} == {first[0].split("§")[0]}
    provincial = lookup(index, LookupQuery(level="省", keyword="融资"), router)
    assert provincial and {index.documents[c.doc_id].level for c in provincial} == {"省"}
    assert {c.doc_id for c in lookup(index, LookupQuery(place="浙江省"), router)} == {
        "浙江省民营企业发展促进条例-2020-01-16"}


def test_cards_show_the_chapter_level_and_place(multi_assistant):
    index = multi_assistant.index
    card = clause_card(index, index.by_id[f"{LAW}#19"])
    assert "第三章 融资促进" in card and "国家" in card
    seed_card = clause_card(index, index.by_id[f"{SEED}#4"])
    assert "州（临夏回族自治州）" in seed_card


# ---------------------------------------------------------------- jurisdiction: where the asker is

def test_an_asker_in_linxia_gets_the_local_rule_first_then_the_national_one(multi_assistant):
    answer = multi_assistant.ask("融资担保费率是多少？", region="临夏州")
    assert answer.citations[0].clause_id == f"{SEED}#4" and answer.region == "临夏回族自治州"
    cited = docs_cited(answer, multi_assistant)
    assert any(multi_assistant.index.documents[d].level == "国家" for d in cited)
    local, national = answer.text.index("【本地（临夏州）】"), answer.text.index("【国家】")
    assert local < answer.text.index("单户1000万元(含)以下的融资担保费率不高于1%") < national
    assert not cited & {"浙江省民营企业发展促进条例-2020-01-16", "河南省实施-中小企业促进法-办法-2008-06-06"}


@pytest.mark.parametrize("question", ["银行贷款能不能随借随还？", "民营企业融资有什么支持？", "应收账款融资怎么确认？"])
def test_documents_of_an_area_that_does_not_apply_are_not_used(multi_assistant, question):
    answer = multi_assistant.ask(question, region="临夏州")
    places = {multi_assistant.index.documents[d].place for d in docs_cited(answer, multi_assistant)}
    assert places <= {"", "临夏回族自治州"}, answer.text


def test_a_place_or_level_named_is_answered_from_its_documents_or_refused(multi_assistant):
    zhejiang = multi_assistant.ask("浙江省对民营企业融资有什么支持？", region="临夏州")
    assert docs_cited(zhejiang, multi_assistant) == {"浙江省民营企业发展促进条例-2020-01-16"}
    gansu = multi_assistant.ask("甘肃省对融资担保费率有什么规定？", region="临夏州")
    assert gansu.refused and "本库没有甘肃省的政策文件" in gansu.text and gansu.related  # 可能相关 offered
    national = multi_assistant.ask("国家层面对政府性融资担保费率有什么要求？", region="临夏州")
    assert {multi_assistant.index.documents[d].level for d in docs_cited(national, multi_assistant)} == {"国家"}
    province = multi_assistant.ask("省里对融资担保有什么支持政策？", region="临夏州")
    assert province.refused and "甘肃省的省级政策文件" in province.text


def test_the_asker_can_say_where_they_are(multi_assistant):
    answer = multi_assistant.ask("我在临夏开饭馆，贷款还不上能缓缓吗？")
    assert answer.region == "临夏回族自治州" and docs_cited(answer, multi_assistant) <= {SEED} | {
        d for d, doc in multi_assistant.index.documents.items() if doc.level == "国家"}
    follow = multi_assistant.ask("那融资担保费率呢？", [answer])
    assert follow.region == "临夏回族自治州"  # the conversation keeps the area


def test_an_unknown_region_is_said_and_ignored(multi_assistant):
    answer = multi_assistant.ask("融资担保费率是多少？", region="火星")
    assert any("未识别地区“火星”" in n for n in answer.notes) and not answer.refused
