"""The LangChain-tutorial baseline on the real corpus, real encoder and a real (in-memory) Chroma."""

from __future__ import annotations

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from assistant.corpus.ingest import load_corpus
from assistant.evaluation.baseline import (
    CHUNK_SIZE,
    NAMES,
    Chunk,
    TutorialBaseline,
    flatten_clause_ids,
    overlapping_clauses,
    weighted_rrf,
)
from assistant.models import Clause
from assistant.search.encoders import get_encoder
from tests.support import SEED_ID

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

QUESTIONS = ["融资担保费率是多少", "创业担保贷款最高额度是多少？", "州税务局负责哪些措施？",
             "知识产权质押融资有什么支持？", "出口企业汇率避险有什么政策？"]


@pytest.fixture(scope="module")
def documents(seed_settings):
    return load_corpus(seed_settings.corpus_dir).documents


@pytest.fixture(scope="module")
def encoder(seed_settings):
    return get_encoder(seed_settings.encoder, False)


@pytest.fixture(scope="module")
def dense(documents, seed_index, encoder):
    with TutorialBaseline.build(documents, seed_index.clauses, encoder, variant="dense") as baseline:
        yield baseline


@pytest.fixture(scope="module")
def hybrid(documents, seed_index, encoder):
    with TutorialBaseline.build(documents, seed_index.clauses, encoder, variant="bm25") as baseline:
        yield baseline


def clause(number: int, start: int, end: int) -> Clause:
    return Clause(clause_id=f"d#{number}", doc_id="d", number=str(number), label="", section="",
                  section_number="", title="", text="x" * (end - start), start=start, end=end)


def test_overlap_mapping_orders_clauses_by_overlap_size():
    clauses = [clause(4, 0, 100), clause(5, 100, 300), clause(6, 300, 500), clause(7, 500, 900)]
    # [250, 480): 50 chars of #5, 180 of #6, none of #4 or #7.
    assert overlapping_clauses("d", 250, 480, clauses) == ("d#6", "d#5")
    assert overlapping_clauses("d", 300, 500, clauses) == ("d#6",)  # touching spans do not overlap
    assert overlapping_clauses("other", 250, 480, clauses) == ()


def test_weighted_rrf_matches_ensemble_retriever():
    # a: 0.5/61 + 0.5/62, b: 0.5/62 + 0.5/61 → tie, first-seen order wins; c only in the first list.
    assert weighted_rrf([["a", "b", "c"], ["b", "a"]], [0.5, 0.5]) == ["a", "b", "c"]
    # A heavier second retriever puts its top item first.
    assert weighted_rrf([["a", "b"], ["b", "a"]], [0.2, 0.8]) == ["b", "a"]
    assert weighted_rrf([["a"], ["z"]], [0.5, 0.5], c=60) == ["a", "z"]


def test_flatten_keeps_first_position():
    chunks = [Chunk("c0", "d", "", 0, 1, ("d#2", "d#1")), Chunk("c1", "d", "", 1, 2, ("d#1", "d#3"))]
    assert flatten_clause_ids(chunks) == ["d#2", "d#1", "d#3"]


def test_chunks_are_document_slices_mapped_to_overlapping_clauses(dense, documents, seed_index):
    text = {d.doc_id: d.text for d in documents}
    assert len(dense.chunks) > 5
    for chunk in dense.chunks:
        assert text[chunk.doc_id][chunk.start:chunk.end] == chunk.text
        assert len(chunk.text) <= CHUNK_SIZE
        spans = {c.clause_id: c for c in seed_index.clauses if c.doc_id == chunk.doc_id}
        overlap = {cid: min(chunk.end, c.end) - max(chunk.start, c.start) for cid, c in spans.items()}
        assert set(chunk.clause_ids) == {cid for cid, size in overlap.items() if size > 0}
        sizes = [overlap[cid] for cid in chunk.clause_ids]
        assert sizes == sorted(sizes, reverse=True)
        # The clause holding the chunk's first character (if it is not in a heading gap) is mapped.
        holder = [cid for cid, c in spans.items() if c.start <= chunk.start < c.end]
        assert set(holder) <= set(chunk.clause_ids)
    clause4 = seed_index.by_id[f"{SEED_ID}#4"]
    covering = [c for c in dense.chunks if c.start <= clause4.start < c.end]
    assert covering and all(clause4.clause_id in c.clause_ids for c in covering)
    # Every clause is reachable through some chunk.
    assert {cid for c in dense.chunks for cid in c.clause_ids} == set(seed_index.by_id)


@pytest.mark.parametrize("variant", ["dense", "hybrid"])
def test_ask_returns_a_cited_stuffed_answer(request, variant, seed_index, documents):
    baseline = request.getfixturevalue(variant)
    answer = baseline.ask("融资担保费率是多少")
    assert answer.retrieved and set(answer.retrieved) <= set(seed_index.by_id)
    assert len(answer.retrieved) == len(set(answer.retrieved))
    assert f"{SEED_ID}#4" in answer.retrieved[:5]  # the guarantee-fee clause
    assert answer.refused is False and answer.route == "baseline"
    assert set(answer.timings) == {"retrieve", "total"} and answer.timings["total"] >= answer.timings["retrieve"]
    top = baseline.rank_chunks("融资担保费率是多少")[0]
    assert answer.text.startswith(top.text)
    assert [c.clause_id for c in answer.citations] == list(top.clause_ids)
    doc_text = documents[0].text
    for cit in answer.citations:
        span = seed_index.by_id[cit.clause_id]
        assert span.start <= cit.start < cit.end <= span.end and top.start <= cit.start and cit.end <= top.end
        assert doc_text[cit.start:cit.end] == cit.quote and cit.heading


def test_names_and_unknown_variant(dense, hybrid, documents, seed_index, encoder):
    assert dense.name == NAMES["dense"] == "LangChain 教程基线（向量检索）"
    assert hybrid.name == NAMES["bm25"] == "LangChain 教程基线（向量+BM25）"
    with pytest.raises(ValueError):
        TutorialBaseline.build(documents, seed_index.clauses, encoder, variant="mmr")  # type: ignore[arg-type]


def test_bm25_variant_ranks_differently(dense, hybrid):
    differs = [q for q in QUESTIONS if dense.ask(q).retrieved != hybrid.ask(q).retrieved]
    assert differs


def test_empty_question_gives_empty_answer(dense):
    answer = dense.ask("   ")
    assert answer.retrieved == [] and answer.citations == [] and answer.text == "" and not answer.refused


def test_close_drops_the_collection(documents, seed_index, encoder):
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    baseline = TutorialBaseline.build(documents, seed_index.clauses, encoder, variant="dense")
    name = baseline._collection.name
    assert name in [c.name for c in client.list_collections()]
    assert baseline._collection.count() == len(baseline.chunks)
    baseline.close()
    assert name not in [c.name for c in client.list_collections()]
