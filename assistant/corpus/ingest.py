"""Read ``corpus/``: the manifest plus every supported file, into :class:`Document` records.

A file with a manifest entry takes its metadata from there; a file without one is still ingested,
with 文号, issuer, date and title read from its text. Unreadable files are collected as problems
(each names its file) so the caller decides between skipping (default) and failing (strict).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .. import grammar
from ..errors import CorpusFileError, ManifestError
from ..models import Document, Reference
from ..regions import Regions
from . import metadata, versions
from .readers import DEFAULT_LIMITS, SUPPORTED_SUFFIXES, CorpusLimits, read_source

MANIFEST_NAME = "manifest.toml"
# Files that live in corpus/ but are not policy documents.
_IGNORED_NAMES = {MANIFEST_NAME, "README.md", "readme.md"}

_SLUG = re.compile(r"[^\w\u4e00-\u9fa5.-]+")


@dataclass
class Corpus:
    """What was read from ``corpus/``: documents, documents they cite, and files that failed."""

    documents: list[Document] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    problems: list[CorpusFileError] = field(default_factory=list)
    # Files that were read but need a look: no title of their own, the same 文号 or title and date twice.
    warnings: list[str] = field(default_factory=list)


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every candidate document under ``corpus_dir`` (recursively), sorted: regular files inside the folder
    (:func:`corpus_entries` says why any other entry is left out)."""
    return [path for path, why in corpus_entries(corpus_dir) if not why]


def corpus_entries(corpus_dir: Path) -> list[tuple[Path, str]]:
    """Every entry under ``corpus_dir``, sorted, with why it is not read ("" for a candidate document).

    The corpus is a jail: a symbolic link is followed only when it stays inside the folder (``x.txt ->
    /etc/passwd`` is never read), and only regular files are documents (not a FIFO, a socket or a device,
    which would block or never end). Hidden entries and a manifest in a sub-folder are named, not read.
    The manifest and README at the top are the folder's own files, not documents, and are not listed.
    """
    root = corpus_dir.resolve()
    out: list[tuple[Path, str]] = []
    for path in sorted(corpus_dir.rglob("*")):
        rel = path.relative_to(corpus_dir)
        if len(rel.parts) == 1 and path.name in _IGNORED_NAMES:
            continue
        hidden = any(part.startswith(".") for part in rel.parts)
        if hidden and len(rel.parts) > 1 and any(part.startswith(".") for part in rel.parts[:-1]):
            continue  # inside a hidden folder (.git): the folder itself is named once
        if path.is_dir() and not path.is_symlink():
            if hidden:
                out.append((path, HIDDEN_DIR))
            continue
        out.append((path, _why_not_read(path, root, hidden)))
    return out


# Entries that are not documents by design (named in the build summary as worth a look, not as failures).
HIDDEN, HIDDEN_DIR = "隐藏文件，未读取", "隐藏目录，未读取"
SUB_MANIFEST = "子目录中的语料清单不会被读取（只读取语料目录根部的 manifest.toml）"
LINK_INSIDE = "指向语料目录中另一文件的符号链接，按原文件读取"
NOT_DOCUMENTS = (HIDDEN, HIDDEN_DIR, SUB_MANIFEST, LINK_INSIDE)


def _why_not_read(path: Path, root: Path, hidden: bool) -> str:
    """Why an entry of the corpus folder is not a document to read, or ""."""
    if hidden:
        return HIDDEN
    if path.name == MANIFEST_NAME:
        return SUB_MANIFEST
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):  # dangling, or a loop
            return "符号链接指向的文件不存在，已跳过"
        if not target.is_relative_to(root):
            return "符号链接指向语料目录之外，已拒绝读取"
        if target.is_dir():
            return "指向目录的符号链接不会被读取"
        return LINK_INSIDE  # the file it points to is read under its own name
    if not path.is_file():
        return "不是普通文件（管道、设备或套接字），已跳过"
    return ""


def load_manifest(corpus_dir: Path) -> tuple[dict[str, dict[str, Any]], list[Reference]]:
    """Parse ``manifest.toml``: entries keyed by file path (relative to ``corpus_dir``) and references.

    Raises:
        ManifestError: syntax error (with line and column), a missing field, or a duplicate entry.
    """
    path = corpus_dir / MANIFEST_NAME
    if not path.exists():
        return {}, []
    try:
        raw = path.read_text(encoding="utf-8")
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"语料清单 {path} 格式错误：{exc}") from None
    except UnicodeDecodeError:
        raise ManifestError(f"语料清单 {path} 不是 UTF-8 编码") from None
    entries: dict[str, dict[str, Any]] = {}
    seen_ids: dict[str, tuple[str, str]] = {}
    seen_files: dict[str, str] = {}
    # Line of each [[document]] header, so messages can point at the entry (tomllib gives no positions).
    headers = [n for n, line in enumerate(raw.splitlines(), start=1) if re.match(r"\s*\[\[\s*document\s*\]\]", line)]
    for i, entry in enumerate(data.get("document", []), start=1):
        where = f"第 {headers[i - 1]} 行" if i <= len(headers) else f"第 {i} 个 [[document]]"
        if not isinstance(entry, dict):
            raise ManifestError(f"语料清单 {path} {where}：[[document]] 应为表")
        missing = [key for key in ("doc_id", "file") if not entry.get(key)]
        if missing:
            raise ManifestError(f"语料清单 {path} {where}的 [[document]] 缺少字段：{', '.join(missing)}")
        doc_id, file = str(entry["doc_id"]), str(entry["file"])
        if doc_id in seen_ids:
            first_file, first_where = seen_ids[doc_id]
            raise ManifestError(f"语料清单 {path}：doc_id “{doc_id}” 重复（{first_where} 的 {first_file} 与 "
                                f"{where} 的 {file}）")
        if file in entries:
            raise ManifestError(f"语料清单 {path}：文件 {file} 出现了两次（{seen_files[file]} 与 {where}）")
        seen_ids[doc_id] = (file, where)
        seen_files[file] = where
        entries[file] = entry
    references = [
        Reference(
            doc_number=str(ref.get("doc_number", "")),
            title=str(ref.get("title", "")),
            issuer=str(ref.get("issuer", "")),
            level=str(ref.get("level", "")),
            in_corpus=bool(ref.get("in_corpus", False)),
        )
        for ref in data.get("reference", [])
    ]
    return entries, references


def corpus_dirs(folders: Path | Sequence[Path]) -> tuple[Path, ...]:
    """The corpus folders as a tuple: one folder, or the main folder followed by extra ones."""
    return (folders,) if isinstance(folders, Path) else tuple(folders)


def source_key(path: Path, folders: Path | Sequence[Path]) -> str | None:
    """How the index names a corpus file: its path relative to the main folder, or, in an extra folder,
    that folder's path joined with it (so two folders may both hold a ``README.md``). None: outside."""
    for i, folder in enumerate(corpus_dirs(folders)):
        try:
            rel = path.resolve().relative_to(folder.resolve()).as_posix()
        except ValueError:
            continue
        return rel if i == 0 else f"{folder.as_posix()}/{rel}"
    return None


def corpus_sources(folders: Path | Sequence[Path]) -> list[tuple[str, Path]]:
    """(key, path) of every candidate file of every existing folder, in folder order."""
    out = []
    for folder in corpus_dirs(folders):
        if folder.is_dir():
            out += [(source_key(p, folders) or p.as_posix(), p) for p in corpus_files(folder)]
    return out


def load_corpus(folders: Path | Sequence[Path], on_file: Callable[[], None] | None = None,
                limits: CorpusLimits = DEFAULT_LIMITS) -> Corpus:
    """Read every document in the corpus folder(s); each folder may have its own manifest.

    ``on_file`` is called after each file (a build's progress bar). A file past one of ``limits`` is
    skipped and named among the problems.

    Raises:
        ManifestError: a manifest is malformed (nothing is read then: metadata would be wrong).
        CorpusFileError: a corpus folder does not exist.
    """
    folders = corpus_dirs(folders)
    for folder in folders:
        if not folder.is_dir():
            raise CorpusFileError(str(folder), "语料目录不存在")
    corpus = Corpus()
    ids: dict[str, Document] = {}
    for folder in folders:
        entries, references = load_manifest(folder)
        corpus.references += references
        for path, why in corpus_entries(folder):
            if why in NOT_DOCUMENTS:  # named in the summary, but nothing is wrong with the folder
                corpus.warnings.append(f"{path}：{why}")
                continue
            if why:
                corpus.problems.append(CorpusFileError(str(path), why))
                continue
            if on_file is not None:
                on_file()
            rel = path.relative_to(folder).as_posix()
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                corpus.problems.append(CorpusFileError(str(path), f"不支持的文件类型 {path.suffix or '(无扩展名)'}，已忽略"))
                continue
            try:
                doc = _document(path, source_key(path, folders) or rel, entries.get(rel), limits)
            except CorpusFileError as exc:
                corpus.problems.append(exc)
                continue
            if doc.doc_id in ids and not (entries.get(rel) or {}).get("doc_id"):
                first = ids[doc.doc_id]
                if first.sha256 == doc.sha256:
                    corpus.problems.append(CorpusFileError(str(path), f"与 {first.path} 内容相同，已跳过"))
                    continue
                # Two folders each with a 实施办法.md: the later one (in file order) is named by its path.
                doc = dataclasses.replace(doc, doc_id=slugify(str(PurePosixPath(doc.path).with_suffix(""))))
            if doc.doc_id in ids:
                corpus.problems.append(CorpusFileError(str(path), f"doc_id “{doc.doc_id}” 与 {ids[doc.doc_id].path} 重复，已跳过"))
                continue
            ids[doc.doc_id] = doc
            corpus.documents.append(doc)
        for rel in entries:
            if not (folder / rel).exists():
                corpus.problems.append(CorpusFileError(str(folder / rel), "语料清单中列出，但文件不存在"))
    corpus.documents = versions.link_versions(corpus.documents)
    corpus.warnings += versions.find_clashes(corpus.documents)
    return corpus


def _document(path: Path, rel: str, entry: dict[str, Any] | None, limits: CorpusLimits) -> Document:
    source = read_source(path, limits)
    text = source.text
    entry = entry or {}
    found = metadata.detect(text, path.name, source.title)
    title = str(entry.get("title") or found.title or path.stem)
    doc_number = str(entry.get("doc_number") or found.doc_number)
    short = str(entry.get("short_name") or metadata.short_name(title, doc_number))
    issuer = str(entry.get("issuer") or found.issuer)
    dates = found.dates
    level = str(entry.get("level") or metadata.level_of(issuer, title=title, doc_type=found.doc_type) or found.level)
    region = (Regions.load().find(str(entry["place"])) if entry.get("place")
              else metadata.region_of(issuer, title=title, level=level))
    if entry.get("issue_date"):
        dates = (("印发", _iso(entry["issue_date"])),) + tuple(d for d in dates if d[0] != "印发")
    return Document(
        doc_id=str(entry.get("doc_id") or slugify(path.stem)),
        path=rel,
        title=title,
        doc_number=doc_number,
        issuer=issuer,
        issue_date=_iso(entry.get("issue_date")) or found.issue_date,
        level=level,
        place=region.name if region else str(entry.get("place", "")),
        region_code=region.code if region else "",
        source=str(entry.get("source", "")),
        text=text,
        sha256=hashlib.sha256(source.data).hexdigest(),
        implements=tuple(str(x) for x in entry.get("implements", ())),
        cites=tuple(str(x) for x in entry.get("cites", found.cites)),
        short_name=short,
        aliases=tuple(str(x) for x in entry.get("aliases", ())) or metadata.aliases(title, short, doc_number),
        dates=dates,
        doc_type=str(entry.get("doc_type") or found.doc_type),
        title_from_file=found.title_from_file and not entry.get("title"),
        status=_status(entry.get("status"), path),
        superseded_by=str(entry.get("superseded_by", "")),
    )


def _status(value: Any, path: Path) -> str:
    status = str(value or "").strip()
    if status and status not in versions.REPEALED + ("有效", "现行"):
        raise CorpusFileError(str(path), f"语料清单中的 status “{status}” 无效（可填 废止、失效 或 有效）")
    return "" if status in ("有效", "现行") else status


def _iso(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, str) and value.strip():
        m = grammar.FULL_DATE.search(value)
        return (grammar.full_date_iso(m) if m else "") or value.strip()
    return ""


def slugify(stem: str) -> str:
    """A doc_id from a file name: keep letters, digits, CJK, dot and dash."""
    slug = _SLUG.sub("-", stem.strip()).strip("-")
    return slug or "document"


def detect_metadata(text: str, file_name: str = "") -> dict[str, Any]:
    """:func:`metadata.detect` as a dict: 文号, title, issuer, issue date, cites and the other fields."""
    found = metadata.detect(text, file_name)
    return {**asdict(found), "issue_date": found.issue_date, "cites": list(found.cites)}
