"""Grounding rules in one place: when to refuse, and whether an answer is backed by its citations.

Refusal is a calibrated decision on retrieval evidence (thresholds in ``data/refusal.toml``, set
from the eval set), not a prompt instruction. Verification checks every citation marker and every
number of an answer against the clauses it cites.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Iterable, Sequence

from .. import grammar
from ..lexicon import Lexicon, RefusalPolicy
from ..models import Clause, Retrieval
from ..numerals import CN_NUMERAL_CHARS
from ..search.substrings import SubstringIndex
from ..search.text import normalize, tokenize
from . import lead


class CorpusText:
    """The normalized text of every clause: what "occurs in the corpus" is measured against.

    Looked up through a bigram index (:class:`SubstringIndex`), so a question costs the same at 300
    clauses and at 150,000.
    """

    def __init__(self, clauses: Sequence[str], substrings: SubstringIndex | None = None):
        self.clauses = clauses
        self.substrings = substrings or SubstringIndex.build(clauses)
        # The same words (企业, 贷款, 担保) come back in question after question; the corpus is fixed.
        self.frequency = lru_cache(maxsize=8192)(self._frequency)
        self.contains = lru_cache(maxsize=8192)(self._contains)

    @classmethod
    def of(cls, texts: Iterable[str]) -> "CorpusText":
        return cls(tuple(normalize(t) for t in texts))

    def _contains(self, term: str) -> bool:
        """Whether any clause contains ``term``."""
        return self.substrings.contains(term)

    def _frequency(self, term: str) -> int:
        """How many clauses contain ``term`` (rarer words say more about what a question is about)."""
        return len(self.substrings.rows(term))

    def containing(self, term: str) -> list[str]:
        """The clauses that contain ``term``, in corpus order."""
        return [self.clauses[r] for r in self.substrings.rows(term)]


@dataclass(frozen=True)
class Evidence:
    """What the refusal decision looks at, kept for the debug view and calibration."""

    dense: float  # best cosine similarity among the top hits
    overlap: float  # share of the question's content tokens found in the top clause (after expansion)
    unknown: tuple[str, ...] = ()  # content words of the question that occur nowhere in the corpus
    foreign_ref: str = ""  # a year or 文号 the question names that no document text contains
    foreign_topic: str = ""  # a policy topic (印花税, 稳岗, 房租 …) the question names and no document mentions


def evidence(retrieval: Retrieval, corpus: CorpusText, lexicon: Lexicon) -> Evidence:
    """Measure how well the retrieved clauses cover the question (places, topics, aspects from ``lexicon``)."""
    hits = retrieval.hits
    q = retrieval.query.normalized
    dense = max((h.dense for h in hits[:3] if h.dense is not None), default=0.0)
    tokens = [t for t in retrieval.query.tokens if len(t) > 1 or t.isdigit()]
    covered = set(tokenize(" ".join(retrieval.expansion.triggers)))
    top_text = normalize(f"{hits[0].clause.title}{hits[0].clause.text}").lower() if hits else ""
    found = [t for t in tokens if t in top_text or t in covered]
    overlap = len(found) / len(tokens) if tokens else 0.0
    content = [t for t in tokens if t not in lexicon.question_words and not t.isdigit() and t not in covered]
    unknown = tuple(dict.fromkeys(t for t in content if not corpus.contains(t)))
    # A year no document mentions asks for what the documents do not have (2024年出台的新政策), unless
    # it only dates the asker's situation (2023年的时候, 2023年签的合同): the texts in force then answer.
    foreign_ref = next((m.group(0) for m in grammar.YEAR.finditer(q) if not corpus.contains(m.group(0))
                        and not _SITUATION.match(q, m.end())), "")
    if not foreign_ref:
        # A cited document whose text is not in the corpus (甘政办发〔2022〕101号) cannot be quoted.
        foreign_ref = next((n for n in map(grammar.doc_number, (m.group(0) for m in grammar.DOC_NUMBER.finditer(q)))
                            if _only_cited(n, corpus)), "")
    topic = _foreign_topic(q, unknown, retrieval.expansion.triggers, corpus, lexicon)
    return Evidence(dense=dense, overlap=overlap, unknown=unknown, foreign_ref=foreign_ref, foreign_topic=topic)


# After a year: words that make it the time of the asker's situation, not the subject of the question.
_SITUATION = re.compile(r"(?:的时候|时候|那时|那年|当时|时|签|签订|签的|以前|之前|期间|当年)")


def _only_cited(doc_number: str, corpus: CorpusText) -> bool:
    """The 文号 appears only where a document cites it (inside 《…》（文号）), never as a header."""
    clauses = corpus.containing(doc_number)
    return (sum(c.count(doc_number) for c in clauses) <= 1
            and any(f"{close}（{doc_number}）" in c for c in clauses for close in "）》"))


def _foreign_topic(q: str, unknown: tuple[str, ...], triggers: tuple[str, ...], corpus: CorpusText,
                   lexicon: Lexicon) -> str:
    """A policy topic of ``data/topics.txt`` that the question names and no document mentions.

    Everyday words the glossary maps (社保 → 社会保险费) are blanked first: the glossary says what
    they mean in the documents' terms, so they are not foreign. A topic longer than the mapped word it
    contains is still a topic (创业补贴: 创业 and 补贴 each map to something, the subsidy kind does not).
    """
    rest = q.lower()
    for trigger in sorted(triggers, key=len, reverse=True):
        rest = rest.replace(trigger, " ")
    endings = lexicon.topic_endings
    asked = q.lower()
    # The question is searched first: most topics are not in it, and then the corpus need not be asked.
    found = [w for w in lexicon.topics
             if (w in rest or (w in asked and any(t in w and len(t) < len(w) for t in triggers)))
             and w not in triggers and not corpus.contains(w)]
    # A named tax or fee (印花税, 评估费): a word of three or more characters, unknown to the corpus.
    found += [t for t in unknown if len(t) >= 3 and t in rest and t.endswith(endings)]
    # The longest names the topic best in the note (个人所得税, not 扣除).
    return max(found, key=len, default="")


def should_refuse(ev: Evidence, policy: RefusalPolicy) -> tuple[bool, str]:
    """(refuse?, reason in Chinese for the notes)."""
    if ev.foreign_ref:
        return True, f"问题涉及“{ev.foreign_ref}”，现有政策文件中没有相应内容"
    if ev.foreign_topic:
        return True, f"现有政策文件没有涉及“{ev.foreign_topic}”"
    if len(ev.unknown) >= policy.max_unknown:
        return True, f"现有政策文件没有涉及“{'、'.join(ev.unknown)}”"
    if ev.dense < policy.min_dense and ev.overlap < policy.min_overlap:
        return True, f"检索到的条款与问题匹配度低（语义 {ev.dense:.2f}，关键词覆盖 {ev.overlap:.0%}）"
    return False, ""


# --------------------------------------------------------------------------- verification

_ENUMERATOR = re.compile(r"^\s*\d{1,2}[.、]\s", re.MULTILINE)


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
    markers = grammar.markers(text)
    for n in markers:
        if n not in by_marker:
            problems.append(f"引用标记 [{n}] 不对应任何检索到的条款")
    if markers_required and not markers:
        problems.append("回答没有引用任何条款")
    used = [by_marker[n] for n in markers if n in by_marker] or list(by_marker.values())
    sources = normalize(" ".join(c.text for c in used))
    # List numbering ("1. ", "2. ") is layout, not a claim.
    body = normalize(_ENUMERATOR.sub(" ", grammar.MARKER.sub(" ", grammar.CITATION_HEADING.sub(" ", text))))
    cited_text = _Sources(sources)
    found: dict[str, bool] = {}
    for m in grammar.NUMBER.finditer(body):
        token, number = m.group(0).replace(" ", ""), m.group(1)
        if token == number:
            ok = number in cited_text.standalone
        else:  # as printed, or a figure the clause writes in words (3‰ for 千分之三)
            ok = found.setdefault(token, _stands_in(token, sources)
                                  or grammar.figure_value(token) in cited_text.values_in_words)
        if not ok:
            problems.append(f"数字“{token}”不在所引用的条款中")
    for m in grammar.CN_FIGURE.finditer(body):  # 三百万元 for 300万元, 三点五亿元 for 3.5亿元
        figure = m.group(0)
        if not found.setdefault(figure, _stands_in(figure, sources) or grammar.figure_value(figure) in cited_text.values):
            problems.append(f"数字“{figure}”不在所引用的条款中")
    return Verification(not problems, tuple(dict.fromkeys(problems)))


_LEAD_MARKS = re.compile(r"[\s，,；;：:。、“”\"（）()]+")


def verify_lead(lines: Sequence[str], cited: Sequence[str], missing_labels: Iterable[str] = ()
                ) -> tuple[str, ...]:
    """Problems of an answer's first lines: once the bold marks and the fixed connecting phrases
    (answer/lead.py: 可以：, 文件规定：, ；但没有规定<label>。, 文件没有对“…”作出定义。) are taken out,
    every piece left must be text of a cited clause.

    Args:
        lines: each first line without its label (本地（临夏州）, a comparison's side: the composer's).
        cited: the text of each cited clause, normalized (:func:`normalize`; lowercase is fine).
        missing_labels: what a partial answer may say is not given (the labels of data/aspects.tsv).
    """
    sources = "\n".join(cited).lower().replace(" ", "")
    fixed = _connectors(tuple(sorted(set(missing_labels))))
    problems = []
    for text in lines:
        body = text.replace("**", "")
        for piece in _LEAD_MARKS.split(fixed.sub("\n", body)):
            if piece and normalize(piece).lower() not in sources:
                problems.append(f"首行“{piece[:20]}”不是所引用条款的原文")
    return tuple(dict.fromkeys(problems))


@lru_cache(maxsize=16)
def _connectors(missing_labels: tuple[str, ...]) -> re.Pattern:
    """The fixed phrases a first line may add to clause text, as one pattern (built once per label set)."""
    given = "|".join(re.escape(label) for label in sorted(missing_labels, key=len, reverse=True)) or "(?!)"
    return re.compile("|".join([rf"{re.escape(lead.NOT_GIVEN.split('{')[0])}(?:{given})。",
                                *(re.escape(c) for c in sorted(lead.CONNECTORS, key=len, reverse=True))]))


class _Sources:
    """What the cited text states, each read on first need: a list answer holds thousands of numbers and
    cites thousands of clauses, so the text is scanned once per kind, not once per number."""

    def __init__(self, text: str):
        self.text = text

    @cached_property
    def standalone(self) -> set[str]:
        return grammar.standalone_numbers(self.text)

    @cached_property
    def values(self) -> set:
        """The values (in 元, %, ‰ …) of every figure, in digits or in words."""
        return {grammar.figure_value(f) for f in grammar.figures(self.text)} - {None}

    @cached_property
    def values_in_words(self) -> set:
        """The values of the figures written in words: a figure in digits must otherwise stand verbatim."""
        return {grammar.figure_value(f) for f in grammar.figures(self.text) if not f[0].isdigit()} - {None}


_CN_DIGIT_BEFORE = rf"(?<![{CN_NUMERAL_CHARS}])"


def _stands_in(figure: str, sources: str) -> bool:
    """The figure occurs in ``sources`` as a whole: 4% is not found inside 14%, 四百万元 not inside 十四百万元."""
    if not figure:
        return False
    before = r"(?<![\d.])" if figure[0].isdigit() else _CN_DIGIT_BEFORE
    return re.search(before + re.escape(figure), sources) is not None



# --------------------------------------------------------------------------- prompt leaks

# Verbatim runs of the system prompt this long in an answer count as revealing it. Shorter runs are
# ordinary words (责任单位, 中小微企业); the refusal sentence the prompt prescribes is allowed.
PROMPT_LEAK_CHARS = 14
_ALLOWED_IN_ANSWERS = ("现有政策文件中没有找到相关规定",)
_LEAK_IGNORED = re.compile(r"[\s\[\]\d]+")


class PromptGuard:
    """Finds a system prompt repeated in an answer; the prompt is cut into runs once, not per streamed piece."""

    def __init__(self, prompt: str, min_chars: int = PROMPT_LEAK_CHARS):
        secret = _LEAK_IGNORED.sub("", prompt)
        for allowed in _ALLOWED_IN_ANSWERS:
            secret = secret.replace(allowed, "\0")
        runs = (secret[i:i + min_chars] for i in range(len(secret) - min_chars + 1))
        self.secret, self.min_chars = secret, min_chars
        self.shingles = frozenset(r for r in runs if "\0" not in r)

    def leak(self, text: str) -> str:
        """The first run of at least ``min_chars`` characters of the prompt that ``text`` repeats verbatim, or "".

        Whitespace, digits and ``[n]`` markers are ignored on both sides, so a prompt spread over lines or
        interleaved with markers is still found.
        """
        said, n = _LEAK_IGNORED.sub("", text), self.min_chars
        for i in range(len(said) - n + 1):
            if said[i:i + n] in self.shingles:
                end = i + n
                while end < len(said) and said[i:end + 1] in self.secret:
                    end += 1
                return said[i:end]
        return ""


def prompt_leak(text: str, prompt: str, min_chars: int = PROMPT_LEAK_CHARS) -> str:
    """:meth:`PromptGuard.leak` for a one-off check."""
    return PromptGuard(prompt, min_chars).leak(text)
