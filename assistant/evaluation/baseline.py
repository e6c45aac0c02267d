"""The LangChain-tutorial RAG pipeline on our corpus and encoder, for side-by-side evaluation.

What a user would build from a LangChain tutorial (Langchain-Chatchat settings): fixed-size
character chunks with Chinese separators, embedded into a Chroma collection, similarity search top
k, optionally fused with BM25 the way ``EnsembleRetriever`` does it, and the retrieved chunks
"stuffed" into the answer with no LLM. It never refuses.

Scoring needs clause ids, so each chunk is mapped to the clauses it overlaps (largest overlap
first); the ranked chunks flattened give the ranked clause ids that ``evaluate.metrics`` reads.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Self

import numpy as np

from ..models import Answer, Citation, Clause, Document, heading
from ..regions import Where
from ..search.encoders import Encoder
from ..search.lexical import BM25Index
from ..search.text import tokenize

Variant = Literal["dense", "bm25"]

CHUNK_SIZE = 750
CHUNK_OVERLAP = 150
# Langchain-Chatchat's Chinese separators: paragraphs, lines, then sentence and clause punctuation.
SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", "，", " ", ""]
# EnsembleRetriever's defaults: weighted reciprocal rank fusion with c = 60.
RRF_C = 60
ENSEMBLE_WEIGHTS = (0.5, 0.5)  # (bm25, dense), in the tutorial's retriever order

NAMES: dict[str, str] = {
    "dense": "LangChain 教程基线（向量检索）",
    "bm25": "LangChain 教程基线（向量+BM25）",
}


@dataclass(frozen=True)
class Chunk:
    """One splitter chunk: its text and where it sits in its document, with the clauses it overlaps."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    clause_ids: tuple[str, ...]  # overlapping clauses, largest overlap first


def split_documents(documents: Sequence[Document]) -> list[tuple[str, str, int]]:
    """(doc_id, chunk text, start offset) for every chunk of every document, in document order."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP,
                                              separators=SEPARATORS, add_start_index=True)
    out = []
    for doc in documents:
        for piece in splitter.create_documents([doc.text]):
            out.append((doc.doc_id, piece.page_content, int(piece.metadata["start_index"])))
    return out


def overlapping_clauses(doc_id: str, start: int, end: int, clauses: Sequence[Clause]) -> tuple[str, ...]:
    """Clause ids of ``doc_id`` whose span overlaps [start, end), by overlap size (ties: document order)."""
    overlaps = []
    for c in clauses:
        if c.doc_id != doc_id:
            continue
        size = min(end, c.end) - max(start, c.start)
        if size > 0:
            overlaps.append((-size, c.start, c.clause_id))
    return tuple(cid for _, _, cid in sorted(overlaps))


def make_chunks(documents: Sequence[Document], clauses: Sequence[Clause]) -> list[Chunk]:
    return [Chunk(f"chunk-{i}", doc_id, text, start, start + len(text),
                  overlapping_clauses(doc_id, start, start + len(text), clauses))
            for i, (doc_id, text, start) in enumerate(split_documents(documents))]


def weighted_rrf(rankings: Sequence[Sequence[int]], weights: Sequence[float], c: int = RRF_C) -> list[int]:
    """Fuse rankings as LangChain's EnsembleRetriever does: sum of weight / (rank + c), rank from 1.

    Ties keep first-seen order across the rankings (EnsembleRetriever dedups the chained lists
    and sorts stably), so the first retriever wins ties.
    """
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (rank + c)
    order = list(dict.fromkeys(item for ranking in rankings for item in ranking))
    return sorted(order, key=lambda item: scores[item], reverse=True)


def flatten_clause_ids(chunks: Sequence[Chunk]) -> list[str]:
    """Clause ids of ranked chunks, in chunk order, each kept at its first (best) position."""
    return list(dict.fromkeys(cid for chunk in chunks for cid in chunk.clause_ids))


class TutorialBaseline:
    """A built baseline: chunks in a Chroma collection (and BM25 over them for the "bm25" variant).

    Use :meth:`build`; call :meth:`close` (or use as a context manager) to drop the collection,
    since in-process Chroma clients share one store for the life of the process.
    """

    def __init__(self, chunks: list[Chunk], clauses: dict[str, Clause], documents: dict[str, Document],
                 encoder: Encoder, collection, client, bm25: BM25Index | None, *, variant: Variant, k: int,
                 cite_chunks: int, build_ms: float):
        self.chunks = chunks
        self.clauses = clauses
        self.documents = documents
        self.encoder = encoder
        self.variant: Variant = variant
        self.name = NAMES[variant]
        self.k = k
        self.cite_chunks = cite_chunks
        self.build_ms = build_ms
        self._collection = collection
        self._client = client
        self._bm25 = bm25

    @classmethod
    def build(cls, documents: Sequence[Document], clauses: Sequence[Clause], encoder: Encoder, *,
              variant: Variant = "dense", k: int = 5, cite_chunks: int = 1,
              batch_size: int = 64) -> TutorialBaseline:
        """Split, embed (in batches) and store the corpus; ``cite_chunks`` top chunks are cited."""
        if variant not in NAMES:
            raise ValueError(f"unknown baseline variant {variant!r}; expected one of {sorted(NAMES)}")
        started = time.perf_counter()
        chunks = make_chunks(documents, clauses)
        vectors = _embed(encoder, [c.text for c in chunks], batch_size)
        client, collection = _store(chunks, vectors, encoder.id, batch_size)
        bm25 = BM25Index.build([tokenize(c.text) for c in chunks]) if variant == "bm25" else None
        build_ms = (time.perf_counter() - started) * 1000
        return cls(chunks, {c.clause_id: c for c in clauses}, {d.doc_id: d for d in documents}, encoder,
                   collection, client, bm25, variant=variant, k=k, cite_chunks=cite_chunks, build_ms=build_ms)

    # ------------------------------------------------------------------ retrieval

    def dense_ranking(self, question: str) -> list[int]:
        """Chunk positions of the k nearest chunks by cosine similarity (Chroma similarity search)."""
        n = min(self.k, len(self.chunks))
        if n == 0:
            return []
        vector = self.encoder.embed_query(question)
        result = self._collection.query(query_embeddings=[vector.tolist()], n_results=n, include=["distances"])
        return [int(cid.rsplit("-", 1)[1]) for cid in result["ids"][0]]

    def bm25_ranking(self, question: str) -> list[int]:
        """Top k chunks by BM25; like LangChain's BM25Retriever it returns k even at zero score."""
        if self._bm25 is None or not self.chunks:
            return []
        scores = self._bm25.scores(tokenize(question))
        return [int(i) for i in np.argsort(-scores, kind="stable")[:self.k]]

    def rank_chunks(self, question: str) -> list[Chunk]:
        dense = self.dense_ranking(question)
        if self.variant == "dense":
            order = dense
        else:
            # Fused list can hold up to 2k chunks; the tutorial stuffs the top k into the prompt.
            order = weighted_rrf([self.bm25_ranking(question), dense], ENSEMBLE_WEIGHTS)[:self.k]
        return [self.chunks[i] for i in order]

    # ------------------------------------------------------------------ answering

    def ask(self, question: str, history: Sequence[Answer] | None = None, region: Where | str | None = None) -> Answer:
        """Retrieve top chunks and return them as the answer ("stuff" with no LLM); never refuses.

        ``history`` is accepted for interface parity with ``Assistant.ask`` and ignored: the
        tutorial pipeline has no follow-up handling.
        """
        started = time.perf_counter()
        question = question or ""
        chunks = self.rank_chunks(question) if question.strip() else []
        retrieve_ms = (time.perf_counter() - started) * 1000
        answer = Answer(
            question=question,
            text="\n\n".join(c.text for c in chunks),
            citations=[cit for c in chunks[:self.cite_chunks] for cit in self._citations(c)],
            retrieved=flatten_clause_ids(chunks),
            refused=False,
            route="baseline",
            composer="stuff",
        )
        answer.timings = {"retrieve": retrieve_ms, "total": (time.perf_counter() - started) * 1000}
        return answer

    def _citations(self, chunk: Chunk) -> list[Citation]:
        """One citation per clause the chunk overlaps; the quote is the chunk text inside that clause."""
        doc = self.documents[chunk.doc_id]
        out = []
        for cid in chunk.clause_ids:
            clause = self.clauses[cid]
            start, end = _trimmed(doc.text, max(chunk.start, clause.start), min(chunk.end, clause.end))
            if start >= end:
                continue
            out.append(Citation(clause_id=cid, title=clause.title, heading=heading(clause, doc.meta()),
                                quote=doc.text[start:end], start=start, end=end, units=clause.units))
        return out

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Drop the Chroma collection (ephemeral clients share one in-process store)."""
        if self._collection is not None:
            from chromadb.errors import NotFoundError

            with contextlib.suppress(NotFoundError):  # already gone: nothing to release
                self._client.delete_collection(self._collection.name)
            self._collection = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _embed(encoder: Encoder, texts: list[str], batch_size: int) -> np.ndarray:
    parts = [encoder.embed_documents(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)]
    return np.vstack(parts) if parts else np.zeros((0, encoder.dim), dtype=np.float32)


def _store(chunks: list[Chunk], vectors: np.ndarray, encoder_id: str, batch_size: int):
    """An in-memory Chroma collection holding the chunks; the name is unique per build."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    # Telemetry would try to reach the network; nothing here may.
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    # embedding_function=None: vectors are always passed, Chroma must never fetch its default model.
    collection = client.create_collection(name=f"baseline-{uuid.uuid4().hex}",
                                          configuration={"hnsw": {"space": "cosine"}},
                                          embedding_function=None, metadata={"encoder": encoder_id})
    for i in range(0, len(chunks), batch_size):
        batch = chunks[i:i + batch_size]
        collection.add(ids=[c.chunk_id for c in batch], embeddings=vectors[i:i + len(batch)],
                       documents=[c.text for c in batch],
                       metadatas=[{"doc_id": c.doc_id, "start_index": c.start} for c in batch])
    return client, collection


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) past surrounding whitespace so quotes do not begin or end with blank lines."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
