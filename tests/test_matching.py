"""Policy matching: what a clause offers (read at index time), and what a profile gets from it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from assistant.answer.match import EXPLICIT, POSSIBLE, group_of, match_text
from assistant.answer.profile import Profile, read_profile
from assistant.cli import main
from assistant.corpus.ingest import load_corpus
from assistant.corpus.measures import GENERAL, Vocabulary, read_measure, sub_measures
from assistant.corpus.structure import parse_document
from assistant.errors import ProfileError
from assistant.evaluation.matching import load_match
from assistant.models import RESULTS, Clause
from assistant.numerals import int_to_cn
from tests.support import REALDOCS, ROOT, reprs

POLICY = REALDOCS / "policy"


def measure(text: str, title: str = "", section: str = ""):
    return read_measure(text, (0, len(text)), title=title, section=section)


def clause(text: str, number: str = "1") -> Clause:
    return Clause(f"t#{number}", "t", number, "", "", "", "", text, 0, len(text), measure=measure(text))


# ---------------------------------------------------------------- reading a clause


def test_a_grant_names_who_benefits_what_they_get_and_on_what_condition():
    text = ("对符合条件的个体工商户和小微企业提供最高300万元的创业担保贷款，按期还本付息后，"
            "财政按已支付利息的50%给予贴息，担保费率不高于1%。")
    m = measure(text)
    assert m.usable
    assert {"个体工商户", "小微企业"} <= set(m.beneficiaries) and GENERAL not in m.beneficiaries
    kinds = {s.kind: s.figures for s in m.support}
    assert {"贷款", "贴息", "担保", "利率费率优惠"} <= set(kinds)
    # Figures keep the words that qualify them, as printed.
    assert "最高300万元" in kinds["贷款"] and "按已支付利息的50%" in kinds["贴息"] and "不高于1%" in kinds["担保"]
    assert "符合条件的" in m.conditions and "按期还本付息后" in m.conditions
    assert all(c in text for c in m.conditions) and m.benefit in text


def test_a_general_word_qualified_by_a_narrower_kind_is_not_open_to_all():
    assert measure("对科技型中小企业开展知识产权质押贷款给予支持。").beneficiaries == ("科技型",)
    open_to_all = measure("加大对中小微企业和首贷户的信贷支持。").beneficiaries
    assert GENERAL in open_to_all and "首贷" in open_to_all
    # One word may name several kinds: 接触型服务业 is these industries.
    assert {"餐饮", "住宿", "零售"} <= set(measure("加大对接触型服务业中小微企业的贷款支持。").beneficiaries)
    # An industry before the general word is whom it is for, known kind or not; "each industry" is everyone.
    assert measure("重点加大对先进制造业、战略性新兴产业中小微企业的中长期信贷投放。").beneficiaries == ("制造业",)
    assert GENERAL in measure("加大对各行业中小微企业的信贷投放。").beneficiaries


@pytest.mark.parametrize("text, title, section", [
    ("银行业金融机构要将小微企业贷款纳入考核，定期通报。", "加强监管考核", ""),  # agencies' own work
    ("融资担保公司的担保责任余额不得超过其净资产的10倍。", "", "经营规则"),  # a guarantor's rule: names no beneficiary
    ("违反本条例规定，拖欠中小企业款项的，由有关部门责令改正。", "", "法律责任"),
    ("中小企业应当依法经营，遵守税收等方面的法律法规。", "", ""),  # the beneficiary's own duty
])
def test_clauses_that_grant_nothing_an_enterprise_can_use_are_internal(text, title, section):
    m = measure(text, title, section)
    assert m.addressee == "internal" and not m.support and not m.beneficiaries


def test_agencies_own_work_beside_a_grant_to_a_beneficiary_does_not_make_it_internal():
    # 宣传 and 监测 are agencies' own work, but the clause gives the beneficiary something (为创业人员…提供).
    given = "县级以上人民政府及其有关部门应当通过政府网站、宣传资料等形式，为创业人员免费提供法律政策咨询和公共信息服务。"
    assert measure(given).usable and "培训服务" in measure(given).kinds
    # Without a grant to anyone, the same work stays internal.
    assert not measure("县级以上人民政府应当加强对中小企业发展动态的监测，做好政策宣传。").usable


def test_a_prohibition_that_protects_small_firms_is_a_measure():
    m = measure("机关、事业单位和大型企业不得违约拖欠中小企业的货物、工程、服务款项。")
    assert m.usable and m.kinds == ("账款拖欠",) and m.beneficiaries == (GENERAL,)


@pytest.fixture(scope="module")
def policy_clauses():
    if not POLICY.is_dir():
        pytest.skip(f"real documents not found at {POLICY} (CI has ../shared/realdocs beside the checkout)")
    return {c.clause_id: c for d in load_corpus([ROOT / "corpus", POLICY]).documents for c in parse_document(d)}


def test_every_real_clause_gets_a_measure_quoted_from_its_own_text(policy_clauses):
    for c in policy_clauses.values():
        m = c.measure
        assert m is not None
        assert all(x in c.text for x in (*m.conditions, m.benefit, *[f for s in m.support for f in s.figures])), c.clause_id
        assert m.usable == bool(m.support and m.beneficiaries), c.clause_id


def test_real_laws_read_as_measures_where_they_grant(policy_clauses):
    loans = policy_clauses["促进个体工商户发展条例-2022-10-01#21"].measure  # 扩大个体工商户贷款规模
    assert loans.usable and "个体工商户" in loans.beneficiaries and "贷款" in loans.kinds
    tax = policy_clauses["中小企业促进法-2017-09-01#11"].measure  # 缓征、减征、免征
    assert tax.usable and "小微企业" in tax.beneficiaries and "税费减免" in tax.kinds and "符合条件的" in tax.conditions
    paid = policy_clauses["保障中小企业款项支付条例-2025-03-17#7"].measure  # 不得拖欠
    assert paid.usable and "账款拖欠" in paid.kinds
    # The chapters that grant nothing: penalties and the closing provisions.
    closing = [c for c in policy_clauses.values() if c.section.replace(" ", "") in ("法律责任", "附则")]
    assert len(closing) > 20 and not any(c.measure.usable for c in closing)


def test_each_sentence_of_a_measure_keeps_its_own_beneficiaries_figures_and_provider():
    text = ("用好财政贴息政策。对符合条件的小微企业提供最高额度为300万元的创业担保贷款，贷款市场报价利率(LPR)减去150个基点"
            "以下部分由借款企业承担，剩余部分财政给予贴息。争取中央省级对民族贸易和民族特需商品定点生产企业生产经营性贷款"
            "贴息资金，按照不高于贷款本金2.88%给予贴息。县市政府要建立纾困企业名单，开通纾困担保快贷通道。")
    m = read_measure(text, (0, len(text)), units=("州财政局", "各银行业金融机构"))
    loan, ethnic, channel = m.sub_measures  # the title sentence grants nothing of its own
    assert "300万元" in "".join(loan.figures) and "2.88%" not in "".join(loan.figures) and "小微企业" in loan.beneficiaries
    assert ethnic.figures == ("2.88%",) and ethnic.beneficiaries == ("民族贸易定点",)
    assert loan.lead == ethnic.lead == "州财政局"  # 贴息: the unit whose name says it pays it
    assert (loan.result, channel.result) == ("可以申请", "可以利用") and channel.lead == "县市政府"
    # Agencies' own work is 政策背景, unless it gives the enterprise something.
    plan = "各银行业金融机构要单列全年监管考核口径下的小微企业信贷投放计划。政策性银行要持续增加中小微企业信贷供给，加大信贷投放。"
    assert [p.result for p in read_measure(plan, (0, len(plan))).sub_measures] == ["政策背景", "可以申请"]
    given = "县级以上人民政府应当建立中小企业政策性信用担保体系，鼓励各类担保机构为中小企业融资提供信用担保。"
    assert [p.result for p in read_measure(given, (0, len(given))).sub_measures] == ["可以申请"]


@pytest.mark.parametrize("text, leads", [
    # The institutions a government urges, not a word before them that also ends a verb (创新).
    ("国家鼓励各类创新服务机构为中小企业提供技术信息、质量标准等服务。", ["各类创新服务机构"]),
    ("国家鼓励互联网平台向中小企业开放技术、营销、推广等资源，为中小企业创业提供服务。", ["互联网平台"]),
    # A subject that lists several, and a sentence that details the one before it.
    ("各级政府性融资担保、再担保机构要适时调降再担保费率，将平均担保费率降至1%以下。其中，对单户担保金额500万元及以下的"
     "小微企业收取的担保费率原则上不超过1%。", ["各级政府性融资担保、再担保机构"] * 2),
    # No provider named: none made up (a bare 其中 sentence without one before it neither).
    ("其中，对小微企业收取的担保费率原则上不超过1%。", [""]),
])
def test_whom_to_ask_is_the_provider_the_sentence_names(text, leads):
    assert [p.lead for p in sub_measures(text, Vocabulary.load(), (), ())] == leads


@pytest.mark.parametrize("sentence, kinds", [
    ("各级人民政府及其有关部门应当为中小企业提供创业政策指导和服务。", ("培训服务",)),
    ("企业服务综合平台为民营企业提供政策推送、指导等服务。", ("培训服务",)),
    # A service that names support itself is that support; one too general names none; what cannot be provided neither.
    ("地方法人银行要为小微企业提供信贷服务。", ("贷款",)),
    ("国有大型商业银行应当设立普惠金融机构，为小型微型企业提供金融服务。", ()),
    ("中小企业无法提供的商品和服务除外。", ()),
])
def test_support_said_in_a_phrase_is_read(sentence, kinds):
    parts = sub_measures(sentence, Vocabulary.load(), (), ())
    assert tuple(k for p in parts for k in p.support) == kinds


def test_support_named_by_a_kind_is_for_that_kind_only():
    text = "国家有关政策性金融机构应当通过开展进出口信贷、出口信用保险等业务，支持中小企业开拓境外市场。"
    (part,) = read_measure(text, (0, len(text))).sub_measures
    assert part.beneficiaries == ("外贸",)  # a restaurant that asks for a loan is not offered it
    tech = "重点加大对中小微企业的中长期信贷投放。积极完善科技信贷服务模式，开发专属金融产品，探索“贷款+外部直投”等业务新模式。"
    assert [p.beneficiaries for p in read_measure(tech, (0, len(tech))).sub_measures if "科技信贷" in p.text] == [("科技型",)]
    farm = "大力开展优势特色农产品保险，为中小微企业提供保险保障。"
    assert "农业" in read_measure(farm, (0, len(farm))).beneficiaries
    listed = "对中小微企业和个体工商户、货车司机贷款实施延期还本付息。"
    (part,) = read_measure(listed, (0, len(listed))).sub_measures
    assert GENERAL in part.beneficiaries  # in the same list, SMEs at large stay


# ---------------------------------------------------------------- a profile and its groups


def test_everyday_words_become_choices_and_say_so():
    profile, said = Profile.from_words("开饭馆的", needs=["外汇", "上市挂牌", "贷款"])
    assert (profile.type, profile.industry, profile.needs) == ("", "餐饮", ("外汇避险", "直接融资", "贷款"))
    assert said == ["“开饭馆的”按行业“餐饮”查找。", "“外汇”按需求“外汇避险”查找。", "“上市挂牌”按需求“直接融资”查找。"]
    with pytest.raises(ProfileError, match="需求“买飞机”不在可选范围内"):
        Profile.from_words(needs=["买飞机"])


def test_a_profile_offers_only_the_choices_of_the_form():
    with pytest.raises(ProfileError, match="主体类型“大企业”不在可选范围内"):
        Profile.of("大企业")
    with pytest.raises(ProfileError, match="需求"):
        Profile.of("小型企业", needs=["买房"])
    assert Profile.of("小型企业", "餐饮", ["首贷"], ["贷款"]).kinds == {"小微企业", "餐饮", "首贷"}


def test_groups_follow_the_named_beneficiary_and_the_need():
    owner = Profile.of("个体工商户", "餐饮", ["首贷"], ["贷款"])
    named = clause("扩大个体工商户贷款规模和覆盖面。")
    general = clause("加大对中小微企业的信贷投放力度。")
    small = clause("加大对小微企业的信贷投放力度。")
    tech = clause("支持科技型中小企业开展知识产权质押贷款。")
    insured = clause("支持个体工商户参加保险，给予保费补贴。")
    assert group_of(named, owner)[0] == EXPLICIT
    assert group_of(general, owner)[0] == POSSIBLE
    assert group_of(small, owner)[0] == POSSIBLE  # 小微企业 does not name an 个体工商户: only close to it
    assert group_of(small, Profile.of("微型企业", needs=["贷款"]))[0] == EXPLICIT
    assert group_of(tech, owner) is None  # only for kinds the owner is not
    assert group_of(insured, owner) is None  # grants what the owner does not need
    assert group_of(insured, Profile.of("个体工商户"))[0] == EXPLICIT  # no need chosen: every kind of support
    assert group_of(clause("加强小微企业贷款统计监测和考核通报。"), Profile.of("小型企业")) is None


@pytest.mark.parametrize("question, expected", [
    ("我是开饭馆的个体户，第一次贷款，能享受哪些政策？", Profile("个体工商户", "餐饮", ("首贷",), ("贷款",))),
    ("我们是做外贸的小企业，汇率波动大，有哪些支持政策？", Profile("小型企业", "", ("外贸",), ("外汇避险",))),
    # A loan said with a measure word inside it (贷点款, 借一笔钱) is still a loan.
    ("我们是做牛羊养殖的合作社，想贷点款扩大规模，有什么政策？", Profile("", "农业", (), ("贷款",))),
    ("我开小卖部的，想借一笔钱进货，有哪些政策？", Profile("", "零售", (), ("贷款",))),
])
def test_a_self_description_question_gives_a_profile(question, expected):
    assert read_profile(question) == expected


@pytest.mark.parametrize("question", ["创业担保贷款最高额度是多少？", "第十八条", "我是个体户", "有哪些政策支持小微企业？",
                                      "我是州税务局的，负责哪些措施？"])
def test_other_questions_are_not_read_as_a_profile(question):
    assert read_profile(question) is None


# ---------------------------------------------------------------- on the multi-document corpus


def test_matching_offers_the_measures_of_the_documents_in_force_in_the_region(multi_assistant):
    result = multi_assistant.match(Profile.of("个体工商户", "餐饮", ["首贷"], ["贷款"], "临夏州"))
    docs = {m.clause_id.split("#")[0] for m in result.measures}
    assert "linxia-2022-84" in docs and "促进个体工商户发展条例-2022-10-01" in docs
    assert not any(d.startswith(("浙江", "河南")) for d in docs)  # other provinces' rules
    assert "保障中小企业款项支付条例-2020-07-05" not in docs  # superseded by the 2025 text
    # By what they are to the owner (可以申请, 可以利用, 政策背景), then 明确适用 before 可能适用 in each.
    order = [(RESULTS.index(m.result), m.group != EXPLICIT) for m in result.measures]
    assert order == sorted(order) and {m.group for m in result.measures} == {EXPLICIT, POSSIBLE}
    index = multi_assistant.index
    for m in result.measures:
        text = index.by_id[m.clause_id].text
        assert m.benefit in text and all(f in text for f in m.figures) and all(c in text for c in m.conditions)
        assert "贷款" in m.support
    assert "linxia-2022-84#13" in [m.clause_id for m in result.group(EXPLICIT)]  # 个体工商户贷款余额、户数持续增长
    elsewhere = multi_assistant.match(Profile.of("小型企业", needs=["贷款"], region="杭州市"))
    assert any(m.clause_id.startswith("浙江") for m in elsewhere.measures) and not elsewhere.notes
    # No area chosen: every area's rules, and a note that says so.
    anywhere = multi_assistant.match(Profile.of("小型企业", needs=["贷款"]))
    assert {"浙江", "河南"} <= {m.clause_id[:2] for m in anywhere.measures}
    assert any("没有选择所在地区" in n for n in anywhere.notes)
    assert not any("还不知道您的主体类型" in n for n in anywhere.notes)
    # An empty form: only what is for SMEs at large, and a note that says how to find what names the owner.
    empty = multi_assistant.match(Profile.of(region="临夏州"))
    assert empty.measures and {m.group for m in empty.measures} == {POSSIBLE}
    assert any("还不知道您的主体类型" in n for n in empty.notes)


def test_a_restaurant_owner_sees_what_they_can_claim_first_with_its_own_figures_and_whom_to_ask(multi_assistant):
    result = multi_assistant.match(Profile.of("个体工商户", "餐饮", ["受疫情影响"], ["贷款"], "临夏州"))
    claims = [m.clause_id for m in result.of("可以申请")]
    # 延期还本付息, 更优惠的利率和减免罚息, 担保: among the first five.
    assert {"linxia-2022-84#8", "linxia-2022-84#2", "linxia-2022-84#4"} <= set(claims[:5]), claims
    # Banks' and governments' own work is no benefit to claim: 应急响应能力 (十六), 平台联通 (十八), 纾困企业名单 (二十).
    assert not {"linxia-2022-84#16", "linxia-2022-84#18", "linxia-2022-84#20"} & set(claims)
    offered = {m.clause_id for m in result.measures}
    # 进出口信贷 and 商业汇票 are no loan for a restaurant.
    assert not {"中小企业促进法-2017-09-01#41", "保障中小企业款项支付条例-2025-03-17#11"} & offered
    subsidy = next(m for m in result.measures if m.clause_id == "linxia-2022-84#6")
    assert any("300万元" in f for f in subsidy.figures) and not any("2.88%" in f for f in subsidy.figures)
    assert any("2.88%" in e and "民族贸易定点" in e for e in subsidy.excluded)
    assert subsidy.lead == "州财政局"
    assert all(m.lead for m in result.measures)
    assert result.of("可以申请") and match_text(result).startswith(f"可以申请{int_to_cn(len(claims))}项：")


def test_every_figure_and_condition_shown_stands_under_the_sentence_that_states_it(multi_assistant):
    # 第（六）条 for SMEs: the 300万元 loan's sentence, then the 专利权质押 one with its own 50% and conditions.
    shown = 0
    for profile in (Profile.of("小型企业", needs=["贴息"], region="临夏州"),
                    Profile.of("个体工商户", "餐饮", ["受疫情影响"], ["贷款"], "临夏州"),
                    Profile.of("小型企业", region="临夏州")):
        quote = ""
        for line in match_text(multi_assistant.match(profile), every_measure=True).splitlines():
            said = re.search(r"“(.+)”$", line)
            if said:
                quote = said.group(1)
            label, _, items = line.strip().partition("：")
            if label in ("额度与费率", "需确认"):
                shown += 1
                assert all(item in quote for item in items.split("；")), (line, quote)
    assert shown >= 10


def test_a_self_description_in_the_chat_is_answered_by_matching(multi_assistant):
    answer = multi_assistant.ask("我是开饭馆的个体户，第一次贷款，能享受哪些政策？", region="临夏州")
    assert answer.route == "match" and not answer.refused
    assert answer.text.startswith("可以申请") and "明确适用" in answer.text and answer.citations
    assert answer.checks == []  # every number shown is one of the cited clauses'
    for c in answer.citations:
        assert c.quote in answer.text and c.quote in multi_assistant.index.by_id[c.clause_id].text
    # A note of the match (no kind named) is said once, at the top, not again at the end.
    vague = multi_assistant.ask("我想贷款，有哪些政策能申请？", region="临夏州")
    assert vague.route == "match" and vague.text.count("还不知道您的主体类型") == 1, vague.text


def test_match_cli_prints_the_result_as_json(multi_settings, capsys):
    args = ["--corpus", str(multi_settings.corpus_dir), "--corpus", str(multi_settings.extra_corpus_dirs[0]),
            "--index-dir", str(multi_settings.index_dir), "match", "--type", "小型企业", "--situation", "外贸",
            "--need", "外汇避险", "--region", "临夏州", "--json"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["profile"] == {"type": "小型企业", "industry": "", "situations": ["外贸"], "needs": ["外汇避险"],
                               "region": "临夏州"}
    assert set(data) == {"profile", "region", "documents", "read_as", "measures", "notes"} and reprs(data) == []
    assert isinstance(data["documents"], int) and all(isinstance(x, str) for x in data["read_as"] + data["notes"])
    lists = ("figures", "conditions", "units", "notes", "beneficiaries", "support", "excluded")
    for m in data["measures"]:  # JSON all the way down: every field its type, every sentence an object
        assert set(m) == {"clause_id", "group", "result", "title", "benefit", "lead", "parts", *lists}, m
        assert all(isinstance(m[k], str) for k in ("clause_id", "group", "result", "title", "benefit", "lead"))
        assert all(isinstance(m[k], list) and all(isinstance(x, str) for x in m[k]) for k in lists)
        assert m["parts"] and all(set(p) == {"text", "result", "beneficiaries", "support", "figures", "conditions",
                                              "lead"} for p in m["parts"])
    first = data["measures"][0]
    assert first["group"] == EXPLICIT and first["clause_id"] == "linxia-2022-84#12"  # 中小微外贸企业 汇率避险
    assert main(args[:-7] + ["--type", "大企业"]) != 0
    assert "不在可选范围内" in capsys.readouterr().err


# ---------------------------------------------------------------- the gold sets


def test_the_matching_gold_sets_are_valid_and_follow_their_annotations(multi_settings):
    from assistant.search.index import Index

    known = set(Index.open(multi_settings).by_id)
    dev = load_match(ROOT / "evals" / "match.jsonl", known)
    held_out = load_match(ROOT / "evals" / "match_holdout.jsonl", known)
    assert len(dev) >= 40 and len(held_out) >= 10
    assert not {i.id for i in dev} & {i.id for i in held_out}
    annotated = [json.loads(line) for line in (ROOT / "evals" / "match_clauses.jsonl").read_text(encoding="utf-8")
                 .splitlines()]
    assert {a["clause_id"] for a in annotated} <= known
    check = subprocess.run([sys.executable, "evals/match_gold.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_the_matching_set_meets_its_floors(multi_settings, tmp_path):
    from assistant.evaluation.matching import evaluate_match_suite
    from assistant.evaluation.runner import load_floors
    from assistant.search.index import Index

    floors = load_floors(ROOT / "evals" / "floors_match.toml")
    summary, violations = evaluate_match_suite(multi_settings, Index.open(multi_settings), ROOT / "evals" / "match.jsonl",
                                               tmp_path / "run", floors=floors)
    assert violations == [], summary["overall"]
    assert (tmp_path / "run" / "report.html").is_file() and (tmp_path / "run" / "results.jsonl").is_file()


def test_the_submeasure_annotations_are_valid_and_the_index_meets_their_floors(multi_settings, capsys):
    from assistant.evaluation.submeasures import load_submeasures

    dev = load_submeasures(ROOT / "evals" / "submeasures.jsonl")
    held_out = load_submeasures(ROOT / "evals" / "submeasures_holdout.jsonl")
    assert len(dev) >= 150 and len(held_out) >= 80
    assert not {g.clause_id for g in dev} & {g.clause_id for g in held_out}
    for g in dev + held_out:  # every figure annotated is the sentence's own words
        assert all(f in g.text for f in g.figures), (g.clause_id, g.n)
    args = ["--corpus", str(multi_settings.corpus_dir), "--corpus", str(multi_settings.extra_corpus_dirs[0]),
            "--index-dir", str(multi_settings.index_dir), "eval", str(ROOT / "evals" / "submeasures.jsonl"),
            "--floors", str(ROOT / "evals" / "floors_submeasures.toml")]
    assert main(args) == 0, capsys.readouterr().err
    assert "可以申请 精确率" in capsys.readouterr().out


def test_a_bad_matching_set_names_every_bad_line(tmp_path):
    from assistant.errors import QAFileError

    path = tmp_path / "match.jsonl"
    path.write_text('{"id": "a", "profile": {"type": "大公司"}}\n'
                    '{"id": "b", "profile": {"type": "小型企业"}, "explicit": ["nope#1"]}\n'
                    "not json\n"
                    '{"id": "c"}\n', encoding="utf-8")
    with pytest.raises(QAFileError) as caught:
        load_match(path, known_clauses={"t#1"})
    assert [p.split("行")[0] for p in caught.value.problems] == ["第 1 ", "第 2 ", "第 3 ", "第 4 "]
    assert "主体类型“大公司”不在可选范围内" in str(caught.value) and "nope#1" in str(caught.value)
