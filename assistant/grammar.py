"""The written forms every stage reads: sentences, figures (number + unit), dates, 文号 and ``[n]`` markers.

One home for each, so the parser that extracts a clause's figures and the verifier that checks an
answer's numbers agree on what a figure is (a verifier that knew ``%`` but not ``‰`` passed
"费率不超过3‰" against a clause saying 3%). Patterns only, no state: used by ``corpus.structure``,
``corpus.ingest``, ``answer.grounding``, ``answer.compose`` and ``answer.llm``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from decimal import Decimal

from .numerals import CN_DIGITS, CN_NUMERAL_CHARS, cn_amount, cn_to_int, date_digits

# --------------------------------------------------------------------------- sentences

SENTENCE_END = "。；;！？!?"
# One sentence with its end mark; a sentence never crosses a line break.
SENTENCE = re.compile(rf"[^{SENTENCE_END}\n]+[{SENTENCE_END}]?")
SENTENCE_PUNCT = re.compile(rf"[{SENTENCE_END}]")
# A clause's opening sentence short enough to be its title ("用好财政贴息政策。").
TITLE_SENTENCE = re.compile(rf"^([^{SENTENCE_END}\n]{{2,40}})[{SENTENCE_END}]")
# Printed lines ending with one of these close a paragraph: sentence ends, colons and closing quotes or
# brackets. Not 》 or 〕: 《…》 and 〔2023〕 often end mid-sentence.
PARAGRAPH_END = SENTENCE_END + "：:）)」』”’"
_AFTER_END = re.compile(rf"(?<=[{SENTENCE_END}\n])")
_BETWEEN = re.compile(rf"[{SENTENCE_END}\n]")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence of ``text[start:end]``, surrounding white space trimmed, blanks skipped."""
    for m in SENTENCE.finditer(text, start, len(text) if end is None else end):
        chunk = m.group(0)
        stripped = chunk.strip()
        if stripped:
            lead = len(chunk) - len(chunk.lstrip())
            yield m.start() + lead, m.start() + lead + len(stripped)


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` without their end marks (blank pieces dropped)."""
    return [s for s in _BETWEEN.split(text) if s.strip()]


def split_after_ends(text: str) -> list[str]:
    """``text`` cut after every end mark and line break; the pieces join back to ``text``."""
    return [s for s in _AFTER_END.split(text) if s.strip()]


# --------------------------------------------------------------------------- figures

ARABIC_NUMBER = r"\d+(?:\.\d+)?"
# A Chinese numeral of an amount: 三百, 两千万, 三点五亿; it starts with a digit or 十 (万元 alone is a unit).
CN_NUMBER = rf"[{CN_DIGITS}十][{CN_NUMERAL_CHARS}点万亿]*"
# Units that make a number a figure of a measure: amounts, rates and multiples, terms.
AMOUNT_UNITS = ("万亿元", "亿元", "万元", "千元", "元")
RATE_UNITS = ("个百分点", "个基点", "基点", "%", "％", "‰", "倍")
TERM_UNITS = ("个月", "年期")
FIGURE_UNITS = AMOUNT_UNITS + RATE_UNITS + TERM_UNITS
# Units an answer's number is checked with besides those: dates and head counts.
DATE_UNITS = ("年底", "年", "月", "日")
COUNT_UNITS = ("户", "家")
CHECKED_UNITS = FIGURE_UNITS + DATE_UNITS + COUNT_UNITS


def _alternation(units: tuple[str, ...]) -> str:
    # Longest first: 个月 before 月, 年期 and 年底 before 年, 万亿元 before 亿元.
    return "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True))


# Per cent and per mille in words: 百分之一, 千分之三.
PERCENT_WORDS = rf"[百千]分之[{CN_NUMERAL_CHARS}点]+"
# What one unit of a figure is worth, so 300万元, 三百万元 and 3000000元 compare equal.
_AMOUNT_FACTORS = {"万亿元": 10**12, "亿元": 10**8, "万元": 10**4, "千元": 10**3, "元": 1}
_SAME_UNIT = {"％": "%", "个基点": "基点"}
# A figure as a clause prints it: 300万元, 0.5个百分点, 3‰, 三百万元, 百分之一.
FIGURE = re.compile(rf"(?:{ARABIC_NUMBER}\s*|{CN_NUMBER})(?:{_alternation(FIGURE_UNITS)})|{PERCENT_WORDS}")
# Every Arabic number of an answer, with the unit that gives it meaning when there is one.
NUMBER = re.compile(rf"({ARABIC_NUMBER})\s*(?:{_alternation(CHECKED_UNITS)})?")
# Figures written in Chinese numerals (a model may rewrite 300万元 as 三百万元).
CN_FIGURE = re.compile(rf"{PERCENT_WORDS}|{CN_NUMBER}(?:{_alternation(FIGURE_UNITS)})")
_STANDALONE = re.compile(rf"(?<![\d.])({ARABIC_NUMBER})(?![\d]|\.\d)")


def figures(text: str) -> list[str]:
    """The figures of ``text`` verbatim, in order, without repeats."""
    return list(dict.fromkeys(m.group(0) for m in FIGURE.finditer(text)))


def figure_value(figure: str) -> tuple[Decimal, str] | None:
    """(value, unit) of a figure, with amounts in 元 and 百分之/千分之 as %/‰: 三点五亿元 → (350000000, 元).

    None when the figure has no unit this grammar knows, or its numeral cannot be read (十十万元).
    """
    figure = figure.replace(" ", "")
    try:
        if figure[1:3] == "分之":
            return cn_amount(figure[3:]), "%" if figure[0] == "百" else "‰"
        unit = next((u for u in sorted(FIGURE_UNITS, key=len, reverse=True) if figure.endswith(u)), None)
        if unit is None or len(figure) == len(unit):
            return None
        number = figure[: -len(unit)]
        value = Decimal(number) if number[0].isdigit() else cn_amount(number)
    except (ValueError, ArithmeticError):
        return None
    if unit in _AMOUNT_FACTORS:
        return value * _AMOUNT_FACTORS[unit], "元"
    return value, _SAME_UNIT.get(unit, unit)


def standalone_numbers(text: str) -> set[str]:
    """Every number that occurs in ``text`` as a whole number (30 is not found inside 300 or 3.0).

    At a position not preceded by a digit or a dot, at most one number can stand alone: the whole digit
    run, with its decimal part when there is one (anything shorter is followed by a digit or ".digit").
    """
    return set(_STANDALONE.findall(text))


# --------------------------------------------------------------------------- dates

# Dates are printed in Arabic or Chinese numerals: 2025年12月31日, 二〇二五年十二月三十一日.
_YEAR = r"[\d〇○零一二三四五六七八九]{4}"
_MONTH_OR_DAY = r"[\d一二三四五六七八九十]{1,3}"
# A date to the year, month or day: 2022年, 2023年6月, 2024年12月31日, 二〇二五年底.
DATE = re.compile(rf"({_YEAR})年(?:({_MONTH_OR_DAY})月)?(?:({_MONTH_OR_DAY})日)?")
# A full date, spaces allowed between its parts (PDF text): the issue date of a document.
FULL_DATE = re.compile(rf"({_YEAR})\s*年\s*({_MONTH_OR_DAY})\s*月\s*({_MONTH_OR_DAY})\s*日")
# A year named in a question (2024年的政策): a corpus without it cannot answer.
YEAR = re.compile(r"(?<!\d)20\d\d年")


def date_parts(match: re.Match) -> tuple[int, int | None, int | None]:
    """(year, month, day) of a :data:`DATE` or :data:`FULL_DATE` match; month and day None when not given.

    Raises:
        ValueError: a numeral that is not a year, month or day (一二三月).
    """
    year, month, day = match.group(1, 2, 3)
    return (date_digits(year), cn_to_int(month) if month else None, cn_to_int(day) if day else None)


def full_date_iso(match: re.Match) -> str:
    """The ISO date of a :data:`FULL_DATE` match, or "" when it names no real day (2023年2月30日)."""
    try:
        return iso_date(*date_parts(match))
    except ValueError:
        return ""


def iso_date(year: int, month: int, day: int) -> str:
    """YYYY-MM-DD. Raises ValueError for a day that does not exist."""
    calendar.weekday(year, month, day)
    return f"{year:04d}-{month:02d}-{day:02d}"


def last_day(year: int, month: int | None = None, day: int | None = None) -> str:
    """The ISO date of the last day a date names: 2022年 → 2022-12-31, 2023年6月 → 2023-06-30.

    Raises ValueError for a day that does not exist.
    """
    if month and day:
        return iso_date(year, month, day)
    if month:
        return iso_date(year, month, calendar.monthrange(year, month)[1])
    return iso_date(year, 12, 31)


# --------------------------------------------------------------------------- 文号

# A document number: issuer abbreviation, year in brackets, serial and 号 (临州办发〔2022〕84号).
# Brackets as printed vary ([], （）, 【】) and PDF text puts spaces inside.
DOC_NUMBER = re.compile(r"[\u4e00-\u9fa5]{1,12}[〔\[［(（【]\s*\d{4}\s*[〕\]］)）】]\s*\d{1,4}\s*号")
# A cited document: 《title》（文号）.
CITED_DOCUMENT = re.compile(rf"《([^》]{{4,80}})》\s*[(（]\s*({DOC_NUMBER.pattern})\s*[)）]")


def doc_number(text: str) -> str:
    """A 文号 as printed, without the white space PDF extraction leaves inside it."""
    return re.sub(r"\s+", "", text)


# --------------------------------------------------------------------------- citations in answers

# A citation marker of an LLM answer: [1] refers to the first clause the model was given.
MARKER = re.compile(r"\[(\d{1,2})\]")
MARKER_RUN = re.compile(r"(?:\[\d{1,2}\])+")
# A citation heading as the extractive answers print it: 〔临州办发〔2022〕84号 第（六）条 …〕.
CITATION_HEADING = re.compile(r"〔[^〔〕]*(?:〔[^〔〕]*〕[^〔〕]*)*〕")


def markers(text: str) -> list[int]:
    """The numbers of the ``[n]`` markers in ``text``, in order (repeats kept)."""
    return [int(m) for m in MARKER.findall(text)]
