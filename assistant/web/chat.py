"""Gradio front end, built by :func:`build_app`: chat for business owners, clause lookup for hotline
staff, the documents list, and (with a password set) an admin area. No retrieval logic lives here.

Everything from users or documents is escaped by :mod:`assistant.render` before it is shown.
Named API endpoints (``/ask``, ``/ask_in_region``, ``/lookup``, ``/search``, ``/match``) serve ``gradio_client`` users.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import gradio as gr

from .. import __version__
from ..answer.match import MatchResult
from ..answer.profile import ProfileOptions
from ..corpus.ingest import source_key
from ..errors import INTERNAL_ERROR, PolicyError, UploadError
from ..models import Answer, Final
from ..regions import ANYWHERE_CHOICE, Regions, Where
from ..search.build import STAGE_LABELS, BuildReport, StageHook
from ..search.layout import skipped_files
from ..search.lookup import LookupQuery
from . import conversations
from .admin import ALLOWED_SUFFIXES, PasswordGuard, accept_upload, corpus_files, remove_file
from .feedback import rater_key
from .guard import UPLOAD_CACHE
from .render import (
    admin_documents,
    answer_html,
    answer_message,
    chat_text,
    copy_text,
    documents_table,
    esc,
    hit_test_html,
    lookup_results,
    match_cards,
    question_preview,
    uploaded_document,
)
from .service import Service

log = logging.getLogger(__name__)

# Gradio phones home for analytics by default; this app must make no outbound connection.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

TITLE = "政策通 · 中小微企业融资政策问答"
EXAMPLES = [
    "我开饭馆的，贷款还不上能缓缓吗？",
    "创业担保贷款最高能贷多少？",
    "融资担保费率是多少？",
    "利息补贴有多少",
    "州税务局负责哪些措施",
    "第十八条",
]
ANY = "（全部）"
ANY_REGION = ANYWHERE_CHOICE
THINKING = "正在查找相关条款……"
HIT_TEST_K = 10  # clauses the 检索测试 tab ranks
EMPTY_HINT = "请先输入您的问题。"
# Where the browser keeps the conversations. BrowserState encrypts them with a secret; a fixed one keeps them
# readable after the server restarts (they stay in the asker's own browser, under this site's origin).
STORE_KEY = "policy-assistant-conversations"
STORE_SECRET = "policy-assistant-conversations-v1"
SCROLL_TO_ANSWER = """() => {
  const rows = document.querySelectorAll('#chat .message-row');
  if (rows.length >= 2) rows[rows.length - 2].scrollIntoView({block: 'start'});
}"""


def chosen(value: str | None) -> str:
    """A dropdown's value as a filter or a choice: "" for （全部）."""
    return "" if value in (None, ANY) else value


def done_marker(answers: list[Answer]) -> str:
    """The hidden #answers-done marker: answers finished so far and the last one's route, so scripts
    and browser tests can wait for the end of a streamed answer."""
    route = answers[-1].route if answers else ""
    return f"<span data-answers='{len(answers)}' data-route='{route}'></span>"


class Handlers:
    """The UI's event handlers and API endpoints; each calls only the service's public methods."""

    def __init__(self, service: Service, feedback=None):
        self.service = service
        self.feedback = feedback  # a FeedbackStore, or None: 👍/👎 are not recorded
        self._lists: tuple = (None, None, ())  # (index, day, Handlers.lists) of the last page load

    # ------------------------------------------------------------------ chat

    def respond(self, message: str, chat: list, answers: list[Answer], region: str | None = None,
                saved=None) -> Iterator[tuple]:
        """Answer ``message`` in the chat. Yields (chat, answers, question box, send button, hint, done marker,
        the browser's store): the button is disabled until the answer is complete; the answer's sources are
        cards inside its own message, so every answer of the conversation keeps its clauses; the finished
        answer is stored in the browser with the done marker, so a reload right after it keeps it."""
        question = message or ""
        if not question.strip():  # nothing to send: no bubble, no answer, a hint under the box
            yield chat, answers, gr.update(), gr.update(interactive=True), EMPTY_HINT, gr.update(), gr.update()
            return
        where = Where.parse(region)
        assistant = self.service.assistant  # one object for the whole answer, even if a reload happens
        chat = list(chat or []) + [{"role": "user", "content": chat_text(question_preview(question.strip()))},
                                   {"role": "assistant", "content": THINKING}]
        # Only the first update empties the box: a user may type the next question while this one streams.
        yield chat, answers, "", gr.update(interactive=False), "", gr.update(), gr.update()
        streamed = ""
        try:
            for event in assistant.stream(question, answers, region=where):
                if isinstance(event, Final):
                    done = event.answer
                    chat[-1] = {"role": "assistant", "content": answer_message(assistant.index, done)}
                    if done.choices:  # which document's clause: each one a button that asks it
                        chat[-1]["options"] = [{"label": label, "value": asks} for label, asks in done.choices]
                    answers = list(answers or []) + [done]
                    yield (chat, answers, gr.update(), gr.update(interactive=True), "", done_marker(answers),
                           conversations.with_current(saved, chat, answers))
                else:
                    streamed += event.text
                    chat[-1] = {"role": "assistant", "content": answer_html(streamed)}
                    yield chat, answers, gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        except Exception as exc:  # never leave the placeholder hanging: say what happened, in the chat
            if isinstance(exc, PolicyError):
                text = f"抱歉，回答时出现问题，请稍后再试。（{exc}）"
            else:  # a fault of ours: the traceback to the log, not to the asker
                log.exception("answering %r failed", question[:200])
                text = "抱歉，回答时出现问题，请稍后再试。"
            failed = Answer(question=question, text=text, refused=True, route="error", checks=[repr(exc)])
            # Appended like any answer, so 👍/👎 on a later message still finds its own answer.
            answers = list(answers or []) + [failed]
            chat[-1] = {"role": "assistant", "content": answer_html(failed.text)}
            yield (chat, answers, gr.update(), gr.update(interactive=True), "", done_marker(answers),
                   conversations.with_current(saved, chat, answers))

    def choose(self, chat: list, answers: list[Answer], region: str | None, saved, picked: gr.SelectData
               ) -> Iterator[tuple]:
        """A clarification's button: ask the question it stands for (that document's clause)."""
        yield from self.respond(str(picked.value), chat, answers, region, saved)

    # ------------------------------------------------------------------ conversations kept in the browser

    def restore(self, saved) -> tuple:
        """On page load: the current conversation of the browser's store, and its 历史对话 list."""
        chat, answers = conversations.opened(conversations.store(saved)["current"])
        return chat, answers, gr.update(choices=conversations.choices(saved), value=None), done_marker(answers)

    def new_conversation(self, saved) -> tuple:
        """新对话: the conversation on screen goes to 历史对话, the chat starts empty."""
        saved = conversations.new_conversation(saved)
        return ([], [], gr.update(choices=conversations.choices(saved), value=None), done_marker([]), saved, "", "")

    def open_past(self, saved, picked: gr.SelectData) -> tuple:
        """A 历史对话 entry chosen: it becomes the conversation on screen, the one it replaces goes to the list."""
        saved = conversations.switch_to(saved, int(picked.value))
        chat, answers = conversations.opened(saved["current"])
        return chat, answers, gr.update(choices=conversations.choices(saved), value=None), done_marker(answers), saved

    def record(self, answer: Answer | None, rating: int, comment: str = "", who: str = "") -> str:
        """Store a rating of ``answer``; ``who`` (the browser session) rating it again updates that rating."""
        if self.feedback is None or answer is None:
            return "暂无可评价的回答。" if answer is None else ""
        self.feedback.record(rating, answer.question, answer.text,
                             [{"clause_id": c.clause_id, "heading": c.heading} for c in answer.citations],
                             comment=comment or "", route=answer.route, refused=answer.refused,
                             rater=rater_key(who, answer.question, answer.text) if who else "")
        return "感谢您的反馈！"

    def rate_last(self, rating: int):
        """A handler rating the latest answer (the 👍/👎 buttons, with the comment box), then clearing the box."""
        def rate(answers: list[Answer], comment: str, request: gr.Request) -> tuple[str, str]:
            return self.record(answers[-1] if answers else None, rating, comment, _session(request)), ""
        return rate

    def on_like(self, answers: list[Answer], data: gr.LikeData, request: gr.Request) -> str:
        index = data.index if isinstance(data.index, int) else data.index[0]
        turn = (index - 1) // 2  # each turn adds a user and an assistant message
        liked = data.liked is True or data.liked == "Like"
        answer = answers[turn] if answers and 0 <= turn < len(answers) else None
        return self.record(answer, 1 if liked else -1, who=_session(request))

    # ------------------------------------------------------------------ lookup and documents

    def lookup(self, number: str, keyword: str, unit: str, section: str, document: str = ANY, level: str = ANY,
               place: str = ANY) -> tuple[str, str, list]:
        query = LookupQuery(number=number or "", keyword=keyword or "", unit=chosen(unit), section=chosen(section),
                            doc_id=chosen(document), level=chosen(level), place=chosen(place))
        if query.empty:
            return "<p class='empty'>请输入条款编号、关键词，或选择文件、层级、地区、责任单位、章节。</p>", "", []
        index = self.service.index
        found = self.service.lookup(query)
        return lookup_results(index, found), copy_text(index, found), [index.clause_json(c) for c in found]

    def documents(self) -> str:
        return f"<div class='docs-wrap'>{documents_table(self.service.index)}</div>"

    def hit_test(self, question: str, region: str | None = None) -> str:
        """检索测试: the answer's decision and the ranked clauses behind it, for ``question`` asked from ``region``."""
        if not (question or "").strip():
            return "<p class='empty'>请输入要测试的问题。</p>"
        assistant = self.service.assistant
        # The answer does not keep its hits' scores: the question is ranked again, from the area it was answered for
        # (a diagnostic tab; a few ms more).
        answer = assistant.ask(question, region=Where.parse(region))
        place = Regions.load().find(answer.region) if answer.region else None
        retrieval = assistant.retriever.retrieve(question, HIT_TEST_K, region=place)
        return hit_test_html(assistant.index, retrieval, answer, [e.id for e in assistant.encoders])

    def lists(self) -> tuple:
        """Every list the page offers, read from the current index: the lookup filters (文件, 层级, 地区, 责任单位,
        章节), the 所在地区 choices of the chat, of matching and of 检索测试, and the documents tab. Sent on page load and
        after an admin change, so no list is older than the index; read once per index and day (on the 3,496 laws
        they take about half a second), since a document's standing depends on the day."""
        service = self.service
        index, day = service.index, dt.date.today()
        if self._lists[0] is not index or self._lists[1] != day:
            regions = [ANY_REGION] + service.regions()
            choices = ([(ANY, ANY)] + service.documents(), [ANY] + service.levels(), [ANY] + service.places(),
                       [ANY] + service.units(), [(ANY, ANY)] + service.sections(), regions, regions, regions)
            self._lists = (index, day, (choices, self.documents()))
        choices, documents = self._lists[2]
        # Fresh updates each time: Gradio may consume an update's keys while sending it.
        return (*(gr.update(choices=c) for c in choices), documents)

    # ------------------------------------------------------------------ API-only endpoints

    def ask(self, question: str) -> dict:
        """Answer one question; returns answer, citations, retrieved, refused, notes, latency_ms."""
        return self.service.assistant.ask(question or "").to_json()

    def ask_in_region(self, question: str, region: str) -> dict:
        """Answer one question asked from ``region`` (临夏州): the documents that apply there, local first.
        Empty: the deployment's POLICY_REGION; 全国: every document."""
        return self.service.assistant.ask(question or "", region=Where.parse(region)).to_json()

    def match(self, type: str = "", industry: str = "", situations: list[str] | None = None,
              needs: list[str] | None = None, region: str = "") -> dict:
        """Policy matching: the measures a profile can use, {profile, region, documents, read_as, measures:
        [{clause_id, result (可以申请|可以利用|政策背景), group (明确适用|可能适用), title, benefit, figures,
        conditions, lead, units, notes, parts, excluded}]}. The choices may be the chat's everyday words (外汇,
        开饭馆的); ``read_as`` says what each became. ``region`` empty: the deployment's POLICY_REGION; 全国: every
        document."""
        return self._match(type, industry, situations, needs, region).to_json()  # a bad choice: ProfileError

    def match_form(self, type: str, industry: str, situations: list[str], needs: list[str], region: str):
        """The 政策匹配 form: result cards, and the result as JSON for scripts."""
        try:
            result = self._match(type, industry, situations, needs, region)
        except PolicyError as exc:
            return f"<p class='empty'>{esc(str(exc))}</p>", {}
        return match_cards(self.service.index, result), result.to_json()

    def _match(self, type, industry, situations, needs, region) -> MatchResult:
        """Raises ProfileError for a choice the form does not offer."""
        profile, said = self.service.assistant.profile_options.from_words(chosen(type), chosen(industry), situations or (), needs or (),
                                           str(Where.parse(region)))
        result = self.service.assistant.match(profile)
        result.read_as = said
        return result

    def search(self, query: str, k: int = 5) -> list[dict]:
        """Ranked clauses for a question or keywords, with why each was found."""
        return [self.service.index.hit_json(h) for h in self.service.search(query, k)]


def shown_errors(handler: Callable) -> Callable:
    """``handler`` whose errors reach the caller in Chinese: a PolicyError says its own reason, anything
    else is logged with its traceback and called an internal error. Gradio would otherwise send the
    Python text of any exception (show_error), or nothing at all."""
    @functools.wraps(handler)
    def shown(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except PolicyError as exc:
            raise gr.Error(str(exc), title="无法完成") from None
        except Exception:
            log.exception("%s failed", handler.__name__)
            raise gr.Error(INTERNAL_ERROR, title="出错了") from None
    return shown


@dataclass(frozen=True)
class ChatParts:
    """What :func:`build_app` wires across tabs: the 所在地区 choice (a list refreshed with the index) and what a
    page load restores from the browser."""

    region: gr.Dropdown
    restored: list  # chatbot, answers, 历史对话, done marker: as Handlers.restore returns them
    saved: gr.BrowserState


def build_app(service: Service, feedback=None) -> gr.Blocks:
    """The Gradio Blocks over ``service``; ``feedback`` (a FeedbackStore) enables 👍/👎 recording."""
    handlers = Handlers(service, feedback)
    with gr.Blocks(title=TITLE, delete_cache=UPLOAD_CACHE) as app:
        gr.HTML(f"<h2>政策通</h2><p>中小微企业融资政策问答：每个回答都附上所依据的政策条款原文和责任单位。"
                f"<small>（v{esc(__version__)}）</small></p>")
        with gr.Tabs():
            chat = _chat_tab(handlers)
            filters = _lookup_tab(handlers)
            match_region = _match_tab(handlers)
            with gr.Tab("政策文件", id="docs"):
                docs = gr.HTML(elem_id="documents")
            test_region = _hit_test_tab(handlers)
            lists = [*filters, chat.region, match_region, test_region, docs]  # in the order of Handlers.lists
            if service.settings.admin_password:
                _admin_tab(handlers, lists)
        gr.api(shown_errors(handlers.ask), api_name="ask")
        gr.api(shown_errors(handlers.ask_in_region), api_name="ask_in_region")
        gr.api(shown_errors(handlers.search), api_name="search")
        gr.api(shown_errors(handlers.match), api_name="match")
        app.load(shown_errors(handlers.lists), None, lists, api_visibility="private")
        app.load(handlers.restore, chat.saved, chat.restored, api_visibility="private")
    return app


def _chat_tab(handlers: Handlers) -> ChatParts:
    """The chat, its conversation kept in the browser (restored after a reload), 新对话 and 历史对话."""
    with gr.Tab("政策问答", id="chat"):
        saved = gr.BrowserState(conversations.EMPTY, storage_key=STORE_KEY, secret=STORE_SECRET)
        # No autoscroll to the bottom: a long answer would leave its first line above the view; the view goes
        # to the start of each new answer instead (SCROLL_TO_ANSWER).
        chatbot = gr.Chatbot(label="对话", height=460, render_markdown=False, buttons=["copy"], autoscroll=False,
                             elem_id="chat", placeholder="请在下方输入您的问题，例如：创业担保贷款最高能贷多少？")
        answers = gr.State([])
        with gr.Row():
            box = gr.Textbox(label="您的问题", placeholder="用自己的话提问，例如：我开饭馆的，贷款还不上能缓缓吗？",
                             scale=5, elem_id="question", max_length=100_000,
                             min_width=260)  # narrower than this (a phone) the button goes under it
            send = gr.Button("发送", variant="primary", scale=1, elem_id="send")
        with gr.Row():
            region = gr.Dropdown([ANY_REGION] + handlers.service.regions(), label="所在地区",
                                 value=handlers.service.settings.region or ANY_REGION, allow_custom_value=True,
                                 filterable=True, elem_id="region", scale=1,
                                 info="按所在地区适用的文件作答：本地的规定在前，上级和国家的规定在后")
        hint = gr.Markdown(elem_id="question-hint")
        gr.Examples(EXAMPLES, inputs=box, label="试试这些问题")
        with gr.Row():
            comment = gr.Textbox(label="对最近一个回答的意见（可选）", scale=4, elem_id="comment")
            up = gr.Button("👍 有帮助", scale=1, elem_id="up")
            down = gr.Button("👎 没帮助", scale=1, elem_id="down")
            clear = gr.Button("新对话", scale=1, elem_id="clear")
        status = gr.Markdown(elem_id="feedback-status")
        history = gr.Dropdown([], value=None, label="历史对话", elem_id="history", interactive=True,
                              info="本浏览器中最近的对话，选择即可继续")

        # How many answers are complete, as a data attribute: lets scripts (and the browser
        # tests) wait for the end of a streamed answer rather than guess.
        done = gr.HTML(done_marker([]), elem_id="answers-done", padding=False)
        outputs = [chatbot, answers, box, send, hint, done, saved]
        # "once": a second click or Enter while an answer is being made is ignored, not queued. Then the view
        # goes to the start of the new answer (its question at the top): a long answer would otherwise leave
        # its first line out of view, on a phone above the screen.
        asked = [trigger(handlers.respond, [box, chatbot, answers, region, saved], outputs, api_visibility="private",
                         trigger_mode="once") for trigger in (send.click, box.submit)]
        asked.append(chatbot.option_select(handlers.choose, [chatbot, answers, region, saved], outputs,
                                           api_visibility="private", trigger_mode="once"))
        for event in asked:
            event.then(None, None, None, js=SCROLL_TO_ANSWER, api_visibility="private")
        chatbot.like(shown_errors(handlers.on_like), [answers], status, api_visibility="private")
        up.click(shown_errors(handlers.rate_last(1)), [answers, comment], [status, comment], api_visibility="private")
        down.click(shown_errors(handlers.rate_last(-1)), [answers, comment], [status, comment],
                   api_visibility="private")
        reset = done_marker([])
        restored = [chatbot, answers, history, done]
        clear.click(handlers.new_conversation, saved, [*restored, saved, hint, status], api_visibility="private")
        # The chatbot's own 🗑 button clears the messages; the context (and the stored copy) go with them.
        chatbot.clear(lambda saved: ([], "", "", reset, conversations.with_current(saved, [], [])), saved,
                      [answers, hint, status, done, saved], api_visibility="private")
        history.select(handlers.open_past, saved, [*restored, saved], api_visibility="private")
    return ChatParts(region, restored, saved)


def _hit_test_tab(handlers: Handlers) -> gr.Dropdown:
    """检索测试 (as MaxKB and FastGPT have): why an answer came out as it did, for hotline leads and evaluators."""
    service = handlers.service
    with gr.Tab("检索测试", id="hittest"):
        gr.Markdown("输入一个问题，查看它的路由、适用地区、口语词扩展、是否拒答，以及排序后的条款和每一项得分（关键词、各语义通道）与命中原因。")
        with gr.Row():
            question = gr.Textbox(label="测试问题", scale=4, elem_id="hittest-question")
            region = gr.Dropdown([ANY_REGION] + service.regions(), value=service.settings.region or ANY_REGION,
                                 label="所在地区", allow_custom_value=True, filterable=True, elem_id="hittest-region",
                                 scale=1)
        go = gr.Button("测试", variant="primary", elem_id="hittest-go")
        result = gr.HTML(elem_id="hittest-result")
        for trigger in (go.click, question.submit):
            trigger(shown_errors(handlers.hit_test), [question, region], result, api_visibility="private")
    return region


def _lookup_tab(handlers: Handlers) -> tuple[gr.Dropdown, ...]:
    """条款查询; returns its filters (文件, 层级, 地区, 责任单位, 章节), refreshed with the index."""
    service = handlers.service
    with gr.Tab("条款查询", id="lookup"):
        with gr.Row():
            number = gr.Textbox(label="条款编号", placeholder="第十八条 / （十八） / 18", elem_id="lookup-number")
            keyword = gr.Textbox(label="关键词", placeholder="例如：担保费率", elem_id="lookup-keyword")
        with gr.Row():
            document = gr.Dropdown([(ANY, ANY)] + service.documents(), value=ANY, label="文件", elem_id="lookup-document",
                                   filterable=True)
            level = gr.Dropdown([ANY] + service.levels(), value=ANY, label="层级", elem_id="lookup-level")
            place = gr.Dropdown([ANY] + service.places(), value=ANY, label="地区", elem_id="lookup-place")
            unit = gr.Dropdown([ANY] + service.units(), value=ANY, label="责任单位", elem_id="lookup-unit",
                               filterable=True)
            section = gr.Dropdown([(ANY, ANY)] + service.sections(), value=ANY, label="章节", elem_id="lookup-section")
        find = gr.Button("查找", variant="primary", elem_id="lookup-find")
        found_html = gr.HTML(elem_id="lookup-results")
        with gr.Accordion("全文（可复制）", open=True):
            found_text = gr.Textbox(show_label=False, lines=12, buttons=["copy"], elem_id="lookup-copy")
        found_json = gr.JSON(visible=False)
        inputs = [number, keyword, unit, section, document, level, place]
        outputs = [found_html, found_text, found_json]
        find.click(shown_errors(handlers.lookup), inputs, outputs, api_name="lookup")
        for trigger in (number.submit, keyword.submit, unit.change, section.change, document.change, level.change,
                        place.change):
            trigger(handlers.lookup, inputs, outputs, api_visibility="private")
        # 章节 lists the chosen document's own headings (all documents': each with its document's name).
        document.change(lambda doc: gr.update(choices=[(ANY, ANY)] + service.sections(chosen(doc)), value=ANY),
                        document, section, api_visibility="private")
    return document, level, place, unit, section


def _match_tab(handlers: Handlers) -> gr.Dropdown:
    """政策匹配; returns its 所在地区 choice (refreshed with the index)."""
    options = ProfileOptions.load()
    service = handlers.service
    with gr.Tab("政策匹配", id="match"):
        gr.Markdown("选择企业的情况，列出文件中您**可以申请**的支持、**可以利用**的渠道和服务，以及相关的**政策背景**；"
                    "每项附条款原文、额度、需确认的条件和办理咨询单位。")
        with gr.Row():
            kind = gr.Dropdown([ANY, *options.types], value=ANY, label="主体类型", elem_id="match-type")
            industry = gr.Dropdown([ANY, *options.industries], value=ANY, label="行业", elem_id="match-industry")
            region = gr.Dropdown([ANY_REGION, *service.regions()], label="所在地区",
                                 value=service.settings.region or ANY_REGION, allow_custom_value=True,
                                 filterable=True, elem_id="match-region")
        situations = gr.CheckboxGroup(list(options.situations), label="情况（可多选）", elem_id="match-situations")
        needs = gr.CheckboxGroup(list(options.needs), label="需求（可多选；不选为全部）", elem_id="match-needs")
        go = gr.Button("匹配政策", variant="primary", elem_id="match-go")
        found = gr.HTML(elem_id="match-results")
        found_json = gr.JSON(visible=False)
        go.click(handlers.match_form, [kind, industry, situations, needs, region], [found, found_json],
                 api_visibility="private")
    return region


def _session(request: gr.Request | None) -> str:
    """The browser session a request comes from ("" when unknown: such ratings are never merged)."""
    return str(getattr(request, "session_hash", "") or "")


# The default that tells Gradio a handler reports progress; each call gets a fresh tracker in its place.
SHOWS_PROGRESS = gr.Progress()


def _stages_shown(progress: gr.Progress) -> StageHook:
    """A build's stages shown as the page's progress bar ("正在解析条款…"), so an admin sees how far a long
    rebuild has got."""
    order = list(STAGE_LABELS)

    def began(stage: str) -> None:
        if stage in STAGE_LABELS:
            progress(order.index(stage) / len(order), desc=f"正在{STAGE_LABELS[stage]}…")
    return began


def client_of(request: gr.Request | None) -> str:
    """The address a request came from (what admin throttling counts by), or ""."""
    client = getattr(request, "client", None)
    return str(getattr(client, "host", "") or "")


def _admin_tab(handlers: Handlers, lists: list) -> None:
    """The corpus managed in the page: its documents and the files the index could not use, upload, delete,
    rebuild. Present only when POLICY_ADMIN_PASSWORD is set; every action checks it (wrong ones are throttled),
    and the file names are shown only after a right one. After a change every list of the page (``lists``,
    as :meth:`Handlers.lists`) is sent again."""
    service = handlers.service
    settings = service.settings
    guard = PasswordGuard(settings)

    def refreshed(message: str, allowed: bool) -> tuple:
        index = service.index
        listing = (gr.update(choices=corpus_files(settings), value=None),
                   admin_documents(index, skipped_files(index.dir) if index.dir else [])
                   ) if allowed else (gr.update(), gr.update())
        return (message, *handlers.lists(), *listing)

    def rebuilt(done: str, report: BuildReport) -> str:
        """A finished rebuild as 管理 reports it: what was done, the corpus now, each stage's time, and the
        files the build warned about or skipped."""
        took = " · ".join(f"{label} {report.stages[stage]:.1f} 秒" for stage, label in STAGE_LABELS.items()
                          if stage in report.stages)
        lines = [f"{done}（现有 {report.documents} 个文档，{report.clauses} 条条款）。",
                 f"用时：{took}。" if took and not report.unchanged else "语料没有变化，索引无需更新。"]
        lines += [f"⚠️ 未能使用：{p.reason}（{Path(p.path).name}）" for p in report.problems]
        lines += [f"⚠️ {w}" for w in report.warnings]
        return "<br>".join(esc(line) for line in lines)

    def show(password: str, request: gr.Request) -> tuple:
        refused = guard.check(password, client_of(request))
        return refreshed(refused or "", not refused)

    def reindex(password: str, request: gr.Request, progress: gr.Progress = SHOWS_PROGRESS) -> tuple:
        refused = guard.check(password, client_of(request))
        if refused:
            return refreshed(refused, False)
        try:
            report = service.reload(_stages_shown(progress))
        except PolicyError as exc:
            return refreshed(f"重建失败，原有索引保持不变：{esc(exc)}", True)
        return refreshed(rebuilt("索引已更新", report), True)

    def delete(password: str, name: str | None, request: gr.Request, progress: gr.Progress = SHOWS_PROGRESS) -> tuple:
        refused = guard.check(password, client_of(request))
        if refused:
            return refreshed(refused, False)
        if not name:
            return refreshed("请选择要删除的文件。", True)
        try:
            path, data = remove_file(settings, name)
        except UploadError as exc:
            return refreshed(f"删除失败：{esc(exc)}", True)
        try:
            report = service.reload(_stages_shown(progress))
        except PolicyError as exc:  # the index stays as it was: so does the corpus
            path.write_bytes(data)
            return refreshed(f"重建失败，文件已恢复，原有索引保持不变：{esc(exc)}", True)
        return refreshed(rebuilt(f"已删除：{name}", report), True)

    def upload(password: str, file_path: str | None, request: gr.Request, progress: gr.Progress = SHOWS_PROGRESS) -> tuple:
        refused = guard.check(password, client_of(request))
        return refreshed(refused, False) if refused else refreshed(_upload(file_path, progress), True)

    def _upload(file_path: str | None, progress: gr.Progress) -> str:
        if not file_path:
            return "请选择要上传的文件。"
        path = Path(file_path)
        progress(0, desc="正在检查文件…")
        try:
            if path.stat().st_size > settings.upload_max_mb * 1024 * 1024:
                raise UploadError(f"文件过大，上限为 {settings.upload_max_mb} MB")
            saved = accept_upload(settings, path.name, path.read_bytes())
        except UploadError as exc:
            return f"上传被拒绝：{esc(exc)}"
        try:
            report = service.reload(_stages_shown(progress))
        except PolicyError as exc:
            saved.path.unlink(missing_ok=True)
            return f"文件无法建立索引，已移除：{esc(exc)}"
        problem = next((p for p in report.problems if Path(p.path).resolve() == saved.path), None)
        if problem is not None:  # the indexer skipped it: take it out again so the corpus stays clean
            saved.path.unlink(missing_ok=True)
            service.reload()
            return esc(f"文件无法读取，已移除：{problem.reason}")
        key = source_key(saved.path, settings.corpus_dirs)
        index = service.index
        doc = next((d for d in index.documents.values() if d.path == key), None)
        became = f"：{uploaded_document(doc, index.clause_count(doc.doc_id))}" if doc else ""
        return rebuilt(f"已加入语料：{saved.path.name}{'（替换了同名文件）' if saved.replaced else ''}{became}", report)

    with gr.Tab("管理", id="admin"):
        password = gr.Textbox(label="管理密码", type="password", elem_id="admin-password")
        with gr.Row():
            file = gr.File(label=f"上传政策文件（{' / '.join(ALLOWED_SUFFIXES)}，不超过 {settings.upload_max_mb} MB）",
                           file_types=list(ALLOWED_SUFFIXES), type="filepath", elem_id="admin-file")
        with gr.Row():
            do_upload = gr.Button("上传并建立索引", elem_id="admin-upload")
            do_reindex = gr.Button("重建索引", elem_id="admin-reindex")
            do_show = gr.Button("查看文件列表", elem_id="admin-show")
        with gr.Row():
            to_delete = gr.Dropdown([], value=None, label="语料目录中的文件", elem_id="admin-files", interactive=True,
                                    scale=3)
            do_delete = gr.Button("删除并重建索引", variant="stop", elem_id="admin-delete", scale=1)
        result = gr.HTML(elem_id="admin-result")
        documents = gr.HTML(elem_id="admin-documents")
        outputs = [result, *lists, to_delete, documents]
        do_upload.click(upload, [password, file], outputs, api_visibility="private")
        do_reindex.click(reindex, [password], outputs, api_visibility="private")
        do_show.click(show, [password], outputs, api_visibility="private")
        do_delete.click(delete, [password, to_delete], outputs, api_visibility="private")
