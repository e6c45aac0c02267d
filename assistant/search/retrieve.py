"""Retrieval: routing first, then hybrid dense (Chroma) + BM25 (jieba) search with glossary expansion.

Weighted score fusion keeps the size of each signal (a clause far ahead on keywords stays far
ahead), which on a small clause corpus ranks better than rank-only fusion such as RRF. Each signal is
divided by the query's best score among the candidates, never min-max stretched: the lowest candidate
depends on how many clauses the corpus holds (beyond the dense top list a keyword-only candidate has
no similarity at all), so a stretched scale would reorder one document's clauses as others are added.
:meth:`PolicyRetriever.retrieve` gives the typed result the answer chain uses;
:meth:`PolicyRetriever.as_langchain` wraps it as a LangChain ``BaseRetriever``, imported only then (LangChain
takes about two seconds to import, which no ``ask`` should pay).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Collection, Mapping
from functools import cached_property, lru_cache
from typing import Any, Sequence

import numpy as np

from ..errors import ChromaUnavailableError, EmptyQueryError
from ..lexicon import Lexicon
from ..models import Expansion, Hit, Query, Retrieval, RouteKind, Side
from ..regions import Region, Regions
from .asked import AskedReader
from .documents import MAX_RANK, locality, without_names
from .encoders import Encoder
from .glossary import Glossary
from .index import Index
from .routing import Router
from .scope import ScopeFinder
from .sides import SideFinder
from .text import normalize, tokenize

# Nearest parts fetched from Chroma per query; enough to cover every clause of a small corpus.
DENSE_CANDIDATES = 64
# Query vectors kept per process (512 float32 each: 2 KB).
QUERY_CACHE_SIZE = 2048
# Clauses ranked per side of a comparison.
SIDE_K = 4


class HybridSearcher:
    """Ranks clauses for a free-text query.

    Args:
        encoders: one per dense channel of the index, in its order (or one encoder).
        dense_weight: the share of the fused score that goes to the dense channels (BM25 gets the rest).
        channel_weights: how that share is split among the channels (relative; empty: equally).
        kind_prior: the bonus of a clause by its document's kind (``DocumentMeta.doc_type``; 0 when not named).
    """

    def __init__(self, index: Index, encoders: Encoder | Sequence[Encoder], dense_weight: float = 0.5,
                 local_boost: float = 0.0, region_boost: float = 0.0, channel_weights: Sequence[float] = (),
                 kind_prior: Mapping[str, float] | None = None):
        self.index = index
        self.encoders = [encoders] if not isinstance(encoders, Sequence) else list(encoders)
        self.encoder = self.encoders[0]
        self.dense_weight = dense_weight
        weights = np.asarray(channel_weights or [1.0] * len(self.encoders), dtype=np.float32)
        self.channel_weights = dense_weight * weights / weights.sum()
        self.local_boost = local_boost
        self.region_boost = region_boost
        self.kind_prior = dict(kind_prior or {})
        self._region_priors = lru_cache(maxsize=64)(self._region_prior)
        self._masks = lru_cache(maxsize=64)(self._mask)  # the texts in force are the same all day
        # Asked-again questions (FAQ-style traffic, a clause question's related search) skip the encoder.
        self.embed_query = lru_cache(maxsize=QUERY_CACHE_SIZE)(self._embed_query)

    def _embed_query(self, text: str) -> tuple[np.ndarray, ...]:
        """The query's vector in each channel."""
        vectors = tuple(encoder.embed_query(text) for encoder in self.encoders)
        for vector in vectors:
            vector.setflags(write=False)  # shared by every caller that hits the cache
        return vectors

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """Top ``k`` clauses for the keywords or question ``query`` (no routing, no glossary).

        Raises:
            EmptyQueryError: the query is empty or whitespace.
        """
        if not query or not query.strip():
            raise EmptyQueryError("查询内容为空，请输入问题或关键词")
        return self.rank(make_query(query), k)

    @cached_property
    def _prior(self) -> np.ndarray:
        """Per clause row: the fused-score bonus of its document's locality (0 for national documents)."""
        ranks = [locality(self.index.documents.get(c.doc_id)) for c in self.index.clauses]
        return self.local_boost * np.asarray(ranks, dtype=np.float32) / MAX_RANK

    def _region_prior(self, region: Region) -> np.ndarray:
        """Per clause row, for an asker in ``region``: the bonus of its document's place in the asker's
        chain of areas: full for the asker's own area, less for each enclosing one, none for national."""
        chain = [r.code for r in Regions.load().chain(region)]
        depth = {code: i for i, code in enumerate(chain)}
        docs = self.index.documents
        bonus = [self.region_boost * (1 - depth[d.region_code] / len(chain)) if d is not None and d.region_code in depth else 0.0
                 for d in (docs.get(c.doc_id) for c in self.index.clauses)]
        return np.asarray(bonus, dtype=np.float32)

    @cached_property
    def _kind_bonus(self) -> np.ndarray | None:
        """Per clause row: the bonus of its document's kind (None when no kind has one)."""
        if not any(self.kind_prior.values()):
            return None
        docs = self.index.documents
        kinds = [d.doc_type if d is not None else "" for d in (docs.get(c.doc_id) for c in self.index.clauses)]
        return np.asarray([self.kind_prior.get(k, 0.0) for k in kinds], dtype=np.float32)

    def prior(self, region: Region | None) -> np.ndarray | None:
        """The bonus per clause row that is not relevance: its document's locality (by the asker's area when
        known, else by level) plus its kind's."""
        local: np.ndarray | None
        if region is not None and self.region_boost:
            local = self._region_priors(region)
        else:
            local = self._prior if self.local_boost else None
        kind = self._kind_bonus
        if kind is None:
            return local
        return kind if local is None else local + kind

    @cached_property
    def _searchable(self) -> np.ndarray:
        """Rows a search may return: every clause but a preamble that is only a title and dated history
        lines (a law's front matter states no rule; 什么时候施行 questions reach it by the document route)."""
        return np.fromiter((not (c.number == "0" and "。" not in c.text) for c in self.index.clauses), dtype=bool,
                           count=len(self.index.clauses))

    def mask(self, doc_ids: Collection[str]) -> np.ndarray:
        """Rows of the clauses of ``doc_ids``, for :meth:`rank`'s ``scope`` (read-only, cached)."""
        return self._masks(frozenset(doc_ids))

    def _mask(self, doc_ids: frozenset[str]) -> np.ndarray:
        mask = np.fromiter((c.doc_id in doc_ids for c in self.index.clauses), dtype=bool,
                           count=len(self.index.clauses))
        mask.setflags(write=False)
        return mask

    def rank(self, query: Query, k: int = 5, scope: np.ndarray | None = None, region: Region | None = None
             ) -> list[Hit]:
        """Top ``k`` clauses for ``query``, best first, each with its dense and BM25 evidence.

        The glossary terms of ``query.expansion`` count in both the keyword and the dense query.

        Args:
            scope: a mask of the clause rows that may be returned (:meth:`mask`); None: all.
            region: where the asker is: the more local of equally relevant clauses comes first.
        """
        clauses = self.index.clauses
        tokens = list(query.search_tokens)
        bm25 = self.index.bm25.scores(tokens)
        nearest = self._nearest(query, max(DENSE_CANDIDATES, 4 * k), scope)
        candidates = np.zeros(len(clauses), dtype=bool)
        dense = []
        for rows, sims in nearest:
            dense_vec = np.zeros(len(clauses), dtype=np.float32)
            dense_vec[rows] = sims
            dense.append(dense_vec)
            candidates[rows] = True
        candidates |= bm25 > 0
        candidates &= self._searchable
        if scope is not None:
            candidates &= scope
            if not candidates.any():  # a named document the dense top list missed: rank all its clauses
                candidates = scope.copy()
        fused = (1 - self.dense_weight) * _max_scaled(bm25)
        for weight, encoder, dense_vec in zip(self.channel_weights, self.encoders, dense):
            fused += weight * _best_scaled(dense_vec, candidates, encoder.similarity_floor)
        prior = self.prior(region)
        if prior is not None:
            fused = fused + prior
        fused[~candidates] = -1.0

        order = _top_k(fused, np.flatnonzero(candidates), k)
        known = list(dict.fromkeys(self.index.bm25.known(tokens)))
        # The first channel's similarity is the one shown and the one the refusal floors are calibrated on.
        per_channel = [dict(zip(rows.tolist(), sims.tolist())) for rows, sims in nearest]
        found = per_channel[0]
        texts = self.index.normalized_clauses
        hits = []
        for i in order:
            clause = clauses[i]
            haystack = f"{normalize(clause.title)}{texts[i]}".lower()
            matched = tuple(t for t in known if t in haystack)
            sim = found.get(i)
            why = "；".join(filter(None, [
                f"语义相似度 {sim:.2f}" if sim is not None else "",
                f"关键词：{'、'.join(matched)}" if matched else "",
            ]))
            channels = {e.id: round(float(c[i]), 4) for e, c in zip(self.encoders, per_channel) if i in c}
            hits.append(Hit(clause=clause, score=float(fused[i]), dense=sim, bm25=float(bm25[i]), why=why,
                            matched_terms=matched, boost=float(prior[i]) if prior is not None else 0.0,
                            channels=channels))
        return hits

    def _nearest(self, query: Query, n: int, scope: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
        """(clause rows, similarities) of the ``n`` nearest parts in each channel; none while the vector
        server is down (keywords still find most clauses)."""
        try:
            vectors = self.embed_query(normalize(query.search_text))
            return [self.index.dense_rows(vector, n, scope, channel=c) for c, vector in enumerate(vectors)]
        except ChromaUnavailableError:
            empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            return [empty] * len(self.encoders)


NO_EXPANSION = Expansion()


def make_query(text: str, glossary: Glossary | None = None) -> Query:
    """``text`` normalized and tokenized once, for routing, search, sentence choice and refusal, with the
    policy terms ``glossary`` maps its everyday words to (what it asks for is read into it by the retriever,
    once the documents it names are taken out)."""
    tokens = tuple(tokenize(text))
    normalized = normalize(text)
    expansion = glossary.expand(normalized) if glossary is not None else NO_EXPANSION
    # The terms are cut apart from the question (a space would separate them anyway): the question is cut once.
    search_tokens = tokens + tuple(tokenize(" ".join(expansion.terms))) if expansion.terms else tokens
    return Query(text, normalized, tokens, expansion, search_tokens)


# Why a routed hit was found, per route kind (search hits carry their scores instead).
_ROUTE_WHY: dict[RouteKind, str] = {"clause": "按条款编号直达", "unit": "按责任单位查找",
                                    "document": "文件信息（文号、日期、发文机关）"}


@dataclasses.dataclass
class PolicyRetriever:
    """The retriever over the clause index: route, expand, then hybrid search."""

    router: Any
    searcher: Any
    glossary: Any
    k: int = 5

    scopes: Any = None  # ScopeFinder: which documents may answer
    reader: Any = None  # AskedReader: what a question asks for
    sides: Any = None  # SideFinder: a comparison's sides

    @classmethod
    def create(cls, index: Index, encoders: Encoder | Sequence[Encoder], lexicon: Lexicon, dense_weight: float = 0.5,
               k: int = 5, local_boost: float = 0.0, region_boost: float = 0.0,
               channel_weights: Sequence[float] = (), kind_prior: Mapping[str, float] | None = None
               ) -> "PolicyRetriever":
        router = Router(index, lexicon)
        scopes = ScopeFinder(index, router.names, lexicon.cues)
        searcher = HybridSearcher(index, encoders, dense_weight, local_boost, region_boost, channel_weights, kind_prior)
        return cls(router=router, searcher=searcher,
                   glossary=Glossary(lexicon), k=k, scopes=scopes, sides=SideFinder(scopes),
                   reader=AskedReader(lexicon, lru_cache(maxsize=8192)(lambda term: index.substrings.contains(term))))

    def retrieve(self, question: str, k: int | None = None, *, today: dt.date | None = None,
                 context: Collection[str] = (), region: Region | None = None) -> Retrieval:
        """Route ``question``; when no route applies, search with glossary expansion.

        Args:
            today: the day that decides which texts are in force (default: today).
            context: doc_ids the conversation is about (settle a bare "第十九条").
            region: where the asker is (None: anywhere): the documents that apply there.

        Raises:
            EmptyQueryError: the question is empty.
        """
        if not question or not question.strip():
            raise EmptyQueryError("问题为空，请输入您想了解的政策问题")
        k = k or self.k
        query = make_query(question, self.glossary)
        asked = query.normalized
        scope = self.scopes.find(asked, today or dt.date.today(), region)
        where = scope.region.name if scope.region else ""
        named = scope.named
        if named.doc_ids and named.matched:
            # The name picks the documents; ranking inside them goes by the rest of the question, else
            # the preamble (which holds the title) wins every search in the named document.
            remainder = without_names(query.normalized, named.matched)
            rest = make_query(remainder, self.glossary)
            if rest.tokens:
                query = rest
        # What the question asks for, read once from what is left of it (the documents it names taken out).
        query = dataclasses.replace(query, asked=self.reader.read(query.normalized, query.tokens, query.expansion))
        sides = self.sides.find(asked, named, today or dt.date.today(), scope.region)
        if sides:  # a comparison: every side's documents may answer, each side ranked on its own below
            scope = dataclasses.replace(scope, doc_ids=frozenset().union(*(s.doc_ids for s in sides)), missing="")
        everything = scope.doc_ids is None or len(scope.doc_ids) == len(self.router.index.documents)
        docs = None if everything else scope.doc_ids
        mask = self.searcher.mask(docs) if docs is not None else None
        route = self.router.route(query.normalized, named, docs, context)
        if scope.missing:
            route = dataclasses.replace(route, kind="search", clauses=(), missing_document=scope.missing,
                                        missing_is_document=scope.missing_document)
        if route.kind != "search":
            why = f"{_ROUTE_WHY[route.kind]}：{'、'.join(route.matched)}"
            hits = [Hit(clause=c, score=1.0, why=why, route=route.kind) for c in route.clauses]
            if route.kind == "clause" and not route.whole_clause and len(hits) == 1:
                # "第六条的贴息比例" names its clause; neighbours found by search are related reading.
                more = [h for h in self.searcher.rank(query, k + 1, mask, scope.region)
                        if h.clause.clause_id != hits[0].clause.clause_id]
                hits += more[: k - 1]
            return Retrieval(query, route, hits, where)
        expansion = query.expansion
        note = f"口语词扩展：{'、'.join(expansion.triggers)} → {'、'.join(expansion.terms)}" if expansion.terms else ""

        def explained(found: list[Hit]) -> list[Hit]:
            return [dataclasses.replace(h, why=f"{h.why}；{note}" if h.why else note) for h in found] if note else found

        if not sides and self.sides.cues.compare.search(query.normalized):
            # 修订前后有没有变化: the versions of the document the question is about, once ranking has found it.
            top = self.searcher.rank(query, k, mask, scope.region)
            sides = next((found for h in top if (found := self.sides.versions(query.normalized, h.clause.doc_id))), [])
        if sides:
            # Each side is ranked by what is asked of it: without the words that name or compare the sides.
            content = self.sides.content(query.text)
            side_query = make_query(content, self.glossary) if tokenize(content) else query
            ranked = [Side(s.label, tuple(explained(self.searcher.rank(side_query, SIDE_K, self.searcher.mask(s.doc_ids),
                                                                        scope.region)))) for s in sides]
            # Best of each side first, then the runners-up of each, so every side is among the top hits.
            interleaved = (h for row in itertools.zip_longest(*(s.hits for s in ranked)) for h in row if h)
            hits = list({h.clause.clause_id: h for h in reversed(list(interleaved))}.values())[::-1]
            return Retrieval(query, route, hits[:max(k, SIDE_K * len(ranked))], where, tuple(ranked))
        hits = explained(self.searcher.rank(query, k, mask, scope.region))
        return Retrieval(query, route, hits, where)

    def warm(self, region: str = "") -> None:
        """Compute the per-clause tables a first search would: searchable rows, the locality prior (of the
        deployment's region when it has one)."""
        searcher = self.searcher
        _ = searcher._searchable
        searcher.prior(Regions.load().find(region) if region else None)

    def as_langchain(self):
        """This retriever as a LangChain ``BaseRetriever``: ``invoke(question)`` → LangChain documents, each a
        clause's text with its id, title, score, route, why and 责任单位 as metadata."""
        return _langchain_retriever()(policy=self)


@lru_cache(maxsize=1)
def _langchain_retriever() -> type:
    """The LangChain adapter class, defined on first use so that importing this module loads no LangChain."""
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from pydantic import ConfigDict

    class LangChainPolicyRetriever(BaseRetriever):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        policy: Any

        def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun
                                    ) -> list[Document]:
            return [Document(page_content=h.clause.text, metadata={
                "clause_id": h.clause.clause_id, "title": h.clause.title, "score": h.score,
                "route": h.route, "why": h.why, "units": list(h.clause.units)})
                for h in self.policy.retrieve(query).hits]

    return LangChainPolicyRetriever


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


def _best_scaled(values: np.ndarray, mask: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """How far each of the ``mask`` rows' ``values`` rises above ``floor``, as a share of the best's rise
    (zeros elsewhere, below the floor, or when none rises above it)."""
    out = np.zeros_like(values)
    top = float(values[mask].max()) if mask.any() else 0.0
    if top > floor:
        out[mask] = np.maximum(values[mask] - floor, 0.0) / (top - floor)
    return out


def _max_scaled(values: np.ndarray) -> np.ndarray:
    top = float(values.max()) if values.size else 0.0
    return values / top if top > 0 else np.zeros_like(values)
