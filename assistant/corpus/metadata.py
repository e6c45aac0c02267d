"""What a document says about itself: title, short name, 文号, issuer, dates by kind, type and level.

Used when the manifest has no entry for a file (the manifest overrides any field). Laws and
regulations open with a title and dated history lines (``2017年9月1日 …会议修订``); 公文 open with a
文号 and a title that may be split over lines, and end with the issuer and a signature date. A date
in the file name (``…(2022-10-01).md``) is used only when the text has none.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .. import grammar
from ..numerals import cn_to_int
from ..regions import Region, Regions

# Date kinds, in the words of the history lines; 印发 is a 公文's signature date, 文件名 a file-name date.
DATE_KINDS = ("通过", "批准", "公布", "发布", "修订", "修正", "施行", "印发")
# Kinds that date the text as it now stands (the latest one is the document's issue date).
_TEXT_DATES = {"通过", "批准", "公布", "发布", "修订", "修正", "印发"}
FILE_NAME_DATE = "文件名"

_ISSUER = re.compile(r"^[\u4e00-\u9fa5（）()]{2,40}(?:人民政府办公室|人民政府办公厅|人民政府|办公厅|办公室|委员会|"
                     r"局|厅|部|署|中心支行|银行|分局|管理局|联合会)$")
_TITLE_START = re.compile(r"^关于")
# How the title of a law, regulation or 公文 ends.
_TITLE_END = re.compile(r"(?:法|法典|条例|规定|办法|细则|规则|决定|意见|通知|方案|措施|规划|纲要|解释|批复|公告|通告|"
                        r"答复|函|令|章程|标准|修正案|若干措施|实施意见|指导意见)(?:（[^（）]{1,20}）|\([^()]{1,20}\))?$")
_FILE_DATE = re.compile(r"[(（](\d{4})-(\d{2})-(\d{2})[)）]\s*$")
EFFECTIVE = re.compile(rf"自({grammar.FULL_DATE.pattern})起(?:施行|实施|执行)")
# A text that states its own end, in a sentence about itself (本措施…有效期至2024年12月31日, 本方案执行期限为…至…,
# 本通知执行至…), or a span from its 施行 (else its signature) date (本办法…有效期2年). A licence's or an ID card's
# 有效期 inside a rule is not the text's.
_ITSELF = r"本(?:通知|办法|措施|若干措施|方案|意见|规定|细则|政策|文件|决定)[^。；\n]{0,40}?"
EXPIRES = re.compile(rf"{_ITSELF}(?:(?:有效期|执行期限|实施期限)[^。；\n]{{0,30}}?(?:至|到|截至)|(?:执行|实施|施行)至)"
                     rf"({grammar.FULL_DATE.pattern})")
EXPIRES_AFTER = re.compile(rf"{_ITSELF}有效期(?:为|暂定)?([一二三四五六七八九十两\d]{{1,3}})年")
# The date kind of a text's end of validity.
EXPIRY = "失效"
_STATE = "中华人民共和国"
# Who makes national law and regulation (history lines, issuers).
_NATIONAL = re.compile(r"全国人民代表大会|国务院|最高人民法院|最高人民检察院|中国人民银行|^国家|^财政部|部令")
# The body a history line names: 浙江省第十三届人民代表大会常务委员会…通过, 国务院第177次常务会议通过.
_CONGRESS = re.compile(r"(?P<place>[\u4e00-\u9fa5]{0,12}?)第[一二三四五六七八九十百零〇\d]+届"
                       r"(?P<organ>全国人民代表大会常务委员会|全国人民代表大会|人民代表大会常务委员会|人民代表大会)")
_ORGAN = re.compile(r"国务院|最高人民法院|最高人民检察院|[\u4e00-\u9fa5]{2,12}?人民政府")
_LOCAL = re.compile(r"^(?P<place>[\u4e00-\u9fa5]{2,12}?(?P<kind>省|自治区|自治州|州|地区|盟|市|县|区|旗))")


@dataclass(frozen=True)
class Detected:
    """Metadata read from a document's text (every field "" or empty when not found)."""

    title: str = ""
    short_name: str = ""
    aliases: tuple[str, ...] = ()
    doc_number: str = ""
    issuer: str = ""
    dates: tuple[tuple[str, str], ...] = ()  # (kind, ISO date) in the order the text gives them
    doc_type: str = ""  # 法律 / 行政法规 / 地方性法规 / 规章 / 司法解释 / 规范性文件
    level: str = ""  # 国家 / 省 / 市 / 州 / 县
    cites: tuple[str, ...] = ()
    title_from_file: bool = False  # nothing in the text reads as a title: the file name stands in

    @property
    def issue_date(self) -> str:
        """The date of the text as it stands: its latest adoption, revision or signature date."""
        text_dates = [d for kind, d in self.dates if kind in _TEXT_DATES]
        if text_dates:
            return max(text_dates)
        return next((d for kind, d in self.dates if kind == FILE_NAME_DATE), "")


def detect(text: str, file_name: str = "", markdown_title: str = "") -> Detected:
    """Read a document's metadata from its text (and its file name when the text gives no date).

    Args:
        markdown_title: the first ``# `` heading of a Markdown file, which is its title.
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    head = lines[:40]
    doc_number = _doc_number(head)
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", file_name)
    title = markdown_title.strip() or _gongwen_title(head) or _title_line(head)
    from_file = not title
    title = title or _FILE_DATE.sub("", stem).strip()
    dates = _history_dates(lines[:12])
    signature, issuer = _signature(head + lines[-8:] if len(lines) > 40 else head)
    issuer = issuer or _history_issuer(lines[:12])
    if signature:
        dates.append(("印发", signature))
    effective = EFFECTIVE.search(text[-3000:]) if not any(k == "施行" for k, _ in dates) else None
    effective_date = grammar.full_date_iso(grammar.FULL_DATE.match(effective.group(1))) if effective else ""
    if effective_date:
        dates.append(("施行", effective_date))
    expiry = _expiry(text[-3000:], effective_date or signature)
    if expiry:
        dates.append((EXPIRY, expiry))
    if not any(kind in _TEXT_DATES for kind, _ in dates):  # the file name may say what the text does not
        m = _FILE_DATE.search(stem)
        if m:
            try:
                dates.append((FILE_NAME_DATE, grammar.iso_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))))
            except ValueError:
                pass
    history = " ".join(lines[:12])
    doc_type = _doc_type(title, history, doc_number)
    level = level_of(issuer, title=title, history=history, doc_type=doc_type)
    short = short_name(title, doc_number)
    cites = []
    for m in grammar.CITED_DOCUMENT.finditer(text):
        number = grammar.doc_number(m.group(2))
        if number != doc_number and number not in cites:
            cites.append(number)
    return Detected(title=title, short_name=short, aliases=aliases(title, short, doc_number), doc_number=doc_number,
                    issuer=issuer, dates=tuple(dict.fromkeys(dates)), doc_type=doc_type, level=level,
                    cites=tuple(cites), title_from_file=from_file)


def _expiry(tail: str, start: str) -> str:
    """The ISO date a text says it stops applying (its closing lines: 有效期至…, 有效期2年 from ``start``), or ""."""
    m = EXPIRES.search(tail)
    if m:
        return grammar.full_date_iso(grammar.FULL_DATE.match(m.group(1)))
    m = EXPIRES_AFTER.search(tail)
    if m and start:
        years = int(m.group(1)) if m.group(1).isdigit() else cn_to_int(m.group(1))
        begin = dt.date.fromisoformat(start)
        try:
            return (begin.replace(year=begin.year + years) - dt.timedelta(days=1)).isoformat()
        except ValueError:  # 2月29日 plus whole years
            return (begin.replace(year=begin.year + years, day=28)).isoformat()
    return ""


def short_name(title: str, doc_number: str = "") -> str:
    """What users say and citations print: the 文号 of a 公文, a national law without 中华人民共和国."""
    if doc_number:
        return doc_number
    if title.startswith(_STATE) and len(title) > len(_STATE) + 1:
        return title[len(_STATE):]
    return title


def aliases(title: str, short: str, doc_number: str = "") -> tuple[str, ...]:
    """Names a question may use for the document: title, short name, 文号 and "6号文"."""
    names = [short, title, title[len(_STATE):] if title.startswith(_STATE) else "", doc_number]
    serial = re.search(r"〕\s*(\d{1,4})\s*号$", doc_number)
    if serial:
        names.append(f"{serial.group(1)}号文")
    return tuple(n for n in dict.fromkeys(names) if n)


def level_of(issuer: str, *, title: str = "", history: str = "", doc_type: str = "") -> str:
    """Administrative level: 国家, 省, 州, 市, 县, or "" (from the issuer, else the title and history)."""
    if doc_type in ("法律", "行政法规", "司法解释") or title.startswith(_STATE):
        return "国家"
    for name in (issuer, title):
        if not name:
            continue
        if _NATIONAL.search(name):
            return "国家"
        level = _place_level(name)
        if level:
            return level
    if re.search(r"(?<![省市州县区])全国人民代表大会|国务院令", history):
        return "国家"
    return ""


def region_of(issuer: str, *, title: str = "", level: str = "") -> Region | None:
    """The division a local document belongs to, as its issuer or title starts: 浙江省, 临夏回族自治州,
    甘肃省兰州市 → 兰州市; None for national or unknown documents (assistant/regions.py)."""
    if level == "国家":
        return None
    regions = Regions.load()
    return next((r for r in (regions.leading(name) for name in (issuer, title) if name) if r), None)


_LOCAL_LEVEL = {"省": "省", "自治区": "省", "自治州": "州", "州": "州", "地区": "州", "盟": "州", "市": "市"}


def _place_level(name: str) -> str:
    """省 (a province, or a municipality such as 北京市), 市, 州 or 县 of the division ``name`` starts
    with; a name the division data lacks (a renamed or fictional place) by the shape of its ending."""
    region = Regions.load().leading(name)
    if region is not None:
        return region.level
    m = _LOCAL.match(name)
    return _LOCAL_LEVEL.get(m.group("kind"), "县") if m else ""


def _doc_number(head: list[str]) -> str:
    for ln in head:
        m = grammar.DOC_NUMBER.search(ln)
        if m and len(ln) <= 30:  # a 文号 line, not a citation inside a sentence
            return grammar.doc_number(m.group(0))
    return ""


def _gongwen_title(head: list[str]) -> str:
    """A 公文's 关于… title, joined when the printed title is split over lines."""
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


def _title_like(line: str) -> bool:
    return (4 <= len(line) <= 100 and not grammar.SENTENCE_PUNCT.search(line) and not line.endswith(("：", ":"))
            and not grammar.FULL_DATE.match(line) and not (grammar.DOC_NUMBER.search(line) and len(line) <= 30))


def _title_line(head: list[str]) -> str:
    """The first of the opening lines that reads as a title (国务院办公厅关于…的指导意见), two lines joined
    when the title wraps."""
    for i, line in enumerate(head[:8]):
        if not _title_like(line):
            continue
        if _TITLE_END.search(line):
            return line
        following = head[i + 1] if i + 1 < len(head) else ""
        if following and _title_like(following) and _TITLE_END.search(line + following):
            return line + following
    return ""


def _history_dates(lines: list[str]) -> list[tuple[str, str]]:
    """(kind, date) of the dated history lines at the top of a law: 2017年9月1日 …会议修订."""
    out = []
    for line in lines:
        m = grammar.FULL_DATE.match(line)
        if not m or len(line) == m.end():
            continue
        rest = line[m.end():]
        kinds = [k for k in DATE_KINDS if k in rest]
        iso = grammar.full_date_iso(m) if kinds else ""
        out += [(kind, iso) for kind in sorted(kinds, key=rest.rfind)] if iso else []
    return out


def _history_issuer(lines: list[str]) -> str:
    """The body that adopted the text as it stands: the organ on the latest dated history line that is not
    an approval (a city's regulation approved by the province is still the city's)."""
    dated = [ln for ln in lines if grammar.FULL_DATE.match(ln)]
    for line in reversed([ln for ln in dated if not re.search(r"批准[）)]?$", ln)] or dated):
        m = _CONGRESS.search(line)
        if m:
            place = "" if m.group("organ").startswith("全国") else re.sub(r"^经", "", m.group("place"))
            return place + m.group("organ")
        m = _ORGAN.search(line)
        if m:
            return m.group(0)
    return ""


def _signature(head: list[str]) -> tuple[str, str]:
    """(date, issuer) of a 公文's signature: a line that is only a date, and the issuer line just above it."""
    for i, ln in enumerate(head):
        m = grammar.FULL_DATE.fullmatch(ln) if len(ln) <= 20 else None
        date = grammar.full_date_iso(m) if m else ""
        if not date:
            continue
        issuer = next((prev for prev in reversed(head[max(0, i - 3):i]) if _ISSUER.match(prev)), "")
        return date, issuer or _any_issuer(head)
    return "", _any_issuer(head)


def _any_issuer(head: list[str]) -> str:
    issuer = next((ln for ln in head if _ISSUER.match(ln) and not _TITLE_START.match(ln)), "")
    return re.sub(r"(文件|印发)$", "", issuer)


def _doc_type(title: str, history: str, doc_number: str) -> str:
    if "司法解释" in title or re.search(r"最高人民(?:法院|检察院)", history + title[:12]):
        return "司法解释"
    if doc_number or _TITLE_START.search(title) or re.search(r"(?:意见|通知|方案|措施|批复|函|公告|通告)$", title):
        return "规范性文件"
    if re.search(r"人民政府令|政府规章", history):
        return "规章"
    if re.search(r"国务院令|国务院(?:公布|发布)", history) or (title.endswith("条例") and "国务院" in history):
        return "行政法规"
    if re.search(r"(?<![省市州县区])全国人民代表大会", history) or title.startswith(_STATE):
        return "法律"
    if re.search(r"人民代表大会", history):
        return "地方性法规"
    if _place_level(title) and re.search(r"(?:条例|规定|办法|细则|规则)$", title):
        return "地方性法规"  # a local regulation printed without its history lines
    return ""
