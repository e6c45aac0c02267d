"""The answering entry point: ``Assistant.ask(question, history) -> Answer``.

retrieve (route + hybrid search) → compose the body for the route (``routes.ROUTES``: refusal or
quotes, a unit's measures, a document's facts …; rephrased by an LLM when configured and allowed)
→ verify → related clauses and notes. :meth:`Assistant.stream` yields the text as it is produced; the
pipeline is also exposed as a LangChain runnable chain (:meth:`Assistant.as_chain`).

:meth:`Assistant.from_settings` is the one place that loads the parts (index, encoder, lexicon, chat
model) from settings; everything else receives them.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import cached_property
from typing import Literal

from .. import grammar
from ..config import Settings
from ..errors import ChromaUnavailableError, EmptyQueryError
from ..lexicon import Lexicon
from ..models import Answer, Clause, Delta, Final, Hit, StreamEvent
from ..numerals import int_to_cn
from ..regions import ANYWHERE, DEPLOYMENT, Region, Regions, Where
from ..search.build import open_index
from ..search.encoders import Encoder, get_encoders
from ..search.index import Index
from ..search.retrieve import PolicyRetriever
from ..search.text import clean_text, normalize, tokenize, words
from .compose import ExtractiveComposer
from .grounding import PROMPT_LEAK_CHARS, verify
from .llm import LLMComposer, chat_model
from .match import CHAT_LISTED, MatchResult, MeasureIndex, match_text
from .profile import Profile, ProfileOptions
from .routes import MAX_LISTED_CLAUSES, SERVICE_UNAVAILABLE, Composers, Turn
from .validity import validity_notes

__all__ = ["Assistant", "MAX_LISTED_CLAUSES", "MAX_QUESTION_CHARS", "SERVICE_UNAVAILABLE"]

MAX_QUESTION_CHARS = 2000
# A question that names a clause itself (第十九条, （六）) is not a reply to "which document?".
CLAUSE_REFERENCE = re.compile(r"第\s*[(（]?[零〇一二两三四五六七八九十百千\d]+[)）]?\s*[条项款]|[(（][一二三四五六七八九十]+[)）]")
NO_REGION_NOTE = "没有选择所在地区，以下包括各地区的地方文件；选择所在地区可只看适用于当地的措施。"
# A profile naming no kind (no type, industry or situation) can only be offered what is for SMEs at large.
NO_KIND_NOTE = "还不知道您的主体类型、行业或经营情况，以下都是面向中小微企业普遍适用的措施；补充这些情况可找到写明适用于您的措施。"
# How many clauses a self-description question's own words rank, to order its matched measures.
MATCH_RANKED = 60
NOTES_CACHED = 50_000  # matched measures' validity notes kept (clause and day)
# The vector server did not answer: the clauses come from keyword search alone (search/retrieve.py).
KEYWORDS_ONLY_NOTE = "语义检索服务暂时无法访问，本次只按关键词检索，可能漏掉说法不同的条款，请稍后再问一次。"
LLM_REJECTED_NOTE = "大模型生成的回答未能通过条款核验，已改为直接引用条款原文。"
# ``compose="extractive"`` answers without the LLM even when one is configured (cheap replays of earlier
# turns, evaluation of the extractive pipeline).
ComposeMode = Literal["auto", "extractive"]


class Assistant:
    """Answers questions from the clause index, always with the clauses it relied on."""

    def __init__(self, settings: Settings, index: Index, encoder: Encoder | Sequence[Encoder], lexicon: Lexicon, *,
                 chat=None, today: dt.date | None = None):
        """Wire the stages over loaded parts; :meth:`from_settings` loads them.

        Args:
            chat: a LangChain chat model to compose free-text answers with (None: extractive only).
            today: the date validity notes are judged against (default: the day of each answer).
        """
        self.settings = settings
        self.index = index
        self.encoders = [encoder] if not isinstance(encoder, Sequence) else list(encoder)  # one per dense channel
        self.encoder = self.encoders[0]
        self.lexicon = lexicon
        self.today = today
        self.retriever = PolicyRetriever.create(index, encoder, lexicon, settings.dense_weight, settings.top_k,
                                                settings.local_boost, settings.region_boost,
                                                settings.weights_of_channels([e.id for e in self.encoders]),
                                                settings.kind_bonuses())
        # The profile form's choices and everyday words (profile.toml, a deployment's own in lexicon_dir).
        self.profile_options = ProfileOptions.load(settings.lexicon_dir)
        self.extractive = ExtractiveComposer(index, lexicon.cues)
        self.routes = Composers(index, self.extractive, lexicon)
        self._notes_by_day: dict[tuple[str, dt.date], tuple[str, ...]] = {}
        self.llm: LLMComposer | None = None
        if chat is not None:
            self.llm = LLMComposer(chat, f"llm:{settings.llm or 'custom'}", self.extractive, lexicon.prompt,
                                   settings.llm_clauses)

    @classmethod
    def from_settings(cls, settings: Settings, *, index: Index | None = None, lexicon: Lexicon | None = None,
                      llm=None, today: dt.date | None = None) -> "Assistant":
        """The assistant ``settings`` describe: the index (opened, built when stale and allowed), the
        encoder, the lexicon read afresh from its files, and the chat model ``settings.llm`` names.

        Args:
            index, lexicon: already loaded parts to use instead.
            llm: a chat model to use instead of the one the settings name.

        Raises:
            PolicyError: the index, the encoder, the lexicon or the chat model cannot be loaded.
        """
        index = index if index is not None else open_index(settings)
        encoder = get_encoders(settings.encoder, settings.allow_model_download)
        chat = llm if llm is not None else (chat_model(settings) if settings.llm else None)
        return cls(settings, index, encoder, lexicon or Lexicon.load(settings.lexicon_dir), chat=chat, today=today)

    # ------------------------------------------------------------------ public

    @cached_property
    def measures(self) -> MeasureIndex:
        """The index's measures by kind, for policy matching."""
        return MeasureIndex(self.index)

    def warm(self) -> None:
        """Load at start what the first question would otherwise wait for (~2 s on a library of laws):
        jieba's dictionary, the index's lookups and vectors, the ranking priors, and the encoder's first
        call."""
        self.index.warm()
        words(tokenize("预热注册资本")[0])
        self.retriever.warm(self.settings.region)
        _ = self.measures
        self.ask("创业担保贷款")

    def ask(self, question: str, history: Sequence[Answer] | None = None, *, today: dt.date | None = None,
            compose: ComposeMode = "auto", region: Where | str | None = None) -> Answer:
        """Answer ``question``; ``history`` holds the previous answers of this conversation (oldest first).

        Never raises for bad input: an empty question gets a polite prompt, a long one is truncated.
        """
        for event in self.stream(question, history, today=today, compose=compose, region=region):
            if isinstance(event, Final):
                return event.answer
        raise AssertionError("stream() always ends with a Final event")

    def stream(self, question: str, history: Sequence[Answer] | None = None, *,
               today: dt.date | None = None, compose: ComposeMode = "auto",
               region: Where | str | None = None) -> Iterator[StreamEvent]:
        """Yield :class:`Delta` pieces of the answer text as they are produced, then one :class:`Final`.

        The deltas are provisional: when an LLM answer fails verification, the Final answer carries the
        extractive answer instead (with a note), and its ``text`` is what should be shown.
        """
        today = today or self.today or dt.date.today()
        turn = self._prepare(question, history, today, Where.parse(region))
        shown: list[str] = []
        body: Answer | None = None
        for event in self._generate(turn, use_llm=compose == "auto"):
            if isinstance(event, Final):
                body = event.answer
            else:
                shown.append(event.text)
                yield event
        assert body is not None, "_generate ends with the answer's body"
        answer = self._finish(turn, body, today)
        streamed = "".join(shown)
        if answer.text.startswith(streamed) and len(answer.text) > len(streamed):
            yield Delta(answer.text[len(streamed):])  # related clauses and notes, or the whole extractive answer
        yield Final(answer)

    def match(self, profile: Profile, *, today: dt.date | None = None, question: str = "") -> MatchResult:
        """The measures ``profile`` can use (docs/matching.md), from the documents in force that apply in
        its region (else the deployment's; 全国: every document): 明确适用 first, then 可能适用, the most
        local first.

        Args:
            question: the asker's own words, when the profile was read from them: a level, place or
                document they name narrows the documents ("国家有什么支持"), and the measures closest to
                the words come first in each group.
        """
        profile = self.profile_options.with_kinds(profile)  # the kinds by this deployment's choices
        today = today or self.today or dt.date.today()
        notes: list[str] = []
        region = self._region(Where.parse(profile.region), None, notes)
        scopes = self.retriever.scopes
        if region is None and any(d.region_code for d in self.index.documents.values()):
            notes.append(NO_REGION_NOTE)  # an owner in 临夏 must not take 浙江's rules for theirs
        if not profile.kinds:
            notes.append(NO_KIND_NOTE)
        where = scopes.find("", today, region)
        if where.missing:  # no document applies there (浙江省 in a library of 临夏州's rules)
            return MatchResult(profile, [], region.name if region else "", 0, [*notes, f"本库中没有{where.missing}。"])
        asked = scopes.find(normalize(question), today, region) if question else None
        doc_ids = asked.doc_ids if asked is not None and asked.doc_ids and not asked.missing else where.doc_ids
        ranking: dict[str, int] = {}
        if question:
            hits = self.retriever.retrieve(question, MATCH_RANKED, today=today, region=region).hits
            ranking = {h.clause.clause_id: i for i, h in enumerate(hits)}
        measures = self.measures.match(profile, doc_ids, ranking=ranking,
                                       notes_of=lambda clause: self._match_notes(clause.clause_id, today))
        return MatchResult(profile, measures, region.name if region else "",
                           len(doc_ids) if doc_ids is not None else len(self.index.documents), notes, list(ranking))

    def _match_notes(self, clause_id: str, today: dt.date) -> tuple[str, ...]:
        """A matched measure's validity notes, made once per clause and day (a profile open to all SMEs offers
        hundreds of laws' articles, each checked against its document's dates)."""
        key = (clause_id, today)
        notes = self._notes_by_day.get(key)
        if notes is None:
            if len(self._notes_by_day) >= NOTES_CACHED:
                self._notes_by_day.clear()
            notes = self._notes_by_day[key] = tuple(validity_notes(self.index, [clause_id], today))
        return notes

    def search(self, query: str, k: int | None = None) -> list[Hit]:
        """Ranked clauses for keywords or a question, without routing or glossary (``search``, /search). Like
        a question, a query is read up to :data:`MAX_QUESTION_CHARS` characters (a pasted book would cost
        the server seconds and gigabytes for nothing).

        Raises:
            EmptyQueryError: the query is empty.
            ChromaUnavailableError: the Chroma server still fails after retries.
        """
        return self.retriever.searcher.search(clean_text(query or "")[:MAX_QUESTION_CHARS], k or self.settings.top_k)

    def as_chain(self):
        """The same pipeline as a LangChain runnable: ``{"question", "history"?} → Answer``."""
        from langchain_core.runnables import RunnableLambda

        def compose(turn: Turn) -> tuple[Turn, Answer]:
            return turn, next(e.answer for e in self._generate(turn, use_llm=True) if isinstance(e, Final))

        return (RunnableLambda(lambda x: self._prepare(x["question"], x.get("history"), self.today or dt.date.today()),
                               name="retrieve")
                | RunnableLambda(compose, name="compose")
                | RunnableLambda(lambda pair: self._finish(*pair, self.today or dt.date.today()), name="verify"))

    # ------------------------------------------------------------------ stages

    def _region(self, where: Where, history: Sequence[Answer] | None, notes: list[str]) -> Region | None:
        """The asker's area: as given for this question, else as the conversation last settled it, else
        the deployment's (POLICY_REGION); None for anywhere."""
        name = self._area_name(where, history)
        if not (name or "").strip():
            return None
        found = Regions.load().find(name)
        if found is None:
            notes.append(f"未识别地区“{name}”，以下按全部地区的文件作答。")
        return found

    def _area_name(self, where: Where, history: Sequence[Answer] | None) -> str:
        """The asker's area as named: for this question, else as the conversation last settled it, else
        the deployment's (POLICY_REGION); "" for anywhere."""
        if not where.deployment:
            return where.name
        return next((a.region for a in reversed(history or []) if a.region), Where.parse(self.settings.region).name)

    def _prepare(self, question: str, history: Sequence[Answer] | None, today: dt.date,
                 where: Where = DEPLOYMENT) -> Turn:
        started = time.perf_counter()
        question = clean_text(question or "")  # no lone surrogates: answers are encoded as UTF-8 later
        turn = Turn(question=question, asked=question.strip(), started=started, today=today)
        if not turn.asked:
            return turn
        if len(turn.asked) > MAX_QUESTION_CHARS:
            turn.asked = turn.asked[:MAX_QUESTION_CHARS]
            turn.notes.append(f"问题超过 {MAX_QUESTION_CHARS} 字，只按前 {MAX_QUESTION_CHARS} 字作答。")
        turn.asked, turn.pinned = self._resolve_followup(turn.asked, history)
        if turn.pinned is not None:
            turn.notes += self._which_clause(turn.pinned, history)
        t = time.perf_counter()
        profile = self.profile_options.read(turn.asked)
        if profile is not None:  # "我是开饭馆的个体户，能享受哪些政策": the measures for them, not a search
            # Where the asker is: a place the question names, else as for any question; nowhere is anywhere.
            place = max((r for _, r in Regions.load().mentioned(turn.asked)), key=lambda r: len(r.code), default=None)
            given = place.name if place else self._area_name(where, history) or str(ANYWHERE)
            turn.match = self.match(replace(profile, region=given), today=today, question=turn.asked)  # its notes are in its text
            turn.timings["match"] = (time.perf_counter() - t) * 1000
            return turn
        try:
            turn.retrieval = self.retriever.retrieve(turn.asked, today=today, context=self._context(history),
                                                     region=self._region(where, history, turn.notes))
        except EmptyQueryError:
            turn.retrieval = None
        except ChromaUnavailableError as exc:  # retried with backoff already: say so instead of failing
            turn.retrieval, turn.error = None, str(exc)
        if turn.retrieval is not None and self.index.vectors_down:
            turn.notes.append(KEYWORDS_ONLY_NOTE)
        turn.timings["retrieve"] = (time.perf_counter() - t) * 1000
        return turn

    def _context(self, history: Sequence[Answer] | None) -> tuple[str, ...]:
        """The documents the conversation is about: those the latest answer with citations quoted."""
        previous = next((a for a in reversed(history or []) if a.citations), None)
        if previous is None:
            return ()
        return tuple(dict.fromkeys(self.index.by_id[c.clause_id].doc_id for c in previous.citations
                                   if c.clause_id in self.index.by_id))

    def _resolve_followup(self, question: str, history: Sequence[Answer] | None) -> tuple[str, Clause | None]:
        """Rewrite a follow-up ("那担保费呢？", "这条谁负责？", "84号文" after "which document's 第十九条?")
        using the previous turn."""
        q = normalize(question)
        last = history[-1] if history else None
        if last is not None and last.clarify and not CLAUSE_REFERENCE.search(q):
            named = self.retriever.scopes.names.named(q)
            if named.doc_ids:  # the reply names the document the pending clause question was about
                return f"{question} {last.clarify}", None
        previous = next((a for a in reversed(history or []) if a.citations or a.retrieved), None)
        if previous is None:
            return question, None
        cues = self.lexicon.cues
        prev_clause_id = previous.citations[0].clause_id if previous.citations else previous.retrieved[0]
        prev_clause = self.index.by_id.get(prev_clause_id)
        if prev_clause is not None and cues.pronoun.search(q):
            return question, prev_clause
        if prev_clause is not None and cues.who.search(q) and len(q) <= 12:
            return question, prev_clause
        content = [t for t in tokenize(cues.follow_start.sub("", q)) if t in self.index.bm25.known([t])]
        if not content and (cues.follow_start.match(q) or len(q) <= 12):
            # Nothing to search on its own ("具体多少？"): carry the previous question's topic.
            # The previous question may be a pasted document: carry only what was answered of it.
            return f"{previous.question[:MAX_QUESTION_CHARS]} {question}", None
        return question, None

    def _which_clause(self, pinned: Clause, history: Sequence[Answer] | None) -> list[str]:
        """When the answer a follow-up refers to cited several clauses, which of them it is about."""
        previous = next((a for a in reversed(history or []) if a.citations or a.retrieved), None)
        cited = list(dict.fromkeys(c.clause_id for c in previous.citations)) if previous else []
        if len(cited) < 2:
            return []
        return [f"上一回答引用了{int_to_cn(len(cited))}条条款，这里按其中的〔{self.index.heading(pinned)}〕作答；"
                f"问其他条款时请带上条款号。"]

    def _generate(self, turn: Turn, *, use_llm: bool) -> Iterator[StreamEvent]:
        """Compose the answer body: an LLM's text as deltas while it streams, then the body as a Final."""
        if turn.match is not None:
            yield Final(self._match_answer(turn))  # the match answer is not streamed
            return
        answer, rephrasable = self.routes.compose(turn)
        if self.llm is not None and use_llm and rephrasable:
            t = time.perf_counter()
            yield from self._compose_llm(self.llm, turn, answer)
            turn.timings["llm"] = (time.perf_counter() - t) * 1000
        else:
            yield Final(answer)

    def _match_answer(self, turn: Turn) -> Answer:
        """A self-description question's answer: the match in the chat's shape, each listed measure cited
        by its granting sentence."""
        result: MatchResult = turn.match
        citations = []
        for m in [m for kind, listed in CHAT_LISTED.items() for m in result.of(kind)[:listed]]:
            clause = self.index.by_id[m.clause_id]
            at = clause.text.find(m.benefit)
            citations.append(self.extractive.cite(clause, m.benefit, clause.start + at, clause.start + at + len(m.benefit)))
        # retrieved: what the search for the question's words ranked, as for any answer; the answer
        # itself quotes the matched measures.
        return Answer(question=turn.question, text=match_text(result), citations=citations,
                      retrieved=result.ranked[:self.settings.top_k], route="match", region=result.region)

    def _compose_llm(self, llm: LLMComposer, turn: Turn, extractive: Answer) -> Iterator[StreamEvent]:
        """Stream the LLM's answer as deltas; verify it; end with it, or with ``extractive`` (and a note) when
        it fails."""
        clauses = [self.index.by_id[cid] for cid in extractive.retrieved if cid in self.index.by_id]
        numbered = llm.number(clauses)
        pieces: list[str] = []
        leak = ""
        try:
            for piece in llm.stream(turn.asked, numbered):
                pieces.append(piece)
                # Stop showing a reply that starts repeating the system prompt (checked on the recent tail).
                leak = llm.guard.leak("".join(pieces)[-(len(piece) + 4 * PROMPT_LEAK_CHARS):])
                if leak:
                    break
                yield Delta(piece)
        except Exception as exc:  # any provider failure (network, auth, timeout) must not lose the answer
            extractive.notes.append(f"大模型服务暂时不可用（{type(exc).__name__}），以下为条款原文摘录。")
            yield Final(extractive)
            return
        text = "".join(pieces).strip()
        leak = leak or llm.guard.leak(text)
        if leak:
            extractive.checks.append(f"回答包含系统提示的原文（“{leak[:PROMPT_LEAK_CHARS]}…”）")
            extractive.notes.append(LLM_REJECTED_NOTE)
            yield Final(extractive)
            return
        if text and "没有找到相关规定" in text and not grammar.MARKER.search(text):
            refusal = Answer(question=turn.question, text="", retrieved=extractive.retrieved, route=extractive.route,
                             composer=llm.name)
            self.routes.refusal(refusal, turn.found, "大模型判断检索到的条款不能回答这个问题")
            yield Final(refusal)
            return
        result = verify(text, numbered, markers_required=True)
        if not text or not result.ok:
            extractive.checks += ["回答为空"] if not text else list(result.problems)
            extractive.notes.append(LLM_REJECTED_NOTE)
            yield Final(extractive)
            return
        citations = llm.citations(text, numbered)
        # Who is responsible is part of every answer; add it when the model left it out.
        units = list(dict.fromkeys(u for c in citations for u in c.units))
        if units and not any(u in text for u in units):
            addition = f"\n\n责任单位：{'、'.join(units)}"
            text += addition
            yield Delta(addition)
        used = {n: numbered[n].clause_id for n in sorted(set(grammar.markers(text)))}
        yield Final(Answer(question=turn.question, text=text, citations=citations, retrieved=extractive.retrieved,
                           route=extractive.route, composer=llm.name, markers=used))

    def _finish(self, turn: Turn, answer: Answer, today: dt.date) -> Answer:
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

    def _decorate(self, answer: Answer, turn: Turn, today: dt.date) -> None:
        """Append related clauses and notes (validity, truncation, refusal reason) to the checked body."""
        if not answer.refused and turn.retrieval is not None and turn.pinned is None:  # 这条…: about one clause
            cited = {c.clause_id for c in answer.citations}
            answer.related = [h.clause.clause_id for h in turn.retrieval.hits if h.clause.clause_id not in cited][:3]
            if answer.related and answer.route != "unit":
                answer.text += "\n\n相关条款：" + "；".join(
                    f"〔{self.index.heading(self.index.by_id[cid])}〕" for cid in answer.related)
        cited_ids = [c.clause_id for c in answer.citations]
        answer.notes = turn.notes + answer.notes + validity_notes(self.index, cited_ids, today)
        if answer.notes:
            answer.text += "\n\n" + "\n".join(f"提示：{n}" for n in answer.notes)
