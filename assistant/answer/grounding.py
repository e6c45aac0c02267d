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
from ..lexicon import Aspect, Lexicon, RefusalPolicy
from ..models import Clause, Retrieval
from ..numerals import CN_NUMERAL_CHARS
from ..regions import Regions
from ..search.substrings import SubstringIndex
from ..search.text import normalize, nouns, tokenize


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

    @classmethod
    def of(cls, texts: Iterable[str]) -> "CorpusText":
        return cls(tuple(normalize(t) for t in texts))

    def contains(self, term: str) -> bool:
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
    missing_aspect: str  # what the question asks for (材料, 电话, 金额 …) that the answering text does not give
    unknown: tuple[str, ...] = ()  # content words of the question that occur nowhere in the corpus
    foreign_ref: str = ""  # a year or 文号 the question names that no document text contains
    foreign_topic: str = ""  # a policy topic (印花税, 稳岗, 房租 …) the question names and no document mentions
    subject: str = ""  # the question's rarest corpus word, whose sentences lacked the asked figure
    aspect_label: str = ""  # what kind of answer is missing (具体金额, 期限 …), for the note


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
    # A place says where, not what (浙江省的…罚款多少: the subject is the offence): areas are the scope's
    # business (search/scope.py), not the subject of a figure.
    regions = Regions.load()
    gap = _aspect_gap(q, [t for t in content if regions.find(t) is None], hits, corpus, lexicon.aspects)
    return Evidence(dense=dense, overlap=overlap, missing_aspect=gap[0], unknown=unknown,
                    foreign_ref=foreign_ref, foreign_topic=topic, subject=gap[1], aspect_label=gap[2])




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


def _aspect_gap(q: str, content: list[str], hits: list, corpus: CorpusText,
                aspects: tuple[Aspect, ...]) -> tuple[str, str, str]:
    """(asked aspect, subject, label) of the first aspect the question asks for and the text lacks."""
    top = normalize(hits[0].clause.text) if hits else ""
    for aspect in aspects:
        m = _last_match(aspect.cue, q)
        if not m:
            continue
        if aspect.scope == "clause":
            if hits and not aspect.evidence.search(top):
                return m.group(0), "", aspect.label
            continue
        words = [t for t in content if t not in m.group(0)]
        # A second subject must qualify what is asked: stand just before the cue (基金的注册资本是多少),
        # not anywhere in the question (做清真食品的…企业，贷款利息能补多少).
        near = q[max(0, m.start() - NEAR_CUE):m.end()]
        subject, sentences = _subject_sentences(words, corpus, nouns(q), near)
        if not subject:
            sentences = _sentences(top)
        if not any(aspect.evidence.search(s) for s in sentences):
            return m.group(0), subject, aspect.label
    return "", "", ""


def _last_match(cue: re.Pattern, q: str) -> re.Match | None:
    """The match of ``cue`` that starts last: in 基金的注册资本是多少 the attribute asked for is 资本, not
    基金 (which the leftmost match would swallow along with the real subject)."""
    if not cue.search(q):
        return None
    return next(m for m in (cue.match(q, i) for i in range(len(q) - 1, -1, -1)) if m)


def _subject_sentences(words: list[str], corpus: CorpusText, question_nouns: frozenset[str] = frozenset(),
                       near: str = "") -> tuple[str, list[str]]:
    """The question's subject and every corpus passage that names it.

    The subject is the rarest question word that occurs in the corpus (fewest clauses; the longer one
    on a tie, 专利权质押 before 专利), a noun when the question has one (注册资本, not 必须). A second
    rare noun must occur in the same clause (国家融资担保基金的注册资本 is not 融资担保公司的), and the
    passage must name one of them. Searching the whole corpus, not only the hits, keeps the check
    independent of ranking: if no passage anywhere puts a figure next to the subject, no hit can. A
    passage is a sentence, with the lead of its list when it is a list item (the penalty is in the
    lead, the offence in the item).
    """
    known = [w for w in dict.fromkeys(words) if corpus.frequency(w)]
    if not known:
        return "", []
    ranked = sorted(known, key=lambda w: (corpus.frequency(w), -len(w)))
    # A common word (企业, 政府, 单位) says nothing about which clause is meant.
    rare = max(2, int(RARE_SHARE * len(corpus.clauses)))
    named = [w for w in ranked if w in question_nouns and len(w) >= 2]
    if not named or corpus.frequency(named[0]) > rare:
        named = ranked[:1]  # no specific noun (固定资产 tagged otherwise): the rarest word
    subject = named[0]
    # A second rare noun, or the noun phrase the question names (中小企业发展基金 for 基金), must be in the
    # same clause (the passage still has to name the first).
    phrases = sorted((p for p in question_nouns if subject in p and p != subject and corpus.frequency(p)),
                     key=lambda p: (corpus.frequency(p), -len(p)))
    second = phrases[:1] or [w for w in named[1:2] if corpus.frequency(w) <= rare and w in near]
    # Only clauses that name the subjects are split: at 50k clauses splitting them all cost ~100 ms.
    # A phrase may be written as a list in the clause (协会商会 as 协会、商会).
    return subject, [p for c in corpus.containing(subject) if all(w in c.replace("、", "") for w in second)
                     for p in _passages(c) if subject in p]


def _sentences(text: str) -> list[str]:
    return grammar.split_sentences(text)


# A second subject word counts when it stands at most this many characters before the aspect cue.
NEAR_CUE = 10
# A second subject word counts when at most this share of the clauses contains it.
RARE_SHARE = 0.1
_FULL_STOP = re.compile(r"[。！？!?\n]+")
# A list item at the start of a line inside a clause: （一）… or 1. …
_LIST_ITEM = re.compile(rf"\n\s*(?:[(（][{CN_NUMERAL_CHARS}]{{1,3}}[)）]|\d{{1,2}}[.、．])")


def _passages(text: str) -> list[str]:
    """The full sentences of a clause (to 。！？, not ；: the parts of one provision, 协会、商会…的 | 处…罚款,
    stand together); a list item's sentences carry the lead paragraph before the list."""
    first = _LIST_ITEM.search(text)
    if first is None:
        return _FULL_STOP.split(text)
    lead = text[:first.start()]
    return _FULL_STOP.split(lead) + [f"{lead} {s}" for s in _FULL_STOP.split(text[first.start():])]


def should_refuse(ev: Evidence, policy: RefusalPolicy) -> tuple[bool, str]:
    """(refuse?, reason in Chinese for the notes)."""
    if ev.foreign_ref:
        return True, f"问题涉及“{ev.foreign_ref}”，现有政策文件中没有相应内容"
    if ev.foreign_topic:
        return True, f"现有政策文件没有涉及“{ev.foreign_topic}”"
    if ev.missing_aspect and ev.subject:
        return True, f"现有条款虽提到“{ev.subject}”，但没有关于{ev.aspect_label}的规定"
    if ev.missing_aspect:
        return True, f"现有条款没有关于“{ev.missing_aspect}”的具体规定"
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
