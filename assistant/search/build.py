"""Building the index: read and parse the corpus, embed the parts, write a new generation, switch to it.

A build writes a new generation (search/layout.py) and only then replaces ``CURRENT``, so a failed or
interrupted build leaves the previous index in use. Unchanged documents reuse their clause records,
tokens and stored vectors; an embedded build that reuses most of them copies the previous vector store
and edits the copy. :func:`open_index` opens the index, building or repairing it first when allowed.

The stages, each a function: read (:func:`_read_corpus`), parse (:func:`_parse`), plan
(:class:`BuildPlan`), then :func:`_build_generation`: vectors (:func:`_write_vectors`), tokens
(:func:`_token_lists`), the files, the manifest, the pointer switch.
"""

from __future__ import annotations

import dataclasses
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
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..config import Settings
from ..corpus.ingest import Corpus, corpus_sources, load_corpus, source_key
from ..corpus.measures import Vocabulary
from ..corpus.readers import CorpusLimits
from ..corpus.structure import parse_document, split_parts
from ..errors import (
    CorpusFileError,
    IndexBuildError,
    IndexMismatchError,
    IndexMissingError,
    ManifestError,
    PolicyError,
)
from ..models import Clause, Document, Part
from . import integrity, layout, vectorstore
from .encoders import Encoder, get_encoder, get_encoders, parts_max_chars
from .index import Index, keyword_text, normalize_clauses
from .layout import (
    FORMAT_VERSION,
    NORMALIZED_FILE,
    PARSER_VERSION,
    SKIP_REASONS_FILE,
    TOKENS_FILE,
    Channel,
    IndexManifest,
    build_lock,
    collect_garbage,
    collections_of,
    corpus_fingerprint,
    current_generation,
    file_sha256,
    is_stale,
    make_dir,
    manifest_skipped,
    read_manifest,
    remove_unfinished,
    switch_pointer,
    up_to_date,
    write_file,
    write_lines,
)
from .lexical import BM25Index
from .substrings import SubstringIndex
from .text import tokenize
from .vectorstore import VectorStore

# An embedded build copies the previous vector store (and edits it) when it reuses this share of the
# parts; below it, writing a fresh store costs about the same and leaves no deleted entries behind.
COPY_MIN_SHARE = 0.5


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
    # Seconds per stage (read, parse, vectors = embed and write, tokenize, write), for benchmarks; within
    # vectors, each channel's share as vectors:<encoder>.
    stages: dict[str, float] = field(default_factory=dict)


# What each stage is called where people watch a build (progress bars, the admin page).
STAGE_LABELS = {"read": "读取文件", "parse": "解析条款", "vectors": "计算向量", "tokenize": "分词", "write": "写入索引文件"}

# Told the name of each stage (a STAGE_LABELS key) as it begins: how a caller without a terminal (the admin
# page) shows how far a build has got.
StageHook = Callable[[str], None]


def build_index(settings: Settings, *, rebuild: bool = False, progress: bool = False,
                on_stage: StageHook | None = None) -> BuildReport:
    """Build or refresh the index from ``settings.corpus_dir``.

    Unchanged documents reuse their stored vectors (unless ``rebuild``); removed documents leave the
    index. Nothing visible changes until the new generation is complete.

    Raises:
        IndexBuildError: no usable document, a file failed under ``strict``, or the build failed
            (the previous index stays in use).
        ManifestError: the corpus manifest is malformed.
    """
    started = time.monotonic()
    with build_lock(settings.index_dir):
        report = _build_locked(settings, rebuild=rebuild, progress=progress, on_stage=on_stage)
    report.seconds = time.monotonic() - started
    return report


@dataclass
class BuildPlan:
    """What a new generation is built from, decided before anything is written."""

    settings: Settings
    corpus: Corpus  # the documents read, the documents they cite, the files that failed
    parsed: list[tuple[Document, list[Clause]]]
    skipped: list[str]  # "path:sha256" of files that could not be used (unchanged ones stay skipped)
    encoders: list[Encoder]  # one per dense channel
    previous: Index | None  # the live index, when its vectors can be reused
    manifest_sha: str  # sha256 of corpus/manifest.toml ("" when there is none)
    progress: bool
    on_stage: StageHook | None = None
    reasons: dict[str, str] = field(default_factory=dict)  # why each skipped file (by its key) was skipped
    clauses: list[Clause] = field(init=False)
    parts: list[Part] = field(init=False)

    def __post_init__(self) -> None:
        self.clauses = [c for _, cs in self.parsed for c in cs]
        self.parts = [p for c in self.clauses for p in split_parts(c, self.max_chars)]

    @property
    def max_chars(self) -> int:
        """Parts are split once, for the channel that reads the fewest characters."""
        return parts_max_chars(self.encoders)

    def previous_store(self, encoder: Encoder) -> VectorStore | None:
        """The live generation's vectors of ``encoder``'s channel, when they can be reused."""
        if self.previous is None:
            return None
        return next((s for s in self.previous.channels
                     if s.channel.encoder == encoder.id and s.channel.dim == encoder.dim), None)

    @property
    def documents(self) -> dict[str, str]:
        """doc_id → sha256 of every document that goes into the generation."""
        return {doc.doc_id: doc.sha256 for doc, _ in self.parsed}

    @cached_property
    def unchanged_docs(self) -> set[str]:
        """doc_ids whose file is the one the previous generation split with this parser version: their
        parts and clause texts are the same, so their tokens and vectors are reused (a change of the
        parser's data alone, the matching vocabulary, re-reads the clause records and keeps these)."""
        return {doc.doc_id for doc, _ in self.parsed if _indexed_before(self.previous, doc, None, records=False)}

    def unchanged(self) -> bool:
        """The live index already holds exactly this corpus: nothing to build."""
        previous = self.previous
        read = {doc.path: doc.sha256 for doc, _ in self.parsed}
        return (previous is not None and previous.dir is not None
                and set(manifest_skipped(previous.dir)) == set(self.skipped)
                and up_to_date(previous.manifest, (), read, self.manifest_sha, self.settings))


def _build_locked(settings: Settings, *, rebuild: bool, progress: bool, on_stage: StageHook | None) -> BuildReport:
    remove_unfinished(settings.index_dir)
    report = BuildReport()
    limits = CorpusLimits.of(settings)
    with _timed(report.stages, "read", on_stage):
        corpus = _read_corpus(settings, limits, progress)
    report.problems, report.warnings = list(corpus.problems), list(corpus.warnings)
    skipped = [f"{source_key(Path(p.path), settings.corpus_dirs)}:{file_sha256(Path(p.path))}"
               for p in corpus.problems
               if source_key(Path(p.path), settings.corpus_dirs) is not None and Path(p.path).is_file()]
    encoders = get_encoders(settings.encoder, settings.allow_model_download)
    previous = _previous(settings, parts_max_chars(encoders), rebuild)
    with _timed(report.stages, "parse", on_stage):
        parsed = _parse(corpus.documents, previous, limits, report, skipped, progress, settings.lexicon_dir)
    if settings.strict and report.problems:
        listing = "；".join(str(p) for p in report.problems)
        raise IndexBuildError(f"严格模式下发现无法使用的语料文件，构建已停止，原有索引保持不变：{listing}")
    if not parsed:
        folders = "、".join(str(f) for f in settings.corpus_dirs)
        raise IndexBuildError(f"语料目录 {folders} 中没有可用的政策文件，原有索引保持不变")

    plan = BuildPlan(settings, corpus, parsed, skipped, encoders, previous, corpus_fingerprint(settings)[1], progress,
                     on_stage, {source_key(Path(p.path), settings.corpus_dirs) or p.path: p.reason
                                for p in report.problems})
    if plan.unchanged() and plan.previous is not None:
        manifest = plan.previous.manifest
        report.documents, report.clauses, report.parts = len(parsed), manifest.clause_count, manifest.part_count
        report.generation, report.unchanged = manifest.generation, True
        return report
    with _worker_pool(settings, len(plan.parts)) as pool:
        return _build_generation(plan, report, pool)


def _read_corpus(settings: Settings, limits: CorpusLimits, progress: bool) -> Corpus:
    """Stage read: every corpus file, with the problems and warnings of those that cannot be used."""
    reading = _progress(len(corpus_sources(settings.corpus_dirs)), progress, STAGE_LABELS["read"], "个")
    corpus = load_corpus(settings.corpus_dirs, on_file=reading.update, limits=limits)
    reading.close()
    return corpus


def _parse(documents: list[Document], previous: Index | None, limits: CorpusLimits, report: BuildReport,
           skipped: list[str], progress: bool, lexicon_dir: Path | None) -> list[tuple[Document, list[Clause]]]:
    """Stage parse: each document's clauses (an unchanged file's from the previous generation), each clause's
    measure read with ``measures.toml`` from ``lexicon_dir`` or the package; a file that cannot be parsed, or
    makes too many clauses, goes to ``report.problems`` and ``skipped``."""
    parsed: list[tuple[Document, list[Clause]]] = []
    vocabulary = Vocabulary.load(lexicon_dir)
    parsing = _progress(len(documents), progress, STAGE_LABELS["parse"], "个")
    for doc in documents:
        if previous is not None and _indexed_before(previous, doc, lexicon_dir):  # an unchanged file: the same clauses
            parsed.append((doc, previous.clauses_of[doc.doc_id]))
            parsing.update()
            continue
        try:
            clauses = parse_document(doc, vocabulary)
            if len(clauses) > limits.max_clauses:  # 200,000 numbered lines would be 200,000 vectors
                raise CorpusFileError(doc.path, f"切分出 {len(clauses):,} 条条款，超过上限 {limits.max_clauses:,} 条"
                                                "（POLICY_CORPUS_MAX_CLAUSES），已跳过")
            parsed.append((doc, clauses))
        except CorpusFileError as exc:
            report.problems.append(exc)
            skipped.append(f"{doc.path}:{doc.sha256}")
        parsing.update()
    parsing.close()
    return parsed


def _build_generation(plan: BuildPlan, report: BuildReport, pool) -> BuildReport:
    """Write a new generation from ``plan``, switch ``CURRENT`` to it, and drop what no reader can need."""
    settings, previous, parts, clauses = plan.settings, plan.previous, plan.parts, plan.clauses
    generation = time.strftime("%Y%m%d%H%M%S") + f"-{uuid.uuid4().hex[:8]}"
    gen_name = f"gen-{generation}"
    gen_dir = settings.index_dir / gen_name
    gen_dir.mkdir(parents=True)
    collection = vectorstore.collection_name(settings.collection_prefix, generation)
    # The generation in use when this build started (also after --rebuild, which reuses nothing of it):
    # running replicas may still read it, so its folder and its collections outlive this build.
    live = current_generation(settings.index_dir)
    client = None
    stages = report.stages
    written: list = []  # the collections of the new generation, one per channel
    try:
        # Written line by line (and hashed on the way): at 150,000 clauses one string would be 110 MB.
        clauses_sha = write_lines(gen_dir / "clauses.jsonl", (json.dumps(c.to_dict(), ensure_ascii=False)
                                                               for c in clauses))
        with _timed(stages, "vectors", plan.on_stage):
            copied = _copy_previous_vectors(plan, gen_dir)
            client = vectorstore.make_client(settings, gen_dir)
            batch_size = min(1000, _max_batch(client))
            todo = {e.id: _todo(plan, e, copied) for e in plan.encoders}
            _warn_if_long(plan, todo, _workers(settings) if pool else 1, report)
            reused = 0
            for i, encoder in enumerate(plan.encoders):
                with _timed(stages, f"vectors:{encoder.id}"):
                    name = collection if i == 0 else f"{collection}-{i}"
                    written.append(_collection(plan, encoder, client, name, copied,
                                               {"generation": generation, "clauses_sha256": clauses_sha}))
                    reused += _write_vectors(plan, encoder, written[-1], batch_size, pool, todo[encoder.id])
            if copied:  # the copied store may hold the collection of a channel this build dropped
                _drop_unused(client, plan, {c.name for c in written})
        with _timed(stages, "tokenize", plan.on_stage):
            token_lists = _token_lists(plan, pool)
        with _timed(stages, "write", plan.on_stage):
            steps = _progress(5, plan.progress, STAGE_LABELS["write"], "项")
            _write_files(plan, gen_dir, token_lists, pool, steps)
            manifest = _manifest(plan, generation, written, clauses_sha, gen_dir)
            write_file(gen_dir / "manifest.json", json.dumps(asdict(manifest), ensure_ascii=False, indent=1))
            steps.update()
            steps.close()
        switch_pointer(settings.index_dir, gen_name)
    except BaseException as exc:
        _discard(gen_dir, client, [c.name for c in written] or [collection], settings)
        if isinstance(exc, PolicyError) or not isinstance(exc, Exception):
            raise
        raise IndexBuildError(f"索引构建失败，原有索引保持不变：{type(exc).__name__}: {exc}") from exc

    collect_garbage(settings, keep={gen_name} | ({live.name} if live else set()), client=client,
                    keep_collections={c.name for c in written} | collections_of(live))
    report.documents = len(plan.parsed)
    report.clauses = len(clauses)
    report.parts = len(parts)
    report.reused = reused
    report.embedded = len(parts) * len(plan.encoders) - reused
    report.generation = generation
    if previous is not None:
        report.removed = sorted(set(previous.manifest.documents) - set(plan.documents))
    return report


def _collection(plan: BuildPlan, encoder: Encoder, client, name: str, copied: bool, meta: dict):
    """The new generation's collection of ``encoder``'s channel: a fresh one, or (``copied``) the previous
    generation's copied collection of that channel with the parts of changed and removed documents taken out."""
    before = plan.previous_store(encoder)
    if not copied or before is None:
        return vectorstore.create_collection(client, name, encoder.id, meta)
    previous = plan.previous
    assert previous is not None, "a store is copied only from a previous generation"
    # An embedded index changed in a few files: the previous generation's vectors, copied, lose the parts
    # that changed and gain the new ones (a rewrite of every vector takes minutes).
    col = vectorstore.get_collection(client, before.name)
    # Every part of a changed or removed document goes (a changed one keeps its ids: adding them again
    # would leave the old vectors in place).
    stale = [p.part_id for c in previous.clauses if c.doc_id not in plan.unchanged_docs
             for p in split_parts(c, previous.manifest.max_chars)]
    vectorstore.delete_parts(col, stale)
    col.modify(metadata={"encoder": encoder.id, **meta})
    return col


def _drop_unused(client, plan: BuildPlan, keep: set[str]) -> None:
    """Delete from a copied store the collections of channels the new generation does not have."""
    for store in plan.previous.channels if plan.previous is not None else ():
        if store.name not in keep:
            client.delete_collection(store.name)


# A channel whose embedding would take longer than this says so before it starts, with the faster choice.
LONG_EMBEDDING_SECONDS = 15 * 60
# Parts embedded to time an encoder on this machine before a large build.
ESTIMATE_SAMPLE = 16


def _warn_if_long(plan: BuildPlan, todo: dict[str, tuple[list[int], dict]], workers: int, report: BuildReport) -> None:
    """Before any embedding: time each channel's encoder on a sample of the parts it must embed and, when
    the whole would take long (e5 on the 3,496 laws: hours on 2 cores), say how long (``workers`` processes
    embedding) and how to choose the fast encoder. Small builds are not timed."""
    for encoder in plan.encoders:
        rows = todo[encoder.id][0]
        if len(rows) < PARALLEL_MIN_PARTS:
            continue
        sample = [plan.parts[i].text for i in rows[::max(1, len(rows) // ESTIMATE_SAMPLE)]][:ESTIMATE_SAMPLE]
        started = time.process_time()  # CPU time of every thread: what the workers will spend, each on a core
        encoder.embed_documents(sample)
        seconds = (time.process_time() - started) / len(sample) * len(rows) / workers
        if seconds < LONG_EMBEDDING_SECONDS:
            continue
        fast = "、".join(e.id for e in plan.encoders if e.id != encoder.id) or "use-multilingual"
        text = (f"编码器 {encoder.id} 要为 {len(rows):,} 段文本计算向量，按本机实测速度约需 {_duration(seconds)}。"
                f"如需更快，可设置 POLICY_ENCODER={fast}（只用快速编码器，日常说法的检索会变弱）后重新运行。")
        report.warnings.append(text)
        if plan.progress:
            print(text, file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    """A rough duration in Chinese: 约 40 分钟, 约 3.5 小时."""
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} 分钟"
    return f"{seconds / 3600:.1f} 小时"


def _write_files(plan: BuildPlan, gen_dir: Path, token_lists: list[list[str]], pool, steps) -> None:
    """Stage write: normalized texts, BM25, tokens, the substring index, documents and skipped files."""
    normalized = normalize_clauses(plan.clauses, pool)
    # The substring index is built in a worker while this process builds BM25 and writes files.
    substrings = pool.submit(_save_substrings, normalized, gen_dir) if pool else None
    write_file(gen_dir / NORMALIZED_FILE, json.dumps(normalized, ensure_ascii=False))
    steps.update()
    BM25Index.build(token_lists).save(make_dir(gen_dir / "bm25"))
    write_lines(gen_dir / TOKENS_FILE, (json.dumps(t, ensure_ascii=False) for t in token_lists))
    steps.update()
    if substrings is None:
        _save_substrings(normalized, gen_dir)
    else:
        substrings.result()
    steps.update()
    write_file(gen_dir / "documents.json", json.dumps({
        "documents": [doc.meta().to_dict() for doc, _ in plan.parsed],
        "references": [asdict(r) for r in plan.corpus.references],
    }, ensure_ascii=False, indent=1))
    write_file(gen_dir / "skipped.json", json.dumps(plan.skipped, ensure_ascii=False))
    write_file(gen_dir / SKIP_REASONS_FILE, json.dumps(plan.reasons, ensure_ascii=False))
    steps.update()


def _manifest(plan: BuildPlan, generation: str, collections: list, clauses_sha: str, gen_dir: Path) -> IndexManifest:
    """What the generation holds, with the checksums of its files (all written by now) and vectors."""
    settings, parts = plan.settings, plan.parts
    parts_per_doc = Counter(p.doc_id for p in parts)
    return IndexManifest(
        format_version=FORMAT_VERSION,
        parser_version=PARSER_VERSION,
        parser_data_sha256=layout.parser_data_sha256(settings.lexicon_dir),
        generation=generation,
        encoder=settings.encoder,
        max_chars=plan.max_chars,
        chroma=vectorstore.chroma_location(settings),
        channels=[Channel(e.id, e.dim, col.name, vectorstore.vectors_digest_of(col, len(parts), settings))
                  for e, col in zip(plan.encoders, collections)],
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        corpus_manifest_sha256=plan.manifest_sha,
        documents={doc.doc_id: {"path": doc.path, "sha256": doc.sha256, "clauses": len(cs),
                                "parts": parts_per_doc[doc.doc_id]}
                   for doc, cs in plan.parsed},
        clause_count=len(plan.clauses),
        part_count=len(parts),
        clauses_sha256=clauses_sha,
        files=integrity.file_digests(gen_dir),
    )


@contextmanager
def _timed(stages: dict[str, float], name: str, on_stage: StageHook | None = None) -> Iterator[None]:
    if on_stage is not None:
        on_stage(name)
    started = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - started


def _indexed_before(previous: Index | None, doc: Document, lexicon_dir: Path | None, *, records: bool = True) -> bool:
    """Whether the previous generation indexed this very file with this parser (``records``: and with this
    parser data, from ``lexicon_dir`` or the package, so its clause records can be reused as they are)."""
    if previous is None:
        return False
    manifest = previous.manifest
    return ((manifest.same_parser(lexicon_dir) if records else manifest.parser_version == PARSER_VERSION)
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


def _todo(plan: BuildPlan, encoder: Encoder, copied: bool) -> tuple[list[int], dict[str, np.ndarray]]:
    """(rows of the parts ``encoder`` must embed, stored vectors to write again) for its channel.

    Unchanged documents keep the channel's vectors: in the copied store (nothing to do), or fetched from the
    previous collection (server mode) and written again. A channel the previous generation lacks embeds all.
    """
    parts, before = plan.parts, plan.previous_store(encoder)
    unchanged = plan.unchanged_docs if before is not None else set()
    if copied and before is not None:
        return [i for i, p in enumerate(parts) if p.doc_id not in unchanged], {}
    wanted = [p.part_id for p in parts if p.doc_id in unchanged]
    stored = vectorstore.fetch_vectors(before.collection, wanted) if wanted and before is not None else {}
    return [i for i, p in enumerate(parts) if p.part_id not in stored], stored


def _write_vectors(plan: BuildPlan, encoder: Encoder, col, batch_size: int, pool,
                   work: tuple[list[int], dict[str, np.ndarray]]) -> int:
    """Put a vector of ``encoder`` for every part into ``col``; returns how many were reused rather than
    embedded (``work``: what :func:`_todo` found to embed and to write again).

    Embedding runs in the worker pool while this process writes finished batches, so the writes cost
    little beyond the embedding itself.
    """
    parts = plan.parts
    todo, stored = work
    embed_size = plan.settings.embed_batch_size
    batches = [todo[start:start + embed_size] for start in range(0, len(todo), embed_size)]
    texts = ([parts[i].text for i in batch] for batch in batches)
    # pool.map submits every batch now; the stored vectors are written while the workers embed.
    embedded = (pool.map(_embed_in_worker, ((encoder.id, t) for t in texts), chunksize=4) if pool
                else map(encoder.embed_documents, texts))
    # tqdm's bar shows the time left of each channel (rate × parts to go).
    embed_bar = _progress(len(todo), plan.progress, f"嵌入条款（{encoder.id}）", "段")
    write_bar = _progress(len(todo) + len(stored), plan.progress, f"写入向量（{encoder.id}）", "段", position=1)
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


def _previous(settings: Settings, max_chars: int, rebuild: bool) -> Index | None:
    """The live index if its parts are the ones this build splits (so its vectors can be reused), else None.
    Each channel then reuses the vectors of the same encoder (:meth:`BuildPlan.previous_store`)."""
    if rebuild:
        return None
    gen_dir = current_generation(settings.index_dir)
    try:
        # Opened with the encoder setting it was built for: after a change of setting (a channel added or
        # dropped), the channels both have keep their vectors.
        built_for = read_manifest(gen_dir).encoder if gen_dir is not None else settings.encoder
        index = Index.open(dataclasses.replace(settings, encoder=built_for))
    except PolicyError:
        return None  # missing, damaged, other format: build from scratch
    return index if index.manifest.max_chars == max_chars else None


# A build with fewer parts to index than this runs in one process: starting workers (each loads the
# encoder and jieba, ~2-3 s) costs more than it saves.
PARALLEL_MIN_PARTS = 2000


_worker_download = False


@contextmanager
def _worker_pool(settings: Settings, parts: int) -> Iterator:
    """A process pool for embedding and tokenizing a large build, or None (small build, one CPU, or off)."""
    workers = _workers(settings)
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


def _workers(settings: Settings) -> int:
    """Processes a large build embeds and tokenizes in."""
    return settings.build_workers or (os.cpu_count() or 1)


def _init_worker(encoders: str, allow_download: bool, builder: int) -> None:
    global _worker_download
    _die_with(builder)
    # Each worker is one process on one core: an OpenMP encoder (e5) must not start a thread per core too.
    os.environ["OMP_NUM_THREADS"] = "1"
    _worker_download = allow_download
    get_encoders(encoders, allow_download)  # loaded once per worker, before the first batch


def _die_with(builder: int) -> None:
    """Exit as soon as the building process is gone, even killed with SIGKILL (no cleanup runs then):
    an orphaned worker would hold its encoder (~170 MB) and a core until the machine restarts. Polled
    rather than PR_SET_PDEATHSIG, which fires when the parent's spawning *thread* ends."""
    def watch() -> None:
        while os.getppid() == builder:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="builder-watch", daemon=True).start()


def _embed_in_worker(job: tuple[str, list[str]]) -> np.ndarray:
    encoder, texts = job
    return get_encoder(encoder, _worker_download).embed_documents(texts)


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


def _discard(gen_dir: Path, client, collections: list[str], settings: Settings) -> None:
    if client is not None and settings.server_mode:
        for name in collections:
            try:
                client.delete_collection(name)
            except Exception:
                pass
    shutil.rmtree(gen_dir, ignore_errors=True)


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
