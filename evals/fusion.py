"""Calibrate the fusion of the dense channels with BM25 (``POLICY_DENSE_WEIGHT``, ``POLICY_CHANNEL_WEIGHTS``).

    .venv/bin/python evals/fusion.py --index-dir /tmp/idx --multi-index-dir /tmp/idx-multi \
        --encoder use-multilingual+e5 [--stard-index-dir index-laws-subset] [--holdout]

For each point of a grid over the dense weight and the split between the channels, ranks the questions of
the dev sets by retrieval alone (no answer composing) and prints hit@1 and MRR@10 per set and their mean,
the objective the defaults were chosen by. The dev sets: ``qa.jsonl`` on the seed alone, ``qa_multi.jsonl``
and ``qa.jsonl`` (asked from 临夏州) on the multi-document corpus, and the dev part of STARD when a laws index
is given. ``--holdout`` scores the held-out files instead (``qa_holdout.jsonl``, ``qa_multi_holdout.jsonl``,
STARD's held-out part): run it once, on the chosen point, never to choose.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from pathlib import Path

import numpy as np

from assistant.answer.assistant import Assistant
from assistant.config import Settings, channel_names
from assistant.evaluation.evaluate import load_qa
from assistant.evaluation.stard import load_stard, scores
from assistant.regions import Regions
from assistant.search.index import Index

EVALS = Path(__file__).parent
STARD = EVALS.parent.parent / "shared" / "benchmarks" / "stard" / "train.jsonl"


def _qa_cases(path: Path, index: Index, region: str | None) -> list[tuple[str, tuple[str, ...], str | None]]:
    items = load_qa(path, known_clauses=set(index.by_id))
    return [(i.question, i.gold, i.region if i.region is not None else region) for i in items if i.gold]


def _stard_cases(index: Index, split: str) -> list[tuple[str, tuple[str, ...], str | None]]:
    items, _ = load_stard(STARD, index)
    return [(i.question, i.gold, "临夏州") for i in items if i.split == split]


def _score(assistant: Assistant, cases, k: int = 10) -> dict[str, float]:
    regions = Regions.load()
    rows = []
    for question, gold, region in cases:
        place = regions.find(region) if region else None
        ranked = [h.clause.clause_id for h in assistant.retriever.retrieve(question, k, region=place).hits]
        rows.append(scores(ranked, gold))
    return {m: float(np.mean([r[m] for r in rows])) for m in ("hit@1", "mrr@10")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="use-multilingual+e5")
    parser.add_argument("--index-dir", type=Path, required=True, help="index of the seed corpus alone")
    parser.add_argument("--multi-index-dir", type=Path, required=True, help="index of seed + realdocs/policy")
    parser.add_argument("--stard-index-dir", type=Path, help="index of the laws (or a subset holding STARD's laws)")
    parser.add_argument("--stard-corpus", type=Path, default=EVALS.parent.parent / "shared" / "realdocs" / "laws")
    parser.add_argument("--dense", default="0.4,0.5,0.6,0.7")
    parser.add_argument("--split", default="1:0,1:1,1:2,1:3,0:1", help="channel weights to try, in channel order")
    parser.add_argument("--holdout", action="store_true")
    args = parser.parse_args()

    base = Settings.from_env(encoder=args.encoder)
    seed = dataclasses.replace(base, index_dir=args.index_dir)
    multi = dataclasses.replace(base, index_dir=args.multi_index_dir,
                                extra_corpus_dirs=(EVALS.parent.parent / "shared" / "realdocs" / "policy",))
    sets = []
    seed_index, multi_index = Index.open(seed), Index.open(multi)
    suffix = "_holdout" if args.holdout else ""
    sets.append(("qa/seed", seed, seed_index, _qa_cases(EVALS / f"qa{suffix}.jsonl", seed_index, None)))
    sets.append(("qa_multi", multi, multi_index, _qa_cases(EVALS / f"qa_multi{suffix}.jsonl", multi_index, None)))
    sets.append(("qa/临夏州", multi, multi_index, _qa_cases(EVALS / f"qa{suffix}.jsonl", multi_index, "临夏州")))
    if args.stard_index_dir:
        laws = dataclasses.replace(base, index_dir=args.stard_index_dir, corpus_dir=args.stard_corpus)
        laws_index = Index.open(laws)
        sets.append(("stard", laws, laws_index, _stard_cases(laws_index, "holdout" if args.holdout else "dev")))
    channels = len(channel_names(args.encoder))
    splits = [tuple(float(w) for w in s.split(":")) for s in args.split.split(",")]
    splits = [s for s in splits if len(s) == channels] or [(1.0,) * channels]
    print("sets:", "; ".join(f"{name} {len(cases)}" for name, _, _, cases in sets))
    for dense, split in itertools.product([float(d) for d in args.dense.split(",")], splits):
        results = []
        for name, settings, index, cases in sets:
            weights = ",".join(f"{n}={w}" for n, w in zip(channel_names(args.encoder), split))
            tuned = dataclasses.replace(settings, dense_weight=dense, channel_weights=weights)
            results.append((name, _score(Assistant.from_settings(tuned, index=index), cases)))
        mean_mrr = np.mean([r["mrr@10"] for _, r in results])
        cells = "  ".join(f"{name} {r['hit@1']:.3f}/{r['mrr@10']:.3f}" for name, r in results)
        print(f"dense {dense:.2f} split {':'.join(f'{w:g}' for w in split)}  mean MRR {mean_mrr:.4f}  {cells}", flush=True)


if __name__ == "__main__":
    main()
