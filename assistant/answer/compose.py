"""Extractive answer composition: offline, deterministic, and quoting clauses verbatim.

It picks the sentences of the best clauses that answer the question, so amounts and rates are
the document's own words, and cites each one as 〔文号 第（六）条 标题〕.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from .. import grammar
from ..lexicon import Cues
from ..models import Citation, Clause, Hit
from ..search.index import Index
from ..search.text import tokenize

_HAS_FIGURE = re.compile(r"\d")


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # offset in the source document
    end: int
    score: float


def sentences(clause: Clause) -> list[tuple[str, int, int]]:
    """Sentences of the clause body (no marker, no 责任单位 note) with document offsets."""
    text = clause.text
    body_start, body_end = clause.body
    return [(text[lo:hi], clause.start + lo, clause.start + hi)
            for lo, hi in grammar.sentence_spans(text, body_start, body_end) if hi - lo >= 2]


def is_heading(clause: Clause, text: str) -> bool:
    """The sentence is just the clause title ("用好财政贴息政策。"), which the citation already shows."""
    return bool(clause.title) and text.startswith(clause.title) and len(text) <= len(clause.title) + 2


def score_sentences(clause: Clause, question_tokens: set[str], wants_figure: bool) -> list[Sentence]:
    """Sentences of the clause scored by question words they contain (longer words count more).

    A bare heading sentence is left out when the clause has any other: it repeats the title, which
    the citation shows anyway, and would crowd out the sentence that says what the measure gives.
    """
    all_sentences = sentences(clause)
    body = [s for s in all_sentences if not is_heading(clause, s[0])] or all_sentences
    scored = []
    for i, (text, start, end) in enumerate(body):
        tokens = sentence_tokens(text)
        overlap = question_tokens & tokens
        score: float = sum(min(len(t), 4) for t in overlap)
        if wants_figure and _HAS_FIGURE.search(text):
            score += 3
        if i == 0 and clause.title and text.startswith(clause.title):
            score -= 0.5  # the heading sentence repeats the title: prefer the substance
        scored.append(Sentence(text, start, end, float(score)))
    return scored


@lru_cache(maxsize=8192)
def sentence_tokens(sentence: str) -> frozenset[str]:
    """A clause sentence's search tokens. Cached: the same clauses' sentences are scored for many questions."""
    return frozenset(tokenize(sentence))


class ExtractiveComposer:
    """Builds the answer text and citations from ranked hits, quoting sentences verbatim."""

    name = "extractive"

    def __init__(self, index: Index, cues: Cues, max_clauses: int = 2, max_sentences: int = 3):
        self.index = index
        self.cues = cues
        self.max_clauses = max_clauses
        self.max_sentences = max_sentences

    def cite(self, clause: Clause, quote: str, start: int, end: int) -> Citation:
        return Citation(clause.clause_id, clause.title, self.index.heading(clause), quote, start, end, clause.units)

    def whole_clause(self, clause: Clause) -> Citation:
        return self.cite(clause, clause.text, clause.start, clause.end)

    def opening(self, clause: Clause) -> Citation:
        """The clause's first sentence of substance (after a bare heading), to tell clauses apart."""
        body = sentences(clause)
        text, start, end = (next((s for s in body if not is_heading(clause, s[0])), None) or (body[0] if body else None)
                            or (clause.text, clause.start, clause.end))
        return self.cite(clause, text, start, end)

    def select(self, asked: str, tokens: Iterable[str], hits: list[Hit]) -> list[Citation]:
        """The sentences that answer the question: the best clause first, then close runners-up.

        Args:
            asked: the question, normalized.
            tokens: its search tokens (with glossary terms where they should count).
        """
        if not hits:
            return []
        q_tokens = set(tokens)
        wants_figure = bool(self.cues.wants_figure.search(asked))
        # A list question takes more clauses and sentences, and runners-up further behind the best one.
        wants_list = bool(self.cues.wants_list.search(asked))
        max_clauses, keep_ratio = (self.max_clauses + 2, 0.6) if wants_list else (self.max_clauses, 0.8)
        max_sentences, sentence_ratio = (self.max_sentences + 1, 0.4) if wants_list else (self.max_sentences, 0.6)
        picked: list[Citation] = []
        # Runners-up are kept by relevance: a national clause as relevant as the local one that leads (by
        # its locality bonus) is quoted beside it, so both levels' rules are shown.
        top_score = max(h.relevance for h in hits[: max_clauses + 1])
        best_overall = None
        for rank, hit in enumerate(hits[: max_clauses + 1]):
            if len({c.clause_id for c in picked}) >= max_clauses:
                break
            if rank and hit.relevance < keep_ratio * top_score:
                continue
            scored = score_sentences(hit.clause, q_tokens, wants_figure)
            if not scored:
                continue
            best = max(s.score for s in scored)
            if best_overall is None:
                best_overall = best
            elif best <= 0 or best < 0.6 * best_overall:
                continue  # a runner-up clause that shares no words with the question adds noise
            if best <= 0:
                # Found by meaning only: the substance is the first sentences after the title.
                chosen = [s for s in scored if not (hit.clause.title and s.text.startswith(hit.clause.title))][:2] \
                    or scored[:1]
            else:
                chosen = sorted((s for s in scored if s.score >= sentence_ratio * best),
                                key=lambda s: -s.score)[:max_sentences]
                chosen.sort(key=lambda s: s.start)
            picked += [self.cite(hit.clause, s.text, s.start, s.end) for s in chosen]
        return picked
