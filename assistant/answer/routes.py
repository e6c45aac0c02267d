"""The answer body for each route, picked from one table by the kind of question.

A clause reference gets the clause, a unit question the list of its measures, a document question
the document's facts, a follow-up about "这条" the previous answer's clause, and a search question a
refusal or the quoted sentences. :data:`ROUTES` says, per kind, which composer writes the body and
whether an LLM may rephrase it (free text only: lists, facts and refusals stay deterministic).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Literal

from .. import grammar
from ..corpus import versions
from ..lexicon import Lexicon
from ..models import Answer, Citation, Clause, Hit, Retrieval, RouteKind, by_clause
from ..numerals import int_to_cn
from ..regions import Region, Regions
from ..search.documents import locality
from ..search.index import Index
from .compose import ExtractiveComposer
from .grounding import CorpusText, evidence, should_refuse, verify_lead
from .lead import (
    SIDE_SAYS_NOTHING,
    ClauseReading,
    Lead,
    LeadFinder,
    LeadLine,
    Passage,
    Subject,
    Verdict,
    line_for,
    partial_line,
    units_line,
)

# A unit answer lists at most this many measures: with a large corpus a department can be responsible
# for thousands, and the lookup tab (or `clauses`) lists them all.
MAX_LISTED_CLAUSES = 30
SERVICE_UNAVAILABLE = "抱歉，条款检索服务暂时不可用，请稍后再试；急需办理可拨打 12345 政务服务便民热线。"
HOTLINE_HINT = "建议向相关责任部门咨询，或拨打 12345 政务服务便民热线。"
EMPTY_QUESTION = "请输入您想了解的政策问题，例如：创业担保贷款最高额度是多少？"
NOT_FOUND = "现有政策文件中没有找到能回答这个问题的条款。"

# Which composer writes the body: one per route the router picks, plus the follow-up's two, a clause number
# several documents have (choose) and a named document that is not in the corpus (missing).
ComposeKind = Literal["search", "clause", "unit", "document", "followup", "followup_who", "choose", "missing"]


@dataclass
class Turn:
    """One question on its way through the pipeline: what the composers need from retrieval."""

    question: str
    asked: str  # stripped, cut to the length limit, follow-up context added
    retrieval: Retrieval | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    started: float = 0.0
    pinned: Clause | None = None  # a follow-up about "这条": the previous answer's clause
    today: dt.date | None = None  # the day that decides which texts are in force
    error: str = ""  # the search failed (vector store unreachable after retries): answer with this message
    match: Any = None  # a self-description question's MatchResult: answered by policy matching

    @property
    def found(self) -> Retrieval:
        """The retrieval, for a composer: composers run only once a question was searched."""
        if self.retrieval is None:
            raise ValueError("a composer ran before retrieval")
        return self.retrieval

    @property
    def followed(self) -> Clause:
        """The clause a follow-up is about, for the follow-up composers (which run only when there is one)."""
        if self.pinned is None:
            raise ValueError("a follow-up composer ran without a pinned clause")
        return self.pinned


class Composers:
    """The deterministic composers of every route, over one index and lexicon."""

    def __init__(self, index: Index, extractive: ExtractiveComposer, lexicon: Lexicon):
        self.index = index
        self.extractive = extractive
        self.lexicon = lexicon

    @cached_property
    def corpus(self) -> CorpusText:
        """Every clause's normalized text, for the refusal checks: built on the first search question,
        not when an assistant is made for ``search`` or a lookup."""
        return CorpusText(self.index.normalized_clauses, self.index.substrings)

    @cached_property
    def read(self) -> Callable[[Clause], ClauseReading]:
        """A clause's :class:`ClauseReading`, kept for the clauses asked about most recently (folded from the
        index's normalized texts, so no clause is normalized again per question)."""
        texts, row, by_id = self.index.normalized_clauses, self.index.row, self.index.by_id

        @lru_cache(maxsize=READINGS_KEPT)
        def reading(clause_id: str) -> ClauseReading:
            return ClauseReading.of(by_id[clause_id], texts[row[clause_id]])

        return lambda clause: reading(clause.clause_id)

    def kind(self, turn: Turn) -> ComposeKind:
        route = turn.found.route
        if route.missing_document:
            return "missing"
        if turn.pinned is not None:
            return "followup_who" if self.lexicon.cues.who.search(turn.found.query.normalized) else "followup"
        if route.ambiguous:
            return "choose"
        if route.kind in ("clause", "unit", "document"):
            return route.kind
        return "search"

    def compose(self, turn: Turn) -> tuple[Answer, bool]:
        """The body of the answer to ``turn``, and whether an LLM may rephrase it."""
        if turn.error:
            return Answer(question=turn.question, text=f"{SERVICE_UNAVAILABLE}（{turn.error}）", refused=True,
                          route="error", checks=[turn.error]), False
        if turn.retrieval is None:
            return Answer(question=turn.question, text=EMPTY_QUESTION, refused=True, route="empty"), False
        t = time.perf_counter()
        retrieval = turn.retrieval
        spec = ROUTES[self.kind(turn)]
        answer = Answer(question=turn.question, text="", retrieved=retrieval.clause_ids, route=spec.route,
                        region=retrieval.region)
        if turn.pinned is not None:
            answer.retrieved = [turn.pinned.clause_id] + [c for c in answer.retrieved if c != turn.pinned.clause_id]
        spec.compose(self, answer, turn)
        turn.timings["compose"] = (time.perf_counter() - t) * 1000
        return answer, spec.llm and not answer.refused and bool(answer.citations)

    # ------------------------------------------------------------------ one composer per kind

    def search(self, answer: Answer, turn: Turn) -> None:
        retrieval = turn.found
        refuse, reason = should_refuse(evidence(retrieval, self.corpus, self.lexicon), self.lexicon.refusal)
        if refuse:
            self.refusal(answer, retrieval, reason)
            return
        lead = self.lead(retrieval)
        if lead.verdict == "none":
            self.refusal(answer, retrieval, f"现有条款没有关于{retrieval.query.asked.label}的规定")
            return
        self.quotes(answer, retrieval, turn.today, lead)

    def clause(self, answer: Answer, turn: Turn) -> None:
        retrieval = turn.found
        if retrieval.route.whole_clause:
            answer.citations = [self.extractive.whole_clause(h.clause) for h in retrieval.hits if h.route == "clause"]
            answer.text = "\n\n".join(f"〔{c.heading}〕全文：\n{c.quote}" for c in answer.citations)
        else:  # "第六条的贴息比例": the sentences of that clause (and its neighbours) that answer it
            self.quotes(answer, retrieval, turn.today, self.lead(retrieval))

    def unit(self, answer: Answer, turn: Turn) -> None:
        route, hits = turn.found.route, turn.found.hits
        lines: list[str] = []
        for hit in hits[:MAX_LISTED_CLAUSES]:
            clause = hit.clause
            lo, hi = clause.units_span or (0, len(clause.text))
            answer.citations.append(self.extractive.cite(clause, clause.text[lo:hi], clause.start + lo,
                                                         clause.start + hi))
            lines.append(f"{len(lines) + 1}. 〔{answer.citations[-1].heading}〕")
        role = "共同责任单位" if route.shared else "责任单位"
        if len(hits) > len(lines):
            answer.text = (f"{route.unit}是{len(hits)}条措施的{role}，以下列出前{len(lines)}条"
                           f"（完整列表请在“条款查询”中按责任单位筛选）：\n" + "\n".join(lines))
        else:
            answer.text = f"{route.unit}是以下{int_to_cn(len(lines))}条措施的{role}：\n" + "\n".join(lines)

    def document(self, answer: Answer, turn: Turn) -> None:
        """Each document's facts: title, 文号, issuer, its dated history lines and 施行/印发 words verbatim,
        and whether it is in force; every date is quoted from the clause cited beside it."""
        parts = []
        order = {h.clause.clause_id: i for i, h in enumerate(turn.found.hits)}
        asked_number = any("字号" in m or "文号" in m for m in turn.found.route.matched)
        for doc_id in dict.fromkeys(h.clause.doc_id for h in turn.found.hits):
            doc = self.index.document(doc_id)
            preamble = self.index.by_id.get(f"{doc_id}#0")
            facts = [f"{label}：{value}" for label, value in
                     (("标题", doc.title), ("文号", doc.doc_number), ("发文机关", doc.issuer),
                      ("类型", "、".join(filter(None, (doc.level, doc.doc_type))))) if value]
            if asked_number and not doc.doc_number:  # say so, rather than leave the asked field out
                facts.insert(1, "文号：无（该文件没有发文字号；法律、法规以公布它的令或公告为准，见下方历史）")
            if preamble is not None:
                answer.citations.append(self.extractive.whole_clause(preamble))
                history = [ln.strip() for ln in preamble.text.splitlines() if grammar.FULL_DATE.match(ln.strip())]
                # A line that is only a date is a 公文's signature; longer ones are a law's history lines.
                facts += [f"{'印发日期' if grammar.FULL_DATE.fullmatch(ln) else '历史'}：{ln}" for ln in history]
                facts[-1] += f"〔{answer.citations[-1].heading}〕"
            for kind, (clause, lo, hi) in self.index.dated(doc_id).items():
                answer.citations.append(self.extractive.cite(clause, clause.text[lo:hi], clause.start + lo,
                                                             clause.start + hi))
                facts.append(f"{'施行' if kind == '施行' else '印发日期'}：{clause.text[lo:hi]}"
                             f"〔{answer.citations[-1].heading}〕")
            # No dates here: every figure an answer shows must be quoted from a cited clause.
            standing = versions.relation_text(doc, self.index.documents, turn.today or dt.date.today(), dates=False)
            if standing:
                facts.append(f"效力：{standing}")
            for ref in (r for r in self.index.references if r.doc_number in set(doc.implements) | set(doc.cites)):
                where = "" if ref.in_corpus else "（该文件原文不在本库中）"
                facts.append(f"贯彻落实：《{ref.title}》（{ref.doc_number}）{where}")
            parts.append("\n".join(self._asked_first(facts, turn.found.query.normalized)))
        # The clause that answers what was asked (the 施行 article for "什么时候施行") is cited first.
        answer.citations.sort(key=lambda c: order.get(c.clause_id, len(order)))
        shown = len({c.doc_id for c in (h.clause for h in turn.found.hits)})
        total = turn.found.route.documents_matched
        if total > shown:
            parts.insert(0, f"问题没有指明是哪一份文件。本库有{int_to_cn(total)}份文件，以下是其中{int_to_cn(shown)}份"
                            f"（本地文件在前）的信息；问其他文件时请在问题中写明文件名或文号。")
        answer.text = "\n\n".join(parts)

    def _asked_first(self, facts: list[str], question: str) -> list[str]:
        """A document's facts with the ones the question asks for first (施行 for 什么时候施行, the history
        lines for 哪次会议通过, the 文号 for 文号是多少): the first line answers."""
        cues = self.lexicon.cues
        wanted: tuple[str, ...] = (("施行：",) if cues.effective.search(question)
                                   else ("印发日期：",) if cues.signed.search(question) else ())
        wanted += tuple(label for label, words in DOCUMENT_FACT_WORDS if words.search(question))
        return sorted(facts, key=lambda f: next((i for i, w in enumerate(wanted) if f.startswith(w)), len(wanted)))

    def choose(self, answer: Answer, turn: Turn) -> None:
        """A bare clause number that several documents have: show each one's opening, ask which is meant."""
        route = turn.found.route
        lines: list[str] = []
        for clause in route.clauses[:MAX_LISTED_CLAUSES]:
            citation = self.extractive.opening(clause)
            answer.citations.append(citation)
            lines.append(f"{len(lines) + 1}. 〔{citation.heading}〕“{citation.quote}”")
        ref = route.matched[0] if route.matched else "这一条"
        total = max(route.documents_matched, len(lines))
        listed = "" if total == len(lines) else f"以下是其中{int_to_cn(len(lines))}份（本地文件在前）：\n"
        # The example is a listed document's name, one without digits when there is one (a digit in the
        # answer must be quoted from a clause, and a title's year or number is not).
        names = [self.index.document(c.doc_id).name for c in route.clauses[:MAX_LISTED_CLAUSES]]
        example = next((n for n in reversed(names) if not re.search(r"\d", n)), names[-1])
        answer.clarify = turn.asked
        answer.choices = list(dict.fromkeys((c.heading, f"{name}{ref}") for c, name in zip(answer.citations, names)))
        answer.text = (f"有{int_to_cn(total)}份文件都有{ref}，请问您指的是哪一份？可以在问题里带上文件名，"
                       f"例如“{example}{ref}”。\n{listed}" + "\n".join(lines))

    def missing(self, answer: Answer, turn: Turn) -> None:
        """A named document that is not in the corpus: say so, never answer from other documents."""
        route = turn.found.route
        name = route.missing_document
        if route.missing_is_document:
            self.refusal(answer, turn.found, f"问题所指的文件（{name}）不在本库中",
                         lead=f"本库没有收录{name}的原文，无法按该文件作答。")
        else:
            self.refusal(answer, turn.found, f"本库没有{name}",
                         lead=f"本库没有{name}，无法回答该地区或层级的规定。")

    def followup_who(self, answer: Answer, turn: Turn) -> None:
        clause = turn.followed
        answer.citations = [self.extractive.cite(clause, "、".join(clause.units), clause.start, clause.end)]
        answer.text = f"〔{self.index.heading(clause)}〕的责任单位：{'、'.join(clause.units) or '文件未列出'}。"

    def followup(self, answer: Answer, turn: Turn) -> None:
        clause, query = turn.followed, turn.found.query
        hits = [Hit(clause=clause, score=1.0, route="followup")]
        answer.citations = (self.extractive.select(query.normalized, query.tokens, hits)
                            or [self.extractive.whole_clause(clause)])
        answer.text = quote_text(answer.citations)

    # ------------------------------------------------------------------ shared pieces

    def lead(self, retrieval: Retrieval) -> Lead:
        """The first lines of the answer to ``retrieval``'s question (answer/lead.py), one per level when
        the clauses of several levels each answer it, most local first."""
        asked = retrieval.query.asked
        policy = self.lexicon.refusal
        aspect = self.lexicon.aspect(asked.aspect, asked.label)
        subject = Subject(asked, self.corpus.frequency, len(self.corpus.clauses))
        finder = LeadFinder(asked, aspect, subject, give_floor=policy.give_floor, topic_floor=policy.topic_floor,
                            read=self.read)
        if retrieval.sides:
            return self._side_lead(finder, retrieval)
        hits = retrieval.hits
        passages = finder.passages(hits)
        best = finder.best(passages)
        if best is None and asked.aspect == "definition" and asked.term:
            hits = [*hits, *self._defining(asked.term, retrieval)]
            passages = finder.passages(hits)
            best = finder.best(passages)
        if best is None:
            if not asked.aspect:
                top = finder.topic(passages) or max(passages, key=lambda p: -p.rank, default=None)
                return Lead("answer", [LeadLine(line_for(top, asked), top)] if top else [])
            topic = finder.topic(passages)
            if topic is None:
                return Lead("none", missing=asked.label)
            if asked.aspect == "permission":  # what the text rules on the subject is the answer to 能不能
                return Lead("answer", [LeadLine(line_for(topic, asked), topic)])
            return Lead("partial", [LeadLine(partial_line(topic, asked), topic)], missing=asked.label)
        return self._level_lines(finder, best, hits, passages, retrieval.region)

    def _level_lines(self, finder: LeadFinder, best: Passage, hits: list[Hit], passages: list[Passage],
                     region_name: str) -> Lead:
        """The best passage (and a second one for a question that asks two things), then the best of every
        other level whose clauses answer nearly as well, each line labelled with its level when there are
        several, most local first."""
        asked = finder.asked
        region = Regions.load().find(region_name) if region_name else None
        levels = level_labels(self.index, list(dict.fromkeys(h.clause.clause_id for h in hits)), region)
        chosen = [best]
        extra = finder.complement(best, passages)
        if extra is not None:
            chosen.append(extra)
        for label in sorted({levels[c][1] for c in levels} - {levels[p.clause.clause_id][1] for p in chosen},
                            key=lambda lb: min(o for o, name in levels.values() if name == lb)):
            # Each level's passages ranked among its own clauses, as a comparison's sides are.
            own = [h.clause.clause_id for h in hits if levels[h.clause.clause_id][1] == label]
            other = finder.best([dataclasses.replace(p, rank=own.index(p.clause.clause_id)) for p in passages
                                 if p.clause.clause_id in own])
            if other is not None and other.score >= LEVEL_LINE_SHARE * best.score:
                chosen.append(other)
        chosen.sort(key=lambda p: levels[p.clause.clause_id][0])
        labelled = len({levels[p.clause.clause_id][1] for p in chosen}) > 1
        return Lead("answer", [LeadLine(self._line(p, asked), p, levels[p.clause.clause_id][1] if labelled else "")
                               for p in chosen])

    def _side_lead(self, finder: LeadFinder, retrieval: Retrieval) -> Lead:
        """One line per side of a comparison, each from that side's own clauses: what it gives, what it says
        without giving the asked thing, or that it has nothing on the subject."""
        asked = retrieval.query.asked
        lines, verdicts = [], []
        for side in retrieval.sides:
            passages = finder.passages(side.hits)
            best = finder.best(passages)
            if best is not None:
                lines.append(LeadLine(self._line(best, asked), best, side.label))
                verdicts.append("answer")
                continue
            topic = finder.topic(passages)
            if not asked.aspect:  # what the side's best clause says, as a question asking for nothing specific gets
                topic = topic or next(iter(passages), None)
            if topic is not None and asked.aspect and asked.aspect != "permission":
                lines.append(LeadLine(partial_line(topic, asked), topic, side.label))
                verdicts.append("partial")
            elif topic is not None:
                lines.append(LeadLine(line_for(topic, asked), topic, side.label))
                verdicts.append("answer")
            else:
                lines.append(LeadLine(SIDE_SAYS_NOTHING, None, side.label))
        verdict: Verdict = "answer" if "answer" in verdicts else "partial" if verdicts else "none"
        return Lead(verdict, lines, missing=asked.label)

    def _line(self, passage: Passage, asked) -> str:
        """A passage's first line. Who is responsible: the sentence when it names who does it (县级政府要…,
        由州政府金融办牵头…), and the clause's 责任单位, all of them (whom to ask)."""
        if asked.aspect == "who" and passage.clause.units:
            units = units_line(passage.clause, limit=WHO_UNITS)
            aspect = self.lexicon.aspect(asked.aspect, asked.label)
            acts = aspect is not None and aspect.evidence is not None and aspect.evidence.search(passage.sentence)
            return f"{line_for(passage, asked)}\n{units}" if acts else units
        return line_for(passage, asked)

    def _defining(self, term: str, retrieval: Retrieval) -> list[Hit]:
        """The clauses of the hits' documents that use ``term`` (a definition may stand in a general article
        the search did not rank), after the retrieved ones."""
        allowed = {h.clause.doc_id for h in retrieval.hits}
        seen = {h.clause.clause_id for h in retrieval.hits}
        rows = self.corpus.substrings.rows(term)[:MAX_DEFINING]
        return [Hit(clause=self.index.clauses[r], score=0.0) for r in rows
                if self.index.clauses[r].doc_id in allowed and self.index.clauses[r].clause_id not in seen]

    def quotes(self, answer: Answer, retrieval: Retrieval, today: dt.date | None, lead: Lead) -> None:
        """The lead lines, then the quoted sentences: the lead's own sentences first, in their clauses,
        then the runners-up the extractive composer picks."""
        query = retrieval.query
        picked = self.extractive.select(query.normalized, query.search_tokens, retrieval.hits)
        own = [self.extractive.cite(p.clause, p.clause.text[lo:hi], p.clause.start + lo, p.clause.start + hi)
               for p in lead.passages for lo, hi in p.cited]
        answer.citations = merge_citations(own, picked)
        answer.partial = lead.verdict == "partial"
        answer.checks += verify_lead([ln.text for ln in lead.lines],
                                     [self.read(self.index.by_id[c]).folded
                                      for c in dict.fromkeys(c.clause_id for c in answer.citations)],
                                     [a.label for a in self.lexicon.aspects])
        documents = self.index.documents
        cited = {self.index.by_id[c.clause_id].doc_id for c in answer.citations}
        old = any(d in documents and not versions.in_force(documents[d], documents, today or dt.date.today())
                  for d in cited)
        if retrieval.sides:  # quotes grouped by side, as the first lines are
            side_of = {h.clause.clause_id: (i, side.label) for i, side in reversed(list(enumerate(retrieval.sides)))
                       for h in side.hits}
            levels = {c.clause_id: side_of.get(c.clause_id, (99, "其他")) for c in answer.citations}
        else:
            where = Regions.load().find(retrieval.region) if retrieval.region else None
            levels = level_labels(self.index, list(dict.fromkeys(c.clause_id for c in answer.citations)), where)
        answer.text = quote_text(answer.citations, lead=lead.text(), levels=levels, old=old)

    def refusal(self, answer: Answer, retrieval: Retrieval, reason: str, lead: str = "") -> None:
        """The documents do not answer: say so, point to the hotline, show the nearest clauses."""
        answer.refused = True
        answer.related = retrieval.clause_ids[:3]
        nearest = "；".join(f"〔{self.index.heading(h.clause)}〕" for h in retrieval.hits[:3])
        answer.text = f"{lead or '现有政策文件中没有找到能回答这个问题的规定。'}{HOTLINE_HINT}"
        if nearest:
            answer.text += f"\n\n可能相关：{nearest}"
        answer.notes.append(reason)


OLD_TEXT_LINE = "（以下引用含已不再适用的文本，见文末提示。）"
# A level other than the best one gets its own first line when its best passage scores at least this share.
LEVEL_LINE_SHARE = 0.6
# Clauses whose reading (folded text, sentences) the composer keeps: a large library's hot clauses.
READINGS_KEPT = 4096
# Which of a document's facts a question asks for, by its words (施行 and 印发 by the cues of data/cues.toml).
DOCUMENT_FACT_WORDS = (("文号：", re.compile(r"文号|字号|令第|几号令|第几号")),
                       ("发文机关：", re.compile(r"谁|哪个(?:部门|单位|机关)|发文机关|发文单位|印发单位")),
                       ("历史：", re.compile(r"通过|会议|修订|修正|公布|人大|哪一?届|第几次")),
                       ("标题：", re.compile(r"名称|标题|全称|叫什么")))
# 责任单位 a who-question's first line names (a measure of the seed lists up to eleven).
WHO_UNITS = 12
# A definition is looked for in at most this many clauses that use the term.
MAX_DEFINING = 200


def merge_citations(first: list[Citation], rest: list[Citation]) -> list[Citation]:
    """``first``'s clauses, then ``rest``'s; each clause's sentences once (a quote inside another is
    dropped), in document order."""
    grouped: dict[str, list[Citation]] = {}
    for c in [*first, *rest]:
        cites = grouped.setdefault(c.clause_id, [])
        if not any(o.start <= c.start and c.end <= o.end for o in cites):
            cites[:] = [o for o in cites if not (c.start <= o.start and o.end <= c.end)] + [c]
    return [c for cites in grouped.values() for c in sorted(cites, key=lambda c: c.start)]


def quote_text(citations: list[Citation], lead: str = "", levels: dict[str, tuple[int, str]] | None = None,
               old: bool = False) -> str:
    """The answer's first lines, then the quoted sentences grouped by clause, each clause with its heading
    and lead 责任单位.

    Args:
        lead: the first lines (answer/lead.py); without them the answer opens with the quotes.
        levels: clause id → (order, label) of its document's level (:func:`level_labels`). When the
            clauses come from more than one level, they are grouped under the labels, most local first,
            so figures that differ between levels stand side by side with their own sources.
        old: a quoted text is no longer in force: said before the quotes.
    """
    if not citations:
        return NOT_FOUND + HOTLINE_HINT
    grouped = by_clause(citations)
    levels = levels or {}
    labels = {levels[cid] for cid in grouped if cid in levels}
    order = sorted(grouped, key=lambda cid: levels.get(cid, (99, ""))[0]) if len(labels) > 1 else list(grouped)
    blocks: list[str] = [lead] if lead else []
    if old:
        blocks.append(OLD_TEXT_LINE)
    label = None
    for i, cid in enumerate(order, start=1):
        cites = grouped[cid]
        if len(labels) > 1 and levels.get(cid, (99, "其他"))[1] != label:
            label = levels.get(cid, (99, "其他"))[1]
            blocks.append(f"【{label}】")
        quotes = "".join(c.quote for c in cites)
        prefix = f"{i}. " if len(grouped) > 1 else ""
        units = f"\n{units_text(cites[0].units)}" if cites[0].units else ""
        blocks.append(f"{prefix}“{quotes}”〔{cites[0].heading}〕{units}")
    return "\n\n".join(blocks)


def units_text(units: Sequence[str]) -> str:
    """责任单位 under a quote: the first few (the lead units), the count of the rest (all are on the card)."""
    shown = "、".join(units[:QUOTED_UNITS])
    more = f"等{int_to_cn(len(units))}个单位" if len(units) > QUOTED_UNITS else ""
    return f"责任单位：{shown}{more}"


# 责任单位 named under a quote; a clause may list more than ten, and all of them are on its card.
QUOTED_UNITS = 4


def level_labels(index: Index, clause_ids: list[str], region: Region | None) -> dict[str, tuple[int, str]]:
    """clause id → (order, label) of its document's level for an asker in ``region``: 本地（临夏州）
    first, then the enclosing areas (甘肃省), other areas by name, and 国家 last."""
    regions = Regions.load()
    chain = [r.code for r in regions.chain(region)] if region else []
    out: dict[str, tuple[int, str]] = {}
    for cid in clause_ids:
        doc = index.document(index.by_id[cid].doc_id)
        if doc.level == "国家" or not (doc.region_code or doc.place):
            out[cid] = (90, "国家" if doc.level == "国家" else "其他")
        elif region is not None and doc.region_code in chain:
            depth = chain.index(doc.region_code)
            out[cid] = (depth, f"本地（{region.short_names[1] if len(region.short_names) > 1 else region.name}）"
                        if depth == 0 else doc.place)
        else:
            out[cid] = (50 - locality(doc), doc.place or doc.level)
    return out


@dataclass(frozen=True)
class RouteSpec:
    """How one kind of question is answered."""

    compose: Callable[[Composers, Answer, Turn], None]
    route: RouteKind  # the Answer's route
    llm: bool  # an LLM may rephrase the body (free text); lists, facts and the full clause stay as they are


ROUTES: dict[ComposeKind, RouteSpec] = {
    "search": RouteSpec(Composers.search, "search", llm=True),
    "clause": RouteSpec(Composers.clause, "clause", llm=False),
    "unit": RouteSpec(Composers.unit, "unit", llm=False),
    "document": RouteSpec(Composers.document, "document", llm=False),
    "followup": RouteSpec(Composers.followup, "followup", llm=True),
    "followup_who": RouteSpec(Composers.followup_who, "followup", llm=False),
    "choose": RouteSpec(Composers.choose, "clause", llm=False),
    "missing": RouteSpec(Composers.missing, "search", llm=False),
}
