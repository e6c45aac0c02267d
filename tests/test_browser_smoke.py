"""Smoke test in a real browser: the current clause-search page, driven in Debian's headless chromium.

It runs ``python app.py`` on the seed index (``app_server``), searches as a person would, checks that
user input is never executed as markup, and that the page loads nothing from a non-loopback host.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser import ARTIFACTS

XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


def _search(page, text: str) -> None:
    box = page.get_by_label("问题或关键词")
    box.fill(text)
    page.get_by_role("button", name="检索", exact=True).click()


def test_search_page_in_browser(app_server, browser_page, offsite):
    page = browser_page
    page.goto(app_server.url)
    expect(page).to_have_title("政策通 · 中小微企业融资政策")

    _search(page, "创业担保贷款最高额度")
    card = page.locator("details.clause").filter(has_text="用好财政贴息政策").filter(has_text="300万元")
    expect(card.first).to_be_visible()

    # Hostile input: searched, shown back as plain text, never run or turned into elements.
    first_card = "document.querySelector('details.clause')?.outerHTML"
    before = page.evaluate(first_card)
    _search(page, XSS)
    page.wait_for_function(f"before => {first_card} !== before", arg=before)
    expect(page.get_by_label("问题或关键词")).to_have_value(XSS)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate(
        "[...document.scripts].filter(s => s.textContent.includes('__xss')).length"
    ) == 0

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "smoke.png"), full_page=True)
    assert offsite.blocked == [], f"the page tried to load from other hosts: {offsite.blocked}"
