"""The answer body for each route, picked from one table by the kind of question.

A clause reference gets the clause, a unit question the list of its measures, a document question
the document's facts, a follow-up about "这条" the previous answer's clause, and a search question a
refusal or the quoted sentences. :data:`ROUTES` says, per kind, which composer writes the body and
whether an LLM may rephrase it (free text only: lists, facts and refusals stay deterministic).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from .. import grammar
from ..corpus import versions
from ..lexicon import Lexicon
from ..models import Answer, Citation, Clause, Hit, Retrieval, by_clause
from ..numerals import int_to_cn
from ..regions import Region, Regions
from ..search.documents import locality
from ..search.index import Index
from .compose import ExtractiveComposer
from .grounding import CorpusText, evidence, should_refuse

# A unit answer lists at most this many measures: with a large corpus a department can be responsible
# for thousands, and the lookup tab (or `clauses`) lists them all.
MAX_LISTED_CLAUSES = 30
SERVICE_UNAVAILABLE = "抱歉，条款检索服务暂时不可用，请稍后再试；急需办理可拨打 12345 政务服务便民热线。"
HOTLINE_HINT = "建议向相关责任部门咨询，或拨打 12345 政务服务便民热线。"
EMPTY_QUESTION = "请输入您想了解的政策问题，例如：创业担保贷款最高额度是多少？"
NOT_FOUND = "现有政策文件中没有找到能回答这个问题的条款。"

# What the table is keyed by: the route kinds, and the two kinds of follow-up about a pinned clause.
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

    def kind(self, turn: Turn) -> ComposeKind:
        assert turn.retrieval is not None
        route = turn.retrieval.route
        if route.missing_document:
            return "missing"
        if turn.pinned is not None:
            return "followup_who" if self.lexicon.cues.who.search(turn.retrieval.query.normalized) else "followup"
        if route.ambiguous:
            return "choose"
        return route.kind

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
        retrieval = turn.retrieval
        refuse, reason = should_refuse(evidence(retrieval, self.corpus, self.lexicon), self.lexicon.refusal)
        if refuse:
            self.refusal(answer, retrieval, reason)
        else:
            self.quotes(answer, retrieval.query.normalized, retrieval.query.search_tokens, retrieval.hits, turn.today,
                        retrieval.region)

    def clause(self, answer: Answer, turn: Turn) -> None:
        retrieval = turn.retrieval
        if retrieval.route.whole_clause:
            answer.citations = [self.extractive.whole_clause(h.clause) for h in retrieval.hits if h.route == "clause"]
            answer.text = "\n\n".join(f"〔{c.heading}〕全文：\n{c.quote}" for c in answer.citations)
        else:  # "第六条的贴息比例": the sentences of that clause (and its neighbours) that answer it
            self.quotes(answer, retrieval.query.normalized, retrieval.query.search_tokens, retrieval.hits, turn.today,
                        retrieval.region)

    def unit(self, answer: Answer, turn: Turn) -> None:
        route, hits = turn.retrieval.route, turn.retrieval.hits
        lines = []
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
        order = {h.clause.clause_id: i for i, h in enumerate(turn.retrieval.hits)}
        asked_number = any("字号" in m or "文号" in m for m in turn.retrieval.route.matched)
        for doc_id in dict.fromkeys(h.clause.doc_id for h in turn.retrieval.hits):
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
            parts.append("\n".join(facts))
        # The clause that answers what was asked (the 施行 article for "什么时候施行") is cited first.
        answer.citations.sort(key=lambda c: order.get(c.clause_id, len(order)))
        shown = len({c.doc_id for c in (h.clause for h in turn.retrieval.hits)})
        total = turn.retrieval.route.documents_matched
        if total > shown:
            parts.insert(0, f"问题没有指明是哪一份文件。本库有{int_to_cn(total)}份文件，以下是其中{int_to_cn(shown)}份"
                            f"（本地文件在前）的信息；问其他文件时请在问题中写明文件名或文号。")
        answer.text = "\n\n".join(parts)

    def choose(self, answer: Answer, turn: Turn) -> None:
        """A bare clause number that several documents have: show each one's opening, ask which is meant."""
        route = turn.retrieval.route
        lines = []
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
        answer.text = (f"有{int_to_cn(total)}份文件都有{ref}，请问您指的是哪一份？可以在问题里带上文件名，"
                       f"例如“{example}{ref}”。\n{listed}" + "\n".join(lines))

    def missing(self, answer: Answer, turn: Turn) -> None:
        """A named document that is not in the corpus: say so, never answer from other documents."""
        route = turn.retrieval.route
        name = route.missing_document
        if route.missing_is_document:
            self.refusal(answer, turn.retrieval, f"问题所指的文件（{name}）不在本库中",
                         lead=f"本库没有收录{name}的原文，无法按该文件作答。")
        else:
            self.refusal(answer, turn.retrieval, f"本库没有{name}",
                         lead=f"本库没有{name}，无法回答该地区或层级的规定。")

    def followup_who(self, answer: Answer, turn: Turn) -> None:
        clause = turn.pinned
        answer.citations = [self.extractive.cite(clause, "、".join(clause.units), clause.start, clause.end)]
        answer.text = f"〔{self.index.heading(clause)}〕的责任单位：{'、'.join(clause.units) or '文件未列出'}。"

    def followup(self, answer: Answer, turn: Turn) -> None:
        clause, query = turn.pinned, turn.retrieval.query
        hits = [Hit(clause=clause, score=1.0, route="followup")]
        answer.citations = (self.extractive.select(query.normalized, query.tokens, hits)
                            or [self.extractive.whole_clause(clause)])
        answer.text = quote_text(answer.citations)

    # ------------------------------------------------------------------ shared pieces

    def quotes(self, answer: Answer, asked: str, tokens: tuple[str, ...], hits: list[Hit],
               today: dt.date | None = None, region: str = "") -> None:
        answer.citations = self.extractive.select(asked, tokens, hits)
        documents = self.index.documents
        cited = {self.index.by_id[c.clause_id].doc_id for c in answer.citations}
        old = any(d in documents and not versions.in_force(documents[d], documents, today or dt.date.today())
                  for d in cited)
        where = Regions.load().find(region) if region else None
        levels = level_labels(self.index, list(dict.fromkeys(c.clause_id for c in answer.citations)), where)
        answer.text = quote_text(answer.citations, lead=OLD_TEXT_LEAD if old else CURRENT_LEAD, levels=levels)

    def refusal(self, answer: Answer, retrieval: Retrieval, reason: str, lead: str = "") -> None:
        """The documents do not answer: say so, point to the hotline, show the nearest clauses."""
        answer.refused = True
        answer.related = retrieval.clause_ids[:3]
        nearest = "；".join(f"〔{self.index.heading(h.clause)}〕" for h in retrieval.hits[:3])
        answer.text = f"{lead or '现有政策文件中没有找到能回答这个问题的规定。'}{HOTLINE_HINT}"
        if nearest:
            answer.text += f"\n\n可能相关：{nearest}"
        answer.notes.append(reason)


CURRENT_LEAD = "根据现行政策文件："
OLD_TEXT_LEAD = "根据所查文件（含已不再适用的文本，见文末提示）："


def quote_text(citations: list[Citation], lead: str = CURRENT_LEAD,
               levels: dict[str, tuple[int, str]] | None = None) -> str:
    """Quoted sentences grouped by clause, each clause with its heading and 责任单位.

    Args:
        levels: clause id → (order, label) of its document's level (:func:`level_labels`). When the
            clauses come from more than one level, they are grouped under the labels, most local first,
            so figures that differ between levels stand side by side with their own sources.
    """
    if not citations:
        return NOT_FOUND + HOTLINE_HINT
    grouped = by_clause(citations)
    levels = levels or {}
    labels = {levels[cid] for cid in grouped if cid in levels}
    order = sorted(grouped, key=lambda cid: levels.get(cid, (99, ""))[0]) if len(labels) > 1 else list(grouped)
    blocks: list[str] = []
    label = None
    for i, cid in enumerate(order, start=1):
        cites = grouped[cid]
        if len(labels) > 1 and levels.get(cid, (99, "其他"))[1] != label:
            label = levels.get(cid, (99, "其他"))[1]
            blocks.append(f"【{label}】")
        quotes = "".join(c.quote for c in cites)
        prefix = f"{i}. " if len(grouped) > 1 else ""
        units = f"\n责任单位：{'、'.join(cites[0].units)}" if cites[0].units else ""
        blocks.append(f"{prefix}“{quotes}”〔{cites[0].heading}〕{units}")
    return f"{lead}\n\n" + "\n\n".join(blocks)


def level_labels(index: Index, clause_ids: list[str], region: Region | None) -> dict[str, tuple[int, str]]:
    """clause id → (order, label) of its document's level for an asker in ``region``: 本地（临夏州）
    first, then the enclosing areas (甘肃省), other areas by name, and 国家 last."""
    regions = Regions.load()
    chain = [r.code for r in regions.chain(region)] if region else []
    out: dict[str, tuple[int, str]] = {}
    for cid in clause_ids:
        doc = index.document(index.by_id[cid].doc_id)
        if doc.level == "国家" or not (doc.region or doc.place):
            out[cid] = (90, "国家" if doc.level == "国家" else "其他")
        elif doc.region in chain:
            depth = chain.index(doc.region)
            out[cid] = (depth, f"本地（{region.short_names[1] if len(region.short_names) > 1 else region.name}）"
                        if depth == 0 else doc.place)
        else:
            out[cid] = (50 - locality(doc), doc.place or doc.level)
    return out


@dataclass(frozen=True)
class RouteSpec:
    """How one kind of question is answered."""

    compose: Callable[[Composers, Answer, Turn], None]
    route: Literal["search", "clause", "unit", "document", "followup"]  # the Answer's route
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
