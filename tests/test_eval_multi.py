"""The multi-document gold sets: valid, and at or above their floors on the seed + realdocs/policy corpus."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from assistant.cli import main
from assistant.evaluation.evaluate import load_qa
from assistant.evaluation.runner import check_floors, evaluate_suite, load_floors
from tests.support import ROOT

pytestmark = pytest.mark.integration  # builds the multi-document index

QA_MULTI = ROOT / "evals" / "qa_multi.jsonl"
QA_MULTI_HOLDOUT = ROOT / "evals" / "qa_multi_holdout.jsonl"
TYPES = {"document", "fact", "colloquial", "version", "multi", "metadata", "none", "place", "level", "cross", "local"}


def test_the_multi_document_gold_sets_are_valid(multi_settings):
    from assistant.search.index import Index

    known = set(Index.open(multi_settings).by_id)
    items = load_qa(QA_MULTI, known_clauses=known)
    held_out = load_qa(QA_MULTI_HOLDOUT, known_clauses=known)
    assert len(items) >= 150 and len(held_out) >= 40
    kinds = Counter(i.type for i in items)
    assert set(kinds) == TYPES and min(kinds.values()) >= 12, kinds
    assert not {i.question for i in items} & {i.question for i in held_out}
    # Every real document is the gold of some question: the set is about the corpus, not the seed.
    assert {g.split("#")[0] for i in items for g in i.gold} >= {d for d in Index.open(multi_settings).documents}


@pytest.mark.parametrize("floors_file", ["floors_multi.toml", "floors_multi_qa.toml", "floors_answer.toml"])
def test_the_gold_sets_meet_their_floors_on_the_multi_document_corpus(multi_settings, tmp_path, floors_file):
    import tomllib

    from assistant.search.index import Index

    spec = tomllib.loads((ROOT / "evals" / floors_file).read_text(encoding="utf-8"))
    assert spec["corpus"] == ["corpus", "../shared/realdocs/policy"]  # what this fixture builds
    settings = dataclasses.replace(multi_settings, region=spec["region"])  # the asker's area of the run
    index = Index.open(settings)
    items = load_qa(ROOT / spec["qa_file"], known_clauses=set(index.by_id))
    floors = load_floors(ROOT / "evals" / floors_file)
    evaluation = evaluate_suite(settings, index, items, tmp_path / "run", floors=floors)
    assert check_floors(evaluation.runs[0].summary, floors) == [], evaluation.runs[0].summary["overall"]
    assert "realdocs/policy" in evaluation.runs[0].settings  # the report names the folders it used


ANSWER_TYPES = {"figure", "range", "compare", "definition", "partial", "yesno", "who", "procedure", "phrasing", "none"}


def test_the_answer_shape_gold_sets_are_valid(multi_settings):
    """Every comparison names its sides inside its gold, every partial and refused question says so, and the
    held-out set shares no question with the dev set."""
    from assistant.search.index import Index

    known = set(Index.open(multi_settings).by_id)
    items = load_qa(ROOT / "evals" / "qa_answer.jsonl", known_clauses=known)
    held_out = load_qa(ROOT / "evals" / "qa_answer_holdout.jsonl", known_clauses=known)
    assert len(items) >= 200 and len(held_out) >= 50
    for item in (*items, *held_out):
        assert item.type in ANSWER_TYPES, item
        assert bool(item.sides) == (item.type == "compare") and all(set(s) <= set(item.gold) for s in item.sides)
        assert item.expected == {"none": "refuse", "partial": "partial"}.get(item.type, item.expected), item
    assert Counter(i.type for i in items)["compare"] >= 30
    assert not {i.question for i in items} & {i.question for i in held_out}


def test_eval_reads_a_corpus_from_several_folders(multi_settings, capsys):
    code = main(["--corpus", str(multi_settings.corpus_dir), "--corpus", str(multi_settings.extra_corpus_dirs[0]),
                 "--index-dir", str(multi_settings.index_dir), "eval", str(QA_MULTI), "--check"])
    out = capsys.readouterr().out
    assert code == 0 and "问答集有效" in out and "version" in out
