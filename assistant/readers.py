"""Turn a corpus file (.txt, .md, .docx, .pdf, .html) into plain text.

Each reader returns the text the structure parser sees; clause spans index into that text.
Every failure is a :class:`CorpusFileError` naming the file, never a library traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from .errors import CorpusFileError

SUPPORTED_SUFFIXES = (".txt", ".md", ".docx", ".pdf", ".html", ".htm")

# Page furniture that PDF extraction interleaves with the body: "- 3 -", "— 12 —", "第 2 页".
_PDF_PAGE_MARK = re.compile(r"^\s*(?:[-—–]\s*\d+\s*[-—–]|第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?|\d+)\s*$")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")


def decode_bytes(data: bytes, path: str) -> str:
    """Decode text bytes: UTF-8 (with or without BOM), UTF-16 (BOM or evident), else GB18030/GBK.

    Raises:
        CorpusFileError: empty, binary, or in no encoding we can read.
    """
    if not data.strip():
        raise CorpusFileError(path, "文件为空")
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(data[3:], "utf-8", path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(data, "utf-16", path)
    head = data[:4096]
    if head.count(b"\x00") > len(head) // 4:
        # Many NULs: UTF-16 without BOM if the NULs sit on one parity, otherwise binary.
        odd = head[1::2].count(b"\x00")
        even = head[0::2].count(b"\x00")
        if odd > len(head) // 3:
            return _strict(data, "utf-16-le", path)
        if even > len(head) // 3:
            return _strict(data, "utf-16-be", path)
        raise CorpusFileError(path, "不是文本文件（疑似二进制内容）")
    if b"\x00" in head:
        raise CorpusFileError(path, "不是文本文件（疑似二进制内容）")
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CorpusFileError(path, "无法识别文件编码（支持 UTF-8、UTF-16、GBK/GB18030）")


def _strict(data: bytes, encoding: str, path: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise CorpusFileError(path, f"按 {encoding} 解码失败，文件可能已损坏") from None


def read_txt(path: Path) -> str:
    return decode_bytes(path.read_bytes(), str(path))


def read_md(path: Path) -> str:
    # Heading hashes and bold markers would hide clause markers from the parser.
    text = decode_bytes(path.read_bytes(), str(path))
    return _MD_EMPHASIS.sub(r"\2", _MD_HEADING.sub("", text))


def read_docx(path: Path) -> str:
    import docx  # python-docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise CorpusFileError(str(path), f"不是有效的 Word (.docx) 文件或文件已损坏（{type(exc).__name__}）") from None
    except Exception as exc:  # zipfile.BadZipFile, lxml errors on truncated files
        raise CorpusFileError(str(path), f"Word 文件无法读取（{type(exc).__name__}）") from None
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(lines)


def read_pdf(path: Path) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many types on damaged files
        raise CorpusFileError(str(path), f"PDF 文件无法读取或已损坏（{type(exc).__name__}）") from None
    lines = [ln for page in pages for ln in page.splitlines() if not _PDF_PAGE_MARK.match(ln)]
    text = "\n".join(lines)
    if not text.strip():
        raise CorpusFileError(str(path), "PDF 中没有可提取的文字（可能是扫描件，需先做文字识别）")
    return text


def read_html(path: Path) -> str:
    from bs4 import BeautifulSoup

    html = decode_bytes(path.read_bytes(), str(path))
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    text = soup.get_text("\n")
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


READERS: dict[str, Callable[[Path], str]] = {
    ".txt": read_txt,
    ".md": read_md,
    ".docx": read_docx,
    ".pdf": read_pdf,
    ".html": read_html,
    ".htm": read_html,
}


def read_file(path: Path) -> str:
    """Read one corpus file as text, choosing the reader by suffix.

    Raises:
        CorpusFileError: unsupported type, unreadable, empty, or without text.
    """
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise CorpusFileError(str(path), f"不支持的文件类型 {path.suffix or '(无扩展名)'}")
    try:
        text = reader(path)
    except OSError as exc:
        raise CorpusFileError(str(path), f"无法读取文件（{exc.strerror or exc}）") from None
    if not text.strip():
        raise CorpusFileError(str(path), "文件中没有文字内容")
    return text
