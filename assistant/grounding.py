"""Grounding rules in one place: when to refuse, and whether an answer is backed by its citations.

Refusal is a calibrated decision on retrieval evidence (thresholds in ``data/refusal.toml``, set
from the eval set), not a prompt instruction. Verification checks every citation marker and every
number of an answer against the clauses it cites.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .models import Clause
from .retrieve import Retrieval
from .text import normalize, tokenize


@dataclass(frozen=True)
class RefusalPolicy:
    """Thresholds of the refusal decision (see ``data/refusal.toml`` for how they were set)."""

    min_dense: float
    min_overlap: float
    max_unknown: int

    @classmethod
    @lru_cache(maxsize=1)
    def load(cls) -> "RefusalPolicy":
        raw = resources.files("assistant.data").joinpath("refusal.toml").read_text(encoding="utf-8")
        data = tomllib.loads(raw)
        return cls(min_dense=float(data["min_dense"]), min_overlap=float(data["min_overlap"]),
                   max_unknown=int(data["max_unknown"]))


@dataclass(frozen=True)
class Evidence:
    """What the refusal decision looks at, kept for the debug view and calibration."""

    dense: float  # best cosine similarity among the top hits
    overlap: float  # share of the question's content tokens found in the top clause (after expansion)
    foreign_place: str  # a place the question names that no document mentions
    missing_aspect: str  # what the question asks for (材料, 电话 …) that no top clause provides
    unknown: tuple[str, ...] = ()  # content words of the question that occur nowhere in the corpus
    foreign_ref: str = ""  # a year or 文号 the question names that no document text contains


@lru_cache(maxsize=1)
def _places() -> tuple[str, ...]:
    raw = resources.files("assistant.data").joinpath("places.txt").read_text(encoding="utf-8")
    return tuple(ln.strip() for ln in raw.splitlines() if ln.strip() and not ln.startswith("#"))


@lru_cache(maxsize=1)
def _aspects() -> tuple[tuple[re.Pattern, tuple[str, ...]], ...]:
    raw = resources.files("assistant.data").joinpath("aspects.tsv").read_text(encoding="utf-8")
    out = []
    for line in raw.splitlines():
        if line.strip() and not line.startswith("#"):
            cue, words = line.split("\t")
            out.append((re.compile(cue), tuple(words.split("|"))))
    return tuple(out)


def evidence(retrieval: Retrieval, corpus_text: str) -> Evidence:
    """Measure how well the retrieved clauses cover the question."""
    hits = retrieval.hits
    q = normalize(retrieval.question)
    dense = max((h.dense for h in hits[:3] if h.dense is not None), default=0.0)
    tokens = [t for t in tokenize(q) if len(t) > 1 or t.isdigit()]
    covered = set(tokenize(" ".join(retrieval.expansion.triggers)))
    top_text = normalize(f"{hits[0].clause.title}{hits[0].clause.text}").lower() if hits else ""
    found = [t for t in tokens if t in top_text or t in covered]
    overlap = len(found) / len(tokens) if tokens else 0.0
    place = next((p for p in _places() if p in q and p not in corpus_text), "")
    aspect = ""
    top_clauses = hits[0].clause.text if hits else ""
    for cue, words in _aspects():
        m = cue.search(q)
        if m and not any(w in top_clauses for w in words):
            aspect = m.group(0)
            break
    unknown = tuple(t for t in tokens if len(t) > 1 and not t.isdigit() and t not in corpus_text and t not in covered)
    foreign_ref = next((m.group(0) for m in _YEAR_OR_NUMBER.finditer(q) if m.group(0) not in corpus_text), "")
    if not foreign_ref:
        # A cited document whose text is not in the corpus (甘政办发〔2022〕101号) cannot be quoted.
        foreign_ref = next((m.group(0) for m in _DOC_NUMBER.finditer(q) if _only_cited(m.group(0), corpus_text)), "")
    return Evidence(dense=dense, overlap=overlap, foreign_place=place, missing_aspect=aspect, unknown=unknown,
                    foreign_ref=foreign_ref)


_YEAR_OR_NUMBER = re.compile(r"(?<!\d)20\d\d年")
_DOC_NUMBER = re.compile(r"[\u4e00-\u9fa5]{1,10}〔\d{4}〕\d+号")


def _only_cited(doc_number: str, corpus_text: str) -> bool:
    """The 文号 appears only where a document cites it (inside 《…》（文号）), never as a header."""
    return corpus_text.count(doc_number) <= 1 and f"）（{doc_number}）" in corpus_text.replace("》（", "）（")


def should_refuse(ev: Evidence, policy: RefusalPolicy) -> tuple[bool, str]:
    """(refuse?, reason in Chinese for the notes)."""
    if ev.foreign_place:
        return True, f"问题涉及“{ev.foreign_place}”，现有政策文件不涉及该地区"
    if ev.missing_aspect:
        return True, f"现有条款没有关于“{ev.missing_aspect}”的具体规定"
    if ev.foreign_ref:
        return True, f"问题涉及“{ev.foreign_ref}”，现有政策文件中没有相应内容"
    if len(ev.unknown) >= policy.max_unknown:
        return True, f"现有政策文件没有涉及“{'、'.join(ev.unknown)}”"
    if ev.dense < policy.min_dense and ev.overlap < policy.min_overlap:
        return True, f"检索到的条款与问题匹配度低（语义 {ev.dense:.2f}，关键词覆盖 {ev.overlap:.0%}）"
    return False, ""


# --------------------------------------------------------------------------- verification

_MARKER = re.compile(r"\[(\d{1,2})\]")
_ENUMERATOR = re.compile(r"^\s*\d{1,2}[.、]\s", re.MULTILINE)
_CITATION_HEADING = re.compile(r"〔[^〔〕]*(?:〔[^〔〕]*〕[^〔〕]*)*〕")
# A number with the unit that gives it meaning; a bare number is checked on its own.
_NUMBER = re.compile(r"\d+(?:\.\d+)?\s*(?:万亿元|亿元|万元|元|个百分点|个基点|%|％|倍|年底|年|月|日|个月|户|家)?")


@dataclass(frozen=True)
class Verification:
    ok: bool
    problems: tuple[str, ...]


def verify(text: str, cited: dict[int, Clause] | list[Clause], *, markers_required: bool = False) -> Verification:
    """Check an answer against the clauses it cites.

    Args:
        text: the answer; ``[n]`` markers refer to ``cited`` (a dict marker → clause) when given.
        cited: the clauses the answer may rely on.
        markers_required: an LLM answer must carry at least one marker.

    Every marker must name a cited clause, and every number (amount, rate, date) must appear verbatim
    in a cited clause; the text of citation headings 〔…〕 is not checked (文号 digits are metadata).
    """
    problems: list[str] = []
    by_marker = cited if isinstance(cited, dict) else {i + 1: c for i, c in enumerate(cited)}
    markers = [int(m) for m in _MARKER.findall(text)]
    for n in markers:
        if n not in by_marker:
            problems.append(f"引用标记 [{n}] 不对应任何检索到的条款")
    if markers_required and not markers:
        problems.append("回答没有引用任何条款")
    used = [by_marker[n] for n in markers if n in by_marker] or list(by_marker.values())
    sources = normalize(" ".join(c.text for c in used))
    # List numbering ("1. ", "2. ") is layout, not a claim.
    body = normalize(_ENUMERATOR.sub(" ", _MARKER.sub(" ", _CITATION_HEADING.sub(" ", text))))
    for m in _NUMBER.finditer(body):
        token = m.group(0).replace(" ", "")
        number = re.match(r"\d+(?:\.\d+)?", token).group(0)
        if token in sources and _standalone(number, sources):
            continue
        if token == number and _standalone(number, sources):
            continue
        problems.append(f"数字“{token}”不在所引用的条款中")
    return Verification(not problems, tuple(dict.fromkeys(problems)))


def _standalone(number: str, text: str) -> bool:
    """``number`` occurs in ``text`` as a whole number (30 is not found inside 300 or 3.0)."""
    return re.search(rf"(?<![\d.]){re.escape(number)}(?![\d]|\.\d)", text) is not None
