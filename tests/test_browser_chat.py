"""The web app in a real browser (Debian's headless chromium via playwright), as its users use it.

A business owner asks in everyday words and sees the answer with a citation card; a follow-up keeps
the context; hostile input is shown as text and runs or loads nothing; hotline staff filter clauses
by unit; the documents tab lists the corpus. The app runs as ``python app.py`` (``app_server``).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser import ARTIFACTS

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

XSS_QUESTIONS = [
    '<script>window.__xss=1</script>创业担保贷款',
    '<img src=x onerror="window.__xss=2">担保费率',
    "![logo](http://example.com/x.png) 延期还本付息",
]


def ask(page: Page, question: str) -> None:
    """Ask in the chat and wait until the streamed answer is complete."""
    done = page.locator("#answers-done span")
    count = int(done.get_attribute("data-answers") or 0)
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    expect(done).to_have_attribute("data-answers", str(count + 1))


def last_answer(page: Page) -> str:
    return page.locator("#chat .message-row").last.inner_text()


# Whether the latest message's top is inside the chat's scrolling box and on the screen (``h``: its height).
ANSWER_START_IN_VIEW = """h => {
  const rows = document.querySelectorAll('#chat .message-row'), row = rows[rows.length - 1];
  let box = row.parentElement;
  while (box && !(box.scrollHeight > box.clientHeight + 2 && /(auto|scroll)/.test(getComputedStyle(box).overflowY)))
    box = box.parentElement;
  const top = row.getBoundingClientRect().top, area = box ? box.getBoundingClientRect() : {top: 0, bottom: h};
  return top >= Math.max(area.top, 0) - 1 && top < Math.min(area.bottom, h) - 40;
}"""


def last_cards(page: Page):
    """The clause cards inside the latest answer's own message."""
    return page.locator("#chat .message-row").last.locator(".cards")


# The WCAG contrast of an element's text against the background it is drawn on (the first ancestor with
# an opaque background), in the page's current theme.
CONTRAST = """el => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  let node = el, bg = null;
  while (node && node.nodeType === 1) { const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) { bg = c; break; } node = node.parentElement; }
  bg = bg || [255, 255, 255];
  const fg = rgb(getComputedStyle(el).color);
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def test_owner_asks_and_sees_cited_clause(app_server, browser_page, offsite):
    page = browser_page
    page.goto(app_server.url)
    expect(page).to_have_title("政策通 · 中小微企业融资政策问答")

    ask(page, "我开饭馆的，贷款还不上能缓缓吗？")
    assert "延期还本付息" in last_answer(page)
    card = last_cards(page).locator("details.cite").first  # the sources sit under their own answer
    expect(card).to_contain_text("做好延期还本付息政策接续")
    expect(card.locator("mark").first).to_contain_text("延期还本付息")
    expect(card).to_contain_text("责任单位：人行临夏州中心支行")
    expect(card.locator(".validity")).to_contain_text("该期限已过")

    # Every button of the chat is named in Chinese (Gradio's copy button too).
    labels = page.evaluate("() => [...document.querySelectorAll('#chat button[aria-label]')].map(b => b.ariaLabel)")
    assert labels and not [label for label in labels if re.search("[A-Za-z]{3,}", label)], labels

    ask(page, "这条谁负责？")  # a follow-up, resolved against the previous answer
    assert "人行临夏州中心支行" in last_answer(page)

    ask(page, "创业担保贷款最高能贷多少？")  # the answer first: the figure in bold, as markup of its own
    expect(page.locator("#chat .message-row").last.locator("strong").first).to_have_text("300万元")
    assert last_answer(page).startswith("对符合条件的小微企业提供最高额度为300万元的创业担保贷款")

    ask(page, "深圳的创业补贴标准是多少？")  # not in the documents: a friendly refusal
    assert "12345" in last_answer(page)
    expect(last_cards(page)).to_contain_text("可能相关")
    # Every earlier answer keeps its own sources.
    first = page.locator("#chat .message-row").nth(1)
    expect(first.locator("details.cite").first).to_contain_text("做好延期还本付息政策接续")
    assert "linxia-2022-84#" not in first.inner_text()  # no internal ids on a card

    rows = page.locator("#chat .message-row").count()
    page.locator("#question textarea").fill("   ")  # an empty send: a hint, no bubble, no answer
    page.locator("#send").click()
    expect(page.locator("#question-hint")).to_contain_text("请先输入您的问题")
    assert page.locator("#chat .message-row").count() == rows

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
    # Typing into a filter list replaces what it shows (it appended: "州税务局州财" matched nothing).
    unit = page.locator("#lookup-unit input")
    unit.click()
    page.keyboard.type("州财")
    page.keyboard.press("ArrowDown")  # Gradio filters on a key press; typed CJK arrives without one here
    expect(unit).to_have_value("州财")
    expect(page.get_by_role("option", name="州财政局", exact=True)).to_have_count(1)
    expect(page.get_by_role("option", name="州税务局", exact=True)).to_have_count(0)
    page.keyboard.press("Escape")
    page.locator("#lookup-number textarea, #lookup-number input").first.click()  # leaving it shows its value again
    expect(unit).to_have_value("州税务局")
    unit.click()
    page.get_by_role("option", name="（全部）", exact=True).click()
    page.locator("#lookup-find").click()
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("第（十八）条")

    page.get_by_role("tab", name="政策文件").click()
    expect(page.locator("#documents")).to_contain_text("临州办发〔2022〕84号")
    expect(page.locator("#documents")).to_contain_text("甘政办发〔2022〕101号")
    assert page.get_by_role("tab", name="管理").count() == 0  # no admin password set: no admin area
    assert offsite.blocked == []


def test_screenshot_of_an_answered_question(app_server, browser_page):
    """tests/artifacts/screenshot.png: the picture in README (docs/screenshot.png) is a copy of it."""
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(app_server.url)
    ask(page, "创业担保贷款最高能贷多少？")
    expect(last_cards(page).locator("details.cite").first).to_contain_text("300万元")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "screenshot.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_feedback_is_stored_with_question_answer_and_citations(app_server, browser_page):
    from assistant.web.feedback import FeedbackStore

    page = browser_page
    page.goto(app_server.url)
    ask(page, "融资担保费率是多少？")
    page.locator("#comment textarea").fill("很清楚<b>谢谢</b>")
    page.locator("#up").click()
    expect(page.locator("#feedback-status")).to_contain_text("感谢您的反馈")
    store = FeedbackStore(app_server.env["POLICY_FEEDBACK_DB"], create=False)

    def rows() -> list[dict]:
        return [r for r in store.rows() if r["question"] == "融资担保费率是多少？"]

    for _ in range(50):
        if rows():
            break
        page.wait_for_timeout(100)
    [up] = rows()
    assert up["rating"] == 1 and up["comment"] == "很清楚<b>谢谢</b>" and "不高于1%" in up["answer"]
    assert up["citations"][0]["clause_id"].endswith("#4") and up["app_version"]
    # The same browser changing its mind, then clicking 👎 again and again: still one vote, the last one.
    page.locator("#chat button[aria-label='踩']").last.click()  # the chatbot's own 👎 on the answer
    for i in range(1, 6):
        page.locator("#comment textarea").fill(f"第{i}次")
        page.locator("#down").click()
        expect(page.locator("#comment textarea")).to_have_value("")  # handled: the box is cleared
    assert [(r["rating"], r["comment"]) for r in rows()] == [(-1, "第5次")]


def test_admin_area_needs_the_password_and_accepts_a_document(start_app, browser_page, corpus_dir, tmp_path):
    app = start_app(fresh=True, POLICY_ADMIN_PASSWORD="s3cret", POLICY_CORPUS_DIR=str(corpus_dir),
                    POLICY_INDEX_DIR=str(tmp_path / "index"), POLICY_AUTO_BUILD="true")
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})  # an admin's six tabs all fit on a phone
    page.goto(app.url)
    tabs = page.locator("button[role=tab]")
    expect(tabs).to_have_count(6)
    assert all(tab.is_visible() for tab in tabs.all())
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("tab", name="管理").click()
    document = tmp_path / "../测试/新政策.txt"
    document.parent.mkdir(parents=True, exist_ok=True)
    document.write_text("关于测试的通知\n一、支持措施\n（一）测试贴息。对测试企业给予测试贴息77万元。（责任单位：州测试局）\n",
                        encoding="utf-8")
    page.locator("#admin-file input[type=file]").set_input_files(str(document))
    page.locator("#admin-password input").fill("wrong")
    page.locator("#admin-upload").click()
    expect(page.locator("#admin-result")).to_contain_text("密码错误")
    assert not (corpus_dir / "新政策.txt").exists()

    page.locator("#admin-password input").fill("s3cret")
    page.locator("#admin-upload").click()
    result = page.locator("#admin-result")
    expect(result).to_contain_text("已加入语料：新政策.txt", timeout=60_000)
    assert (corpus_dir / "新政策.txt").is_file()
    # What the upload became (the title read from the text, its clauses, what the parser could not find) and
    # how long each stage of the rebuild took.
    expect(result).to_contain_text("《关于测试的通知》")
    expect(result).to_contain_text("请核对：")  # no date and no level in this text
    expect(result).to_contain_text(re.compile(r"用时：读取文件 [\d.]+ 秒 · 解析条款 [\d.]+ 秒 · 计算向量"))

    # Every list of the page knows the new document at once, without a reload: the documents tab, the lookup's
    # 文件 and 责任单位 filters.
    page.get_by_role("tab", name="政策文件").click()
    expect(page.locator("#documents")).to_contain_text("关于测试的通知")
    page.get_by_role("tab", name="条款查询").click()
    page.locator("#lookup-document input").click()
    expect(page.get_by_role("option", name="关于测试的通知")).to_have_count(1)
    page.keyboard.press("Escape")
    page.locator("#lookup-unit input").click()
    expect(page.get_by_role("option", name="州测试局", exact=True)).to_have_count(1)
    page.keyboard.press("Escape")

    page.get_by_role("tab", name="政策问答").click()
    ask(page, "测试贴息有多少？")
    assert "77万元" in last_answer(page)  # the new document answers right away, without a restart

    # 管理 lists the corpus (after the password) and deletes a file: the index and every list follow.
    page.get_by_role("tab", name="管理").click()
    page.locator("#admin-show").click()
    expect(page.locator("#admin-documents")).to_contain_text("关于测试的通知")
    page.locator("#admin-files input").click()
    page.get_by_role("option", name="新政策.txt", exact=True).click()
    page.locator("#admin-delete").click()
    expect(page.locator("#admin-result")).to_contain_text("已删除：新政策.txt", timeout=60_000)
    assert not (corpus_dir / "新政策.txt").exists()
    expect(page.locator("#admin-documents")).not_to_contain_text("关于测试的通知")
    page.get_by_role("tab", name="政策文件").click()
    expect(page.locator("#documents")).not_to_contain_text("关于测试的通知")

    # A file the index cannot use, put into the folder by hand: the rebuild and the list say which and why.
    (corpus_dir / "空白.txt").write_bytes(b"")
    page.get_by_role("tab", name="管理").click()
    page.locator("#admin-reindex").click()
    expect(result).to_contain_text("⚠️ 未能使用：文件为空（空白.txt）", timeout=60_000)
    expect(page.locator("#admin-documents ul.skipped")).to_contain_text("空白.txt：文件为空")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin.png"), full_page=True)

    # Gradio's own status line is English ("processing | 0.8s"); the page puts it in Chinese as it is drawn.
    status = page.evaluate("""() => new Promise(done => {
      const line = document.createElement('div'); line.className = 'progress-text';
      document.body.appendChild(line); line.appendChild(document.createTextNode('processing | 0.8s'));
      setTimeout(() => done(line.textContent), 100); })""")
    assert status == "处理中 | 0.8s", status


def test_an_owner_chooses_their_area_and_sees_local_then_national_rules(start_app, multi_settings, browser_page,
                                                                          offsite):
    """The seed beside the real documents: with 所在地区 临夏州 the 州's own caps lead, the national
    rule follows, each under its level; 条款查询 narrows to one document."""
    server = start_app(POLICY_CORPUS_DIR=str(multi_settings.corpus_dir),
                       POLICY_EXTRA_CORPUS_DIRS=str(multi_settings.extra_corpus_dirs[0]),
                       POLICY_INDEX_DIR=str(multi_settings.index_dir))
    page = browser_page
    page.goto(server.url)
    page.locator("#region input").click()
    page.get_by_role("option", name="临夏回族自治州", exact=True).click()
    ask(page, "融资担保费率是多少？")
    answer = last_answer(page)
    assert answer.startswith("本地（临夏州）：单户1000万元(含)以下的融资担保费率不高于1%"), answer  # the answer first
    quotes = answer[answer.index("【本地（临夏州）】"):]
    assert quotes.index("不高于1%") < quotes.index("【国家】"), answer
    expect(last_cards(page).locator("details.cite").first).to_contain_text("州（临夏回族自治州）")

    # A bare clause number eight documents have (asked from anywhere, in a new conversation): the reply offers
    # each as a button that answers it.
    page.locator("#clear").click()
    page.locator("#region input").click()
    page.get_by_role("option", name="（不限地区）", exact=True).click()
    ask(page, "第十八条")
    option = page.locator("#chat button").filter(has_text="临州办发〔2022〕84号 第（十八）条")
    expect(option).to_have_count(1)
    done = page.locator("#answers-done span")
    count = int(done.get_attribute("data-answers") or 0)
    option.click()
    expect(done).to_have_attribute("data-answers", str(count + 1))
    assert "省一体化融资信用服务平台" in last_answer(page)
    expect(last_cards(page).locator("details.cite").first).to_contain_text("第（十八）条")

    page.get_by_role("tab", name="条款查询").click()
    page.locator("#lookup-document input").click()
    page.get_by_role("option", name="中小企业促进法", exact=True).click()
    page.locator("#lookup-section input").click()  # 章节: that document's own headings
    expect(page.get_by_role("option", name="第三章 融资促进", exact=True)).to_have_count(1)
    expect(page.get_by_role("option", name="一、落实金融政策措施，加大信贷投放力度")).to_have_count(0)
    page.keyboard.press("Escape")
    page.locator("#lookup-number textarea, #lookup-number input").first.fill("第十九条")
    page.locator("#lookup-find").click()
    results = page.locator("#lookup-results details.lookup")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("第三章 融资促进")
    assert offsite.blocked == []


def test_an_owner_fills_the_matching_form_and_sees_the_measures_for_them(app_server, browser_page, offsite):
    """政策匹配: a few choices, no typing; the answer in one line, then cards by what they are to the owner
    (可以申请 first; 政策背景 folded away), each with the sentences that fit quoted, what to check and whom to
    ask. The same owner, describing themselves in the chat, gets the same shape."""
    page = browser_page
    page.goto(app_server.url)
    page.get_by_role("tab", name="政策匹配").click()
    page.locator("#match-type input").click()
    page.get_by_role("option", name="个体工商户", exact=True).click()
    page.locator("#match-industry input").click()
    page.get_by_role("option", name="餐饮", exact=True).click()
    page.locator("#match-situations").get_by_role("checkbox", name="首贷", exact=True).check()
    page.locator("#match-needs").get_by_role("checkbox", name="贷款", exact=True).check()
    page.locator("#match-go").click()
    results = page.locator("#match-results")
    expect(results.locator(".match-summary")).to_contain_text("个体工商户、餐饮、首贷；需求：贷款")
    expect(results.locator(".match-first")).to_contain_text(re.compile("^可以申请.+项："))
    claims = results.locator("section[data-result='可以申请'] .match-card")
    expect(claims.first).to_be_visible()
    assert claims.count() >= 2
    expect(claims.first).to_have_attribute("data-group", "明确适用")
    expect(claims.first.locator(".lead")).to_contain_text("办理咨询：")
    expect(results.locator(".match-card[data-group='可能适用']").first).to_be_attached()
    expect(results.locator(".match-card .conditions").first).to_contain_text("需确认：")
    background = results.locator("section[data-result='政策背景'] details").first
    if background.count():  # agencies' own work: folded away until opened
        assert background.get_attribute("open") is None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "match.png"), full_page=False)

    page.get_by_role("tab", name="政策问答").click()
    ask(page, "我是开饭馆的个体户，第一次贷款，能享受哪些政策？")
    answer = last_answer(page)
    assert answer.startswith("可以申请") and "明确适用" in answer and "办理咨询" in answer
    # The fields stay indented under their measure (Gradio's own pre-line would drop the indent).
    assert re.search(r"\n {3}办理咨询：", answer), answer
    expect(page.locator("#answers-done span")).to_have_attribute("data-route", "match")
    expect(last_cards(page).locator("details.cite").first).to_be_visible()
    assert offsite.blocked == []


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("width, height", [(1280, 900), (390, 844)])
def test_answer_and_its_cards_are_readable_in_light_and_dark_on_desktop_and_phone(app_server, browser_page, theme,
                                                                                  width, height):
    """Every custom style follows the theme: the answer, an opened card's heading, source, clause text,
    highlight and 责任单位 keep a readable contrast (WCAG AA, 4.5) in light and dark mode; the answer's first
    line is in view after sending, at desktop and phone widths. Screenshots: tests/artifacts/chat-<theme>-<width>.png."""
    page = browser_page
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{app_server.url}?__theme={theme}")
    ask(page, "融资担保费率是多少？")  # a second answer starts below the first: the view must go to it
    ask(page, "我开饭馆的，贷款还不上能缓缓吗？")
    # The view is at the start of the new answer: its first line on the screen and in the chat's scrolled box.
    page.wait_for_function(ANSWER_START_IN_VIEW, arg=height)
    answer = page.locator("#chat .message-row").last
    assert answer.locator("strong, p, span").first.evaluate(CONTRAST) >= 4.5
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # what a person sees after sending (README's pictures)
    page.screenshot(path=str(ARTIFACTS / f"chat-{theme}-{width}.png"), full_page=False)
    card = last_cards(page).locator("details.cite").first
    card.locator("summary").click()
    for selector in ("summary", "p.source", ".clause-text", ".clause-text mark", "p.units", "p.validity"):
        ratio = card.locator(selector).first.evaluate(CONTRAST)
        assert ratio >= 4.5, f"{theme} {width}px: {selector} contrast {ratio:.2f}"


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_lookup_and_matching_cards_are_readable_in_light_and_dark(app_server, browser_page, theme):
    """The 条款查询 and 政策匹配 cards and the documents table share the theme-following styles."""
    page = browser_page
    page.goto(f"{app_server.url}?__theme={theme}")
    page.get_by_role("tab", name="条款查询").click()
    page.locator("#lookup-keyword textarea, #lookup-keyword input").first.fill("担保费率")
    page.locator("#lookup-find").click()
    card = page.locator("#lookup-results details.lookup").first
    card.evaluate("d => d.open = true")
    for selector in ("summary", "p.source", ".clause-text"):
        assert card.locator(selector).first.evaluate(CONTRAST) >= 4.5, f"{theme} lookup {selector}"
    page.get_by_role("tab", name="政策匹配").click()
    page.locator("#match-go").click()
    match = page.locator("#match-results .match-card").first
    for selector in (".match-title", ".benefit", ".units"):
        assert match.locator(selector).first.evaluate(CONTRAST) >= 4.5, f"{theme} match {selector}"
    assert page.locator("#match-results .match-summary").evaluate(CONTRAST) >= 4.5
    page.get_by_role("tab", name="政策文件").click()
    assert page.locator("#documents table.docs td").first.evaluate(CONTRAST) >= 4.5
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"documents-{theme}.png"), full_page=False)


def test_the_conversation_survives_a_reload_and_past_ones_can_be_reopened(app_server, browser_page):
    """The conversation is kept in the browser: after a reload it is on screen and a follow-up still knows
    its context; 新对话 puts it in 历史对话, from where it can be opened again."""
    page = browser_page
    page.goto(app_server.url)
    ask(page, "我开饭馆的，贷款还不上能缓缓吗？")
    page.reload()
    rows = page.locator("#chat .message-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("我开饭馆的")
    expect(last_cards(page).locator("details.cite").first).to_contain_text("做好延期还本付息政策接续")
    ask(page, "这条谁负责？")  # the restored answer is the context of the follow-up
    assert "人行临夏州中心支行" in last_answer(page)

    page.locator("#clear").click()  # 新对话
    expect(rows).to_have_count(0)
    ask(page, "融资担保费率是多少？")
    page.reload()
    expect(rows).to_have_count(2)  # the new conversation is the current one
    expect(rows.first).to_contain_text("融资担保费率")
    page.locator("#history input").click()
    page.get_by_role("option").filter(has_text="我开饭馆的").click()
    expect(rows).to_have_count(4)  # the earlier conversation, both turns
    expect(rows.nth(2)).to_contain_text("这条谁负责")
    page.locator("#history input").click()  # and the one it replaced is in the list now
    expect(page.get_by_role("option").filter(has_text="融资担保费率")).to_have_count(1)


def test_on_a_phone_every_tab_is_reachable_the_documents_fit_and_the_tab_is_in_the_address(app_server, browser_page):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(app_server.url)
    tabs = page.locator("button[role=tab]")
    expect(tabs).to_have_count(5)  # none hidden behind "•••"
    assert all(tab.is_visible() for tab in tabs.all())
    # The question box is wide enough to read what one types: the send button goes under it.
    box, send = page.locator("#question textarea").bounding_box(), page.locator("#send").bounding_box()
    assert box["width"] > 300 and send["y"] >= box["y"] + box["height"], (box, send)
    # No English names for screen readers (Gradio's "More tabs", "chatbot conversation" …).
    expect(page.locator("#chat [aria-label]").first).to_have_attribute("aria-label", re.compile(r"^[^A-Za-z]+$"))
    english = page.evaluate("""[...document.querySelectorAll('[aria-label],[title],[placeholder]')]
      .map(e => e.getAttribute('aria-label') || e.getAttribute('title') || e.getAttribute('placeholder'))
      .filter(t => /[A-Za-z]{3,}/.test(t))""")
    assert english == [], english
    page.get_by_role("tab", name="政策文件").click()
    expect(page).to_have_url(re.compile(r"[?&]tab=docs"))
    table = page.locator("#documents table.docs")
    expect(table).to_contain_text("临州办发〔2022〕84号")
    # One card per document, each value under its column's name, nothing wider than the screen.
    assert table.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth + 1")
    expect(page.locator("#documents td[data-label='文号']").first).to_contain_text("临州办发〔2022〕84号")
    cited = page.locator("#documents td[data-label='引用/贯彻的文件']").first.inner_text()
    assert cited.count("甘政办发〔2022〕101号") == 1, cited  # implemented and cited: named once
    page.reload()  # the address opens the same tab again
    expect(page.get_by_role("tab", name="政策文件")).to_have_attribute("aria-selected", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "documents-phone.png"), full_page=False)


def test_hit_test_shows_the_route_the_decision_and_every_score(app_server, browser_page):
    """检索测试: the answer's decision and the ranked clauses with their scores and why each was found."""
    page = browser_page
    page.goto(f"{app_server.url}?tab=hittest")
    page.locator("#hittest-question textarea").fill("创业担保贷款最高能贷多少？")
    page.locator("#hittest-go").click()
    result = page.locator("#hittest-result")
    expect(result.locator("table.hit-summary")).to_contain_text("检索（关键词＋语义）")
    expect(result.locator("table.hit-summary")).to_contain_text("回答首行")
    rows = result.locator("table.hits tbody tr")
    expect(rows.first).to_contain_text("第（六）条")
    assert rows.count() >= 5
    head = result.locator("table.hits thead").inner_text()
    assert all(name in head for name in ("综合分", "关键词分", "语义", "命中原因")), head
    page.locator("#hittest-question textarea").fill("深圳的创业补贴标准是多少？")
    page.locator("#hittest-go").click()
    expect(result.locator("table.hit-summary")).to_contain_text("拒答")
