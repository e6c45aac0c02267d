"""The first line of an answer: the words of the top clauses that state what was asked.

Every sentence of the top clauses is measured against the question (:class:`~assistant.models.Asked`):
how much of its subject the sentence states (each word weighted by how rare it is in the corpus, so
首贷户 counts more than 企业), how much its clause states, and whether it gives the asked aspect (a
figure of the asked kind as :mod:`assistant.grammar` reads it, or the evidence words of
``data/aspects.tsv``). The best passage that gives the aspect is the first line, cut to the
comma-separated segments that carry it, its figures in bold; a question whose own figure (贷款500万)
falls inside one of several ranges gets that range's figure. When the clauses state the subject but no
passage gives the aspect, the first line says what they do say and what they do not (a partial
answer); when they do not state the subject either, the documents do not answer.

The first line is made only of clause text and the fixed phrases of :data:`CONNECTORS`, so the
verifier (:func:`assistant.answer.grounding.verify_lead`) can check it piece by piece.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from .. import grammar
from ..lexicon import Aspect
from ..models import Asked, Clause, Hit
from ..search.text import normalize
from .compose import is_heading

# Which figure kinds answer each figure aspect: a period question (多久) is answered by a period (60日内)
# or by the date it ends (2022年底), and the other way round.
ANSWERING_KINDS: dict[str, tuple[str, ...]] = {
    "amount": (grammar.AMOUNT,), "rate": (grammar.RATE,), "multiple": (grammar.MULTIPLE, grammar.RATE),
    "period": (grammar.PERIOD, grammar.DATE_KIND), "date": (grammar.DATE_KIND, grammar.PERIOD),
    "count": (grammar.COUNT,), "figure": grammar.QUANTITY_KINDS,
}
# The phrases a first line may add to clause text (and the verifier removes before checking the rest).
YES, NO, STATES = "可以：", "不得：", "文件规定："
NOT_DEFINED = "文件没有对“{term}”作出定义。"
NOT_GIVEN = "；但没有规定{label}。"
UNITS = "责任单位："
ITEM_RULE = "："  # joins a list item to its lead's rule: 拒绝、阻碍…监督检查：处20万元以上50万元以下的罚款
SIDE_SAYS_NOTHING = "所查文件中没有找到相关规定。"
CONNECTORS = (YES, NO, STATES, "；但没有规定", "文件没有对“", "”作出定义。", UNITS, "等", ITEM_RULE, SIDE_SAYS_NOTHING)
# A first line longer than this is cut to the segments around its best one.
MAX_LINE_CHARS = 120
# Lead units named on the first line; the rest are on the clause's card and under its quote.
LEAD_UNITS = 4

# How much a passage that gives the aspect, one whose range fits the asker's figure, and each figure of the
# asked kind it states (up to three) are preferred; how much each place down the hit list costs; how close
# a second sentence of the same clause must score to join a general answer's first line. Set by hand, then
# checked on the dev sets (evals/calibrate.py).
GIVES_BONUS = 0.5
FIT_BONUS = 0.3
FIGURE_BONUS = 0.05
DECIDES_BONUS = 0.2
RANK_PENALTY = 0.08
SECOND_SENTENCE = 0.9
# How much more of the subject another sentence of the top clause must state to show that a figure's sentence
# is about something else.
CLEARLY_MORE = 0.1
# What a sentence states together with the one before it counts this much of what it states alone.
WINDOW_SHARE = 0.8
# Aspects whose answer runs over consecutive sentences of a clause: the first lines give the next one too.
STEPWISE = ("procedure", "condition")
# A second passage joins the first line when it states at least this share of the subject the first does not.
COMPLEMENT_SHARE = 0.2

Verdict = Literal["answer", "partial", "none"]


@dataclass(frozen=True)
class Passage:
    """A sentence of a top clause, measured against the question."""

    clause: Clause
    rank: int  # the clause's place among the hits
    start: int  # the sentence, as offsets into clause.text
    end: int
    parts: tuple[tuple[int, int], ...]  # what the first line quotes (offsets into clause.text), in order
    topic: float  # share of the question's subject (by weight) its clause states, title included
    own: float  # the same for the sentence alone (with the lead of the list it is an item of)
    gives: bool  # states the asked aspect
    fits: bool | None = None  # the asker's own figure falls inside (True) or outside (False) its range
    bold: tuple[tuple[int, int], ...] = ()  # offsets of the asked figures, shown in bold
    joiner: str = ""  # between parts: "" for runs of one text, ITEM_RULE for a list item and its lead's rule
    quotes: tuple[tuple[int, int], ...] = ()  # the sentences the answer quotes for it (default: its sentence)
    decides: bool = False  # a yes/no question: it says 可以 or 不得 (不影响, 免收) in so many words

    @property
    def score(self) -> float:
        fit = {True: FIT_BONUS, False: -1.0, None: 0.0}[self.fits]
        figures = FIGURE_BONUS * min(len(self.bold), 3)
        decides = DECIDES_BONUS if self.decides else 0.0
        return (self.topic + self.own + (GIVES_BONUS if self.gives else 0.0) + fit + figures + decides
                - RANK_PENALTY * self.rank)

    @property
    def sentence(self) -> str:
        return self.clause.text[self.start:self.end]

    @property
    def cited(self) -> tuple[tuple[int, int], ...]:
        """The sentences to quote under the first line, as offsets into clause.text."""
        return self.quotes or ((self.start, self.end),)

    def quoted(self) -> str:
        """The first line's clause words, the asked figures in bold (adjacent ones as one run)."""
        text = self.clause.text
        spans = _merged(self.bold)
        pieces = []
        for n, (lo, hi) in enumerate(self.parts):
            out, at = [], lo
            for b_lo, b_hi in spans:
                if lo <= b_lo and b_hi <= hi:
                    out += [text[at:b_lo], "**", text[b_lo:b_hi], "**"]
                    at = b_hi
            out.append(text[at:hi])
            # A part keeps the mark that ends it when the next part follows it in the text (…实缴货币资本；省、
            # 自治区…); the last part, and a list item before its lead's rule, end on words.
            keep_end = n < len(self.parts) - 1 and not self.joiner
            pieces.append("".join(out).strip().lstrip("，,；;：:").rstrip("" if keep_end else "，,；;：:"))
        return self.joiner.join(pieces)


@dataclass(frozen=True)
class LeadLine:
    """One line of the answer's first lines: a passage (with the level or side it answers for), or what
    the documents do not say."""

    text: str
    passage: Passage | None = None
    label: str = ""  # 本地（临夏州）, 国家, or the side of a comparison


@dataclass
class Lead:
    """The first lines of an answer and what they found."""

    verdict: Verdict
    lines: list[LeadLine] = field(default_factory=list)
    missing: str = ""  # what the documents do not give (具体金额, 期限, the term's definition)

    @property
    def passages(self) -> list[Passage]:
        return [ln.passage for ln in self.lines if ln.passage is not None]

    def text(self) -> str:
        return "\n".join(f"{ln.label}：{ln.text}" if ln.label else ln.text for ln in self.lines)


class Subject:
    """The question's subject concepts with their weights: log inverse clause frequency in the corpus (of
    its most common alternative: a concept stated by any of several words is as rare as the commonest),
    0 for a word no clause contains (no passage could state it, so it does not count against any)."""

    def __init__(self, asked: Asked, frequency: Callable[[str], int], clauses: int):
        self.concepts: list[tuple[tuple[str, ...], float]] = []
        position: dict[int, int] = {}  # asked.subject's positions -> self.concepts'
        for n, alternatives in enumerate(asked.subject):
            seen = max(frequency(a) for a in alternatives)
            weight = math.log((clauses + 1) / (seen + 0.5)) if seen else 0.0
            if weight > 0:
                position[n] = len(self.concepts)
                self.concepts.append((alternatives, weight))
        # X的Y pairs the corpus knows both words of (by position in self.concepts).
        self.owners = tuple((position[x], position[y]) for x, y in asked.owners if x in position and y in position)
        self.total = sum(w for _, w in self.concepts)

    def coverage(self, text: str) -> float:
        """Share of the subject's weight that ``text`` (normalized, lowercased) states; 0 when the question
        names nothing the corpus knows (then no passage can be shown to be about it)."""
        if not self.total:
            return 0.0
        return sum(w for alts, w in self.concepts if any(a in text for a in alts)) / self.total

    def stated(self, text: str) -> frozenset[int]:
        """The concepts (by position) that ``text`` (normalized, lowercased) states."""
        return frozenset(i for i, (alts, _) in enumerate(self.concepts) if any(a in text for a in alts))

    def share(self, concepts: frozenset[int]) -> float:
        """The weight of ``concepts`` as a share of the subject's."""
        return sum(self.concepts[i][1] for i in concepts) / self.total if self.total else 0.0


@dataclass(frozen=True)
class ClauseReading:
    """What the first line needs of a clause, read once (the same clauses come back question after question):
    its text folded for matching (normalized, lowercased, offsets as in ``clause.text``), its full sentences
    and the lead of its inner list."""

    clause: Clause
    folded: str
    sentences: tuple[tuple[int, int], ...]
    lead: tuple[int, int] | None

    @classmethod
    def of(cls, clause: Clause, normalized: str = "") -> "ClauseReading":
        """``normalized``: the clause text as the index normalized it (read again when its length differs)."""
        folded = (normalized if len(normalized) == len(clause.text) else normalize(clause.text)).lower()
        if len(folded) != len(clause.text):  # a conversion that changed the length: fold sentence by sentence
            folded = "".join(normalize(ch).lower()[:1] or ch for ch in clause.text)
        return cls(clause, folded, tuple(_full_sentences(clause)), _list_lead(clause))

    @cached_property
    def topic_text(self) -> str:
        return f"{normalize(self.clause.title).lower()} {self.folded}"


class LeadFinder:
    """Finds the first lines of an answer among ranked hits, for one question."""

    def __init__(self, asked: Asked, aspect: Aspect | None, subject: Subject, *,
                 give_floor: float, topic_floor: float, read: Callable[[Clause], ClauseReading] = ClauseReading.of):
        """Args:
            read: a clause's :class:`ClauseReading` (the composer keeps them per index)."""
        self.asked = asked
        self.aspect = aspect
        self.subject = subject
        self.give_floor = give_floor
        self.topic_floor = topic_floor
        self.read = read

    @cached_property
    def kinds(self) -> tuple[str, ...]:
        return ANSWERING_KINDS.get(self.asked.aspect, ())

    def passages(self, hits: Sequence[Hit]) -> list[Passage]:
        """Every sentence of the hits' clauses, measured."""
        out = []
        for rank, hit in enumerate(hits):
            clause = hit.clause
            if clause.number == "0":  # a document's title lines and preamble: what it is, not what it rules
                continue
            reading = self.read(clause)
            folded = reading.folded
            subject = self.subject
            topic = subject.coverage(reading.topic_text)
            lead = reading.lead
            in_lead = subject.stated(folded[lead[0]:lead[1]]) if lead else frozenset()
            previous: frozenset[int] = frozenset()
            for lo, hi in reading.sentences:
                stated = subject.stated(folded[lo:hi])
                in_item = lead is not None and lo >= lead[1]
                context = in_lead if in_item else frozenset()
                # A sentence often finishes what the one before began (…可以要求付款方确认。付款方应当自…三十日内
                # 予以确认): read with it, it counts a little less than what it states alone.
                own = max(subject.share(stated | context), WINDOW_SHARE * subject.share(stated | context | previous))
                out.append(self._measure(reading, rank, lo, hi, topic, own, lead if in_item else None))
                previous = stated
        return out

    def _measure(self, reading: ClauseReading, rank: int, lo: int, hi: int, topic: float, own: float,
                 lead: tuple[int, int] | None) -> Passage:
        clause = reading.clause
        text = clause.text
        if self.kinds:
            passage = self._figure_passage(reading, rank, lo, hi, topic, own)
            if not passage.gives and lead is not None:  # the item names the case, its list's lead the figure
                rule = self._figure_passage(reading, rank, *lead, topic, own)
                if rule.gives:
                    return Passage(clause, rank, lo, hi, ((lo, hi), *rule.parts), topic, own, True, rule.fits,
                                   rule.bold, ITEM_RULE, quotes=(lead, (lo, hi)))
            return passage
        sentence = text[lo:hi]
        # A yes/no question is answered by whatever the text rules on its subject; its modal only decides
        # whether the line opens with 可以 or 不得. Who is responsible: a clause's 责任单位 note says it too.
        gives = (self.asked.aspect == "permission"
                 or (self.asked.aspect == "who" and bool(clause.units))
                 or bool(self.aspect and self.aspect.evidence and self.aspect.evidence.search(sentence)))
        if self.asked.aspect == "definition":  # the defining sentence names the term (or, with none read, the subject)
            term = self.asked.term
            gives = gives and (term in reading.folded[lo:hi] if term else own >= self.give_floor)
        decides = self.asked.aspect == "permission" and bool(_decides(sentence))
        parts: tuple[tuple[int, int], ...] = ((lo, hi),) if hi - lo <= MAX_LINE_CHARS else (self._best_segment(reading, lo, hi, prefer_deciding=decides),)
        if lead is not None and self.asked.aspect == "permission" and _decides(text[lead[0]:lead[1]]) in ("yes", "no"):
            parts = ((lead[0], lead[1]), *parts)  # 不得有下列行为：（三）强制中小企业接受商业汇票…
        return Passage(clause, rank, lo, hi, parts, topic, own, gives, decides=decides)

    def _figure_passage(self, reading: ClauseReading, rank: int, lo: int, hi: int, topic: float, own: float
                        ) -> Passage:
        """A sentence measured for a figure question: the segments that state a figure of the asked kind,
        those whose range the asker's figure falls outside left out, and the segment before them when
        they alone do not name the subject (…的担保费率｜不高于1%)."""
        clause = reading.clause
        text = clause.text
        sentence = text[lo:hi]
        segments = grammar.segment_spans(text, lo, hi)
        found = grammar.quantities(sentence)
        asked_kinds = {f.kind for f in self.asked.figures}
        keep: list[tuple[int, int]] = []
        bold: list[tuple[int, int]] = []
        fitted = missed = False
        for s_lo, s_hi in segments:
            inside = [q for q in found if s_lo <= lo + q.start < s_hi]
            answers = [q for q in inside if q.kind in self.kinds]
            if not answers:
                continue
            ranges = [q for q in inside if q.kind in asked_kinds and q not in answers]
            if ranges:
                if not any(q.admits(f) for q in ranges for f in self.asked.figures if f.kind == q.kind):
                    missed = True  # 单户500万元以下的… for an asker with 600万: not theirs
                    continue
                fitted = True
            keep.append((s_lo, s_hi))
            bold += [(lo + q.start, lo + q.end) for q in answers]
        # The asker's figure falls inside a range the sentence states (True), only outside them (False), or
        # the sentence states no range of it (None).
        fits = True if fitted else (False if missed and not keep else None)
        if not keep:
            parts = ((lo, hi),) if hi - lo <= MAX_LINE_CHARS else (self._best_segment(reading, lo, hi),)
            return Passage(clause, rank, lo, hi, parts, topic, own, False, fits)
        # The segment before the figures when theirs name nothing of the subject (…的担保费率｜不高于1%).
        index = segments.index(keep[0])
        if self.subject.total and index and not self.subject.coverage(" ".join(reading.folded[a:b] for a, b in keep)):
            keep.insert(0, segments[index - 1])
        return Passage(clause, rank, lo, hi, tuple(_merged(keep)), topic, own, True, fits, tuple(bold))

    def _best_segment(self, reading: ClauseReading, lo: int, hi: int, *, prefer_deciding: bool = False
                      ) -> tuple[int, int]:
        """The segment of the sentence that states most of the subject (the first on a tie); for a yes/no
        question one that decides it (不得强制…) comes first."""
        text = reading.clause.text
        segments = grammar.segment_spans(text, lo, hi)
        if len(segments) == 1:
            return segments[0]
        return max(segments, key=lambda s: (prefer_deciding and bool(_decides(text[s[0]:s[1]])),
                                            self.subject.coverage(reading.folded[s[0]:s[1]]), -s[0]))

    def best(self, passages: Sequence[Passage]) -> Passage | None:
        """The passage that answers: the best-scoring one that gives the aspect and itself states enough of
        the subject (for a question that asks for no aspect: any, in a clause about the subject, with the
        next sentence of that clause when it scores nearly as well)."""
        if self.asked.aspect:
            usable = [p for p in passages if p.gives and p.fits is not False and self._enough(p, passages)]
            return max(usable, key=_order, default=None)
        usable = [p for p in passages if self._about(p)]
        best = max(usable, key=_order, default=None)
        if best is None:
            return None
        second = max((p for p in usable if p.clause is best.clause and p is not best), key=_order, default=None)
        if second is None or second.score < SECOND_SENTENCE * best.score or second.own < SECOND_SENTENCE * best.own:
            return best
        if (best.end - best.start) + (second.end - second.start) > MAX_LINE_CHARS:
            return best
        pair = tuple((p.start, p.end) for p in sorted((best, second), key=lambda p: p.start))
        return Passage(best.clause, best.rank, pair[0][0], pair[1][1], pair, best.topic, max(best.own, second.own),
                       best.gives, quotes=pair)

    def _enough(self, p: Passage, passages: Sequence[Passage]) -> bool:
        """Whether a passage that gives the asked aspect states enough of the subject to answer: its own words
        reach the floor; or, for a figure in the clause the search ranked first, it names some of the subject
        and no other sentence of that clause names more (an owner's words, 手续费, need not be the text's,
        担保费率, when the ranking already matched them; but the 300万元 of 创业担保贷款 does not answer a
        question on the 专利权质押 subsidy that the next sentence states, nor the 注册资本 of 融资担保公司 one
        on 国家融资担保基金's: :meth:`_named_elsewhere`)."""
        if p.own >= self.give_floor or (self.blind and p.rank == 0 and self.asked.aspect == "permission"):
            return True
        # A list of materials or a phone number must be stated with the subject itself; a figure, a procedure,
        # a condition or who does it may be stated in the words of the clause the search found.
        return (p.rank == 0 and p.own > 0 and self.asked.aspect not in ("text", "permission")
                and all(o.own <= p.own + CLEARLY_MORE for o in passages if o.clause is p.clause)
                and not self._named_elsewhere(p.clause, passages))

    def _named_elsewhere(self, clause: Clause, passages: Sequence[Passage]) -> bool:
        """Whether the question asks X的Y, ``clause`` states Y but not X, and another clause among the hits
        states X: then X is the text's word too, and the clause without it gives the Y of something else
        (the 注册资本 of 融资担保公司 does not answer one on 国家融资担保基金's, which the next hits name)."""
        subject = self.subject
        states = subject.stated(self.read(clause).topic_text)
        lacking = {x for x, y in subject.owners if x not in states and y in states}
        if not lacking:
            return False
        others = {id(o.clause): o.clause for o in passages if o.clause is not clause}
        return any(lacking & subject.stated(self.read(c).topic_text) for c in others.values())

    def complement(self, best: Passage, passages: Sequence[Passage]) -> Passage | None:
        """A second passage for a question that asks two things (经营几年、连续盈利几年; 担保费率和再担保费率
        各是多少): one that gives the aspect too and states a part of the subject the best one does not."""
        if not self.asked.aspect or self.asked.aspect == "permission" or not self.subject.total:
            return None
        if self.asked.aspect in STEPWISE:  # the next step of the procedure (…提交材料。…30日内作出决定。)
            steps = [p for p in passages if p.clause is best.clause and p.gives and p.start > best.start]
            return min(steps, key=lambda p: p.start, default=None)
        said = self.subject.stated(self.read(best.clause).folded[best.start:best.end])
        found = [p for p in passages if p.gives and p.fits is not False and p.sentence != best.sentence
                 and p.own >= self.topic_floor
                 and self.subject.share(self.subject.stated(self.read(p.clause).folded[p.start:p.end]) - said)
                 >= COMPLEMENT_SHARE]
        return max(found, key=_order, default=None)

    @property
    def blind(self) -> bool:
        """The question names nothing the corpus knows (用钱, 手头, 宽裕): its words cannot show what a
        clause is about. For what the text rules (a yes/no question, or one asking for nothing specific) the
        clause the search ranked first (by meaning, on the similarity floor of the refusal check) is taken
        to be about it; a specific thing asked (电话, 金额) is not found in a clause nothing shows relevant."""
        return not self.subject.total

    def _about(self, p: Passage) -> bool:
        """Whether the passage's clause is about the question's subject."""
        return p.topic >= self.topic_floor or (self.blind and p.rank == 0 and self.asked.aspect in ("", "permission"))

    def topic(self, passages: Sequence[Passage]) -> Passage | None:
        """The sentence that states most of the subject, in a clause about it: what a partial answer says (one
        about the X of an X的Y question first: 国家融资担保基金's clauses, not 融资担保公司's 注册资本)."""
        usable = [p for p in passages if self._about(p)]
        clauses = {id(p.clause): p.clause for p in usable} if self.subject.owners else {}
        elsewhere = {key: self._named_elsewhere(clause, passages) for key, clause in clauses.items()}
        return max(usable, key=lambda p: (not elsewhere.get(id(p.clause)), p.topic + p.own - RANK_PENALTY * p.rank,
                                          -p.rank, -p.start), default=None)


def _full_sentences(clause: Clause) -> list[tuple[int, int]]:
    """The clause body's full sentences (to 。, not ；) as offsets, without a bare heading sentence or a
    signature line (国务院办公厅): nothing a first line could say."""
    lo, hi = clause.body
    spans = [(a, b) for a, b in grammar.sentence_spans(clause.text, lo, hi, full=True)
             if b - a >= MIN_SENTENCE or grammar.SENTENCE_PUNCT.search(clause.text[a:b])]
    return [s for s in spans if not is_heading(clause, clause.text[s[0]:s[1]])] or spans


# A line this short without any sentence mark is a signature or a heading, not a statement.
MIN_SENTENCE = 10


def _order(p: Passage) -> tuple[float, int, int]:
    return p.score, -p.rank, -p.start


def line_for(passage: Passage, asked: Asked) -> str:
    """The first line a passage gives: its words, with 可以/不得 for a yes/no question that it decides."""
    words = passage.quoted()
    if asked.aspect == "permission":
        decided = _decides(" ".join(passage.clause.text[lo:hi] for lo, hi in passage.parts))
        return {"no": NO, "yes": YES}.get(decided, STATES) + words
    return words


def partial_line(topic: Passage, asked: Asked) -> str:
    """What the text says about the subject, and the asked thing it does not give."""
    if asked.aspect == "definition" and asked.term:
        return NOT_DEFINED.format(term=asked.term)
    return f"{STATES}{topic.quoted().rstrip('。')}{NOT_GIVEN.format(label=asked.label)}"


def units_line(clause: Clause, limit: int = LEAD_UNITS) -> str:
    """The 责任单位 of a clause, the first ``limit`` (listed first: the lead units; all are on its card)."""
    units = list(clause.units)
    shown = "、".join(units[:limit])
    return f"{UNITS}{shown}{'等' if len(units) > limit else ''}"



def _decides(text: str) -> str:
    """"no" when ``text`` forbids (不得, 禁止), "yes" when it allows (可以, 允许), "rule" when it settles the
    matter in other words (不影响, 免收, 应当), "" otherwise."""
    if grammar.FORBIDS.search(text):
        return "no"
    if grammar.ALLOWS.search(text):
        return "yes"
    return "rule" if grammar.SETTLES.search(text) else ""


def _merged(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans in order, touching ones joined (10万元以上50万元以下 is one bold run, not two)."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


_LIST_ITEM = re.compile(r"\n\s*(?:[(（][一二三四五六七八九十]{1,3}[)）]|\d{1,2}[.、．])")


def _list_lead(clause: Clause) -> tuple[int, int] | None:
    """The paragraph before a clause's inner list, as offsets (its items' sentences are read with it: the
    penalty is in the lead, the offence in the item); None when the clause has no list."""
    first = _LIST_ITEM.search(clause.text)
    if first is None:
        return None
    lo = clause.body[0]
    return (lo, first.start()) if first.start() > lo else None
