"""The eval of sub-measures: each sentence of a measure read as what it is to an owner, against annotations.

A set (``evals/submeasures.jsonl``, held-out ``submeasures_holdout.jsonl``) holds one clause per line with
its sentences, each labelled by reading it (docs/matching.md, "Sub-measures"): its result (可以申请,
可以利用, 政策背景, or 无 for a sentence that is no measure), the kinds of beneficiary and support it
names, the figures it grants and whom to ask. The index's sub-measures are compared sentence by sentence:
how often the result agrees, how many of the sentences offered as 可以申请 are agencies' duties or no
measure at all, whether each figure stays with its own sentence, and whether the lead agrees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import QAFileError
from ..models import BACKGROUND, CHANNEL, CLAIM

NONE = "无"  # a sentence that is no measure (a title, a definition, a penalty)
LABELS = (CLAIM, CHANNEL, BACKGROUND, NONE)


@dataclass(frozen=True)
class GoldSentence:
    clause_id: str
    n: int
    text: str
    result: str
    figures: tuple[str, ...]
    lead: str


def is_submeasure_set(path: Path) -> bool:
    """Whether ``path`` is a sub-measure set (its first record has ``sentences``)."""
    try:
        with path.open(encoding="utf-8") as handle:
            first = next((line for line in handle if line.strip()), "")
        return path.suffix == ".jsonl" and "sentences" in json.loads(first or "{}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False


def load_submeasures(path: Path) -> list[GoldSentence]:
    """Read a sub-measure set.

    Raises:
        QAFileError: unreadable, a bad line, or a result that is none of :data:`LABELS` (every problem listed).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QAFileError(f"无法读取分项措施标注 {path}：{exc}") from None
    gold, problems = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            for s in row["sentences"]:
                if s["result"] not in LABELS:
                    problems.append(f"第 {number} 行第 {s['n']} 句：结果“{s['result']}”应为 {'、'.join(LABELS)} 之一")
                gold.append(GoldSentence(row["clause_id"], int(s["n"]), s["text"], s["result"],
                                         tuple(s.get("figures", ())), s.get("lead", "")))
        except json.JSONDecodeError as exc:
            problems.append(f"第 {number} 行不是有效的 JSON：{exc.msg}")
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"第 {number} 行格式不对：{exc}")
    if problems:
        raise QAFileError.listing(f"分项措施标注 {path}", problems)
    return gold


def submeasure_metrics(index, gold: list[GoldSentence]) -> dict:
    """The index's sub-measures against ``gold``, over the annotated clauses it holds."""
    pairs = []  # (gold sentence, the index's sub-measure of that sentence or None)
    for g in gold:
        clause = index.by_id.get(g.clause_id)
        if clause is None:
            continue
        measure = clause.measure
        parts = measure.sub_measures if measure is not None and measure.usable else ()
        pairs.append((g, next((p for p in parts if p.text == g.text), None)))
    said = [(g, p.result if p else NONE, p) for g, p in pairs]
    claimed = [(g, p) for g, r, p in said if r == CLAIM]
    gold_claims = [g for g, _, _ in said if g.result == CLAIM]
    figures = [(f, p) for g, r, p in said if p is not None for f in g.figures]
    shown = [(f, g) for g, r, p in said if p is not None for f in p.figures]
    leads = [(g.lead, p.lead) for g, r, p in said if p is not None and g.lead and r in (CLAIM, CHANNEL)]

    def share(hits: int, total: int) -> float | None:
        return round(hits / total, 3) if total else None

    return {
        "sentences": len(pairs),
        "result_accuracy": share(sum(g.result == r for g, r, _ in said), len(said)),
        "claim_precision": share(sum(g.result == CLAIM for g, _ in claimed), len(claimed)),
        "claim_recall": share(sum(1 for g, r, _ in said if g.result == CLAIM and r == CLAIM), len(gold_claims)),
        # How many sentences offered as 可以申请 only direct agencies' own work or are no measure at all.
        "claim_agency_share": share(sum(g.result in (BACKGROUND, NONE) for g, _ in claimed), len(claimed)),
        "channel_precision": share(sum(1 for g, r, _ in said if r == CHANNEL and g.result == CHANNEL),
                                   sum(1 for _, r, _ in said if r == CHANNEL)),
        # Figures stay with their sentence: the annotated ones found on it, and those shown on it that belong there.
        "figures_recall": share(sum(1 for f, p in figures if any(_same_figure(f, x) for x in p.figures)), len(figures)),
        "figures_precision": share(sum(1 for f, g in shown if any(_same_figure(f, x) for x in g.figures)), len(shown)),
        "lead_agreement": share(sum(1 for a, b in leads if _same_unit(a, b)), len(leads)),
    }


def _same_figure(a: str, b: str) -> bool:
    """One figure written with or without its qualifier: 最高额度为300万元 and 300万元."""
    return a in b or b in a


def _same_unit(a: str, b: str) -> bool:
    a, b = a.lstrip("各"), b.lstrip("各")
    return bool(a and b) and (a in b or b in a)
