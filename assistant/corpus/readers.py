"""Turn a corpus file (.txt, .md, .docx, .pdf, .html) into plain text.

Each reader returns the text the structure parser sees; clause spans index into that text.
Every failure is a :class:`CorpusFileError` naming the file, never a library traceback.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import grammar
from ..errors import CorpusFileError

SUPPORTED_SUFFIXES = (".txt", ".md", ".docx", ".pdf", ".html", ".htm")

# Page furniture that PDF extraction interleaves with the body: "- 3 -", "— 12 —", "第 2 页".
_PDF_PAGE_MARK = re.compile(r"^\s*(?:[-—–]\s*\d+\s*[-—–]|第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?|\d+)\s*$")
_CN_DIGIT = "一二三四五六七八九十百零〇"
# A line starting with a numbering marker or being a date / issuer line begins a new paragraph.
_PARAGRAPH_START = re.compile(
    rf"^[ \t\u3000]*(?:[{_CN_DIGIT}]+、|[(（][{_CN_DIGIT}]+[)）]|第[{_CN_DIGIT}\d]+[条章节部编]"
    r"|\d{1,3}(?:[.．](?!\d)|、)|[(（]\d{1,3}[)）])"
)
_DATE_LINE = re.compile(rf"^\s*{grammar.FULL_DATE.pattern}\s*$")
_ISSUER_LINE = re.compile(r"^\s*[\u4e00-\u9fa5（）()]{2,40}(?:人民政府|办公室|办公厅|委员会|局|厅|部|署|银行|分行|中心)\s*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")


def decode_bytes(data: bytes, path: str) -> str:
    """Decode text bytes: UTF-8 (with or without BOM), UTF-16 (BOM or evident), else the Chinese
    encoding charset-normalizer detects (GB18030/GBK, Big5 …), else GB18030.

    Raises:
        CorpusFileError: empty, binary, in no encoding we can read, or garbled whatever the encoding.
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
    if b"\x00" in head:
        # Chinese UTF-16 without BOM has few NULs (mostly from ASCII characters), nearly all on one parity.
        even, odd = head[0::2].count(b"\x00"), head[1::2].count(b"\x00")
        encoding = "utf-16-le" if odd >= 3 * even else "utf-16-be" if even >= 3 * odd else ""
        if encoding and len(data) % 2 == 0:
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                text = ""
            if text and not _CONTROL.search(text):
                return text
        raise CorpusFileError(path, "不是文本文件（疑似二进制内容）")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return _legacy_chinese(data, path)


# Encodings a Chinese document may come in besides UTF-8 (charset-normalizer's names).
CHINESE_ENCODINGS = {"gb18030", "gb2312", "gbk", "hz", "big5", "big5hkscs", "cp950"}
# charset-normalizer's mess ratio above which decoded text is garbage (clean text scores 0, Big5
# read as GB18030 about 3).
MAX_MESS = 0.2


def _legacy_chinese(data: bytes, path: str) -> str:
    """GB18030 and Big5 both decode most byte strings without error, so Big5 text read as GB18030
    comes out as garbage silently: detect the encoding first, and refuse text that still looks wrong."""
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    best = from_bytes(data).best()
    if best is not None and best.encoding.replace("_", "").lower() in CHINESE_ENCODINGS:
        return str(best)
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise CorpusFileError(path, "无法识别文件编码（支持 UTF-8、UTF-16、GBK/GB18030、Big5）") from None
    if mess_ratio(text[:20000], maximum_threshold=1.0) > MAX_MESS:
        raise CorpusFileError(path, "无法确定文件编码：按 GB18030 解码后是乱码，未建立索引（请另存为 UTF-8 后再放入）")
    return text


def _strict(data: bytes, encoding: str, path: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise CorpusFileError(path, f"按 {encoding} 解码失败，文件可能已损坏") from None


@dataclass(frozen=True)
class CorpusLimits:
    """How much one corpus file may hold; a file past a limit is skipped and named with the limit.

    Set by POLICY_CORPUS_MAX_FILE_MB, POLICY_CORPUS_MAX_CHARS and POLICY_CORPUS_MAX_CLAUSES. The
    defaults are far above any real document (the largest of 3,496 laws has 313 KB, about 100,000
    characters, under 2,000 articles) and far below what stalls a build.
    """

    max_file_bytes: int = 50 * 2**20
    max_chars: int = 2_000_000
    max_clauses: int = 10_000

    @classmethod
    def of(cls, settings) -> "CorpusLimits":
        return cls(settings.corpus_max_file_mb * 2**20, settings.corpus_max_chars, settings.corpus_max_clauses)

    @property
    def max_unpacked_bytes(self) -> int:
        """The most a .docx may decompress to: Word's XML spends tens of bytes of markup per character."""
        return 40 * self.max_chars


DEFAULT_LIMITS = CorpusLimits()


@dataclass(frozen=True)
class Source:
    """A corpus file as read once: its text, the title its format marks (a Markdown ``# `` heading), its bytes."""

    text: str
    title: str
    data: bytes


# A Markdown file's title: its first level-1 heading.
_MD_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n.*?^---[ \t]*$\r?\n?", re.DOTALL | re.MULTILINE)
# An HTML comment (a converter's <!-- INFO END --> or <!-- TABLE --> marker) is never rendered: not text.
_MD_COMMENT = re.compile(r"<!--.*?-->[ \t]*", re.DOTALL)
_MD_TITLE = re.compile(r"^[ \t]{0,3}#[ \t]+(\S.*?)[ \t#]*$", re.MULTILINE)


def read_txt(path: Path, data: bytes) -> tuple[str, str]:
    return decode_bytes(data, str(path)), ""


def read_md(path: Path, data: bytes) -> tuple[str, str]:
    # Heading hashes and bold markers would hide clause markers from the parser; the first level-1
    # heading is kept aside as the document's title.
    # YAML front matter (a static-site generator's ---…---) is page settings, not document text.
    raw = _MD_COMMENT.sub("", _MD_FRONT_MATTER.sub("", decode_bytes(data, str(path)), count=1))
    title = _MD_TITLE.search(raw)
    return _MD_EMPHASIS.sub(r"\2", _MD_HEADING.sub("", raw)), title.group(1) if title else ""


def read_docx(path: Path, _data: bytes) -> tuple[str, str]:
    import docx  # python-docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise CorpusFileError(str(path), f"不是有效的 Word (.docx) 文件或文件已损坏（{type(exc).__name__}）") from None
    except Exception as exc:  # zipfile.BadZipFile, lxml errors on truncated files
        raise CorpusFileError(str(path), f"Word 文件无法读取（{type(exc).__name__}）") from None
    # Body order: a table belongs to the clause it appears in, not after the last paragraph.
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend("\t".join(cell.text for cell in row.cells) for row in block.rows)
        else:
            lines.append(block.text)
    return "\n".join(lines), ""


def read_pdf(path: Path, _data: bytes) -> tuple[str, str]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many types on damaged files
        raise CorpusFileError(str(path), f"PDF 文件无法读取或已损坏（{type(exc).__name__}）") from None
    lines = [ln for page in pages for ln in page.splitlines() if not _PDF_PAGE_MARK.match(ln)]
    text = "\n".join(join_wrapped_lines(lines))
    if not text.strip():
        raise CorpusFileError(str(path), "PDF 中没有可提取的文字（可能是扫描件，需先做文字识别）")
    return text, ""


def _width(line: str) -> int:
    """Printed width in half-width columns: CJK and full-width characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def _starts_paragraph(line: str, following: str) -> bool:
    """A numbered item, the signature's date line, or the issuer line just above that date."""
    return bool(_PARAGRAPH_START.match(line) or _DATE_LINE.match(line)
                or (_ISSUER_LINE.match(line) and _DATE_LINE.match(following)))


def join_wrapped_lines(lines: list[str]) -> list[str]:
    """Re-join the lines a printed page wrapped, keeping the breaks that end a paragraph.

    PDF text comes back one printed line per line, so a wrap can split "50\n%", "（责\n任单位" or
    "2024年6月\n30日", and the clause parser would miss those amounts, units and dates. A line is
    joined to the next unless it ends a paragraph: it ends with closing punctuation, it is clearly
    shorter than a full line (a heading or a paragraph's last line; a full line's width is taken as
    the 90th percentile of the document's line widths), or the next line starts a numbered item or
    is the date or issuer line of the signature. CJK text is joined without a space.
    """
    widths = sorted(_width(ln.strip()) for ln in lines if ln.strip())
    if not widths:
        return list(lines)
    full = widths[int(0.9 * (len(widths) - 1))]
    out: list[str] = []
    printed = ""  # the previous printed line (out[-1] may already hold several joined ones)
    for i, line in enumerate(lines):
        current = line.strip()
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if (printed and current
                and printed[-1] not in grammar.PARAGRAPH_END
                and _width(printed) >= 0.8 * full
                and not _starts_paragraph(current, following)):
            joined = out[-1].rstrip()
            # A space only inside wrapped Latin text ("policy\napplies"), never next to CJK or digits.
            latin = all(ch.isascii() and ch.isalpha() for ch in joined[-1] + current[0])
            out[-1] = joined + (" " if latin else "") + current
        else:
            out.append(line)
        printed = current
    return out


def read_html(path: Path, data: bytes) -> tuple[str, str]:
    from bs4 import BeautifulSoup

    html = decode_bytes(data, str(path))
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    text = soup.get_text("\n")
    return "\n".join(line.strip() for line in text.splitlines() if line.strip()), ""


# Each reader gets the file's path and its bytes (docx and pdf libraries read the path themselves).
READERS: dict[str, Callable[[Path, bytes], tuple[str, str]]] = {
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
    return read_source(path).text


def read_source(path: Path, limits: CorpusLimits = DEFAULT_LIMITS) -> Source:
    """Read one corpus file once: its text, its marked title and its bytes (for the content hash).

    Raises:
        CorpusFileError: unsupported type, unreadable, empty, without text, or past one of ``limits``.
    """
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise CorpusFileError(str(path), f"不支持的文件类型 {path.suffix or '(无扩展名)'}")
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise CorpusFileError(str(path), f"文件大小 {size / 2**20:.1f} MB，超过上限 "
                                             f"{limits.max_file_bytes / 2**20:.0f} MB（POLICY_CORPUS_MAX_FILE_MB），已跳过")
        if path.suffix.lower() == ".docx":
            _check_unpacked(path, limits)
        data = path.read_bytes()
        text, title = reader(path, data)
    except OSError as exc:
        raise CorpusFileError(str(path), f"无法读取文件（{exc.strerror or exc}）") from None
    if not text.strip():
        raise CorpusFileError(str(path), "文件中没有文字内容")
    if len(text) > limits.max_chars:
        raise CorpusFileError(str(path), f"文字共 {len(text):,} 字，超过上限 {limits.max_chars:,} 字"
                                         "（POLICY_CORPUS_MAX_CHARS），已跳过")
    return Source(text, title, data)


def _check_unpacked(path: Path, limits: CorpusLimits) -> None:
    """A .docx is a zip: 439 KB can hold 33 million characters. Its sizes are read from the zip's
    directory before anything is decompressed. A file that is no zip is left to the reader to name."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        return
    if unpacked > limits.max_unpacked_bytes:
        raise CorpusFileError(str(path), f"Word 文件解压后 {unpacked / 2**20:.0f} MB，超过上限 "
                                         f"{limits.max_unpacked_bytes / 2**20:.0f} MB（由 POLICY_CORPUS_MAX_CHARS 决定），已跳过")
