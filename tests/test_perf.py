"""Speed work must not change results: parallel builds, numpy top-k, ids-only Chroma queries, caches."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.search import build as index_module
from assistant.search.build import build_index
from assistant.search.encoders import get_encoder
from assistant.search.index import Index
from assistant.search.retrieve import HybridSearcher, _top_k
from assistant.search.vectorstore import clause_of_part, fetch_vectors
from tests.support import SEED_ID, make_settings

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes


def test_parallel_build_gives_the_same_index(tmp_path, corpus_dir, seed_index, monkeypatch):
    monkeypatch.setattr(index_module, "PARALLEL_MIN_PARTS", 0)  # the real corpus is small: force workers
    settings = make_settings(corpus_dir, tmp_path / "index", build_workers=2, embed_batch_size=8)
    build_index(settings)
    parallel = Index.open(settings)
    ids = [p for p in seed_index.vectors.collection.get(include=[])["ids"]]
    serial_vectors = fetch_vectors(seed_index.vectors.collection, ids)
    parallel_vectors = fetch_vectors(parallel.vectors.collection, ids)
    assert set(parallel_vectors) == set(serial_vectors)
    for pid in ids:
        np.testing.assert_allclose(parallel_vectors[pid], serial_vectors[pid], atol=1e-6)
    tokens = ["融资", "担保", "贴息", "创业"]
    np.testing.assert_array_equal(parallel.bm25.scores(tokens), seed_index.bm25.scores(tokens))
    assert parallel.manifest.documents[SEED_ID]["parts"] == seed_index.manifest.documents[SEED_ID]["parts"]


def test_top_k_matches_a_full_sort_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(500):
        n = int(rng.integers(1, 80))
        scores = (rng.integers(0, 5, n) / 4).astype(np.float32)
        rows = np.flatnonzero(rng.random(n) < 0.7)
        k = int(rng.integers(1, 10))
        assert _top_k(scores, rows, k) == sorted(rows.tolist(), key=lambda i: (-scores[i], i))[:k]


def test_part_ids_map_to_clause_ids():
    assert clause_of_part(f"{SEED_ID}#6") == f"{SEED_ID}#6"
    assert clause_of_part(f"{SEED_ID}#6/2") == f"{SEED_ID}#6"
    assert clause_of_part("a/b#2.1") == "a/b#2.1"
    assert clause_of_part("a/b#2.1/0") == "a/b#2.1"


def test_query_vectors_are_cached_and_read_only(seed_settings, seed_index):
    searcher = HybridSearcher(seed_index, get_encoder(seed_settings.encoder))
    first = searcher.search("创业担保贷款最高额度", 3)
    vectors = searcher.embed_query("创业担保贷款最高额度")  # one per dense channel
    assert searcher.embed_query("创业担保贷款最高额度") is vectors and not any(v.flags.writeable for v in vectors)
    again = searcher.search("创业担保贷款最高额度", 3)
    assert [(h.clause.clause_id, h.score) for h in again] == [(h.clause.clause_id, h.score) for h in first]


def test_standalone_number_set_matches_the_per_number_search():
    import random
    import re

    from assistant.grammar import standalone_numbers

    def standalone(number: str, text: str) -> bool:  # the per-number search the set replaced
        return re.search(rf"(?<![\d.]){re.escape(number)}(?![\d]|\.\d)", text) is not None

    rng = random.Random(1)
    for _ in range(3000):
        text = "".join(rng.choice("0123456789..%元年 ") for _ in range(rng.randint(0, 20)))
        found = standalone_numbers(text)
        candidates = {text[i:j] for i in range(len(text)) for j in range(i + 1, len(text) + 1)
                      if re.fullmatch(r"\d+(?:\.\d+)?", text[i:j])}
        for number in candidates | {"1", "30", "1.5"}:
            assert (number in found) == standalone(number, text), (text, number)
