"""The web app in a real browser (Debian's headless chromium via playwright), as its users use it.

A business owner asks in everyday words and sees the answer with a citation card; a follow-up keeps
the context; hostile input is shown as text and runs or loads nothing; hotline staff filter clauses
by unit; the documents tab lists the corpus. The app runs as ``python app.py`` (``app_server``).
"""

from __future__ import annotations

import shutil

from playwright.sync_api import Page, expect

from tests.browser import ARTIFACTS
from tests.support import ROOT

XSS_QUESTIONS = [
    '<script>window.__xss=1</script>创业担保贷款',
    '<img src=x onerror="window.__xss=2">担保费率',
    "![logo](http://example.com/x.png) 延期还本付息",
]


def ask(page: Page, question: str) -> None:
    count = page.locator("#chat .message-row").count()
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    # Done when the new answer replaced the "looking it up" placeholder.
    page.wait_for_function(
        """n => { const rows = document.querySelectorAll('#chat .message-row');
                  return rows.length >= n + 2 && !rows[rows.length - 1].innerText.includes('正在查找'); }""",
        arg=count)


def last_answer(page: Page) -> str:
    return page.locator("#chat .message-row").last.inner_text()


def test_owner_asks_and_sees_cited_clause(app_server, browser_page, offsite):
    page = browser_page
    page.goto(app_server.url)
    expect(page).to_have_title("政策通 · 中小微企业融资政策问答")

    ask(page, "我开饭馆的，贷款还不上能缓缓吗？")
    assert "延期还本付息" in last_answer(page)
    card = page.locator("#cards details.cite").first
    expect(card).to_contain_text("做好延期还本付息政策接续")
    expect(card.locator("mark").first).to_contain_text("延期还本付息")
    expect(card).to_contain_text("责任单位：人行临夏州中心支行")
    expect(card.locator(".validity")).to_contain_text("该期限已过")

    ask(page, "这条谁负责？")  # a follow-up, resolved against the previous answer
    assert "人行临夏州中心支行" in last_answer(page)

    ask(page, "深圳的创业补贴标准是多少？")  # not in the documents: a friendly refusal
    assert "12345" in last_answer(page)
    expect(page.locator("#cards")).to_contain_text("可能相关")

    ask(page, "   ")
    assert "请输入" in last_answer(page)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
    page.locator("#clear").click()
    expect(page.locator("#chat .message-row")).to_have_count(0)
    assert offsite.blocked == []


def test_hostile_questions_show_as_text_and_run_nothing(app_server, browser_page, offsite):
    page = browser_page
    page.goto(app_server.url)
    for question in XSS_QUESTIONS:
        ask(page, question)
    shown = page.locator("#chat").inner_text()
    assert "<script>window.__xss=1</script>" in shown and 'onerror="window.__xss=2"' in shown
    assert "![logo](http://example.com/x.png)" in shown
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("#chat img[src='x'], img[src*='example.com']").count() == 0
    assert page.evaluate("[...document.scripts].filter(s => s.textContent.includes('__xss')).length") == 0
    assert offsite.blocked == [], f"the page tried to load from other hosts: {offsite.blocked}"


def test_hotline_lookup_by_unit_and_documents_tab(app_server, browser_page, offsite):
    page = browser_page
    page.goto(app_server.url)
    page.get_by_role("tab", name="条款查询").click()
    page.locator("#lookup-unit input").click()
    page.get_by_role("option", name="州税务局", exact=True).click()
    results = page.locator("#lookup-results details.lookup")
    expect(results).to_have_count(4)
    expect(results.first).to_contain_text("降低中小微企业融资成本")
    expect(page.locator("#lookup-results")).to_contain_text("共 4 条")

    page.locator("#lookup-number textarea, #lookup-number input").first.fill("第十八条")
    page.locator("#lookup-find").click()
    expect(results).to_have_count(0)  # unit 州税务局 AND clause 18: 州税务局 is not its unit
    page.locator("#lookup-unit input").click()
    page.get_by_role("option", name="（全部）", exact=True).click()
    page.locator("#lookup-find").click()
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("第（十八）条")

    page.get_by_role("tab", name="政策文件").click()
    expect(page.locator("#documents")).to_contain_text("临州办发〔2022〕84号")
    expect(page.locator("#documents")).to_contain_text("甘政办发〔2022〕101号")
    assert page.get_by_role("tab", name="管理").count() == 0  # no admin password set: no admin area
    assert offsite.blocked == []


def test_screenshot_for_the_docs_is_current(app_server, browser_page):
    """Refresh docs/screenshot.png from a real session (committed, shown in README)."""
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(app_server.url)
    ask(page, "创业担保贷款最高能贷多少？")
    expect(page.locator("#cards details.cite").first).to_contain_text("300万元")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "screenshot.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    if (ROOT / "docs").is_dir():
        shutil.copyfile(shot, ARTIFACTS / "docs-screenshot-candidate.png")
