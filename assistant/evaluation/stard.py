"""STARD as an eval: real layperson legal questions (oneal2000/STARD, MIT) over the laws corpus, scored
against STARD's own BM25 baseline computed on the same clauses in the same run.

The set is read in place (``../shared/benchmarks/stard/train.jsonl``: ``{"id", "question", "gold": [{"file",
"article"}]}``); each gold article is mapped to the clause of that file numbered as printed. Questions
whose articles the index does not hold (a subset corpus) are left out and counted. The questions are split
by a hash of their id into a dev part (what weights are calibrated on) and a held-out part (never tuned
on), reported separately.

Metrics, as STARD's paper: hit@1, MRR@10 (reciprocal rank of the first gold article in the top 10), and
Recall@5/10/100 (the share of a question's gold articles in the top k, averaged).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..config import Settings
from ..errors import StardFileError
from ..regions import Regions
from ..search.index import Index
from ..search.scope import applies
from .runner import Floor, check_floors

CUTOFFS = (5, 10, 100)
# One question in HOLDOUT_EVERY goes to the held-out part (by a hash of its id, so stable across runs).
HOLDOUT_EVERY = 4


@dataclass(frozen=True)
class StardItem:
    id: str
    question: str
    gold: tuple[str, ...]  # clause ids of the gold articles

    @property
    def split(self) -> str:
        """"holdout" for one question in :data:`HOLDOUT_EVERY`, else "dev"."""
        digest = int(hashlib.sha256(self.id.encode("utf-8")).hexdigest(), 16)
        return "holdout" if digest % HOLDOUT_EVERY == 0 else "dev"


def is_stard_set(path: Path) -> bool:
    """Whether ``path`` is in STARD's shape (gold articles as ``{"file", "article"}`` objects)."""
    try:
        with open(path, encoding="utf-8") as handle:
            first = json.loads(handle.readline() or "{}")
    except (OSError, ValueError):
        return False
    gold = first.get("gold") if isinstance(first, dict) else None
    return isinstance(gold, list) and bool(gold) and isinstance(gold[0], dict) and {"file", "article"} <= set(gold[0])


def load_stard(path: Path, index: Index) -> tuple[list[StardItem], int]:
    """(the questions whose gold articles are all in ``index``, how many were left out).

    Raises:
        StardFileError: the file cannot be read or a line is not a question.
    """
    by_path = {entry["path"]: doc_id for doc_id, entry in index.manifest.documents.items()}
    by_label = {(c.doc_id, c.label): c.clause_id for c in index.clauses}
    items, left_out = [], 0
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise StardFileError(f"无法读取 STARD 问题集 {path}：{exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            gold = [by_label.get((by_path.get(g["file"], ""), g["article"])) for g in record["gold"]]
            item = StardItem(str(record["id"]), str(record["question"]), tuple(g for g in gold if g))
        except (ValueError, KeyError, TypeError) as exc:
            raise StardFileError(f"{path} 第 {number} 行不是 STARD 问题：{type(exc).__name__}") from None
        if len(item.gold) == len(gold) and item.gold:
            items.append(item)
        else:
            left_out += 1
    return items, left_out


class StardBM25:
    """STARD's baseline (its ``src/BM25``): jieba's default cut with its stopword list (the widely shared
    746-word cn_stopwords, from the ``stopwords-zh`` package), k1 1.3, b 0.75, k2 1.5, idf
    log((N − df + 0.5)/(df + 0.5)), each query word counted as often as it occurs, ties in corpus order.
    Computed as one sparse matrix product instead of its per-document loop; the scores are the same."""

    K1, K2, B = 1.3, 1.5, 0.75

    def __init__(self, texts: Sequence[str]):
        import jieba
        from scipy import sparse
        from stopwords import stopwords

        # STARD adds these to the list: its tokenizer keeps newlines, spaces and full-width brackets.
        self.stopwords = set(stopwords("cn")) | {"\n", "\\", "n", " ", ".", "（", "）"}
        self.vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[int] = []
        lengths: list[int] = []
        for row, text in enumerate(texts):
            words = self._words(jieba.cut(text))
            lengths.append(len(words))
            for word, count in Counter(words).items():
                rows.append(row)
                cols.append(self.vocab.setdefault(word, len(self.vocab)))
                tfs.append(count)
        n = len(texts)
        tf = np.asarray(tfs, dtype=np.float32)
        length = np.asarray(lengths, dtype=np.float32)
        avg = float(length.mean()) if n else 1.0
        df = np.bincount(np.asarray(cols, dtype=np.int64), minlength=len(self.vocab)).astype(np.float64)
        self.idf = np.log((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        rows_arr = np.asarray(rows, dtype=np.int64)
        weight = tf * (self.K1 + 1) / (tf + self.K1 * (1 - self.B + self.B * length[rows_arr] / avg))
        weight *= self.idf[np.asarray(cols, dtype=np.int64)]
        self.matrix = sparse.csc_matrix((weight, (rows_arr, np.asarray(cols))), shape=(n, len(self.vocab)))

    def _words(self, words) -> list[str]:
        return [w for w in words if w not in self.stopwords]

    def rank(self, question: str, k: int) -> list[int]:
        """Rows of the ``k`` best clauses for ``question``."""
        import jieba

        counts = Counter(w for w in self._words(jieba.cut(question)) if w in self.vocab)
        if not counts:  # every score 0: STARD's stable sort keeps the corpus order
            return list(range(min(k, self.matrix.shape[0])))
        cols = [self.vocab[w] for w in counts]
        # Each occurrence of a query word adds its term once more, scaled by the query-frequency factor.
        query = np.asarray([c * c * (self.K2 + 1) / (c + self.K2) for c in counts.values()], dtype=np.float32)
        scores = np.asarray(self.matrix[:, cols] @ query).ravel()
        order = np.argsort(-scores, kind="stable")
        return order[:k].tolist()


def scores(ranked: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    """hit@1, MRR@10 and Recall@k of one ranking."""
    wanted = set(gold)
    first = next((i for i, c in enumerate(ranked[:10], 1) if c in wanted), None)
    out = {"hit@1": float(bool(ranked) and ranked[0] in wanted), "mrr@10": 1.0 / first if first else 0.0}
    for k in CUTOFFS:
        out[f"recall@{k}"] = len(wanted & set(ranked[:k])) / len(wanted)
    return out


def summarize(rows: list[dict[str, float]]) -> dict[str, float | int]:
    if not rows:
        return {"questions": 0}
    return {"questions": len(rows), **{m: round(sum(r[m] for r in rows) / len(rows), 4) for m in rows[0]}}


@dataclass
class StardRun:
    summary: dict
    violations: list[str]


def evaluate_stard(settings: Settings, index: Index, path: Path, out_dir: Path, *, floors: list[Floor] | None = None,
                   progress: Callable[[str, int], Callable[[], None]] | None = None, limit: int = 0) -> StardRun:
    """Rank every question with the assistant's retriever (top 100, asked from ``settings.region``) and with
    STARD's BM25 over the same clauses (those of the documents that apply there); write the run folder.

    Args:
        limit: ask only the first ``limit`` questions (0: all), for a quick look.
    """
    from ..answer.assistant import Assistant

    items, left_out = load_stard(path, index)
    items = items[:limit] if limit else items
    region = Regions.load().find(settings.region) if settings.region else None
    rows = [i for i, c in enumerate(index.clauses) if applies(index.document(c.doc_id), region)]
    started = time.perf_counter()
    baseline = StardBM25([index.clauses[i].text for i in rows])
    baseline_build_s = time.perf_counter() - started
    assistant = Assistant.from_settings(settings, index=index)
    k = max(CUTOFFS)
    results: list[dict[str, Any]] = []
    latencies: list[float] = []
    tick = progress("STARD", len(items)) if progress else None
    for item in items:
        started = time.perf_counter()
        ours = [h.clause.clause_id for h in assistant.retriever.retrieve(item.question, k, region=region).hits]
        latencies.append((time.perf_counter() - started) * 1000)
        bm25 = [index.clauses[rows[r]].clause_id for r in baseline.rank(item.question, k)]
        results.append({"id": item.id, "split": item.split, "question": item.question, "gold": list(item.gold),
                        "ours": ours[:10], "bm25": bm25[:10],
                        "scores": {"ours": scores(ours, item.gold), "bm25": scores(bm25, item.gold)}})
        if tick:
            tick()
    summary: dict[str, Any] = {"file": str(path), "generated": dt.datetime.now().isoformat(timespec="seconds"),
               "encoder": settings.encoder, "dense_weight": settings.dense_weight,
               "channel_weights": settings.channel_weights, "kind_prior": settings.kind_prior, "region": settings.region,
               "clauses": len(index.clauses), "clauses_in_scope": len(rows), "questions_left_out": left_out,
               "baseline_build_s": round(baseline_build_s, 1),
               "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
               "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1) if latencies else None}
    for split in ("all", "dev", "holdout"):
        chosen = [r for r in results if split == "all" or r["split"] == split]
        mine, base = (summarize([r["scores"][system] for r in chosen]) for system in ("ours", "bm25"))
        ratio = {m: _ratio(mine.get(m), base.get(m)) for m in mine if m != "questions"}
        summary[split] = {"ours": mine, "bm25": base, "ratio": ratio}
    summary["overall"] = {**summary["all"]["ours"], **{f"{m}/bm25": v for m, v in summary["all"]["ratio"].items()}}
    violations = check_floors(summary, floors) if floors else []
    summary["floor_violations"] = violations
    _write(out_dir, summary, results)
    return StardRun(summary, violations)


def _ratio(ours: float | None, base: float | None) -> float | None:
    return round(ours / base, 3) if ours is not None and base else None


def _write(out_dir: Path, summary: dict, results: list[dict]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results),
                                           encoding="utf-8")
    (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    metrics = ["hit@1", "mrr@10", *(f"recall@{k}" for k in CUTOFFS)]
    lines = [f"# STARD: {summary['file']}", "",
             f"encoder `{summary['encoder']}`, kind bonus `{summary.get('kind_prior') or '—'}`, "
             f"region `{summary['region'] or '—'}`, {summary['clauses']:,} clauses "
             f"({summary['clauses_in_scope']:,} in scope), {summary['questions_left_out']} questions left out "
             f"(gold articles not in the index); retrieval p50 {summary['latency_p50_ms']} ms, "
             f"p95 {summary['latency_p95_ms']} ms", "",
             "| split | system | questions | " + " | ".join(metrics) + " |",
             "|---|---|---:|" + "---:|" * len(metrics)]
    for split in ("all", "dev", "holdout"):
        for system in ("ours", "bm25", "ratio"):
            row = summary[split][system]
            count = summary[split]["ours"].get("questions", 0) if system != "ratio" else ""
            cells = " | ".join("—" if row.get(m) is None else f"{row[m]:.3f}" for m in metrics)
            lines.append(f"| {split} | {'政策通' if system == 'ours' else 'STARD BM25' if system == 'bm25' else '倍数'} "
                         f"| {count} | {cells} |")
    (out_dir / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")

