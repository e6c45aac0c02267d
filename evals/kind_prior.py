"""Calibrate a laws deployment's ranking bonus by document kind (``POLICY_KIND_PRIOR``) on STARD's dev part.

    .venv/bin/python evals/kind_prior.py --index-dir index-laws [--encoder use-multilingual] \
        [--out evals/kind_prior_laws.txt]

Laypeople's questions are answered by a 法律 (民法典, 劳动合同法 …) far more often than a 行政法规 or a
地方性法规 among the clauses retrieval ranks near them. The bonus of each kind is the log of the share of
gold articles of that kind over its share among the top 100 hits of the dev questions (ranked without a
bonus), clipped, times a scale chosen by MRR@10 on the same dev questions over a grid. The held-out part is
scored once, at the chosen scale, to report, never to choose. Prints the setting; ``--out`` writes it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections import Counter
from pathlib import Path

import numpy as np

from assistant.answer.assistant import Assistant
from assistant.config import Settings
from assistant.evaluation.stard import load_stard, scores
from assistant.regions import Regions

EVALS = Path(__file__).parent
SHARED = EVALS.parent.parent / "shared"
# How far down each dev question's hits count as "near misses", and how many of a kind it takes to be given a
# bonus (kinds seen less often are left at 0).
DEPTH = 100
MIN_SEEN = 200
# The log ratio is clipped: a kind no gold article has would otherwise be pushed out of sight.
CLIP = 2.0
SCALES = (0.0, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2)


def _ranked(assistant: Assistant, items, region) -> list[tuple[tuple[str, ...], list[tuple[str, float]]]]:
    """(gold, [(clause id, score)]) of each question, ranked without a kind bonus."""
    out = []
    for item in items:
        hits = assistant.retriever.retrieve(item.question, DEPTH, region=region).hits
        out.append((item.gold, [(h.clause.clause_id, h.score) for h in hits]))
    return out


def log_ratios(runs, kind_of) -> dict[str, float]:
    """Per kind: log(its share of the gold articles / its share of the top hits), clipped to ±CLIP."""
    gold = Counter(kind_of(c) for g, _ in runs for c in g)
    seen = Counter(kind_of(c) for _, hits in runs for c, _ in hits)
    n_gold, n_seen = sum(gold.values()), sum(seen.values())
    return {kind: max(-CLIP, min(CLIP, math.log(((gold[kind] + 1) / n_gold) / ((count + 1) / n_seen))))
            for kind, count in seen.items() if count >= MIN_SEEN and kind}


def _scored(runs, bonus: dict[str, float], scale: float, kind_of) -> dict[str, float]:
    rows = []
    for gold, hits in runs:
        ranked = sorted(hits, key=lambda h: -(h[1] + scale * bonus.get(kind_of(h[0]), 0.0)))
        rows.append(scores([c for c, _ in ranked], gold))
    return {m: round(float(np.mean([r[m] for r in rows])), 4) for m in ("hit@1", "mrr@10", "recall@10", "recall@100")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, default=SHARED / "realdocs" / "laws")
    parser.add_argument("--stard", type=Path, default=SHARED / "benchmarks" / "stard" / "train.jsonl")
    parser.add_argument("--encoder", default=None, help="the index's encoder setting (default: POLICY_ENCODER)")
    parser.add_argument("--region", default="临夏州")
    parser.add_argument("--out", type=Path, help="write the setting here")
    args = parser.parse_args()

    settings = dataclasses.replace(Settings.from_env(corpus_dir=args.corpus, index_dir=args.index_dir,
                                                     encoder=args.encoder), kind_prior="")
    assistant = Assistant.from_settings(settings)
    index = assistant.index
    region = Regions.load().find(args.region)
    items, _ = load_stard(args.stard, index)

    def kind_of(clause_id: str) -> str:
        doc = index.documents.get(index.by_id[clause_id].doc_id)
        return doc.doc_type if doc is not None else ""

    dev = _ranked(assistant, [i for i in items if i.split == "dev"], region)
    bonus = log_ratios(dev, kind_of)
    print("log ratios:", {k: round(v, 2) for k, v in sorted(bonus.items(), key=lambda kv: -kv[1])})
    results = {scale: _scored(dev, bonus, scale, kind_of) for scale in SCALES}
    for scale, row in results.items():
        print(f"scale {scale:<6} dev {row}")
    best = max(SCALES, key=lambda s: results[s]["mrr@10"])
    held = _ranked(assistant, [i for i in items if i.split == "holdout"], region)
    print(f"chosen {best}: held-out {_scored(held, bonus, 0.0, kind_of)} -> {_scored(held, bonus, best, kind_of)}")
    setting = ",".join(f"{kind}={best * value:.3f}" for kind, value in sorted(bonus.items(), key=lambda kv: -kv[1]))
    print(f"POLICY_KIND_PRIOR={setting}")
    if args.out:
        args.out.write_text(setting + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
