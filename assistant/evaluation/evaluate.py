"""Evaluation: load a QA set, run the assistant on every question, compute retrieval and answer metrics.

Metrics (overall and per type): hit@1, hit@5, MRR, recall@5 over gold clauses, citation hit rate; the
answer's shape: fact coverage (anywhere in the answer) and the fact in its first lines, refusal accuracy
on unanswerable questions (refused, or answered as a partial answer that says what the text lacks),
false refusals and false partial answers on answerable ones, partial answers where one is expected, and
every side cited on comparison questions; latency percentiles.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import QAFileError
from ..models import Answer
from ..regions import ANYWHERE, Where
from ..search.text import normalize

EXPECTS = ("", "answer", "partial", "refuse")


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    gold: tuple[str, ...]
    facts: tuple[str, ...]
    type: str
    # The asker's area for this question (临夏州; "" = anywhere); None: the run's (POLICY_REGION).
    region: str | None = None
    # A comparison's sides: each a tuple of clause ids any one of which answers that side.
    sides: tuple[tuple[str, ...], ...] = ()
    # "answer", "partial" (the documents address the subject, not the thing asked) or "refuse".
    expect: str = ""

    @property
    def answerable(self) -> bool:
        return bool(self.gold)

    @property
    def expected(self) -> str:
        return self.expect or ("answer" if self.gold else "refuse")


@dataclass
class Result:
    id: str
    question: str
    type: str
    gold: list[str]
    retrieved: list[str]
    citations: list[str]
    answer: str
    refused: bool
    latency_ms: float
    facts_found: list[bool] = field(default_factory=list)
    # The expected facts themselves, parallel to facts_found, so reports can say which one is missing.
    facts: list[str] = field(default_factory=list)
    facts_first: list[bool] = field(default_factory=list)  # found in the answer's first lines
    partial: bool = False
    expect: str = ""
    sides: list[list[str]] = field(default_factory=list)


def load_qa(path: Path, known_clauses: set[str] | None = None) -> list[QAItem]:
    """Read a QA set (.jsonl, or .csv with ``;``-separated gold and facts).

    Every line is checked before anything is reported, so one run lists all the problems.

    Raises:
        QAFileError: malformed lines, missing fields, duplicate ids, or unknown clause ids (with line numbers).
    """
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise QAFileError(f"无法读取问答集 {path}：第 {bad} 行不是 UTF-8 编码（{exc.reason}）") from None
    except OSError as exc:
        raise QAFileError(f"无法读取问答集 {path}：{exc}") from None
    problems: list[str] = []
    rows: list[tuple[int, dict]] = []
    if path.suffix.lower() == ".csv":
        for n, row in enumerate(csv.DictReader(raw.splitlines()), start=2):
            row = dict(row)
            for key in ("gold", "facts"):
                row[key] = [x.strip() for x in (row.get(key) or "").split(";") if x.strip()]
            rows.append((n, row))
    else:
        for n, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"第 {n} 行不是有效的 JSON：{exc.msg}")
                continue
            except RecursionError:
                problems.append(f"第 {n} 行不是有效的 JSON：嵌套过深")
                continue
            if not isinstance(obj, dict):
                problems.append(f"第 {n} 行应为 JSON 对象")
                continue
            rows.append((n, obj))
    items: list[QAItem] = []
    seen: dict[str, int] = {}
    for n, obj in rows:
        missing = [k for k in ("id", "question", "gold") if obj.get(k) is None]  # a short CSV row gives None
        if missing:
            problems.append(f"第 {n} 行缺少字段：{', '.join(missing)}")
            continue
        if not isinstance(obj["gold"], list) or not isinstance(obj.get("facts", []), list):
            problems.append(f"第 {n} 行：gold 和 facts 应为列表")
            continue
        if not str(obj["question"]).strip():
            problems.append(f"第 {n} 行：question 为空")
        qid = str(obj["id"])
        if qid in seen:
            problems.append(f"第 {n} 行：id “{qid}” 与第 {seen[qid]} 行重复")
        seen.setdefault(qid, n)
        unknown = [g for g in obj["gold"] if known_clauses is not None and g not in known_clauses]
        if unknown:
            problems.append(f"第 {n} 行：未知的条款编号 {', '.join(map(str, unknown))}")
        region = obj.get("region")
        if region is not None and not isinstance(region, str):
            problems.append(f"第 {n} 行：region 应为地区名称字符串（空字符串表示不限地区）")
            continue
        sides = obj.get("sides") or []
        if not (isinstance(sides, list) and all(isinstance(x, list) and x and set(map(str, x)) <= set(map(str, obj["gold"]))
                                                for x in sides)):
            problems.append(f"第 {n} 行：sides 应为条款编号列表的列表，且每个条款都在 gold 中")
            continue
        expect = obj.get("expect", "")
        if expect not in EXPECTS or (expect and (expect == "refuse") != (not obj["gold"])):
            problems.append(f"第 {n} 行：expect 应为 answer、partial 或 refuse（refuse 当且仅当 gold 为空）")
            continue
        items.append(QAItem(qid, str(obj["question"]), tuple(map(str, obj["gold"])),
                            tuple(map(str, obj.get("facts", []))), str(obj.get("type", "")), region,
                            tuple(tuple(map(str, x)) for x in sides), expect))
    if problems:
        raise QAFileError.listing(f"问答集 {path}", problems)
    if not items:
        raise QAFileError(f"问答集 {path} 是空的")
    return items


def fact_found(fact: str, answer: str) -> bool:
    """A fact (alternatives split on |) is found when one alternative occurs in the answer (bold marks
    ignored)."""
    text = normalize(answer.replace("**", ""))
    return any(normalize(alt) in text for alt in fact.split("|") if alt)


def first_lines(answer: Answer) -> str:
    """What an answer says before its quotes: the lines up to the first blank line."""
    return answer.text.split("\n\n", 1)[0]


def run(items: Iterable[QAItem], ask: Callable[..., Answer], progress: Callable | None = None) -> list[Result]:
    """Ask every question; a question with its own ``region`` is asked as from there (``ask(q, region=…)``;
    a set's ``""`` is anywhere, evals/README.md)."""
    results = []
    for item in items:
        answer = (ask(item.question) if item.region is None
                  else ask(item.question, region=Where.parse(item.region) if item.region else ANYWHERE))
        results.append(Result(
            id=item.id, question=item.question, type=item.type, gold=list(item.gold),
            retrieved=list(answer.retrieved), citations=list(dict.fromkeys(c.clause_id for c in answer.citations)),
            answer=answer.text, refused=answer.refused, latency_ms=answer.timings.get("total", 0.0),
            facts_found=[fact_found(f, answer.text) for f in item.facts], facts=list(item.facts),
            facts_first=[fact_found(f, first_lines(answer)) for f in item.facts], partial=answer.partial,
            expect=item.expected, sides=[list(x) for x in item.sides],
        ))
        if progress:
            progress()
    return results


def metrics(results: list[Result], k: int = 5) -> dict[str, float | int | None]:
    """Aggregate metrics over ``results`` (None where a metric has no applicable question)."""
    answerable = [r for r in results if r.gold]
    unanswerable = [r for r in results if not r.gold]

    def first_rank(r: Result) -> int | None:
        return next((i for i, cid in enumerate(r.retrieved) if cid in r.gold), None)

    def mean(values: list[float]) -> float | None:
        return round(float(np.mean(values)), 4) if values else None

    ranks = [first_rank(r) for r in answerable]
    facts = [f for r in answerable for f in r.facts_found]
    first = [f for r in answerable for f in r.facts_first]
    latencies = [r.latency_ms for r in results]
    full = [r for r in answerable if r.expect != "partial"]
    partial = [r for r in answerable if r.expect == "partial"]
    compared = [r for r in answerable if r.sides]
    return {
        "questions": len(results),
        "hit@1": mean([1.0 if rk == 0 else 0.0 for rk in ranks]),
        f"hit@{k}": mean([1.0 if rk is not None and rk < k else 0.0 for rk in ranks]),
        "mrr": mean([1.0 / (rk + 1) if rk is not None else 0.0 for rk in ranks]),
        f"recall@{k}": mean([len(set(r.retrieved[:k]) & set(r.gold)) / len(r.gold) for r in answerable]),
        "citation_hit": mean([1.0 if set(r.citations) & set(r.gold) else 0.0 for r in answerable]),
        "fact_coverage": mean([1.0 if f else 0.0 for f in facts]),
        "fact_first": mean([1.0 if f else 0.0 for f in first]),
        # A partial answer to an unanswerable question claims nothing the text lacks: it says what is missing.
        "refusal_accuracy": mean([1.0 if r.refused or r.partial else 0.0 for r in unanswerable]),
        "refusal_strict": mean([1.0 if r.refused else 0.0 for r in unanswerable]),
        "false_refusal": mean([1.0 if r.refused else 0.0 for r in answerable]),
        "false_partial": mean([1.0 if r.partial else 0.0 for r in full]),
        "partial_ok": mean([1.0 if r.partial else 0.0 for r in partial]),
        "sides_cited": mean([1.0 if all(set(side) & set(r.citations) for side in r.sides) else 0.0 for r in compared]),
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1) if latencies else None,
    }


def summarize(results: list[Result], k: int = 5) -> dict:
    """Overall metrics and the same per question type."""
    types = sorted({r.type for r in results})
    return {"overall": metrics(results, k), "by_type": {t: metrics([r for r in results if r.type == t], k)
                                                       for t in types}}


def result_dicts(results: list[Result]) -> list[dict]:
    return [asdict(r) for r in results]
