"""Property-based tests of the question path: whatever text arrives, the answer is an Answer, never a traceback.

Hypothesis generates arbitrary unicode (lone surrogates included: a JSON body may carry "\\ud800"),
control characters, emoji, punctuation-only strings, mixed scripts and very long strings (up to
100 000 characters). For each one: ``Assistant.ask`` and ``Assistant.stream`` return an Answer with
text, a long question is truncated with a note, the chat and card renderers accept the result, the
answer serializes to UTF-8 JSON, and the time per question stays bounded.

Example counts are bounded (``max_examples``) and the deadline is explicit, so the whole file runs in
well under a minute on two cores.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from assistant.answer.assistant import MAX_QUESTION_CHARS, Assistant
from assistant.models import Answer, Delta, Final
from assistant.web.render import chat_text, citation_cards, question_preview

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

TODAY = dt.date(2026, 11, 28)
# One question, however long or strange, must be answered within this (seconds). Typical: < 0.1 s.
MAX_SECONDS = 5.0
# No shrinking: it can take minutes on these inputs; the failing example is reported as generated.
PHASES = (Phase.explicit, Phase.generate)
QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
FUZZ = settings(max_examples=120, deadline=dt.timedelta(seconds=10), derandomize=True, phases=PHASES,
                suppress_health_check=QUIET)

CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.sampled_from(
    ["\x7f", "\x85", "\u200b", "\u200e", "\u202e", "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff"])
SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
EMOJI = st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF) | st.sampled_from(list("❤☺✅⚠"))
EMOJI_SEQ = st.sampled_from(["👍🏽", "👨‍👩‍👧", "🇨🇳", "❤️", "1️⃣"])  # several code points each
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
PUNCT = st.sampled_from(list("，。、；：？！“”‘’（）《》〔〕【】…—·,.;:?!\"'()[]{}<>/\\|@#$%^&*-_=+~`"))
WORDS = st.sampled_from(["创业担保贷款", "融资担保费率", "贴息", "州税务局", "第十八条", "（十二）", "延期还本付息",
                         "loan", "إقراض", "кредит", "ローン", "대출", "擔保費率", "１０００万元", "2.88%"])
ANY_CHAR = st.characters(codec=None, exclude_categories=()) | SURROGATE | CONTROL | EMOJI

QUESTIONS = st.one_of(
    st.text(ANY_CHAR, max_size=200),  # arbitrary unicode, surrogates and control characters included
    # text() rarely draws surrogates from a union alphabet; lists of single characters do.
    st.lists(SURROGATE | CONTROL | EMOJI | CJK | PUNCT | WORDS, min_size=1, max_size=40).map("".join),
    st.text(CONTROL | st.just(" "), max_size=50),
    st.text(EMOJI, min_size=1, max_size=30),
    st.lists(EMOJI_SEQ | EMOJI | WORDS, min_size=1, max_size=15).map("".join),
    st.text(PUNCT, min_size=1, max_size=80),
    st.lists(WORDS | st.text(ANY_CHAR, max_size=5) | EMOJI_SEQ | CONTROL, min_size=1, max_size=12).map("".join),
    # Long and very long: a pasted document, a repeated word, a single huge token.
    st.builds(lambda part, n: (part * n)[:100_000], st.text(CJK | PUNCT | EMOJI | CONTROL, min_size=1, max_size=20),
              st.integers(min_value=100, max_value=100_000)),
    st.builds(lambda word, n: word * n, WORDS, st.integers(min_value=300, max_value=20_000)),
)


@pytest.fixture(scope="module")
def assistant(seed_settings, seed_index):
    return Assistant.from_settings(seed_settings, index=seed_index, today=TODAY)


def check_answer(question: str, answer: Answer, seconds: float, index) -> None:
    assert isinstance(answer, Answer)
    assert answer.text.strip(), "every question gets some text back"
    assert seconds < MAX_SECONDS, f"{seconds:.2f} s for a {len(question)}-character question"
    if len(question.strip()) > MAX_QUESTION_CHARS:
        assert any(str(MAX_QUESTION_CHARS) in n for n in answer.notes), answer.notes
    # What the web app and the API do with an answer must not fail either.
    for text in (chat_text(answer.text), citation_cards(index, answer), chat_text(question_preview(question))):
        text.encode("utf-8")
    json.dumps(answer.to_dict(), ensure_ascii=False).encode("utf-8")
    answer.question.encode("utf-8")
    for citation in answer.citations:
        assert citation.clause_id in index.by_id


@FUZZ
@given(question=QUESTIONS)
def test_any_question_gets_an_answer(assistant, seed_index, question):
    started = time.perf_counter()
    answer = assistant.ask(question)
    check_answer(question, answer, time.perf_counter() - started, seed_index)


@settings(max_examples=40, deadline=dt.timedelta(seconds=10), derandomize=True, phases=PHASES,
          suppress_health_check=QUIET)
@given(first=QUESTIONS, second=QUESTIONS)
def test_streamed_follow_up_of_any_question(assistant, seed_index, first, second):
    """A conversation of two arbitrary turns, through stream() as the web app and the API use it."""
    previous = assistant.ask(first)
    started = time.perf_counter()
    events = list(assistant.stream(second, [previous]))
    seconds = time.perf_counter() - started
    assert isinstance(events[-1], Final) and all(isinstance(e, Delta) for e in events[:-1])
    check_answer(second, events[-1].answer, seconds, seed_index)


@pytest.mark.parametrize("question", [
    "\ud800", "担保\udfff费率", "\x00" * 10, "\u202e率费保担", "\ufeff融资担保费率是多少？", "🙂" * 50_000,
    "。" * 100_000, "a" * 100_000, "\n" * 100_000 + "创业担保贷款", "贷" * 2001,
])
def test_named_hostile_questions(assistant, seed_index, question):
    started = time.perf_counter()
    answer = assistant.ask(question)
    check_answer(question, answer, time.perf_counter() - started, seed_index)


@pytest.mark.parametrize("first", ["贷款" * 50_000, "。" * 100_000])
def test_follow_up_after_a_huge_question_is_fast(assistant, seed_index, first):
    """A short follow-up carries the previous question's topic; only its answered (truncated) part."""
    previous = assistant.ask(first)
    started = time.perf_counter()
    answer = assistant.ask("具体多少？", [previous])
    seconds = time.perf_counter() - started
    check_answer("具体多少？", answer, seconds, seed_index)
    assert seconds < 2.0, f"{seconds:.1f} s: the follow-up searched the whole 100 000-character question"


def test_search_tolerates_any_text(assistant):
    """The /search endpoint calls the searcher directly: it must not fail on the same inputs."""
    for query in ("\ud800", "担保\udfff费率", "\x00", "🙂" * 1000, "。" * 1000):
        hits = assistant.search(query, k=3)
        assert len(hits) <= 3
