"""Evaluator reports from real runs (our assistant and the tutorial baseline) on the real index."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from assistant.answer.assistant import Assistant
from assistant.corpus.ingest import load_corpus
from assistant.evaluation import evaluate
from assistant.evaluation.baseline import TutorialBaseline
from assistant.evaluation.evaluate import QAItem, Result
from assistant.evaluation.report import (
    NA,
    ReportMeta,
    RunReport,
    failure_reasons,
    failures,
    metric_specs,
    ratio,
    render_markdown,
    write_report,
)
from assistant.search.encoders import get_encoder
from tests.support import SEED_ID

SCRIPT = "<script>alert(1)</script>"
MISSING_FACT = "不存在的事实甲乙丙"

ITEMS = [
    QAItem("t1", "单户1000万元以上的融资担保费率上限是多少？", (f"{SEED_ID}#4",), ("1.5%",), "fact"),
    QAItem("t2", f"{SCRIPT}创业担保贷款最高额度是多少？", (f"{SEED_ID}#6",), ("300万元",), "fact"),
    QAItem("t3", "临夏州的住房公积金缴存比例是多少？", (), (), "none"),
    # A fact no answer can contain: this question fails for every run, deterministically, so its
    # <script> reaches the failures section of both files.
    QAItem("t4", f"创业担保贷款贴息怎么算？{SCRIPT}", (f"{SEED_ID}#6",), (MISSING_FACT,), "colloquial"),
]


@pytest.fixture(scope="module")
def runs(seed_settings, seed_index):
    ours = Assistant.from_settings(seed_settings, index=seed_index, today=dt.date(2026, 11, 27))
    encoder = get_encoder(seed_settings.encoder, False)
    documents = load_corpus(seed_settings.corpus_dir).documents
    with TutorialBaseline.build(documents, seed_index.clauses, encoder, variant="dense") as baseline:
        base_results = evaluate.run(ITEMS, baseline.ask)
        name = baseline.name
    return [RunReport.from_results("政策通", evaluate.run(ITEMS, ours.ask), settings="encoder=use-multilingual"),
            RunReport.from_results(name, base_results, settings="chunk=750/150")]


@pytest.fixture(scope="module")
def written(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    paths = write_report(out, runs, qa_file="evals/qa.jsonl", generated=dt.datetime(2026, 11, 27, 9, 30))
    return {p.name: p.read_text(encoding="utf-8") for p in paths}, paths


def test_both_files_are_written(written):
    texts, paths = written
    assert [p.name for p in paths] == ["report.md", "report.html"] and all(p.exists() for p in paths)
    md = texts["report.md"]
    assert "2026-11-27" in md and "evals/qa.jsonl" in md and "题数：4" in md


def test_html_is_self_contained_and_escaped(written):
    page = written[0]["report.html"]
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<svg") == len(metric_specs())  # one chart per metric
    assert "://" not in page and "<link" not in page and " src=" not in page
    assert "false_refusal ↓" in page and "hit@1 ↑" in page


def test_markdown_lists_the_failures_of_the_first_run(written, runs):
    md = written[0]["report.md"]
    section = md.split("## 失败案例：政策通", 1)[1]
    assert "### t4" in section and "创业担保贷款贴息怎么算？" in section
    assert f"缺少事实：{MISSING_FACT}" in section and f"{MISSING_FACT} ✗" in section
    assert "<script>" not in md  # Markdown renderers pass raw HTML through
    listed = set(re.findall(r"^### (t\d)", section, flags=re.MULTILINE))
    expected = {r.id for r in runs[0].results if failure_reasons(r)}
    assert listed == expected


def test_overall_table_has_runs_and_ratio_columns(written, runs):
    md = written[0]["report.md"]
    header = next(line for line in md.splitlines() if line.startswith("| 指标"))
    assert header.count("|") == 2 + 2 + 1  # 指标, ours, baseline, ours/baseline
    assert f"政策通/{runs[1].name}" in header
    hit5 = next(line for line in md.splitlines() if line.startswith("| hit@5"))
    ours, base = runs[0].value("hit@5"), runs[1].value("hit@5")
    assert ratio(ours, base) in hit5
    # The baseline never refuses: its refusal accuracy on the one "none" question is 0.
    assert runs[1].value("refusal_accuracy") == 0.0


def test_not_applicable_metrics_show_a_dash(written):
    md = written[0]["report.md"]
    hit1 = md.split("### hit@1", 1)[1]
    none_row = next(line for line in hit1.splitlines() if line.startswith("| none"))
    assert none_row.count(NA) == 2  # both runs: no gold clause to hit


def result(**kw) -> Result:
    base = {"id": "x", "question": "q", "type": "fact", "gold": ["d#1"], "retrieved": ["d#1"],
            "citations": ["d#1"], "answer": "答案 1%", "refused": False, "latency_ms": 1.0,
            "facts_found": [True], "facts": ["1%"]}
    return Result(**{**base, **kw})


def test_failure_reasons():
    assert failure_reasons(result()) == ()
    assert failure_reasons(result(gold=[], facts_found=[], facts=[], refused=True)) == ()
    assert failure_reasons(result(gold=[], facts_found=[], facts=[])) == ("应拒答却作答",)
    assert failure_reasons(result(refused=True, citations=[], facts_found=[False])) == ("可回答却拒答",)
    assert failure_reasons(result(retrieved=["d#2"] * 5 + ["d#1"])) == ("金标准条款不在前 5",)
    assert failure_reasons(result(citations=["d#9"])) == ("引用未包含金标准条款",)
    assert failure_reasons(result(facts_found=[True, False], facts=["1%", "2%"])) == ("缺少事实：2%",)


def test_failures_section_of_hand_made_runs():
    ok, bad = result(id="ok", question="好问题"), result(id="bad", question="坏问题", citations=[])
    report = RunReport.from_results("甲", [ok, bad])
    assert [f.result.id for f in failures(report.results)] == ["bad"]
    md = render_markdown([report], ReportMeta())
    assert "坏问题" in md and "好问题" not in md and "（1 / 2）" in md
    assert ratio(None, 1.0) == NA and ratio(1.0, 0) == NA and ratio(1.0, 0.5) == "2.00×"


def test_write_report_needs_a_run(tmp_path):
    with pytest.raises(ValueError):
        write_report(tmp_path, [])


def test_a_hostile_question_type_or_run_name_stays_text_in_rendered_markdown():
    """report.md copied a QA file's ``type`` raw into its charts' code blocks: three backticks closed the
    block and what followed was live HTML in any Markdown viewer."""
    from markdown_it import MarkdownIt

    hostile = "```\n<img src=x onerror=alert(1)>\n"
    report = RunReport.from_results(f"甲{hostile}", [result(type=hostile), result(id="y", type="fact", citations=[])])
    html_out = MarkdownIt("commonmark").render(render_markdown([report], ReportMeta()))
    assert "<img" not in html_out and "onerror=alert(1)&gt;" in html_out
