"""Hybrid clause search: dense (Chroma) and BM25 (jieba) scores fused by weighted normalization.

Weighted min-max fusion keeps the size of each signal (a clause that is far ahead on keywords stays
far ahead), which on a small clause corpus ranks better than rank-only fusion such as RRF.
"""

from __future__ import annotations

import numpy as np

from .encoders import Encoder
from .errors import EmptyQueryError
from .index import Index
from .models import Hit
from .text import normalize, tokenize

# Nearest parts fetched from Chroma per query; enough to cover every clause of a small corpus.
DENSE_CANDIDATES = 64


class HybridSearcher:
    """Ranks clauses for a free-text query."""

    def __init__(self, index: Index, encoder: Encoder, dense_weight: float = 0.5):
        self.index = index
        self.encoder = encoder
        self.dense_weight = dense_weight

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """Top ``k`` clauses for ``query``, best first, each with its dense and BM25 evidence.

        Raises:
            EmptyQueryError: the query is empty or whitespace.
        """
        if not query or not query.strip():
            raise EmptyQueryError("查询内容为空，请输入问题或关键词")
        clauses = self.index.clauses
        tokens = tokenize(query)
        bm25 = self.index.bm25.scores(tokens)
        dense = self.index.dense(self.encoder.embed_query(normalize(query)), max(DENSE_CANDIDATES, 4 * k))

        dense_vec = np.zeros(len(clauses), dtype=np.float32)
        for clause_id, sim in dense.items():
            dense_vec[self.index.row[clause_id]] = sim
        candidates = np.zeros(len(clauses), dtype=bool)
        candidates[[self.index.row[c] for c in dense]] = True
        candidates |= bm25 > 0
        fused = self.dense_weight * _minmax(dense_vec, candidates) + (1 - self.dense_weight) * _max_scaled(bm25)
        fused[~candidates] = -1.0

        order = sorted(np.flatnonzero(candidates), key=lambda i: (-fused[i], i))[:k]
        known = self.index.bm25.known(tokens)
        hits = []
        for i in order:
            clause = clauses[i]
            matched = tuple(t for t in dict.fromkeys(known) if t in normalize(f"{clause.title}{clause.text}").lower())
            sim = dense.get(clause.clause_id)
            why = "；".join(filter(None, [
                f"语义相似度 {sim:.2f}" if sim is not None else "",
                f"关键词：{'、'.join(matched)}" if matched else "",
            ]))
            hits.append(Hit(clause=clause, score=float(fused[i]), dense=sim, bm25=float(bm25[i]), why=why,
                            matched_terms=matched))
        return hits


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
