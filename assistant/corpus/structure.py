"""Turn a policy document into clauses: one numbered measure = one retrievable, citable unit.

Recognized numbering (ASCII or full-width brackets): sections 一、二、 (and 第一编/第一章/第一节/第一部分),
clauses 第X条 / 第18条 (with inserted articles 第X条之一, number "X之1"), (一)/（一）, and 1. / 1、. The clause level is the highest-ranking numbering that the
document actually uses (第X条 over (一) over 1.); lower levels stay inside their clause, so a heading
is never separated from its body. Text before the first section or clause is the preamble, clause 0.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from .. import grammar
from ..errors import CorpusFileError
from ..models import Clause, Deadline, Document, Part
from ..numerals import CN_NUMERAL_CHARS as _CN
from ..numerals import cn_to_int
from .measures import Vocabulary, read_measure

_WS = r"[ \t\u3000\ufeff]*"
_SECTION = re.compile(rf"^{_WS}([{_CN}]+)[、．.]{_WS}(\S.*)$")
_CHAPTER = re.compile(rf"^{_WS}(第([{_CN}\d]+)[章部编节]分?){_WS}(.*)$")
# An amendment inserts 第一百三十三条之一 after 第一百三十三条 without renumbering: its own article.
_ARTICLE = re.compile(rf"^{_WS}(第([{_CN}\d]+)条(?:之([{_CN}]+))?)[\s:：]*(.*)$")
_PAREN = re.compile(rf"^{_WS}([(（]([{_CN}]+)[)）])[\s、．.]*(.*)$")
_ARABIC = re.compile(rf"^{_WS}((\d{{1,3}})(?:[.．、](?!\d)|[)）]))[\s]*(\S.*)$")

# Clause kinds in rank order: the first one a document uses (twice or more) is its clause level.
_CLAUSE_PATTERNS = (("article", _ARTICLE), ("paren", _PAREN), ("arabic", _ARABIC))

_UNIT_OPEN = re.compile(r"[(（]\s*(?:责任单位|牵头单位|责任部门|牵头部门|责任主体)\s*[:：]")
_UNIT_LINE = re.compile(r"^(?:责任单位|牵头单位|责任部门)[:：](.+)$", re.MULTILINE)
_UNIT_SPLIT = re.compile(r"[、，,；;\s]+")
_ORG_END = "政府局委办会行司联构处厅部院室所队站社团中心"
_PAREN_NOTE = re.compile(r"[(（][^()（）]*[)）]")

_DEADLINE_TAIL = re.compile(r"^(?:年底|年末|底|末)?(?:前|之前|以前)?")
_DEADLINE_CUES = ("不超过", "截至", "截止", "截止到", "到", "至", "延长至", "延至", "有效期至", "执行至", "止")


@dataclass(frozen=True)
class _Line:
    start: int
    end: int  # exclusive, without the newline
    text: str


@dataclass(frozen=True)
class _Marker:
    kind: str  # "section" or a clause kind
    start: int  # offset of the line start in the document
    number: int
    label: str  # as printed: "(六)", "第十八条", "一"; a chapter's in full: "第三章"
    rest: str  # text after the marker on the same line
    sub: int = 0  # 之一 → 1 for an inserted article

    @property
    def numbered(self) -> str:
        return f"{self.number}之{self.sub}" if self.sub else str(self.number)


def parse_document(doc: Document, vocabulary: Vocabulary | None = None) -> list[Clause]:
    """Split a document into clauses (#0 preamble, then each numbered clause), each with its measure read by
    ``vocabulary`` (``measures.toml``; None: the package's, loaded for this document).

    A document without any numbering is split into paragraphs instead (:func:`_paragraph_clauses`).

    Raises:
        CorpusFileError: no text to make a clause of.
    """
    v = vocabulary or Vocabulary.load()
    text = doc.text
    lines = _lines(text)
    kind = _clause_kind(lines)
    if kind is None:
        return _paragraph_clauses(doc, lines, v)

    markers = _markers(lines, kind)
    first = markers[0].start if markers else len(text)
    clauses: list[Clause] = []
    preamble = _trimmed(text, 0, first)
    if preamble:
        start, end = preamble
        clauses.append(_make_clause(doc, "0", "", "", "", doc.title or "文件信息", start, end, v))

    restarts = _numbering_restarts([m for m in markers if m.kind == kind])
    section_no, section_title, section_index, ordinal = "", "", 0, 0
    for i, marker in enumerate(markers):
        next_start = markers[i + 1].start if i + 1 < len(markers) else len(text)
        if marker.kind == "section" and kind != "section":
            section_index += 1
            section_no, section_title = marker.label, _heading(marker.rest)
            continue
        span = _trimmed(text, marker.start, next_start)
        if span is None:
            continue
        start, end = span
        ordinal += 1
        if kind == "section":
            label = marker.label if marker.label.startswith("第") else marker.label + "、"  # 第一章 / 一、
            number, sec_no, sec_title = str(marker.number), "", ""
        else:
            label, sec_no, sec_title = marker.label, section_no, section_title
            number = marker.numbered
            if restarts:
                # Numbers repeat (（一） again in each section): qualify by section, else count.
                number = f"{section_index}.{marker.number}" if section_index else str(ordinal)
        title = (_article_title if kind == "article" else _clause_title)(marker.rest, text[start:end])
        clauses.append(_make_clause(doc, number, label, sec_no, sec_title, title, start, end, v))
    return _unique(doc, clauses)


def _unique(doc: Document, clauses: list[Clause]) -> list[Clause]:
    """``clauses`` with unique numbers: as printed (or per section) when those are unique, else by their
    order in the document (a file holding two texts, a 第五条 printed twice in one chapter)."""
    numbers = [c.number for c in clauses]
    if len(set(numbers)) == len(numbers):
        return clauses
    numbered = [c for c in clauses if c.number != "0"]
    renumbered = [dataclasses.replace(c, number=str(n), clause_id=f"{doc.doc_id}#{n}")
                  for n, c in enumerate(numbered, start=1)]
    out = [c for c in clauses if c.number == "0"][:1] + renumbered
    if len({c.clause_id for c in out}) != len(out) or len(out) != len(clauses):
        raise CorpusFileError(doc.path, "条款编号重复，无法为每一条生成唯一编号")
    return out


HEADING_MAX_CHARS = 30


def _paragraph_clauses(doc: Document, lines: list[_Line], v: Vocabulary) -> list[Clause]:
    """No numbering at all: each paragraph is a citable unit, ``<doc_id>#p1``, labelled 第1段.

    Leading short lines without sentence punctuation (title, 文号, date) form the preamble #0; a short
    heading line further down joins the paragraph after it.
    """
    def heading_like(line: _Line) -> bool:
        return len(line.text.strip()) < HEADING_MAX_CHARS and not grammar.SENTENCE_PUNCT.search(line.text)

    head = 0
    while head < len(lines) and heading_like(lines[head]):
        head += 1
    if head == len(lines):
        head = 0  # only short lines: each one is a paragraph
    clauses: list[Clause] = []
    if head:
        clauses.append(_make_clause(doc, "0", "", "", "", doc.title or "文件信息", lines[0].start,
                                    lines[head - 1].start + len(lines[head - 1].text.rstrip()), v))
    start: int | None = None
    for i, line in enumerate(lines[head:], start=head):
        start = line.start if start is None else start
        if heading_like(line) and i + 1 < len(lines):
            continue
        span = _trimmed(doc.text, start, line.end)
        start = None
        if span is None:
            continue
        n = sum(1 for c in clauses if c.number != "0") + 1
        body = doc.text[span[0]:span[1]]
        clauses.append(_make_clause(doc, f"p{n}", f"第{n}段", "", "", _clause_title(body, body), *span, v))
    if not any(c.number != "0" for c in clauses):
        raise CorpusFileError(doc.path, "文件中没有可作为条款的正文")
    return clauses


def _lines(text: str) -> list[_Line]:
    return [_Line(m.start(), m.end(), m.group(0).rstrip("\r")) for m in re.finditer(r"[^\n]*", text)
            if m.group(0).strip()]


def _clause_kind(lines: list[_Line]) -> str | None:
    counts = {name: sum(1 for ln in lines if pattern.match(ln.text)) for name, pattern in _CLAUSE_PATTERNS}
    sections = sum(1 for ln in lines if _SECTION.match(ln.text))
    for name, _ in _CLAUSE_PATTERNS:
        if counts[name] >= 2:
            return name
    if sections >= 2:
        return "section"
    for name, _ in _CLAUSE_PATTERNS:
        if counts[name] == 1:
            return name
    return "section" if sections else None


def _markers(lines: list[_Line], kind: str) -> list[_Marker]:
    clause_pattern = dict(_CLAUSE_PATTERNS).get(kind)
    out: list[_Marker] = []
    for ln in lines:
        if clause_pattern is not None:
            m = clause_pattern.match(ln.text)
            if m:
                number = _to_int(m.group(2))
                sub = _to_int(m.group(3)) if kind == "article" and m.group(3) else 0
                if number is not None and sub is not None:
                    rest = m.group(4 if kind == "article" else 3)
                    out.append(_Marker(kind, ln.start, number, m.group(1).strip(), rest.strip(), sub))
                    continue
        m = _SECTION.match(ln.text)
        chapter = None if m else _CHAPTER.match(ln.text)
        found = (m.group(1), m.group(1), m.group(2)) if m else chapter.groups() if chapter else None
        if found is not None:
            label, numeral, rest = found
            number = _to_int(numeral)
            if number is not None and (kind == "section" or len(rest) <= 60):
                out.append(_Marker("section", ln.start, number, label, rest.strip()))
    return out


def _to_int(numeral: str) -> int | None:
    try:
        return cn_to_int(numeral)
    except ValueError:
        return None


def _numbering_restarts(markers: list[_Marker]) -> bool:
    return any((b.number, b.sub) <= (a.number, a.sub) for a, b in zip(markers, markers[1:]))


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if not stripped:
        return None
    lead = len(chunk) - len(chunk.lstrip())
    return start + lead, start + lead + len(stripped)


def _heading(rest: str) -> str:
    return rest.strip().rstrip("。；;：:")


def _article_title(rest: str, clause_text: str) -> str:
    """An article's own heading (第二条 【适用范围】…, or a short line of its own above the text), else "".

    Articles of laws and regulations mostly have none: their first sentence is content, and the chapter
    they stand in (the section) says what they are about, so no heading is invented.
    """
    rest = rest.strip()
    bracket = re.match(r"^[【\[]([^】\]]{1,40})[】\]]", rest)
    if bracket:
        return bracket.group(1).strip()
    lines = [ln.strip() for ln in clause_text.splitlines()[1:] if ln.strip()]
    first = rest.splitlines()[0].strip() if rest else (lines.pop(0) if lines else "")
    if lines and first and len(first) <= 20 and not grammar.SENTENCE_PUNCT.search(first) and not first.endswith(("：", ":")):
        return first
    return ""


def _clause_title(rest: str, clause_text: str) -> str:
    rest = rest.strip()
    if not rest:
        # Marker on a line of its own: the next line is the heading.
        following = clause_text.splitlines()[1:]
        rest = next((ln.strip() for ln in following if ln.strip()), "")
    bracket = re.match(r"^[【\[]([^】\]]{1,40})[】\]]", rest)
    if bracket:
        return bracket.group(1).strip()
    m = grammar.TITLE_SENTENCE.match(rest)
    if m:
        return m.group(1).strip()
    first_line = rest.splitlines()[0] if rest else ""
    if first_line and len(first_line) <= 40 and not grammar.SENTENCE_PUNCT.search(first_line):
        return first_line.rstrip("：:")
    return (rest[:24] + "…") if len(rest) > 24 else rest


def _make_clause(doc: Document, number: str, label: str, sec_no: str, sec_title: str, title: str,
                 start: int, end: int, v: Vocabulary) -> Clause:
    text = doc.text[start:end]
    units, note = extract_units(text)
    body_start = len(label) if label and text.startswith(label) else 0
    body = (body_start, note[0] if note else len(text))
    return Clause(
        clause_id=f"{doc.doc_id}#{number}",
        doc_id=doc.doc_id,
        number=number,
        label=label,
        section=sec_title,
        section_number=sec_no,
        title=title,
        text=text,
        start=start,
        end=end,
        units=tuple(units),
        figures=tuple(extract_figures(text)),
        deadlines=tuple(extract_deadlines(text)),
        units_span=note,
        body_span=body,
        measure=read_measure(text, body, title=title, section=sec_title, preamble=number == "0", units=tuple(units),
                             vocabulary=v),
    )


def extract_units(text: str) -> tuple[list[str], tuple[int, int] | None]:
    """Find the （责任单位：…） note and split it into a clean list of unit names.

    Returns:
        (units, span of the whole note within ``text`` or None). Nested brackets such as
        州财政局（国资委） are handled; the note inside brackets is dropped from the unit name.
    """
    m = _UNIT_OPEN.search(text)
    if m:
        depth, i = 0, m.start()
        while i < len(text):
            if text[i] in "(（":
                depth += 1
            elif text[i] in ")）":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        return split_units(text[m.end():i]), (m.start(), min(i + 1, len(text)))
    m = _UNIT_LINE.search(text)
    if m:
        return split_units(m.group(1)), (m.start(), m.end())
    return [], None


def split_units(raw: str) -> list[str]:
    """Split a list of responsible units; "各县市政府和临夏经济开发区管委会" becomes two units."""
    out: list[str] = []
    for piece in _UNIT_SPLIT.split(_PAREN_NOTE.sub("", raw)):
        piece = piece.strip(" 。.")
        if not piece:
            continue
        for name in _split_he(piece):
            if name and name not in out:
                out.append(name)
    return out


def _split_he(piece: str) -> list[str]:
    # "和" joins two units only when the left side ends like an organization (…政府和…管委会);
    # inside names such as 州住房和城乡建设局 it stays.
    parts = piece.split("和")
    out, current = [], parts[0]
    for nxt in parts[1:]:
        if len(current) >= 2 and current[-1] in _ORG_END and len(nxt) >= 2:
            out.append(current)
            current = nxt
        else:
            current = current + "和" + nxt
    out.append(current)
    return out


def extract_figures(text: str) -> list[str]:
    """Amounts, rates, basis and percentage points, multiples and terms, verbatim and deduplicated."""
    return grammar.figures(text)


def extract_deadlines(text: str) -> list[Deadline]:
    """Dates that end a measure: "不超过2022年底", "2023年6月30日前", "执行至2024年12月31日"."""
    out: list[Deadline] = []
    for m in grammar.DATE.finditer(text):
        after = _DEADLINE_TAIL.match(text[m.end():m.end() + 4])
        tail = after.group(0) if after else ""
        head = text[max(0, m.start() - 6):m.start()]
        if not tail and not head.endswith(_DEADLINE_CUES):
            continue
        try:
            iso = grammar.last_day(*grammar.date_parts(m))
        except ValueError:
            continue
        deadline = Deadline(text=m.group(0) + tail, date=iso)
        if deadline not in out:
            out.append(deadline)
    return out


def body_text(clause: Clause) -> str:
    """Clause text without its marker and without the 责任单位 note: what the encoder should see."""
    text = clause.text
    if clause.units_span:
        lo, hi = clause.units_span
        text = text[:lo] + text[hi:]
    if clause.label and text.startswith(clause.label):
        text = text[len(clause.label):]
    return text.strip()


def split_parts(clause: Clause, max_chars: int) -> list[Part]:
    """Cut a clause into encoder-sized parts at sentence ends; later parts keep the title (or, for an
    article without one, its chapter) as prefix."""
    body = body_text(clause)
    if len(body) <= max_chars:
        return [Part(clause.clause_id, clause.clause_id, clause.doc_id, 0, body)]
    sentences = grammar.split_after_ends(body)
    topic = clause.title or clause.section
    prefix = f"{topic}：" if topic else ""
    chunks: list[str] = []
    current = ""
    for sentence in sentences:
        if current and len(current) + len(sentence) > max_chars:
            chunks.append(current)
            current = ""
        # A single sentence longer than the budget is cut hard; it still keeps the title prefix.
        while len(sentence) > max_chars:
            chunks.append(sentence[:max_chars])
            sentence = sentence[max_chars:]
        current += sentence
    if current.strip():
        chunks.append(current)
    return [
        Part(f"{clause.clause_id}/{i}", clause.clause_id, clause.doc_id, i,
             (chunk if i == 0 else prefix + chunk).strip())
        for i, chunk in enumerate(chunks)
    ]
