"""Conversations kept in the browser (assistant/web/conversations.py): stored, reopened, rotated, and a damaged
store read as empty rather than shown half."""

from __future__ import annotations

import json

from assistant.models import Answer, Citation
from assistant.web import conversations


def turn(question: str) -> tuple[list, Answer]:
    answer = Answer(question=question, text=f"{question}的回答", route="search",
                    citations=[Citation("d#1", "t", "〔d 第一条〕", "引文", 0, 2, ("州财政局",))], choices=[("甲", "问甲")])
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}], answer


def test_a_stored_conversation_opens_as_it_was_after_a_json_round_trip():
    chat, answer = turn("创业担保贷款最高能贷多少？")
    stored = json.loads(json.dumps(conversations.with_current(None, chat, [answer]), ensure_ascii=False))
    assert conversations.opened(stored["current"]) == (chat, [answer])
    assert stored["current"]["title"] == "创业担保贷款最高能贷多少？"


def test_new_conversations_rotate_into_the_history_and_can_be_switched_back():
    saved = conversations.EMPTY
    for n in range(conversations.MAX_PAST + 3):
        chat, answer = turn(f"第{n}个问题")
        saved = conversations.new_conversation(conversations.with_current(saved, chat, [answer]))
    titles = [label for label, _ in conversations.choices(saved)]
    assert len(titles) == conversations.MAX_PAST and titles[0].startswith(f"第{conversations.MAX_PAST + 2}个问题")
    chat, answer = turn("当前的问题")
    switched = conversations.switch_to(conversations.with_current(saved, chat, [answer]), 2)
    assert conversations.opened(switched["current"])[1][0].question == f"第{conversations.MAX_PAST}个问题"
    assert conversations.choices(switched)[0][0].startswith("当前的问题")


def test_a_damaged_store_reads_as_empty():
    for damaged in (None, "x", {"past": "x"}, {"current": {"chat": [1], "answers": [{}]}, "past": []}):
        current = conversations.store(damaged)["current"]
        assert conversations.opened(current) == ([], [])
