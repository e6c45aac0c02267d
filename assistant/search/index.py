"""The read side of the index: one generation's clauses, documents, BM25 and vectors, opened and checked.

What a generation holds is in search/layout.py; how one is built, in search/build.py.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from ..config import Settings
from ..corpus import versions
from ..corpus.measures import Vocabulary
from ..corpus.structure import parse_document, split_parts
from ..errors import REBUILD_COMMAND, IndexMismatchError, IndexMissingError, UnknownClauseError
from ..models import Clause, Document, DocumentMeta, Hit, Reference, heading
from . import integrity
from .documents import dated_clauses
from .encoders import CHANNEL_SEPARATOR, Encoder, parts_max_chars
from .layout import (
    BUILD_COMMAND,
    FORMAT_VERSION,
    NORMALIZED_FILE,
    PARSER_VERSION,
    Channel,
    IndexManifest,
    check_compatible,
    current_generation,
    read_manifest,
)
from .lexical import BM25Index
from .substrings import SubstringIndex
from .text import normalize, tokenize
from .vectorstore import VectorStore


class Index:
    """A loaded index generation: clauses, documents, BM25 and the part vectors of each dense channel
    (one :class:`VectorStore` per encoder; ``vectors`` is the first)."""

    def __init__(self, settings: Settings, gen_dir: Path | None, manifest: IndexManifest, clauses: list[Clause],
                 documents: list[DocumentMeta], references: list[Reference], bm25: BM25Index):
        """The records of one generation; :meth:`open` reads them from disk, :meth:`in_memory` builds them."""
        self.settings = settings
        self.dir = gen_dir
        self.manifest = manifest
        self.clauses = clauses
        self.by_id: dict[str, Clause] = {c.clause_id: c for c in clauses}
        self.row: dict[str, int] = {c.clause_id: i for i, c in enumerate(clauses)}
        self.documents: dict[str, DocumentMeta] = {d.doc_id: d for d in documents}
        self.references = references
        self.bm25 = bm25
        self.channels = [VectorStore(settings, gen_dir, manifest, channel, self.row) for channel in manifest.channels]
        self.vectors = self.channels[0]
        self._dated: dict[str, dict[str, tuple[Clause, int, int]]] = {}

    @classmethod
    def _read(cls, settings: Settings, gen_dir: Path, manifest: IndexManifest) -> "Index":
        clauses_text = (gen_dir / "clauses.jsonl").read_text(encoding="utf-8")
        clauses = [Clause.from_dict(json.loads(line)) for line in clauses_text.splitlines() if line.strip()]
        docs = json.loads((gen_dir / "documents.json").read_text(encoding="utf-8"))
        return cls(settings, gen_dir, manifest, clauses, [DocumentMeta.from_dict(d) for d in docs["documents"]],
                   [Reference(**r) for r in docs.get("references", [])], BM25Index.load(gen_dir / "bm25"))

    @classmethod
    def in_memory(cls, documents: list[Document], encoder: Encoder | Sequence[Encoder], settings: Settings | None = None,
                  references: list[Reference] | None = None) -> "Index":
        """An index of ``documents`` held in memory: parsed, embedded (by each encoder, one channel each) and
        BM25-indexed like a build, searched by the exact scan, with no Chroma and no files. For unit tests
        and one-off tools.

        Raises:
            CorpusFileError: a document has no text to make a clause of.
        """
        encoders = [encoder] if not isinstance(encoder, Sequence) else list(encoder)
        name = CHANNEL_SEPARATOR.join(e.id for e in encoders)
        settings = settings or Settings(encoder=name)
        max_chars = parts_max_chars(encoders)
        vocabulary = Vocabulary.load(settings.lexicon_dir)
        clauses = [c for doc in documents for c in parse_document(doc, vocabulary)]
        parts = [p for c in clauses for p in split_parts(c, max_chars)]
        channels = [Channel(e.id, e.dim, "") for e in encoders]
        manifest = IndexManifest(FORMAT_VERSION, PARSER_VERSION, "memory", name, max_chars, "memory", channels, "", "",
                                 clause_count=len(clauses), part_count=len(parts))
        bm25 = BM25Index.build([tokenize(keyword_text(c)) for c in clauses])
        index = cls(settings, None, manifest, clauses, [d.meta() for d in documents], references or [], bm25)
        texts, owners = [p.text for p in parts], [p.clause_id for p in parts]
        index.channels = [VectorStore.in_memory(settings, manifest, channel, index.row, owners, e.embed_documents(texts))
                          for e, channel in zip(encoders, channels)]
        index.vectors = index.channels[0]
        return index

    @classmethod
    def open(cls, settings: Settings) -> "Index":
        """Open the live generation and check it matches the settings.

        Raises:
            IndexMissingError: nothing built yet.
            IndexMismatchError: built with another encoder, format or vector store; or damaged.
        """
        gen_dir = current_generation(settings.index_dir)
        if gen_dir is None:
            raise IndexMissingError(f"尚未建立索引（{settings.index_dir}）。请先运行：{BUILD_COMMAND}")
        manifest = read_manifest(gen_dir)
        check_compatible(manifest, settings)
        try:
            damaged = integrity.damaged_files(gen_dir, manifest.files)
        except PermissionError as exc:
            raise IndexMismatchError(f"没有读取索引文件的权限（{exc.filename}）。请检查索引目录 {settings.index_dir} "
                                     "的访问权限，或用有权限的账户运行。") from None
        if damaged:  # a truncated copy, a flipped block: never a traceback, never a silently different answer
            raise IndexMismatchError(f"索引文件已损坏（{gen_dir}：{'、'.join(damaged[:3])}"
                                     f"{' 等' if len(damaged) > 3 else ''}与建立时不一致）。请运行：{REBUILD_COMMAND}")
        try:
            index = cls._read(settings, gen_dir, manifest)
            if not len(index.clauses) == index.bm25.size == manifest.clause_count:
                raise ValueError("clause count")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IndexMismatchError(
                f"索引文件不完整或已损坏（{gen_dir}：{type(exc).__name__}）。请运行：{REBUILD_COMMAND}") from None
        for store in index.channels:  # the vectors checked now: damage shows at start, not at a question
            store.open()
        return index

    def clause(self, clause_id: str) -> Clause:
        """Look up one clause.

        Raises:
            UnknownClauseError: no such clause id.
        """
        try:
            return self.by_id[clause_id]
        except KeyError:
            raise UnknownClauseError(f"没有找到条款 “{clause_id}”。条款编号形如 linxia-2022-84#6，"
                                     f"可用 policy-assistant clauses 查看全部。") from None

    def document(self, doc_id: str) -> DocumentMeta:
        """The document's metadata (an empty record for an id the index does not hold)."""
        return self.documents.get(doc_id) or DocumentMeta(doc_id)

    @cached_property
    def normalized_clauses(self) -> tuple[str, ...]:
        """Every clause's text, normalized: what "occurs in the corpus" is measured against (the refusal
        checks, the scope's term test). Saved with the generation: normalizing 150,000 clauses at start
        would cost seconds."""
        saved = self.dir / NORMALIZED_FILE if self.dir else None
        if saved is not None and saved.is_file():
            texts = json.loads(saved.read_text(encoding="utf-8"))
            if len(texts) == len(self.clauses):
                return tuple(texts)
        return tuple(normalize_clauses(self.clauses))

    @cached_property
    def substrings(self) -> SubstringIndex:
        """Which clauses contain a string (:mod:`search.substrings`), as saved with the generation."""
        saved = SubstringIndex.load(self.dir, self.normalized_clauses) if self.dir else None
        return saved or SubstringIndex.build(self.normalized_clauses)

    def warm(self) -> None:
        """Load what the first question would otherwise wait for: the normalized texts and substring
        index, and the vector index (Chroma reads its segment on the first query)."""
        _ = self.substrings
        for store in self.channels:
            probe = np.zeros(store.channel.dim, dtype=np.float32)
            probe[0] = 1.0
            store.dense_rows(probe, 1)

    @cached_property
    def clauses_of(self) -> dict[str, list[Clause]]:
        """Each document's clauses, in document order."""
        by_doc: dict[str, list[Clause]] = {}
        for clause in self.clauses:
            by_doc.setdefault(clause.doc_id, []).append(clause)
        return by_doc

    def dated(self, doc_id: str) -> dict[str, tuple[Clause, int, int]]:
        """Where a document states its dates outside the preamble (:func:`documents.dated_clauses`),
        found on first need: a question about one document reads that document only."""
        found = self._dated.get(doc_id)
        if found is None:
            found = self._dated[doc_id] = dated_clauses(self.clauses_of.get(doc_id, []))
        return found

    def clause_count(self, doc_id: str) -> int:
        """How many clauses the build made of a document (0 for an in-memory index)."""
        return self.manifest.documents.get(doc_id, {}).get("clauses", 0)

    def heading(self, clause: Clause) -> str:
        """The clause's citation heading: 临州办发〔2022〕84号 第（六）条 用好财政贴息政策."""
        doc = self.documents.get(clause.doc_id)
        return heading(clause, doc, versions.status_mark(doc, self.documents) if doc else "")

    def clause_json(self, clause: Clause) -> dict:
        """The JSON shape of a clause for every interface (``clauses``/``show``, /lookup)."""
        return clause.to_json(self.documents.get(clause.doc_id))

    def hit_json(self, hit: Hit) -> dict:
        """The JSON shape of a search hit for every interface (``search --json``, /search)."""
        return hit.to_json(self.documents.get(hit.clause.doc_id))

    def dense(self, vector: np.ndarray, n: int, channel: int = 0) -> dict[str, float]:
        """Best cosine similarity per clause id among the ``n`` nearest parts (:meth:`dense_rows`), nearest first."""
        rows, sims = self.dense_rows(vector, n, channel=channel)
        order = np.argsort(-sims, kind="stable")
        return {self.clauses[r].clause_id: float(s) for r, s in zip(rows[order].tolist(), sims[order].tolist())}

    def dense_rows(self, vector: np.ndarray, n: int, within: np.ndarray | None = None, channel: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
        """(clause rows, best cosine similarity of each) among the ``n`` nearest parts of a dense channel
        (:meth:`VectorStore.dense_rows`).

        Raises:
            ChromaUnavailableError: the Chroma server still fails after retries with backoff.
        """
        return self.channels[channel].dense_rows(vector, n, within)

    @property
    def vectors_down(self) -> bool:
        """Whether the Chroma server failed just now (server mode), so searches go by keywords alone."""
        return self.vectors.down


def normalize_clauses(clauses: list[Clause], pool=None) -> list[str]:
    """Each clause's text through :func:`normalize` (in the worker pool when there is one)."""
    texts = [c.text for c in clauses]
    return list(pool.map(normalize, texts, chunksize=256)) if pool else [normalize(t) for t in texts]


def keyword_text(clause: Clause) -> str:
    """What BM25 indexes of a clause: its heading and its text."""
    return f"{clause.title} {clause.text}"
