"""Retrieval: routing first, then hybrid dense (Chroma) + BM25 (jieba) search with glossary expansion.

Weighted min-max fusion keeps the size of each signal (a clause far ahead on keywords stays far
ahead), which on a small clause corpus ranks better than rank-only fusion such as RRF.
``PolicyRetriever`` is a LangChain ``BaseRetriever``; :meth:`PolicyRetriever.retrieve` gives the typed
result the answer chain uses.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from ..errors import EmptyQueryError
from ..lexicon import Lexicon
from ..models import Expansion, Hit, Query, Retrieval, RouteKind
from .encoders import Encoder
from .glossary import Glossary
from .index import Index
from .routing import Router
from .text import normalize, tokenize

# Nearest parts fetched from Chroma per query; enough to cover every clause of a small corpus.
DENSE_CANDIDATES = 64
# Query vectors kept per process (512 float32 each: 2 KB).
QUERY_CACHE_SIZE = 2048


class HybridSearcher:
    """Ranks clauses for a free-text query."""

    def __init__(self, index: Index, encoder: Encoder, dense_weight: float = 0.5):
        self.index = index
        self.encoder = encoder
        self.dense_weight = dense_weight
        # Asked-again questions (FAQ-style traffic, a clause question's related search) skip the encoder.
        self.embed_query = lru_cache(maxsize=QUERY_CACHE_SIZE)(self._embed_query)

    def _embed_query(self, text: str) -> np.ndarray:
        vector = self.encoder.embed_query(text)
        vector.setflags(write=False)  # shared by every caller that hits the cache
        return vector

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """Top ``k`` clauses for the keywords or question ``query`` (no routing, no glossary).

        Raises:
            EmptyQueryError: the query is empty or whitespace.
        """
        if not query or not query.strip():
            raise EmptyQueryError("查询内容为空，请输入问题或关键词")
        return self.rank(make_query(query), k)

    def rank(self, query: Query, k: int = 5) -> list[Hit]:
        """Top ``k`` clauses for ``query``, best first, each with its dense and BM25 evidence.

        The glossary terms of ``query.expansion`` count in both the keyword and the dense query.
        """
        clauses = self.index.clauses
        tokens = list(query.search_tokens)
        bm25 = self.index.bm25.scores(tokens)
        dense = self.index.dense(self.embed_query(normalize(query.search_text)), max(DENSE_CANDIDATES, 4 * k))

        dense_vec = np.zeros(len(clauses), dtype=np.float32)
        for clause_id, sim in dense.items():
            dense_vec[self.index.row[clause_id]] = sim
        candidates = np.zeros(len(clauses), dtype=bool)
        candidates[[self.index.row[c] for c in dense]] = True
        candidates |= bm25 > 0
        fused = self.dense_weight * _minmax(dense_vec, candidates) + (1 - self.dense_weight) * _max_scaled(bm25)
        fused[~candidates] = -1.0

        order = _top_k(fused, np.flatnonzero(candidates), k)
        known = list(dict.fromkeys(self.index.bm25.known(tokens)))
        hits = []
        for i in order:
            clause = clauses[i]
            haystack = normalize(f"{clause.title}{clause.text}").lower()
            matched = tuple(t for t in known if t in haystack)
            sim = dense.get(clause.clause_id)
            why = "；".join(filter(None, [
                f"语义相似度 {sim:.2f}" if sim is not None else "",
                f"关键词：{'、'.join(matched)}" if matched else "",
            ]))
            hits.append(Hit(clause=clause, score=float(fused[i]), dense=sim, bm25=float(bm25[i]), why=why,
                            matched_terms=matched))
        return hits


NO_EXPANSION = Expansion()


def make_query(text: str, expansion: Expansion = NO_EXPANSION) -> Query:
    """``text`` normalized and tokenized once, for routing, search, sentence choice and refusal."""
    tokens = tuple(tokenize(text))
    normalized = normalize(text)
    if not expansion.terms:
        return Query(text, normalized, tokens, expansion, tokens)
    with_terms = f"{text} {' '.join(expansion.terms)}"
    return Query(text, normalized, tokens, expansion, tuple(tokenize(with_terms)))


# Why a routed hit was found, per route kind (search hits carry their scores instead).
_ROUTE_WHY: dict[RouteKind, str] = {"clause": "按条款编号直达", "unit": "按责任单位查找",
                                    "document": "文件信息（文号、日期、发文机关）"}


class PolicyRetriever(BaseRetriever):
    """LangChain retriever over the clause index: route, expand, then hybrid search."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    router: Any
    searcher: Any
    glossary: Any
    k: int = 5

    @classmethod
    def create(cls, index: Index, encoder: Encoder, lexicon: Lexicon, dense_weight: float = 0.5,
               k: int = 5) -> "PolicyRetriever":
        return cls(router=Router(index, lexicon), searcher=HybridSearcher(index, encoder, dense_weight),
                   glossary=Glossary(lexicon), k=k)

    def retrieve(self, question: str, k: int | None = None) -> Retrieval:
        """Route ``question``; when no route applies, search with glossary expansion.

        Raises:
            EmptyQueryError: the question is empty.
        """
        if not question or not question.strip():
            raise EmptyQueryError("问题为空，请输入您想了解的政策问题")
        k = k or self.k
        query = make_query(question, self.glossary.expand(question))
        route = self.router.route(query.normalized)
        if route.kind != "search":
            why = f"{_ROUTE_WHY[route.kind]}：{'、'.join(route.matched)}"
            hits = [Hit(clause=c, score=1.0, why=why, route=route.kind) for c in route.clauses]
            if route.kind == "clause" and not route.whole_clause and len(hits) == 1:
                # "第六条的贴息比例" names its clause; neighbours found by search are related reading.
                more = [h for h in self.searcher.rank(query, k + 1) if h.clause.clause_id != hits[0].clause.clause_id]
                hits += more[: k - 1]
            return Retrieval(query, route, hits)
        hits = self.searcher.rank(query, k)
        expansion = query.expansion
        if expansion.terms:
            note = f"口语词扩展：{'、'.join(expansion.triggers)} → {'、'.join(expansion.terms)}"
            hits = [Hit(h.clause, h.score, h.dense, h.bm25, f"{h.why}；{note}" if h.why else note,
                        h.matched_terms, h.route) for h in hits]
        return Retrieval(query, route, hits)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        return [
            LCDocument(page_content=h.clause.text, metadata={
                "clause_id": h.clause.clause_id, "title": h.clause.title, "score": h.score,
                "route": h.route, "why": h.why, "units": list(h.clause.units),
            })
            for h in self.retrieve(query).hits
        ]


def _top_k(scores: np.ndarray, rows: np.ndarray, k: int) -> list[int]:
    """The ``k`` best ``rows`` by score, ties by row: ``sorted(rows, key=(-score, row))[:k]`` in numpy.

    Every row scoring at least the k-th best is kept before the exact sort, so ties stay exact; a large
    corpus sorts a few rows instead of every clause that shares a keyword with the query.
    """
    if k <= 0 or rows.size == 0:
        return []
    neg = -scores[rows]
    if rows.size > k:
        keep = neg <= np.partition(neg, k - 1)[k - 1]
        rows, neg = rows[keep], neg[keep]
    return [int(i) for i in rows[np.lexsort((rows, neg))][:k]]


def _minmax(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.zeros_like(values)
    if not mask.any():
        return out
    lo, hi = float(values[mask].min()), float(values[mask].max())
    if hi > lo:
        out[mask] = (values[mask] - lo) / (hi - lo)
    else:
        out[mask] = 1.0
    return out


def _max_scaled(values: np.ndarray) -> np.ndarray:
    top = float(values.max()) if values.size else 0.0
    return values / top if top > 0 else np.zeros_like(values)
