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
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

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


# A full sentence runs to 。！？ (a line break ends it too), not to ；: the parts of one provision (…30日内
# 支付款项；合同另有约定的…60日) stand together.
FULL_STOPS = "。！？!?"
FULL_SENTENCE = re.compile(rf"[^{FULL_STOPS}\n]+[{FULL_STOPS}]?")


def sentence_spans(text: str, start: int = 0, end: int | None = None, *, full: bool = False
                   ) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence of ``text[start:end]``, surrounding white space trimmed, blanks skipped.

    Args:
        full: sentences to 。！？ (:data:`FULL_SENTENCE`) instead of to ； as well (:data:`SENTENCE`).
    """
    for m in (FULL_SENTENCE if full else SENTENCE).finditer(text, start, len(text) if end is None else end):
        chunk = m.group(0)
        stripped = chunk.strip()
        if stripped:
            lead = len(chunk) - len(chunk.lstrip())
            yield m.start() + lead, m.start() + lead + len(stripped)


# A sentence's segments end at its commas, semicolons and colons.
SEGMENT_END = re.compile(r"[，,；;：:]")


def segment_spans(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """The comma-, semicolon- and colon-separated parts of ``text[lo:hi]``, as offsets (marks kept)."""
    out, at = [], lo
    for m in SEGMENT_END.finditer(text, lo, hi):
        if m.end() - at > 1:
            out.append((at, m.end()))
        at = m.end()
    if hi - at > 0:
        out.append((at, hi))
    return out or [(lo, hi)]


# How a text decides whether something is allowed: it allows (可以, 允许), forbids (不得, 禁止), or settles
# the matter in other words (延期贷款不影响征信记录, 免收罚息, 应当).
ALLOWS = re.compile(r"可以|可(?=[\u4e00-\u9fa5])|允许|有权|准予")
FORBIDS = re.compile(r"不得|禁止|严禁|不准|不允许")
SETTLES = re.compile(r"不影响|免收|免于|减免|不予|无须|不需|应当")


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


def full_date_iso(match: re.Match | None) -> str:
    """The ISO date of a :data:`FULL_DATE` match, or "" when there is none or it names no real day (2023年2月30日)."""
    if match is None:
        return ""
    try:
        year, month, day = date_parts(match)
        return iso_date(year, month, day) if month is not None and day is not None else ""
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


# --------------------------------------------------------------------------- quantities (what an answer states)

# The kinds of figure a question may ask for, each read with its unit and its bound (以下, 不超过 …), so an
# answer can pick the sentence that states what was asked and tell whether a question's own figure
# (贷款500万) falls inside a clause's range (单户1000万元(含)以下).
AMOUNT, RATE, MULTIPLE, PERIOD, DATE_KIND, COUNT = "amount", "rate", "multiple", "period", "date", "count"
QUANTITY_KINDS = (AMOUNT, RATE, MULTIPLE, PERIOD, DATE_KIND, COUNT)

_NUM = rf"(?:\d+(?:\.\d+)?|[{CN_DIGITS}十][{CN_NUMERAL_CHARS}点]*(?:万亿|亿|万)?|半)"
_CN_OR_SMALL = rf"(?:\d{{1,3}}(?:\.\d+)?|[{CN_DIGITS}十][{CN_NUMERAL_CHARS}]*|半)"
# One pattern per kind, longest units first; a named group ``n`` holds the numeral.
_QUANTITY_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    (DATE_KIND, re.compile(rf"{_YEAR}\s*年(?:\s*{_MONTH_OR_DAY}\s*月(?:\s*{_MONTH_OR_DAY}\s*日)?|底|末)?"
                           rf"|(?<![\d{CN_NUMERAL_CHARS}])(?:{_MONTH_OR_DAY})\s*月\s*(?:{_MONTH_OR_DAY})\s*日")),
    (RATE, re.compile(rf"(?P<per>[百千万])分之(?P<n>[{CN_NUMERAL_CHARS}点\d.]+)"
                      rf"|(?P<d>[{CN_NUMERAL_CHARS}\d]+)分之(?P<f>[{CN_NUMERAL_CHARS}\d]+)"
                      rf"|(?P<r>\d+(?:\.\d+)?|[{CN_DIGITS}十][{CN_NUMERAL_CHARS}点]*)\s*(?:个百分点|百分点|个基点|基点|%|％|‰)")),
    (AMOUNT, re.compile(rf"(?P<n>{_NUM})\s*(?P<u>万亿元|亿元|万元|千元|元)")),
    (MULTIPLE, re.compile(rf"(?P<n>{_CN_OR_SMALL})\s*倍")),
    (PERIOD, re.compile(rf"(?P<n>{_CN_OR_SMALL})\s*(?P<u>个工作日|工作日|个自然日|个月|周|个星期|天|小时"
                        rf"|日(?![起前后])|年(?![底末度\d{CN_NUMERAL_CHARS}]))")),
    (COUNT, re.compile(rf"(?<!第)(?P<n>{_CN_OR_SMALL})\s*(?:家|户|人|名|项|次|笔|条|个(?![工自月星百基]))")),
    # How often: 按季度, 每年, 每月 (a period with no numeral; its value is the period's length).
    (PERIOD, re.compile(r"(?:按|每)(?P<f>个?工作日|日|天|周|星期|月|季度?|半年|年度?)")),
)
# Bound words around a figure: before it (不超过1%, 最高额度为300万元) or after it (1000万元(含)以下).
# Chinese legal usage counts 以上/以下/以内 inclusive and 超过/低于/不满 exclusive.
_BOUND_BEFORE = re.compile(r"(?P<max>最高|最多|最长|不超过|不高于|不多于|不得超过|不得高于|上限|以内)"
                           r"|(?P<min>最低|最少|至少|不低于|不少于|不得低于|下限)"
                           r"|(?P<gt>超过|高于|多于|大于)|(?P<lt>低于|少于|不满|不足|小于)")
_BOUND_AFTER = re.compile(r"\s*(?:[(（]含[)）])?\s*(?:(?P<max>及以下|以下|以内|之内|内)|(?P<min>及以上|以上))")
# How far before a figure a bound word may stand (不超过1%; 最高额度为300万元).
BOUND_REACH = 6


@dataclass(frozen=True)
class Quantity:
    """A figure as a sentence states it: its kind, value and unit, and the bound it sets."""

    text: str  # verbatim, with a bound that follows it: 1000万元(含)以下, 六十日内
    start: int
    end: int
    kind: str  # one of QUANTITY_KINDS
    value: Decimal | None = None  # in 元 for amounts, % for rates (‰ and 基点 converted), days for periods
    bound: str = ""  # "max" (≤), "min" (≥), "lt" (<), "gt" (>), "" (the figure itself)

    def admits(self, other: "Quantity") -> bool:
        """Whether ``other`` (a question's own figure, same kind) falls inside what this figure bounds; a
        bounded ``other`` (500万元以上) must share more than one point with it (500万元以上 is not inside
        500万元及以下, and is inside 500万元以上 even when one of them excludes 500万元)."""
        if self.value is None or other.value is None or self.kind != other.kind:
            return False
        if other.bound:
            (lo1, hi1), (lo2, hi2) = self.interval(), other.interval()
            return max(lo1, lo2) < min(hi1, hi2)
        a, b = other.value, self.value
        return {"max": a <= b, "min": a >= b, "lt": a < b, "gt": a > b}.get(self.bound, a == b)

    def interval(self) -> tuple[Decimal, Decimal]:
        """(low, high) of the values the figure allows (bounds open or closed alike; ±10^30 for no bound)."""
        far = Decimal(10) ** 30
        value = self.value if self.value is not None else Decimal(0)
        if self.bound in ("max", "lt"):
            return -far, value
        if self.bound in ("min", "gt"):
            return value, far
        return value, value


_FREQUENCY_DAYS = {"工作日": Decimal(1), "日": Decimal(1), "天": Decimal(1), "周": Decimal(7), "星期": Decimal(7),
                   "月": Decimal(30), "季": Decimal(91), "季度": Decimal(91), "半年": Decimal(182), "年": Decimal(365),
                   "年度": Decimal(365)}
_PERIOD_DAYS: dict[str, int | Decimal] = {"年": 365, "个月": 30, "周": 7, "个星期": 7, "天": 1, "日": 1, "工作日": 1, "个工作日": 1,
                "个自然日": 1, "小时": Decimal(1) / 24}


@lru_cache(maxsize=16384)  # the same clause sentences are read for question after question
def quantities(text: str, kinds: tuple[str, ...] = QUANTITY_KINDS) -> tuple[Quantity, ...]:
    """Every figure of ``text`` of the given kinds, in order; a stretch read as one kind is not read again
    (2025年6月1日 is a date, not a period of 1日)."""
    taken: list[tuple[int, int]] = []
    found: list[Quantity] = []
    for kind, pattern in _QUANTITY_PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            if kind not in kinds:
                continue
            after = _BOUND_AFTER.match(text, m.end())
            end = after.end() if after else m.end()
            before = None
            for b in _BOUND_BEFORE.finditer(text, max(0, m.start() - BOUND_REACH), m.start()):
                before = b  # the nearest one wins
            bound = (after.lastgroup if after else "") or (before.lastgroup if before else "") or ""
            found.append(Quantity(text[m.start():end], m.start(), end, kind, _value(kind, m), bound))
    return tuple(_exclusive_pairs(sorted(found, key=lambda q: q.start)))


_INCLUDED = re.compile(r"及以[上下]|[(（]含[)）]")


def _exclusive_pairs(found: list[Quantity]) -> list[Quantity]:
    """A text that says a value is included on one side (500万元及以下, 1000万元(含)以下) excludes it from
    the other (500万元以上 is then more than 500万元)."""
    included = {(q.kind, q.value, q.bound) for q in found if _INCLUDED.search(q.text)}
    flip = {"min": "gt", "max": "lt"}
    out = []
    for q in found:
        other = {"min": "max", "max": "min"}.get(q.bound)
        if other and not _INCLUDED.search(q.text) and (q.kind, q.value, other) in included:
            q = Quantity(q.text, q.start, q.end, q.kind, q.value, flip[q.bound])
        out.append(q)
    return out


def _value(kind: str, m: re.Match) -> Decimal | None:
    """The figure's value in its kind's base unit, or None when it cannot be read."""
    raw = m.group(0).replace(" ", "")
    try:
        if kind == RATE:
            if m.group("per"):
                scale = Decimal({"百": "1", "千": "0.1", "万": "0.01"}[m.group("per")])
                return _number(m.group("n")) * scale
            if m.group("d"):
                return _number(m.group("f")) / _number(m.group("d")) * 100
            number = _number(m.group("r"))
            if raw.endswith("‰"):
                return number / 10
            if raw.endswith("基点"):
                return number / 100
            return number
        if kind == DATE_KIND:
            return None
        if kind == PERIOD and m.groupdict().get("f"):
            return _FREQUENCY_DAYS.get(m.group("f").lstrip("个"))
        number = _number(m.group("n"))
        if kind == AMOUNT:
            return number * _AMOUNT_FACTORS[m.group("u")]
        if kind == PERIOD:
            return number * _PERIOD_DAYS[m.group("u")]
        return number
    except (ValueError, ArithmeticError):
        return None


def _number(numeral: str) -> Decimal:
    numeral = numeral.strip()
    if numeral == "半":
        return Decimal("0.5")
    if numeral[0].isdigit():
        return Decimal(numeral)
    return cn_amount(numeral)


# A question's own amount may leave out 元 (贷款500万, 借了5万块).
_ASKED_AMOUNT = re.compile(rf"(?P<n>{_NUM})\s*(?:万亿|亿|万|千)(?:块|元)?(?![\u4e00-\u9fa5]*?分之)")


def asked_quantities(question: str) -> list[Quantity]:
    """The figures a question states about the asker's own case (贷款500万, 担保金额800万元, 3个月):
    the clause ranges they fall in decide which figure answers it."""
    found = list(quantities(question, (AMOUNT, RATE, MULTIPLE, PERIOD, COUNT)))
    for m in _ASKED_AMOUNT.finditer(question):
        if any(q.start <= m.start() < q.end for q in found):
            continue
        word = re.search(r"万亿|亿|万|千", m.group(0)[len(m.group("n")):])
        if word is None:
            continue
        unit = {"万亿": 10**12, "亿": 10**8, "万": 10**4, "千": 10**3}[word.group(0)]
        try:
            value = _number(m.group("n")) * unit
        except (ValueError, ArithmeticError):
            continue
        found.append(Quantity(m.group(0), m.start(), m.end(), AMOUNT, value))
    return sorted(found, key=lambda q: q.start)


# A verb and its object split by a measure word in everyday speech (贷点款, 借一笔钱, 贷些款): the word is 贷款 / 借钱.
_SPLIT_WORD = re.compile(r"([贷借])(?:一|几)?(?:点儿?|些|笔)([款钱])")


def joined_words(text: str) -> str:
    """``text`` with each verb and object a measure word split (贷点款) joined back (贷款), so that a reader of
    everyday words finds them."""
    return _SPLIT_WORD.sub(r"\1\2", text)
