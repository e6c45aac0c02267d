"""Conversations kept in the asker's browser (Gradio's BrowserState, in localStorage): the current one,
restored after a reload, and the last few before it, to go back to. Pure functions over JSON records.

A record holds what the chat shows (its messages, already escaped HTML) and the answers behind them
(:meth:`Answer.to_dict`), so follow-up questions and ratings work after a reload as before it. A record
that does not read (another version's, or edited by hand) is dropped, never shown half.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..models import Answer

# Conversations kept besides the current one, and answers kept per conversation (localStorage holds a few MB).
MAX_PAST = 10
MAX_ANSWERS = 40
TITLE_CHARS = 24
EMPTY: dict[str, Any] = {"current": None, "past": []}


def record(chat: list, answers: list[Answer]) -> dict[str, Any] | None:
    """The conversation as stored (None when nothing was asked yet)."""
    if not answers:
        return None
    kept = answers[-MAX_ANSWERS:]
    first = kept[0].question.strip().replace("\n", " ")
    return {"title": first[:TITLE_CHARS] + ("…" if len(first) > TITLE_CHARS else ""),
            "saved": dt.datetime.now().isoformat(timespec="minutes"),
            "chat": list(chat or [])[-2 * len(kept):], "answers": [a.to_dict() for a in kept]}


def opened(stored: dict[str, Any] | None) -> tuple[list, list[Answer]]:
    """(chat messages, answers) of a stored conversation; ([], []) when there is none or it does not read."""
    if not isinstance(stored, dict):
        return [], []
    try:
        chat = [dict(m) for m in stored["chat"] if m.get("role") in ("user", "assistant")]
        answers = [Answer.from_dict(a) for a in stored["answers"]]
    except (KeyError, TypeError, ValueError, AttributeError):
        return [], []
    return chat, answers


def store(saved: Any) -> dict[str, Any]:
    """The browser's store as a well-formed dict (a missing or damaged one reads as empty)."""
    if not isinstance(saved, dict) or not isinstance(saved.get("past"), list):
        return dict(EMPTY)
    return {"current": saved.get("current"), "past": [p for p in saved["past"] if isinstance(p, dict)][:MAX_PAST]}


def with_current(saved: Any, chat: list, answers: list[Answer]) -> dict[str, Any]:
    """The store with the conversation on screen as its current one."""
    return {**store(saved), "current": record(chat, answers)}


def new_conversation(saved: Any) -> dict[str, Any]:
    """The store after 新对话: the current conversation first among the past ones, none current."""
    saved = store(saved)
    past = ([saved["current"]] if saved["current"] else []) + saved["past"]
    return {"current": None, "past": past[:MAX_PAST]}


def switch_to(saved: Any, position: int) -> dict[str, Any]:
    """The store with past conversation ``position`` current, the one it replaces first among the past."""
    saved = store(saved)
    past = list(saved["past"])
    if not 0 <= position < len(past):
        return saved
    chosen = past.pop(position)
    if saved["current"]:
        past.insert(0, saved["current"])
    return {"current": chosen, "past": past[:MAX_PAST]}


def choices(saved: Any) -> list[tuple[str, int]]:
    """The 历史对话 list: (title and when, position) of each past conversation, the latest first."""
    out = []
    for position, past in enumerate(store(saved)["past"]):
        when = str(past.get("saved", ""))[:16].replace("T", " ")
        out.append((f"{past.get('title') or '（无标题）'} · {when}", position))
    return out
