"""Evaluation: load a QA set, run the assistant on every question, compute retrieval and answer metrics.

Metrics (overall and per type): hit@1, hit@5, MRR, recall@5 over gold clauses, citation hit rate,
fact coverage, refusal accuracy on unanswerable questions, false-refusal rate on answerable ones,
and latency percentiles.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import PolicyError
from ..models import Answer
from ..search.text import normalize


class QAFileError(PolicyError):
    """A QA file is malformed; the message names the file and every bad line."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()):
        super().__init__(message)
        self.problems = problems

    @classmethod
    def listing(cls, what: str, problems: list[str]) -> "QAFileError":
        """The error for ``what`` (问答集 evals/x.jsonl) with every bad line: the first ones listed, the rest counted."""
        listed = "\n".join(f"  {p}" for p in problems[:MAX_LISTED_PROBLEMS])
        more = f"\n  …… 另有 {len(problems) - MAX_LISTED_PROBLEMS} 处问题" if len(problems) > MAX_LISTED_PROBLEMS else ""
        return cls(f"{what} 有 {len(problems)} 处问题：\n{listed}{more}", tuple(problems))


# Problems listed in the error message; the rest are counted (a wholly wrong file has one per line).
MAX_LISTED_PROBLEMS = 20


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    gold: tuple[str, ...]
    facts: tuple[str, ...]
    type: str
    # The asker's area for this question (临夏州; "" = anywhere); None: the run's (POLICY_REGION).
    region: str | None = None

    @property
    def answerable(self) -> bool:
        return bool(self.gold)


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


def load_qa(path: Path, known_clauses: set[str] | None = None) -> list[QAItem]:
    """Read a QA set (.jsonl, or .csv with ``;``-separated gold and facts).

    Every line is checked before anything is reported, so one run lists all the problems.

    Raises:
        QAFileError: malformed lines, missing fields, duplicate ids, or unknown clause ids (with line numbers).
    """
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise QAFileError(f"无法读取问答集 {path}：第 {line} 行不是 UTF-8 编码（{exc.reason}）") from None
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
        items.append(QAItem(qid, str(obj["question"]), tuple(map(str, obj["gold"])),
                            tuple(map(str, obj.get("facts", []))), str(obj.get("type", "")), region))
    if problems:
        raise QAFileError.listing(f"问答集 {path}", problems)
    if not items:
        raise QAFileError(f"问答集 {path} 是空的")
    return items


def fact_found(fact: str, answer: str) -> bool:
    """A fact (alternatives split on |) is found when one alternative occurs in the answer."""
    text = normalize(answer)
    return any(normalize(alt) in text for alt in fact.split("|") if alt)


def run(items: Iterable[QAItem], ask: Callable[..., Answer], progress: Callable | None = None) -> list[Result]:
    """Ask every question; a question with its own ``region`` is asked as from there (``ask(q, region=…)``)."""
    results = []
    for item in items:
        answer = ask(item.question) if item.region is None else ask(item.question, region=item.region)
        results.append(Result(
            id=item.id, question=item.question, type=item.type, gold=list(item.gold),
            retrieved=list(answer.retrieved), citations=list(dict.fromkeys(c.clause_id for c in answer.citations)),
            answer=answer.text, refused=answer.refused, latency_ms=answer.timings.get("total", 0.0),
            facts_found=[fact_found(f, answer.text) for f in item.facts], facts=list(item.facts),
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
    latencies = [r.latency_ms for r in results]
    return {
        "questions": len(results),
        "hit@1": mean([1.0 if rk == 0 else 0.0 for rk in ranks]),
        f"hit@{k}": mean([1.0 if rk is not None and rk < k else 0.0 for rk in ranks]),
        "mrr": mean([1.0 / (rk + 1) if rk is not None else 0.0 for rk in ranks]),
        f"recall@{k}": mean([len(set(r.retrieved[:k]) & set(r.gold)) / len(r.gold) for r in answerable]),
        "citation_hit": mean([1.0 if set(r.citations) & set(r.gold) else 0.0 for r in answerable]),
        "fact_coverage": mean([1.0 if f else 0.0 for f in facts]),
        "refusal_accuracy": mean([1.0 if r.refused else 0.0 for r in unanswerable]),
        "false_refusal": mean([1.0 if r.refused else 0.0 for r in answerable]),
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
