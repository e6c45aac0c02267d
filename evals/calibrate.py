"""Calibrate the sentence-evidence floors of ``assistant/data/refusal.toml`` on the dev sets.

    .venv/bin/python evals/calibrate.py                # grid over give_floor × topic_floor
    .venv/bin/python evals/calibrate.py --give 0.5 --topic 0.3   # one point, metrics per set

Asks the dev sets only (never a held-out file): ``qa_multi.jsonl``, ``qa_answer.jsonl`` and ``qa.jsonl``
(asked from 临夏州) on the multi-document corpus (seed + ``../shared/realdocs/policy``, index in
``index-multi/``, built by ``make eval``), and ``qa.jsonl`` on the seed alone. For each point it prints the
answer-shape metrics and the objective the floors were chosen by: refusal accuracy + partial answers where
one is expected + fact in the first lines − 2 × false refusals − false partial answers, averaged over sets.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from pathlib import Path

from assistant.answer.assistant import Assistant
from assistant.config import Settings
from assistant.evaluation.evaluate import load_qa, metrics, run

ROOT = Path(__file__).resolve().parent.parent
REALDOCS = ROOT.parent / "shared" / "realdocs" / "policy"
KEYS = ("fact_coverage", "fact_first", "refusal_accuracy", "false_refusal", "false_partial", "partial_ok")


def objective(m: dict) -> float:
    """What the floors are chosen by (metrics a set does not have count as neither gain nor loss)."""
    def v(key: str) -> float:
        return m.get(key) or 0.0
    return (v("refusal_accuracy") + v("partial_ok") + v("fact_first") - 2 * v("false_refusal") - v("false_partial"))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--give", type=float, nargs="*", default=[0.3, 0.4, 0.5, 0.6, 0.7])
    parser.add_argument("--topic", type=float, nargs="*", default=[0.2, 0.3, 0.4, 0.5])
    args = parser.parse_args()
    seed = Assistant.from_settings(Settings.from_env({}, corpus_dir=ROOT / "corpus", index_dir=ROOT / "index"))
    multi = Assistant.from_settings(Settings.from_env({}, corpus_dir=ROOT / "corpus", extra_corpus_dirs=(REALDOCS,),
                                                      index_dir=ROOT / "index-multi"))
    sets = [("qa_multi", multi, "qa_multi.jsonl", None), ("qa_answer", multi, "qa_answer.jsonl", None),
            ("qa@临夏州", multi, "qa.jsonl", "临夏州"), ("qa", seed, "qa.jsonl", None)]
    items = {name: load_qa(ROOT / "evals" / file) for name, _, file, _ in sets}
    print("give  topic  objective  " + "  ".join(f"{k[:12]:>12}" for k in KEYS))
    for give, topic in itertools.product(args.give, args.topic):
        rows = {}
        for name, assistant, _, region in sets:
            lexicon = assistant.lexicon
            policy = dataclasses.replace(lexicon.refusal, give_floor=give, topic_floor=topic)
            assistant.routes.lexicon = dataclasses.replace(lexicon, refusal=policy)

            def ask(question: str, region: str | None = region, *, _a=assistant, **kw) -> object:
                return _a.ask(question, compose="extractive", region=kw.get("region", region))

            rows[name] = metrics(run(items[name], ask))
        mean = {k: _mean([r[k] for r in rows.values() if r[k] is not None]) for k in KEYS}
        print(f"{give:4.2f}  {topic:5.2f}  {sum(objective(r) for r in rows.values()) / len(rows):9.3f}  "
              + "  ".join(f"{mean[k]:12.3f}" for k in KEYS))
        if len(args.give) == len(args.topic) == 1:
            for name, r in rows.items():
                print(f"    {name:12} " + "  ".join(f"{k}={r[k]}" for k in KEYS))


if __name__ == "__main__":
    main()
