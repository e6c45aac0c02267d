"""The answering entry point: ``Assistant.ask(question, history) -> Answer``.

retrieve (route + hybrid search) → decide refusal → compose (extractive, or an LLM when configured)
→ verify → notes. :meth:`Assistant.stream` yields the text as it is produced; the pipeline is also
exposed as a LangChain runnable chain (:meth:`Assistant.as_chain`).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from typing import Generator, Iterator, Sequence

from .. import grammar
from ..config import Settings
from ..errors import EmptyQueryError
from ..models import Answer, Citation, Clause, Hit, Retrieval, by_clause
from ..numerals import int_to_cn
from ..search.encoders import get_encoder
from ..search.index import Index, open_index
from ..search.retrieve import PolicyRetriever
from ..search.text import clean_text, normalize, tokenize
from ..search.vectorstore import ChromaUnavailableError
from .compose import ExtractiveComposer
from .grounding import (
    PROMPT_LEAK_CHARS,
    CorpusText,
    RefusalPolicy,
    evidence,
    prompt_leak,
    should_refuse,
    verify,
)
from .llm import LLMComposer, chat_model

MAX_QUESTION_CHARS = 2000
# A unit answer lists at most this many measures: with a large corpus a department can be responsible
# for thousands, and the lookup tab (or `clauses`) lists them all.
MAX_LISTED_CLAUSES = 30
SERVICE_UNAVAILABLE = "抱歉，条款检索服务暂时不可用，请稍后再试；急需办理可拨打 12345 政务服务便民热线。"
LLM_REJECTED_NOTE = "大模型生成的回答未能通过条款核验，已改为直接引用条款原文。"
HOTLINE_HINT = "建议向相关责任部门咨询，或拨打 12345 政务服务便民热线。"

_WHO = re.compile(r"谁负责|谁管|哪个部门|哪个单位|责任单位|找谁|牵头")
_PRONOUN = re.compile(r"这条|该条|这项|此条|这个措施|这个政策|该政策|该措施|上一条|刚才|上面|它")
_FOLLOW_START = re.compile(r"^(?:那|那么|还有|另外|再问|还)")


@dataclass
class _Turn:
    """What the composer needs from the retrieval stage, passed along the chain."""

    question: str
    asked: str
    retrieval: Retrieval | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    started: float = 0.0
    pinned: Clause | None = None  # a follow-up about "这条": the previous answer's clause
    error: str = ""  # the search failed (vector store unreachable after retries): answer with this message


class Assistant:
    """Answers questions from the clause index, always with the clauses it relied on."""

    def __init__(self, settings: Settings, index: Index | None = None, *, today: dt.date | None = None,
                 llm=None):
        """``llm``: a LangChain chat model to compose with (default: the one ``settings.llm`` names, if any)."""
        self.settings = settings
        self.index = index or open_index(settings)
        encoder = get_encoder(settings.encoder, settings.allow_model_download)
        self.retriever = PolicyRetriever.create(self.index, encoder, settings.dense_weight, settings.top_k)
        self.composer = ExtractiveComposer(self.index)
        self.policy = RefusalPolicy.load()
        self.today = today
        self._corpus = CorpusText.of(c.text for c in self.index.clauses)
        self.llm: LLMComposer | None = None
        if llm is not None or settings.llm:
            model = llm if llm is not None else chat_model(settings)
            name = f"llm:{settings.llm or 'custom'}"
            self.llm = LLMComposer(model, name, self.composer, settings.llm_clauses)

    # ------------------------------------------------------------------ public

    def ask(self, question: str, history: Sequence[Answer] | None = None, *, today: dt.date | None = None) -> Answer:
        """Answer ``question``; ``history`` holds the previous answers of this conversation (oldest first).

        Never raises for bad input: an empty question gets a polite prompt, a long one is truncated.
        """
        for event in self.stream(question, history, today=today):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream() always ends with an Answer")

    def stream(self, question: str, history: Sequence[Answer] | None = None, *,
               today: dt.date | None = None) -> Iterator[str | Answer]:
        """Yield pieces of the answer text as they are produced, then the final :class:`Answer`.

        The pieces are provisional: when an LLM answer fails verification, the final Answer carries the
        extractive answer instead (with a note), and its ``text`` is what should be shown.
        """
        turn = self._prepare(question, history)
        shown: list[str] = []
        generation = self._generate(turn)
        while True:
            try:
                piece = next(generation)
            except StopIteration as done:
                answer = done.value
                break
            shown.append(piece)
            yield piece
        answer = self._finish(turn, answer, today or self.today or dt.date.today())
        streamed = "".join(shown)
        if answer.text.startswith(streamed) and len(answer.text) > len(streamed):
            yield answer.text[len(streamed):]  # related clauses and notes, or the whole extractive answer
        yield answer

    def as_chain(self):
        """The same pipeline as a LangChain runnable: ``{"question", "history"?} → Answer``."""
        from langchain_core.runnables import RunnableLambda

        def compose(turn: _Turn) -> tuple[_Turn, Answer]:
            generation = self._generate(turn)
            while True:
                try:
                    next(generation)
                except StopIteration as done:
                    return turn, done.value

        return (RunnableLambda(lambda x: self._prepare(x["question"], x.get("history")), name="retrieve")
                | RunnableLambda(compose, name="compose")
                | RunnableLambda(lambda pair: self._finish(*pair, self.today or dt.date.today()), name="verify"))

    # ------------------------------------------------------------------ stages

    def _prepare(self, question: str, history: Sequence[Answer] | None) -> _Turn:
        started = time.perf_counter()
        question = clean_text(question or "")  # no lone surrogates: answers are encoded as UTF-8 later
        turn = _Turn(question=question, asked=question.strip(), started=started)
        if not turn.asked:
            return turn
        if len(turn.asked) > MAX_QUESTION_CHARS:
            turn.asked = turn.asked[:MAX_QUESTION_CHARS]
            turn.notes.append(f"问题超过 {MAX_QUESTION_CHARS} 字，只按前 {MAX_QUESTION_CHARS} 字作答。")
        turn.asked, turn.pinned = self._resolve_followup(turn.asked, history)
        t = time.perf_counter()
        try:
            turn.retrieval = self.retriever.retrieve(turn.asked)
        except EmptyQueryError:
            turn.retrieval = None
        except ChromaUnavailableError as exc:  # retried with backoff already: say so instead of failing
            turn.retrieval, turn.error = None, str(exc)
        turn.timings["retrieve"] = (time.perf_counter() - t) * 1000
        return turn

    def _resolve_followup(self, question: str, history: Sequence[Answer] | None) -> tuple[str, Clause | None]:
        """Rewrite a follow-up ("那担保费呢？", "这条谁负责？") using the previous turn."""
        previous = next((a for a in reversed(history or []) if a.citations or a.retrieved), None)
        if previous is None:
            return question, None
        q = normalize(question)
        prev_clause_id = previous.citations[0].clause_id if previous.citations else previous.retrieved[0]
        prev_clause = self.index.by_id.get(prev_clause_id)
        if prev_clause is not None and _PRONOUN.search(q):
            return question, prev_clause
        if prev_clause is not None and _WHO.search(q) and len(q) <= 12:
            return question, prev_clause
        content = [t for t in tokenize(_FOLLOW_START.sub("", q)) if t in self.index.bm25.known([t])]
        if not content and (_FOLLOW_START.match(q) or len(q) <= 12):
            # Nothing to search on its own ("具体多少？"): carry the previous question's topic.
            # The previous question may be a pasted document: carry only what was answered of it.
            return f"{previous.question[:MAX_QUESTION_CHARS]} {question}", None
        return question, None

    def _compose(self, turn: _Turn) -> Answer:
        if turn.error:
            return Answer(question=turn.question, text=f"{SERVICE_UNAVAILABLE}（{turn.error}）", refused=True,
                          route="error", checks=[turn.error])
        if turn.retrieval is None:
            return Answer(question=turn.question, text="请输入您想了解的政策问题，例如：创业担保贷款最高额度是多少？",
                          refused=True, route="empty")
        t = time.perf_counter()
        retrieval = turn.retrieval
        route = retrieval.route.kind
        answer = Answer(question=turn.question, text="", retrieved=retrieval.clause_ids, route=route)
        if turn.pinned is not None:
            answer.route = "followup"
            answer.retrieved = [turn.pinned.clause_id] + [c for c in answer.retrieved if c != turn.pinned.clause_id]
            self._compose_pinned(answer, turn)
        elif route == "unit":
            self._compose_unit(answer, retrieval)
        elif route == "document":
            self._compose_document(answer, retrieval)
        elif route == "clause" and retrieval.route.whole_clause:
            answer.citations = [self.composer.whole_clause(h.clause) for h in retrieval.hits if h.route == "clause"]
            answer.text = "\n\n".join(f"〔{c.heading}〕全文：\n{c.quote}" for c in answer.citations)
        else:
            refuse, reason = (False, "")
            if route == "search":
                refuse, reason = should_refuse(evidence(retrieval, self._corpus), self.policy)
            if refuse:
                self._compose_refusal(answer, retrieval, reason)
            else:
                answer.citations = self.composer.select(retrieval.query.normalized, retrieval.query.search_tokens,
                                                        retrieval.hits)
                answer.text = self._quote_text(answer.citations)
        turn.timings["compose"] = (time.perf_counter() - t) * 1000
        return answer

    def _generate(self, turn: _Turn) -> Generator[str, None, Answer]:
        """Compose the answer body; an LLM's text is yielded as it streams. Returns the body Answer."""
        answer = self._compose(turn)
        if self.llm is not None and self._llm_applies(turn, answer):
            t = time.perf_counter()
            answer = yield from self._compose_llm(turn, answer)
            turn.timings["llm"] = (time.perf_counter() - t) * 1000
        return answer

    def _decorate(self, answer: Answer, turn: _Turn, today: dt.date) -> None:
        """Append related clauses and notes (validity, truncation, refusal reason) to the checked body."""
        if not answer.refused and turn.retrieval is not None:
            cited = {c.clause_id for c in answer.citations}
            answer.related = [h.clause.clause_id for h in turn.retrieval.hits if h.clause.clause_id not in cited][:3]
            if answer.related and answer.route != "unit":
                answer.text += "\n\n相关条款：" + "；".join(
                    f"〔{self.index.heading(self.index.by_id[cid])}〕"
                    for cid in answer.related)
        answer.notes = turn.notes + answer.notes + self._validity_notes(answer.citations, today)
        if answer.notes:
            answer.text += "\n\n" + "\n".join(f"提示：{n}" for n in answer.notes)

    # ------------------------------------------------------------------ LLM composition

    def _llm_applies(self, turn: _Turn, answer: Answer) -> bool:
        """Free-text answers only: lists (units, clauses, document facts) and refusals stay deterministic."""
        if answer.refused or not answer.citations:
            return False
        return answer.route == "search" or (answer.route == "followup" and not _WHO.search(normalize(turn.asked)))

    def _compose_llm(self, turn: _Turn, extractive: Answer) -> Generator[str, None, Answer]:
        """Stream the LLM's answer; verify it; fall back to ``extractive`` (with a note) when it fails."""
        clauses = [self.index.by_id[cid] for cid in extractive.retrieved if cid in self.index.by_id]
        numbered = self.llm.number(clauses)
        pieces: list[str] = []
        leak = ""
        try:
            for piece in self.llm.stream(turn.asked, numbered):
                pieces.append(piece)
                # Stop showing a reply that starts repeating the system prompt (checked on the recent tail).
                leak = prompt_leak("".join(pieces)[-(len(piece) + 4 * PROMPT_LEAK_CHARS):], self.llm.prompt.system)
                if leak:
                    break
                yield piece
        except Exception as exc:  # any provider failure (network, auth, timeout) must not lose the answer
            extractive.notes.append(f"大模型服务暂时不可用（{type(exc).__name__}），以下为条款原文摘录。")
            return extractive
        text = "".join(pieces).strip()
        leak = leak or prompt_leak(text, self.llm.prompt.system)
        if leak:
            extractive.checks.append(f"回答包含系统提示的原文（“{leak[:PROMPT_LEAK_CHARS]}…”）")
            extractive.notes.append(LLM_REJECTED_NOTE)
            return extractive
        if text and "没有找到相关规定" in text and not grammar.MARKER.search(text):
            assert turn.retrieval is not None  # only search/follow-up answers reach the LLM
            refusal = Answer(question=turn.question, text="", retrieved=extractive.retrieved, route=extractive.route,
                             composer=self.llm.name)
            self._compose_refusal(refusal, turn.retrieval, "大模型判断检索到的条款不能回答这个问题")
            return refusal
        result = verify(text, numbered, markers_required=True)
        if not text or not result.ok:
            extractive.checks += ["回答为空"] if not text else list(result.problems)
            extractive.notes.append(LLM_REJECTED_NOTE)
            return extractive
        citations = self.llm.citations(text, numbered)
        # Who is responsible is part of every answer; add it when the model left it out.
        units = list(dict.fromkeys(u for c in citations for u in c.units))
        if units and not any(u in text for u in units):
            addition = f"\n\n责任单位：{'、'.join(units)}"
            text += addition
            yield addition
        used = {n: numbered[n].clause_id for n in sorted(set(grammar.markers(text)))}
        return Answer(question=turn.question, text=text, citations=citations, retrieved=extractive.retrieved,
                      route=extractive.route, composer=self.llm.name, markers=used)

    def _finish(self, turn: _Turn, answer: Answer, today: dt.date) -> Answer:
        """Verify the body against its citations, then add related clauses and notes, and the timings."""
        t = time.perf_counter()
        if answer.citations:
            cited: dict[int, Clause] | list[Clause] = (
                {n: self.index.by_id[cid] for n, cid in answer.markers.items()} if answer.markers
                else list({c.clause_id: self.index.by_id[c.clause_id] for c in answer.citations}.values()))
            result = verify(answer.text, cited)
            answer.checks += list(result.problems)  # extractive text quotes verbatim: a problem here is a bug
        self._decorate(answer, turn, today)
        turn.timings["verify"] = (time.perf_counter() - t) * 1000
        answer.timings = {k: round(v, 2) for k, v in turn.timings.items()}
        answer.timings["total"] = round((time.perf_counter() - turn.started) * 1000, 2)
        return answer

    # ------------------------------------------------------------------ composers per route

    def _quote_text(self, citations: list[Citation]) -> str:
        if not citations:
            return "现有政策文件中没有找到能回答这个问题的条款。" + HOTLINE_HINT
        blocks: list[str] = []
        grouped = by_clause(citations)
        for i, cites in enumerate(grouped.values(), start=1):
            quotes = "".join(c.quote for c in cites)
            prefix = f"{i}. " if len(grouped) > 1 else ""
            units = f"\n责任单位：{'、'.join(cites[0].units)}" if cites[0].units else ""
            blocks.append(f"{prefix}“{quotes}”〔{cites[0].heading}〕{units}")
        return "根据现行政策文件：\n\n" + "\n\n".join(blocks)

    def _compose_unit(self, answer: Answer, retrieval: Retrieval) -> None:
        unit = retrieval.route.unit
        lines = []
        for hit in retrieval.hits[:MAX_LISTED_CLAUSES]:
            clause = hit.clause
            lo, hi = clause.units_span or (0, len(clause.text))
            answer.citations.append(self.composer.cite(clause, clause.text[lo:hi], clause.start + lo, clause.start + hi))
            lines.append(f"{len(lines) + 1}. 〔{answer.citations[-1].heading}〕")
        role = "共同责任单位" if retrieval.route.shared else "责任单位"
        total = len(retrieval.hits)
        if total > len(lines):
            answer.text = (f"{unit}是{total}条措施的{role}，以下列出前{len(lines)}条"
                           f"（完整列表请在“条款查询”中按责任单位筛选）：\n" + "\n".join(lines))
        else:
            answer.text = f"{unit}是以下{int_to_cn(len(lines))}条措施的{role}：\n" + "\n".join(lines)

    def _compose_document(self, answer: Answer, retrieval: Retrieval) -> None:
        parts = []
        for hit in retrieval.hits:
            clause = hit.clause
            doc = self.index.document(clause.doc_id)
            facts = []
            for label, value in (("标题", doc.title), ("文号", doc.doc_number), ("发文机关", doc.issuer)):
                if value:
                    facts.append(f"{label}：{value}")
            date_text = grammar.FULL_DATE.search(clause.text)
            if date_text:
                facts.append(f"印发日期：{date_text.group(0)}")
            refs = [r for r in self.index.references if r.doc_number in set(doc.implements) | set(doc.cites)]
            for ref in refs:
                where = "" if ref.in_corpus else "（该文件原文不在本库中）"
                facts.append(f"贯彻落实：《{ref.title}》（{ref.doc_number}）{where}")
            answer.citations.append(self.composer.whole_clause(clause))
            parts.append("\n".join(facts) + f"\n〔{answer.citations[-1].heading}〕")
        answer.text = "\n\n".join(parts)

    def _compose_pinned(self, answer: Answer, turn: _Turn) -> None:
        clause = turn.pinned
        if _WHO.search(normalize(turn.asked)):
            answer.citations = [self.composer.cite(clause, "、".join(clause.units), clause.start, clause.end)]
            answer.text = (f"〔{self.index.heading(clause)}〕的责任单位："
                           f"{'、'.join(clause.units) or '文件未列出'}。")
            return
        hits = [Hit(clause=clause, score=1.0, route="followup")]
        query = turn.retrieval.query
        answer.citations = self.composer.select(query.normalized, query.tokens, hits) or [self.composer.whole_clause(clause)]
        answer.text = self._quote_text(answer.citations)

    def _compose_refusal(self, answer: Answer, retrieval: Retrieval, reason: str) -> None:
        answer.refused = True
        answer.related = retrieval.clause_ids[:3]
        nearest = "；".join(f"〔{self.index.heading(h.clause)}〕" for h in retrieval.hits[:3])
        answer.text = f"现有政策文件中没有找到能回答这个问题的规定。{HOTLINE_HINT}"
        if nearest:
            answer.text += f"\n\n可能相关：{nearest}"
        answer.notes.append(reason)

    def _validity_notes(self, citations: list[Citation], today: dt.date) -> list[str]:
        notes = []
        for clause_id in dict.fromkeys(c.clause_id for c in citations):
            clause = self.index.by_id[clause_id]
            expired = [d for d in clause.deadlines if dt.date.fromisoformat(d.date) < today]
            if expired:
                units = "、".join(clause.units[:3]) or "发文机关"
                notes.append(f"〔{self.index.heading(clause)}〕是有期限的措施"
                             f"（期限：{'、'.join(d.text for d in expired)}），该期限已过，"
                             f"是否仍在执行请向责任单位（{units}等）确认。")
        return notes
