"""The eval command: QA validation with line numbers, the run folder, baselines, floors, and the regression guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.errors import QAFileError
from assistant.evaluation.evaluate import load_qa
from assistant.evaluation.runner import RESULT_FIELDS, check_floors, evaluate_suite, load_floors
from tests.support import ROOT, SEED_ID

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

QA = ROOT / "evals" / "qa.jsonl"
FLOORS = ROOT / "evals" / "floors.toml"


def cli(settings, *args: str) -> int:
    return main(["--corpus", str(settings.corpus_dir), "--index-dir", str(settings.index_dir), *args])


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_validator_lists_every_bad_line_with_its_number(tmp_path, seed_index):
    path = write_lines(tmp_path / "bad.jsonl", [
        json.dumps({"id": "a1", "question": "创业担保贷款最高多少？", "gold": [f"{SEED_ID}#6"], "facts": [], "type": "fact"}),
        "{not json",
        json.dumps({"id": "a1", "question": "重复的编号", "gold": [], "type": "none"}),
        json.dumps({"id": "a3", "question": "未知条款", "gold": [f"{SEED_ID}#99"], "type": "fact"}),
        json.dumps({"id": "a4", "gold": []}),
        json.dumps(["a list"]),
    ])
    with pytest.raises(QAFileError) as info:
        load_qa(path, known_clauses=set(seed_index.by_id))
    message = str(info.value)
    assert "5 处问题" in message
    for expected in ("第 2 行不是有效的 JSON", "第 3 行：id “a1” 与第 1 行重复", f"第 4 行：未知的条款编号 {SEED_ID}#99",
                     "第 5 行缺少字段：question", "第 6 行应为 JSON 对象"):
        assert expected in message


def test_csv_sets_with_semicolon_lists_are_accepted(tmp_path, seed_index):
    path = write_lines(tmp_path / "qa.csv", [
        "id,question,gold,facts,type",
        f"c1,融资担保费率是多少？,{SEED_ID}#4,1%;1.5%,fact",
        "c2,深圳的创业补贴标准是多少？,,,none",
    ])
    items = load_qa(path, known_clauses=set(seed_index.by_id))
    assert [i.gold for i in items] == [(f"{SEED_ID}#4",), ()] and items[0].facts == ("1%", "1.5%")


def test_check_option(seed_settings, tmp_path, capsys):
    assert cli(seed_settings, "eval", str(QA), "--check") == 0
    assert "问答集有效" in capsys.readouterr().out
    bad = write_lines(tmp_path / "bad.jsonl", ['{"id": "x", "question": "q", "gold": ["nope#1"]}'])
    assert cli(seed_settings, "eval", str(bad), "--check") == 1
    assert "第 1 行：未知的条款编号 nope#1" in capsys.readouterr().err


def test_eval_writes_results_summary_and_reports_with_baselines(seed_settings, tmp_path, capsys):
    qa = write_lines(tmp_path / "small.jsonl", [
        json.dumps({"id": "s1", "question": "融资担保费率是多少？", "gold": [f"{SEED_ID}#4"], "facts": ["1%"], "type": "fact"}),
        json.dumps({"id": "s2", "question": "第十二条", "gold": [f"{SEED_ID}#12"], "facts": [], "type": "lookup"}),
        json.dumps({"id": "s3", "question": "深圳的创业补贴标准是多少？<script>alert(1)</script>", "gold": [],
                    "facts": [], "type": "none"}),
    ])
    out = tmp_path / "run"
    assert cli(seed_settings, "eval", str(qa), "--out", str(out), "--baseline", "--quiet") == 0
    assert "政策通：hit@1" in capsys.readouterr().out
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["s1", "s2", "s3"] and all(set(RESULT_FIELDS) <= set(r) for r in rows)
    assert rows[0]["retrieved"][0] == f"{SEED_ID}#4" and f"{SEED_ID}#4" in rows[0]["citations"]
    assert rows[2]["refused"] is True
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["overall"]["questions"] == 3 and set(summary["by_type"]) == {"fact", "lookup", "none"}
    assert summary["overall"]["refusal_accuracy"] == 1.0
    assert set(summary["baselines"]) == {"baseline-dense", "baseline-bm25"}
    assert summary["baselines"]["baseline-dense"]["overall"]["refusal_accuracy"] == 0.0  # never refuses
    for name in ("results-baseline-dense.jsonl", "results-baseline-bm25.jsonl", "report.md"):
        assert (out / name).is_file()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<svg" in html and "LangChain 教程基线" in html


def test_floors_fail_the_run_and_name_the_metric(seed_settings, tmp_path, capsys):
    floors = tmp_path / "floors.toml"
    floors.write_text('[floors]\n"hit@5" = { min = 1.01 }\nfalse_refusal = { max = 0.5 }\n', encoding="utf-8")
    qa = write_lines(tmp_path / "one.jsonl", [json.dumps(
        {"id": "s1", "question": "融资担保费率是多少？", "gold": [f"{SEED_ID}#4"], "facts": [], "type": "fact"})])
    code = cli(seed_settings, "eval", str(qa), "--out", str(tmp_path / "run"), "--floors", str(floors), "--quiet")
    err = capsys.readouterr().err
    assert code == 1 and "hit@5" in err and "false_refusal" not in err


def test_malformed_floors_file_is_reported(tmp_path):
    from assistant.errors import FloorsError

    bad = tmp_path / "floors.toml"
    bad.write_text('[floors]\nmrr = { min = 0.8, max = 0.9 }\n', encoding="utf-8")
    with pytest.raises(FloorsError, match="mrr"):
        load_floors(bad)


def test_gold_set_meets_the_agreed_floors(seed_settings, seed_index, tmp_path):
    """The regression guard: the default pipeline on evals/qa.jsonl stays at or above evals/floors.toml."""
    items = load_qa(QA, known_clauses=set(seed_index.by_id))
    floors = load_floors(FLOORS)
    assert {f.metric for f in floors} >= {"hit@5", "mrr", "refusal_accuracy", "false_refusal"}
    evaluation = evaluate_suite(seed_settings, seed_index, items, tmp_path / "run")
    assert check_floors(evaluation.runs[0].summary, floors) == [], evaluation.runs[0].summary["overall"]


@pytest.mark.parametrize("name, data, expected", [
    ("deep.jsonl", b"[" * 100_000 + b"\n", "第 1 行不是有效的 JSON"),  # was a RecursionError traceback
    ("nul.jsonl", b'{"id": "a\x00"}\n', "第 1 行不是有效的 JSON"),
    ("null.jsonl", b'{"id": "a", "question": null, "gold": []}\n', "第 1 行缺少字段：question"),
    ("short.csv", "id,question,gold\nc1,融资担保费率是多少？,\nc2\n".encode(), "第 3 行缺少字段：question"),
    ("gbk.jsonl", '{"id": "a", "question": "q", "gold": []}\n{"id": "b", "question": "担保"}\n'.encode("gbk"),
     "第 2 行不是 UTF-8 编码"),
    ("binary.jsonl", bytes(range(256)), "不是 UTF-8 编码"),
    ("empty.jsonl", b"", "是空的"),
])
def test_malformed_qa_files_are_reported_not_crashed(tmp_path, name, data, expected):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(QAFileError) as info:
        load_qa(path)
    assert expected in str(info.value) and str(path) in str(info.value)


def test_k_sets_the_metric_not_the_retrieval_depth(seed_settings, tmp_path, capsys, monkeypatch):
    """--k is the cut-off of hit@k and recall@k; how many clauses are retrieved stays POLICY_TOP_K."""
    qa = write_lines(tmp_path / "k.jsonl", [
        json.dumps({"id": "k1", "question": "融资担保费率是多少？", "gold": [f"{SEED_ID}#4"], "facts": [], "type": "fact"}),
        json.dumps({"id": "k2", "question": "我开饭馆的，贷款还不上能缓缓吗？", "gold": [f"{SEED_ID}#8"], "facts": [],
                    "type": "colloquial"}),
    ])
    monkeypatch.setenv("POLICY_TOP_K", "3")
    assert cli(seed_settings, "eval", str(qa), "--out", str(tmp_path / "run"), "--k", "5", "--quiet") == 0
    assert "只检索前 3 条" in capsys.readouterr().err, "the mismatch is said, not silently changed"
    rows = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(len(r["retrieved"]) <= 3 for r in rows), [r["retrieved"] for r in rows]
    assert "k=5" in json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))["settings"]
