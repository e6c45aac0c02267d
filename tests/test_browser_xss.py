"""XSS payloads in questions and in a corpus document, in a real browser: nothing runs, nothing loads offsite.

A fresh app serves the seed corpus plus a document whose title, section heading, clause texts and
责任单位 carry ``<script>``, ``<img onerror>``, ``<svg onload>``, ``javascript:`` links, Markdown images
and ``<iframe>``/``<style>`` pointing at other hosts. The chat, the citation cards, the lookup tab and
the documents tab must show them as text: no payload sets ``window.__xss``, no element gets an
``on*`` handler or a ``javascript:`` URL, and the ``offsite`` guard sees no request to another host.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_browser_chat import XSS_QUESTIONS, ask, last_cards

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

HOSTILE_DOC = """关于<script>window.__xss=11</script>融资奖补的通知
测试办发〔2024〕66号
一、<img src=x onerror="window.__xss=12">奖补措施
（一）<svg onload="window.__xss=13">担保奖补。对融资担保机构给予担保奖补，详见[点我](javascript:window.__xss=14)和![图](http://example.com/evil.png)，以及<a href="javascript:window.__xss=15">链接</a>、<iframe src="http://example.com/frame"></iframe>。（责任单位：州测试局<b onmouseover="window.__xss=16">奖补办</b>）
（二）<style>body{background:url(http://example.com/bg.png)}</style>贴息奖补。对小微企业给予贴息奖补，<img src="http://example.com/p.png">，<object data="http://example.com/o.swf"></object>。（责任单位：州测试局）
"""

MORE_QUESTIONS = [
    '<svg/onload="window.__xss=3">担保奖补有哪些？',
    '[点我](javascript:window.__xss=4) 贴息奖补',
    '<iframe src="http://example.com/q"></iframe>贴息奖补',
    '<a href="javascript:window.__xss=5">第十八条</a>',
    '"><script>window.__xss=6</script>',
    "javascript:window.__xss=7",
]

# Elements that got an event handler or a javascript: URL, or load from another host, in the app's areas.
INJECTED_ELEMENTS = """() => {
  const roots = ['#chat', '#lookup-results', '#documents'].map(s => document.querySelector(s)).filter(Boolean);
  const bad = [];
  for (const root of roots) for (const el of root.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const v = (a.value || '').toLowerCase();
      const loads = ['href', 'src', 'srcset', 'action', 'formaction', 'data', 'poster', 'xlink:href', 'style'].includes(a.name);
      if (a.name.startsWith('on') || (loads && (v.includes('javascript:') || v.includes('example.com'))))
        bad.push(el.outerHTML.slice(0, 120));
    }
    if (['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED', 'STYLE'].includes(el.tagName)) bad.push(el.outerHTML.slice(0, 120));
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def hostile_app(start_app, tmp_path_factory):
    from tests.support import copy_corpus

    base = tmp_path_factory.mktemp("xss")
    corpus = copy_corpus(base / "corpus")
    (corpus / "hostile.txt").write_text(HOSTILE_DOC, encoding="utf-8")
    return start_app(fresh=True, POLICY_CORPUS_DIR=str(corpus), POLICY_INDEX_DIR=str(base / "index"),
                     POLICY_AUTO_BUILD="true")


def assert_nothing_ran(page, offsite) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.evaluate(INJECTED_ELEMENTS) == []
    assert offsite.blocked == [], f"the page tried to load from other hosts: {offsite.blocked}"


def test_hostile_questions_and_document_in_chat_and_cards(hostile_app, browser_page, offsite):
    page = browser_page
    page.goto(hostile_app.url)
    for i, question in enumerate(XSS_QUESTIONS + MORE_QUESTIONS):
        if i and i % 4 == 0:  # a long chat scrolls old rows away; check and start over every few turns
            assert_nothing_ran(page, offsite)
            page.locator("#clear").click()
            expect(page.locator("#chat .message-row")).to_have_count(0)
        ask(page, question)
        rows = page.locator("#chat .message-row")
        assert question.strip() in rows.nth(rows.count() - 2).inner_text(), "the question is shown as text"
    ask(page, "担保奖补有哪些规定？")
    cards = last_cards(page)  # the cards inside the answer's own message
    expect(cards).to_contain_text('<svg onload="window.__xss=13">担保奖补')
    for details in cards.locator("details").all():
        details.evaluate("d => d.open = true")
    expect(cards).to_contain_text("<iframe src=\"http://example.com/frame\"></iframe>")
    expect(cards).to_contain_text("![图](http://example.com/evil.png)")
    ask(page, "贴息奖补是什么？")
    cards = last_cards(page)
    expect(cards).to_contain_text("<style>body{background:url(http://example.com/bg.png)}</style>")
    for details in cards.locator("details").all():  # open every card, so everything is rendered
        details.evaluate("d => d.open = true")
    cards.hover()
    assert_nothing_ran(page, offsite)


def test_hostile_document_in_lookup_and_documents_tabs(hostile_app, browser_page, offsite):
    page = browser_page
    page.goto(hostile_app.url)
    page.get_by_role("tab", name="条款查询").click()
    page.locator("#lookup-keyword textarea, #lookup-keyword input").first.fill("奖补")
    page.locator("#lookup-find").click()
    results = page.locator("#lookup-results details.lookup")
    expect(page.locator("#lookup-results details[data-clause='hostile#2']")).to_have_count(1)
    for details in results.all():
        details.evaluate("d => d.open = true")
    expect(page.locator("#lookup-results")).to_contain_text('<img src="http://example.com/p.png">')
    expect(page.locator("#lookup-results")).to_contain_text('onmouseover="window.__xss=16"')
    page.locator("#lookup-results").hover()
    # The 责任单位 list is built from the document too.
    page.locator("#lookup-unit input").click()
    page.keyboard.press("Escape")
    assert_nothing_ran(page, offsite)

    page.get_by_role("tab", name="政策文件").click()
    docs = page.locator("#documents")
    expect(docs).to_contain_text("关于<script>window.__xss=11</script>融资奖补的通知")
    docs.hover()
    assert_nothing_ran(page, offsite)
