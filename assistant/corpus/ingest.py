"""Read ``corpus/``: the manifest plus every supported file, into :class:`Document` records.

A file with a manifest entry takes its metadata from there; a file without one is still ingested,
with 文号, issuer, date and title read from its text. Unreadable files are collected as problems
(each names its file) so the caller decides between skipping (default) and failing (strict).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import grammar
from ..errors import CorpusFileError, ManifestError
from ..models import Document, Reference
from .readers import SUPPORTED_SUFFIXES, read_file

MANIFEST_NAME = "manifest.toml"
# Files that live in corpus/ but are not policy documents.
_IGNORED_NAMES = {MANIFEST_NAME, "README.md", "readme.md"}

_ISSUER = re.compile(r"^[\u4e00-\u9fa5（）()]{2,40}(?:人民政府办公室|人民政府办公厅|人民政府|办公厅|办公室|委员会|"
                     r"局|厅|部|署|中心支行|银行|分局|管理局|联合会)$")
_TITLE_START = re.compile(r"^关于")
_TITLE_END = re.compile(r"(?:通知|意见|办法|方案|措施|规定|决定|细则|公告|通告|指导意见|实施意见|若干措施)$")
_SLUG = re.compile(r"[^\w\u4e00-\u9fa5.-]+")


@dataclass
class Corpus:
    """What was read from ``corpus/``: documents, documents they cite, and files that failed."""

    documents: list[Document] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    problems: list[CorpusFileError] = field(default_factory=list)


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every candidate document under ``corpus_dir`` (recursively, hidden files excluded), sorted."""
    files = []
    for path in sorted(corpus_dir.rglob("*")):
        rel = path.relative_to(corpus_dir)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if path.name in _IGNORED_NAMES:
            continue
        files.append(path)
    return files


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


def load_corpus(corpus_dir: Path) -> Corpus:
    """Read every document in ``corpus_dir``.

    Raises:
        ManifestError: the manifest is malformed (nothing is read then: metadata would be wrong).
        CorpusFileError: the corpus folder does not exist.
    """
    if not corpus_dir.is_dir():
        raise CorpusFileError(str(corpus_dir), "语料目录不存在")
    entries, references = load_manifest(corpus_dir)
    corpus = Corpus(references=references)
    ids: dict[str, str] = {}
    for path in corpus_files(corpus_dir):
        rel = path.relative_to(corpus_dir).as_posix()
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            corpus.problems.append(CorpusFileError(str(path), f"不支持的文件类型 {path.suffix or '(无扩展名)'}，已忽略"))
            continue
        try:
            doc = _document(path, rel, entries.get(rel))
        except CorpusFileError as exc:
            corpus.problems.append(exc)
            continue
        if doc.doc_id in ids:
            corpus.problems.append(CorpusFileError(str(path), f"doc_id “{doc.doc_id}” 与 {ids[doc.doc_id]} 重复，已跳过"))
            continue
        ids[doc.doc_id] = rel
        corpus.documents.append(doc)
    for rel in entries:
        if not (corpus_dir / rel).exists():
            corpus.problems.append(CorpusFileError(str(corpus_dir / rel), "语料清单中列出，但文件不存在"))
    return corpus


def _document(path: Path, rel: str, entry: dict[str, Any] | None) -> Document:
    text = read_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusFileError(str(path), f"无法读取文件（{exc.strerror or exc}）") from None
    entry = entry or {}
    detected = detect_metadata(text)
    doc_id = str(entry.get("doc_id") or slugify(path.stem))
    return Document(
        doc_id=doc_id,
        path=rel,
        title=str(entry.get("title") or detected["title"] or path.stem),
        doc_number=str(entry.get("doc_number") or detected["doc_number"]),
        issuer=str(entry.get("issuer") or detected["issuer"]),
        issue_date=_iso(entry.get("issue_date")) or detected["issue_date"],
        level=str(entry.get("level") or level_of(str(entry.get("issuer") or detected["issuer"]))),
        source=str(entry.get("source", "")),
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
        implements=tuple(str(x) for x in entry.get("implements", ())),
        cites=tuple(str(x) for x in entry.get("cites", detected["cites"])),
    )


def _iso(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, str) and value.strip():
        m = grammar.FULL_DATE.search(value)
        try:
            return grammar.iso_date(*grammar.date_parts(m)) if m else value.strip()
        except ValueError:
            return value.strip()
    return ""


def slugify(stem: str) -> str:
    """A doc_id from a file name: keep letters, digits, CJK, dot and dash."""
    slug = _SLUG.sub("-", stem.strip()).strip("-")
    return slug or "document"


def detect_metadata(text: str) -> dict[str, Any]:
    """Read 文号, title, issuer, issue date and cited documents from a document's own text.

    Looks at the head of the document (where the red header and title are) for 文号 and title, and at
    the last dated line before the body for issuer and date. Missing items come back as "".
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    head = lines[:40]
    doc_number = ""
    for ln in head:
        m = grammar.DOC_NUMBER.search(ln)
        if m and len(ln) <= 30:  # a 文号 line, not a citation inside a sentence
            doc_number = grammar.doc_number(m.group(0))
            break
    title = _detect_title(head)
    issue_date, issuer = "", ""
    for i, ln in enumerate(head):
        m = grammar.FULL_DATE.match(ln) if len(ln) <= 20 else None
        if m:
            try:
                issue_date = grammar.iso_date(*grammar.date_parts(m))
            except ValueError:
                continue
            for prev in reversed(head[max(0, i - 3):i]):
                if _ISSUER.match(prev):
                    issuer = prev
                    break
            break
    if not issuer:
        issuer = next((ln for ln in head if _ISSUER.match(ln) and not _TITLE_START.match(ln)), "")
        issuer = re.sub(r"(文件|印发)$", "", issuer)
    cites = []
    for m in grammar.CITED_DOCUMENT.finditer(text):
        number = grammar.doc_number(m.group(2))
        if number != doc_number and number not in cites:
            cites.append(number)
    return {"doc_number": doc_number, "title": title, "issuer": issuer, "issue_date": issue_date,
            "cites": cites}


def _detect_title(head: list[str]) -> str:
    for i, ln in enumerate(head):
        if _TITLE_START.match(ln):
            joined = ln
            j = i
            while not _TITLE_END.search(joined) and j + 1 < len(head) and len(joined) < 120:
                if _TITLE_START.match(head[j + 1]):
                    break  # another title starts (e.g. after a web page's "标题_网站名" line)
                j += 1
                joined += head[j]
            if _TITLE_END.search(joined):
                return joined
    return ""


def level_of(issuer: str) -> str:
    """Administrative level from the issuer's name: 国家, 省, 州/市, 县, or ""."""
    if not issuer:
        return ""
    if issuer.startswith(("国务院", "中国人民银行", "国家", "财政部", "中国银保监会", "国家金融监督管理总局")):
        return "国家"
    if "省" in issuer or "自治区" in issuer and "自治州" not in issuer:
        return "省"
    if "州" in issuer:
        return "州"
    if "市" in issuer:
        return "市"
    if "县" in issuer:
        return "县"
    return ""
