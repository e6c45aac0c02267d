"""An OpenAI-compatible chat-completions API over :class:`~assistant.answer.Assistant`.

``create_router(assistant)`` returns a FastAPI router serving ``POST /v1/chat/completions`` (plain and
Server-Sent Events streaming) and ``GET /v1/models``, so any OpenAI client or chat UI can ask 政策通
questions. The answer text is the assistant's (citation headings 〔…〕 included); two extra top-level
fields carry what OpenAI's schema has no place for: ``citations`` (clause id, heading, verbatim quote,
char span, 责任单位) and ``policy_assistant`` (refused, retrieved, notes, route, composer, latency_ms).

This module only translates between the wire format and ``Assistant.ask`` / ``Assistant.stream``;
retrieval, refusal and verification all stay in the assistant. Errors use OpenAI's shape
``{"error": {"message", "type", "code"}}`` with Chinese messages. There is no authentication here.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Callable, TypeVar

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import ClientDisconnect

from .. import __version__
from ..answer.assistant import Assistant
from ..errors import INTERNAL_ERROR, PolicyError
from ..models import Answer, Final, StreamEvent
from ..regions import DEPLOYMENT, Where
from ..search.text import clean_text

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_MODEL_NAME = "policy-assistant"

# Earlier user turns replayed to rebuild the conversation (see _history). Follow-up resolution only
# looks at the latest answers, so a bounded replay keeps a long (or hostile) message list cheap.
MAX_REPLAYED_TURNS = 8
# Streamed between a provisional text and the authoritative one when they differ (see _sse_events).
REPLACED_MARK = "\n\n—— 以上内容作废，以下为核验后的回答 ——\n\n"
_CREATED = int(time.time())


# ---------------------------------------------------------------------- request schema


class _TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[_TextPart] | None = None

    def text(self) -> str:
        """The message text: a string, or the text parts of a content list joined (other parts skipped)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content if p.type in ("text", "input_text"))


class ChatCompletionRequest(BaseModel):
    """The fields of an OpenAI chat-completions request that matter here; the rest is accepted and ignored.

    ``model`` is not checked: whatever a client is configured to send, the one model answers.
    System and developer messages are ignored too: they cannot change how the assistant answers.
    """

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[_Message]
    stream: bool = False
    # Where the asker is (临夏州): a top-level extra field, or ``metadata.region`` (OpenAI's free-form
    # request metadata). Absent: the deployment's POLICY_REGION; "" or "全国": anywhere.
    region: str | None = None
    metadata: dict[str, Any] | None = None

    def asker_region(self) -> Where:
        value = self.region if self.region is not None else (self.metadata or {}).get("region")
        return Where.parse(None if value is None else clean_text(str(value)))


class _BadRequest(Exception):
    def __init__(self, message: str, code: str = "invalid_request", status: int = 400):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


# The largest request body read: a conversation of questions (each cut to MAX_QUESTION_CHARS) is a few
# hundred KB at most; without a limit one request could make the server hold gigabytes.
MAX_BODY_BYTES = 1024 * 1024


async def _bounded_body(request: Request) -> bytes:
    """The request body, read only up to :data:`MAX_BODY_BYTES` (a declared or an actual larger one is
    refused before it is held in memory)."""
    too_large = _BadRequest(f"请求体过大，上限为 {MAX_BODY_BYTES // 1024} KB。", "request_too_large", 413)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:  # the client left mid-body: nobody to answer, nothing to log as a fault
        raise _BadRequest("客户端在发送请求体时断开。", "client_disconnected", 499) from None
    return b"".join(chunks)


# ---------------------------------------------------------------------- response shapes


def error_response(status: int, message: str, *, type_: str = "invalid_request_error",
                   code: str | None = None) -> JSONResponse:
    """OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``."""
    return JSONResponse(status_code=status,
                        content={"error": {"message": message, "type": type_, "param": None, "code": code}})


def answer_meta(answer: Answer) -> dict[str, Any]:
    """The ``policy_assistant`` field: how the answer came about."""
    return {"refused": answer.refused, "retrieved": list(answer.retrieved), "notes": list(answer.notes),
            "route": answer.route, "composer": answer.composer,
            "latency_ms": round(answer.timings.get("total", 0.0), 1)}


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


# ---------------------------------------------------------------------- the router


def create_router(assistant: Assistant | Callable[[], Assistant], *,
                  model_name: str = DEFAULT_MODEL_NAME, concurrency: int = 4) -> APIRouter:
    """Routes ``POST /v1/chat/completions``, ``GET /v1/models`` and ``GET /v1/models/{id}`` on ``assistant``.

    Include it in any FastAPI app (``app.include_router(create_router(assistant))``). ``assistant`` may
    be a callable returning the current one (a server that reloads its index after reindexing). The
    assistant is called in worker threads, never on the event loop: at most ``concurrency`` at once,
    on threads of their own, so answers that wait on a slow backend never take the threads other
    routes (the page, the model list) are served on; further questions wait without a thread.
    """
    current: Callable[[], Assistant] = assistant if callable(assistant) else (lambda: assistant)
    answering = anyio.CapacityLimiter(concurrency)
    router = APIRouter(prefix="/v1", tags=["OpenAI-compatible API"])
    fingerprint = f"policy-assistant-{__version__}"

    def model_card() -> dict[str, Any]:
        return {"id": model_name, "object": "model", "created": _CREATED, "owned_by": "policy-assistant"}

    @router.get("/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card()]}

    @router.get("/models/{model_id}")
    async def get_model(model_id: str):
        if model_id != model_name:
            return error_response(404, f"模型 {model_id} 不存在，可用的模型：{model_name}",
                                  code="model_not_found")
        return model_card()

    @router.post("/chat/completions")
    async def chat_completions(request: Request):
        try:
            question, earlier, stream, region = _parse(await _bounded_body(request))
        except _BadRequest as bad:
            return error_response(bad.status, bad.message, code=bad.code)

        base = {"id": _completion_id(), "created": int(time.time()), "model": model_name,
                "system_fingerprint": fingerprint}
        chosen = current()  # one assistant for the whole request, even if a reload happens meanwhile
        if not stream:
            try:
                answer = await anyio.to_thread.run_sync(
                    lambda: chosen.ask(question, _history(chosen, earlier, region), region=region), limiter=answering)
            except PolicyError as exc:
                return error_response(500, f"回答失败：{exc}", type_="server_error", code="policy_error")
            except Exception:  # a fault of ours: logged with its traceback, answered in Chinese
                log.exception("answering %r failed", question[:200])
                return error_response(500, INTERNAL_ERROR, type_="server_error", code="internal_error")
            return {**base, "object": "chat.completion",
                    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                 "message": {"role": "assistant", "content": answer.text, "refusal": None}}],
                    "citations": [c.to_json() for c in answer.citations],
                    "policy_assistant": answer_meta(answer)}

        events = _in_threads(_events(chosen, question, earlier, region), answering)
        return StreamingResponse(_sse(events, base), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return router


# ---------------------------------------------------------------------- request handling


def _parse(body: bytes) -> tuple[str, list[str], bool, Where]:
    """``(question, earlier user messages, stream, region)``; raises :class:`_BadRequest` with a Chinese
    message."""
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise _BadRequest("请求体不是有效的 JSON。", "invalid_json") from None
    except RecursionError:  # JSON nested a thousand deep
        raise _BadRequest("请求体嵌套过深，不是有效的请求。", "invalid_json") from None
    if not isinstance(data, dict):
        raise _BadRequest("请求体应为 JSON 对象，至少包含 messages 列表。")
    try:
        request = ChatCompletionRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "请求体"
        raise _BadRequest(f"请求格式不正确（{where}）：messages 应为 [{{role, content}}] 列表，"
                          f"content 为字符串或 [{{type: \"text\", text}}] 列表。") from None
    users = [m.text() for m in request.messages if m.role == "user"]
    if not users:
        raise _BadRequest("messages 中没有用户消息（role 为 user），无法作答。", "no_user_message")
    return users[-1], users[:-1], request.stream, request.asker_region()


def _history(assistant: Assistant, earlier: Sequence[str], region: Where = DEPLOYMENT) -> list[Answer]:
    """Rebuild the conversation's answers by asking the earlier user messages again, in order.

    Why replay rather than read the assistant messages the client sent back: the API is stateless, and
    follow-ups ("这条谁负责？", "那担保费呢？") are resolved from the previous *Answer* (its question,
    citations and retrieved clauses), which the echoed text does not carry. The extractive pipeline is
    deterministic, so replaying gives the same answers the client was shown (for an LLM-composed turn,
    the extractive answer to the same question, whose clauses are what the LLM was given), and a client
    cannot steer the assistant by sending a made-up assistant message. Only the latest
    ``MAX_REPLAYED_TURNS`` are replayed: follow-up resolution looks at the most recent answers.

    Replays never call an LLM: they only need citations and retrieved clauses, which the extractive
    composer gives in milliseconds, while an LLM per earlier turn would make every request cost as
    many model calls as the conversation has turns.
    """
    history: list[Answer] = []
    for question in list(earlier)[-MAX_REPLAYED_TURNS:]:
        history.append(assistant.ask(question, history, compose="extractive", region=region))
    return history


def _events(assistant: Assistant, question: str, earlier: Sequence[str],
            region: Where = DEPLOYMENT) -> Iterator[StreamEvent | PolicyError]:
    """The blocking part of a streamed request (run piece by piece in the threadpool)."""
    try:
        yield from assistant.stream(question, _history(assistant, earlier, region), region=region)
    except PolicyError as exc:  # reported in the stream: the response has already started
        yield exc
    except Exception:  # a fault of ours: logged, and the stream still ends with an error event and [DONE]
        log.exception("streaming an answer to %r failed", question[:200])
        yield PolicyError(INTERNAL_ERROR)


async def _in_threads(events: Iterator[T], limiter: anyio.CapacityLimiter) -> AsyncIterator[T]:
    """``events`` pulled one item at a time on a worker thread under ``limiter``."""
    done = object()
    while (item := await anyio.to_thread.run_sync(next, events, done, limiter=limiter)) is not done:
        yield item  # type: ignore[misc]  # not the sentinel, so one of ``events``' items


async def _sse(events: AsyncIterator[StreamEvent | PolicyError], base: dict[str, Any]) -> AsyncIterator[str]:
    """Server-Sent Events: a role chunk, one chunk per text piece, a final chunk with citations, [DONE].

    The pieces are provisional (an LLM answer that fails verification is replaced by the extractive
    one). When the final text does not continue what was streamed, the authoritative text is streamed
    after :data:`REPLACED_MARK`, so a plain OpenAI client still ends up showing it, and is also given
    whole as ``policy_assistant.final_text`` for clients that replace what they displayed.
    """

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {**base, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    streamed: list[str] = []
    async for event in events:
        if isinstance(event, PolicyError):
            error = {"message": f"回答失败：{event}", "type": "server_error", "param": None, "code": "policy_error"}
            yield f"data: {json.dumps({'error': error}, ensure_ascii=False)}\n\n"
            break
        if isinstance(event, Final):
            answer = event.answer
            meta = answer_meta(answer)
            shown = "".join(streamed)
            if answer.text != shown:
                if answer.text.startswith(shown):  # stream() yields the remainder itself; kept for safety
                    yield chunk({"content": answer.text[len(shown):]})
                else:
                    yield chunk({"content": REPLACED_MARK + answer.text})
                    meta["final_text"] = answer.text
            yield chunk({}, "stop", citations=[c.to_json() for c in answer.citations], policy_assistant=meta)
            break
        if event.text:
            streamed.append(event.text)
            yield chunk({"content": event.text})
    yield "data: [DONE]\n\n"
