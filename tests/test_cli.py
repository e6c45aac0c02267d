"""The CLI as users and other tools call it: a real subprocess against a real index."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from assistant.cli import build_parser
from tests.support import SEED_ID, copy_corpus, policy_free_env, reprs

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

CLAUSE_KEYS = {"clause_id", "doc_id", "number", "section", "title", "units", "figures", "text"}


def run_cli(settings, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = policy_free_env()
    env.update(POLICY_CORPUS_DIR=str(settings.corpus_dir), POLICY_INDEX_DIR=str(settings.index_dir))
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_clauses_json_lists_every_clause(seed_settings):
    out = run_cli(seed_settings, "clauses", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert len(data) == 29 and reprs(data) == []
    six = next(item for item in data if item["clause_id"] == f"{SEED_ID}#6")
    parts = six["measure"]["sub_measures"]  # the measure is an object, its sentences objects too
    assert isinstance(six["measure"], dict) and parts and all(isinstance(p, dict) and p["result"] for p in parts)
    assert all(CLAUSE_KEYS <= set(item) for item in data)
    six = next(item for item in data if item["clause_id"] == f"{SEED_ID}#6")
    assert six["title"] == "用好财政贴息政策" and "300万元" in six["figures"]
    assert isinstance(six["units"], list) and six["units"][0] == "州财政局"
    assert six["doc_number"] == "临州办发〔2022〕84号"


def test_docs_json_shape(seed_settings):
    out = run_cli(seed_settings, "docs", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"documents", "references"} and reprs(data) == []
    (doc,) = data["documents"]
    assert doc["doc_id"] == SEED_ID and doc["doc_number"] == "临州办发〔2022〕84号" and doc["region_code"] == "6229"
    assert all(isinstance(d, list) and len(d) == 2 for d in doc["dates"])  # (kind, ISO date) pairs
    assert all({"doc_number", "title", "issuer", "in_corpus"} <= set(r) for r in data["references"])


def test_show_json_and_text(seed_settings):
    out = run_cli(seed_settings, "show", f"{SEED_ID}#4", "--json")
    assert reprs(json.loads(out.stdout)) == []
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert CLAUSE_KEYS <= set(data)
    assert "临夏金控融资担保公司" in data["units"]
    assert data["span"] == [data["start"], data["end"]]

    text = run_cli(seed_settings, "show", f"{SEED_ID}#6")
    assert text.returncode == 0
    assert "临州办发〔2022〕84号 第（六）条 用好财政贴息政策" in text.stdout
    assert "责任单位：州财政局" in text.stdout


def test_search_json_shape_and_ranking(seed_settings):
    out = run_cli(seed_settings, "search", "创业担保贷款最高额度是多少", "--k", "3", "--json")
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    assert reprs(hits) == []
    assert len(hits) == 3
    assert all({"clause_id", "score", "title"} <= set(h) for h in hits)
    assert hits[0]["clause_id"] == f"{SEED_ID}#6"
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


@pytest.mark.parametrize("args, message", [
    (("show", "linxia-2022-84#99"), "没有找到条款"),
    (("search", "   "), "查询内容为空"),
    (("search", "贷款", "--k", "0"), "POLICY_TOP_K"),
])
def test_errors_are_one_line_and_non_zero(seed_settings, args, message):
    out = run_cli(seed_settings, *args)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr and out.stderr.strip().count("\n") == 0


def test_bad_setting_is_reported(seed_settings):
    out = run_cli(seed_settings, "clauses", env_extra={"POLICY_DENSE_WEIGHT": "abc"})
    assert out.returncode != 0 and "POLICY_DENSE_WEIGHT" in out.stderr and "Traceback" not in out.stderr


def test_index_command_summary_and_strict(tmp_path):
    corpus = copy_corpus(tmp_path / "corpus")
    settings = type("S", (), {"corpus_dir": corpus, "index_dir": tmp_path / "index"})
    out = run_cli(settings, "index", "--quiet")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("索引完成：1 个文档，29 条条款")
    assert "秒" in out.stdout.strip().splitlines()[-1]

    (corpus / "empty.txt").write_text("", encoding="utf-8")
    strict = run_cli(settings, "index", "--strict", "--quiet")
    assert strict.returncode != 0 and "empty.txt" in strict.stderr and "文件为空" in strict.stderr
    lenient = run_cli(settings, "index", "--quiet")
    assert lenient.returncode == 0 and "已跳过" in lenient.stderr and "empty.txt" in lenient.stderr
    assert run_cli(settings, "show", f"{SEED_ID}#6").returncode == 0


def test_every_command_has_help_text():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert set(subparsers.choices) >= {"index", "clauses", "show", "search", "docs"}
    for name, sub in subparsers.choices.items():
        assert sub.description, f"{name} lacks a description"
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"{name} {action.dest} lacks help"


def test_ask_json_shape(seed_settings):
    out = run_cli(seed_settings, "ask", "创业担保贷款最高额度是多少？", "--json")
    assert reprs(json.loads(out.stdout)) == []
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"answer", "citations", "retrieved", "refused", "notes", "latency_ms"} <= set(data)
    assert data["retrieved"][0] == f"{SEED_ID}#6" and data["refused"] is False
    assert data["citations"][0]["clause_id"] == f"{SEED_ID}#6" and "300万元" in data["citations"][0]["quote"]
    assert "300万元" in data["answer"] and data["latency_ms"] > 0
    refused = json.loads(run_cli(seed_settings, "ask", "深圳的创业补贴标准", "--json").stdout)
    assert refused["refused"] is True and refused["citations"] == []


def test_a_closed_pipe_ends_output_quietly(multi_settings):
    """`policy-assistant clauses --json | head -1`: the reader goes away, and no traceback follows (the
    multi-document listing is larger than a pipe's buffer, so the writer does meet the closed pipe)."""
    env = {**os.environ, "POLICY_CORPUS_DIR": str(multi_settings.corpus_dir),
           "POLICY_EXTRA_CORPUS_DIRS": str(multi_settings.extra_corpus_dirs[0]),
           "POLICY_INDEX_DIR": str(multi_settings.index_dir), "POLICY_AUTO_BUILD": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "clauses", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does after its line
    err = proc.stderr.read().decode("utf-8")
    assert proc.wait(timeout=60) == 0 and first and "Traceback" not in err, err
