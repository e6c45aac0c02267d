"""HTML and chat-text rendering for the web UI. Pure functions: data in, escaped markup out.

Everything that comes from users or documents goes through :func:`esc` (HTML) or :func:`chat_text`
(chat messages), so a question containing ``<script>``, ``<img onerror=…>`` or a Markdown image
pointing elsewhere is shown as text and runs or loads nothing.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence

from ..answer.match import (
    MATCH_DISCLAIMER,
    MATCH_SHOWN,
    RESULT_LEADS,
    MatchedMeasure,
    MatchResult,
    first_line,
    fits_text,
    measure_fields,
    part_fields,
)
from ..corpus import versions
from ..models import BACKGROUND, RESULTS, Answer, Citation, Clause, DocumentMeta, Retrieval, by_clause
from ..search.documents import LEVEL_RANK, locality
from ..search.index import Index
from ..search.text import clean_text

QUESTION_PREVIEW_CHARS = 300


def esc(text: object) -> str:
    return html.escape(clean_text(str(text)), quote=True)  # a lone surrogate would break the UTF-8 page


def chat_text(text: str) -> str:
    """A chat message shown literally. The chatbot runs with Markdown off (Markdown would turn a URL
    into a link and ``![](…)`` into an image) and renders the rest as sanitized HTML, which would
    still load an ``<img src>``: so the text is HTML-escaped and nothing in it is markup."""
    return esc(text)


_BOLD = re.compile(r"\*\*([^*\n]+?)\*\*")


def answer_html(text: str) -> str:
    """An answer as the chat shows it: :func:`chat_text`, with the first line's figures (``**300万元**``)
    in bold; the escaping comes first, so the only markup is the <strong> the composer asked for."""
    return _BOLD.sub(r"<strong>\1</strong>", chat_text(text))


def question_preview(question: str) -> str:
    """A very long question is shown shortened in the chat (the answer notes the truncation)."""
    if len(question) <= QUESTION_PREVIEW_CHARS:
        return question
    return f"{question[:QUESTION_PREVIEW_CHARS]}……（共 {len(question)} 字）"


def _highlighted(clause: Clause, quotes: list[Citation]) -> str:
    """The clause text with the quoted sentences wrapped in <mark> (spans are document offsets)."""
    marks = sorted({(max(c.start - clause.start, 0), min(c.end - clause.start, len(clause.text)))
                    for c in quotes if c.end > c.start and (c.start, c.end) != (clause.start, clause.end)})
    out, pos = [], 0
    for lo, hi in marks:
        if lo < pos:
            continue
        out += [esc(clause.text[pos:lo]), "<mark>", esc(clause.text[lo:hi]), "</mark>"]
        pos = hi
    out.append(esc(clause.text[pos:]))
    return "".join(out)


def clause_card(index: Index, clause: Clause, quotes: Sequence[Citation] = (), *, note: str = "", open_: bool = False,
                css: str = "cite") -> str:
    """An expandable card: heading, the full clause (quotes highlighted), 责任单位, a validity note."""
    units = f"<p class='units'><b>责任单位：</b>{esc('、'.join(clause.units))}</p>" if clause.units else ""
    note_html = f"<p class='validity'>⚠️ {esc(note)}</p>" if note else ""
    doc = index.document(clause.doc_id)
    source = esc(doc.title or clause.doc_id)
    part = f" · {esc(clause.section_label)}" if clause.section_label else ""
    level = f" · {esc(doc.level)}{esc(doc.place and '（' + doc.place + '）')}" if doc.level else ""
    return (f"<details class='{css}' data-clause='{esc(clause.clause_id)}'{' open' if open_ else ''}>"
            f"<summary><b>{esc(index.heading(clause))}</b></summary>"
            f"<p class='source'>《{source}》{part}{level}</p>"
            f"<div class='clause-text'>{_highlighted(clause, list(quotes))}</div>{units}{note_html}</details>")


def citation_cards(index: Index, answer: Answer) -> str:
    """Cards for an answer, closed: its cited clauses, or for a refusal the 可能相关 clauses."""
    if answer.refused:
        if not answer.related:
            return ""
        related = "".join(clause_card(index, index.by_id[cid], css="related") for cid in answer.related
                          if cid in index.by_id)
        return f"<div class='cards'><h4>可能相关的条款</h4>{related}</div>"
    cards = []
    for clause_id, quotes in by_clause(answer.citations).items():
        clause = index.by_id.get(clause_id)
        if clause is None:
            continue
        title = index.heading(clause)
        note = next((n for n in answer.notes if title in n and "期限" in n), "")
        cards.append(clause_card(index, clause, quotes, note=note))
    if not cards:
        return ""
    return f"<div class='cards'><h4>依据条款（{len(cards)}）</h4>{''.join(cards)}</div>"


def answer_message(index: Index, answer: Answer) -> str:
    """An answer as its chat message: the text (:func:`answer_html`), then its own clause cards, closed, so the
    first line stays in view and every answer of the conversation keeps its sources."""
    return f"{answer_html(answer.text)}{citation_cards(index, answer)}"


ROUTE_NAMES = {"search": "检索（关键词＋语义）", "clause": "按条款编号直达", "unit": "按责任单位查找", "document": "文件信息"}


def channel_label(encoder: str) -> str:
    """A dense channel as the 检索测试 table names it."""
    return {"use-multilingual": "语义·USE", "e5": "语义·e5"}.get(encoder, f"语义·{encoder}")


def hit_test_html(index: Index, retrieval: Retrieval, answer: Answer, channels: Sequence[str]) -> str:
    """检索测试: how a question was read and routed, what the answer decided, and the ranked clauses with every
    score behind their place (fused, relevance, locality bonus, BM25, each dense channel) and why each was found."""
    query, asked = retrieval.query, retrieval.query.asked
    verdict = "拒答（文件没有规定）" if answer.refused else "部分回答（说明文件没有规定的部分）" if answer.partial else "回答"
    facts = [("路由", ROUTE_NAMES.get(retrieval.route.kind, retrieval.route.kind)),
             ("适用地区", retrieval.region or "不限地区"),
             ("口语词扩展", "、".join(f"{t}→{'｜'.join(terms)}" for t, terms in query.expansion.groups) or "无"),
             ("问的是", asked.label or "（一般问题）"),
             ("主题词", "、".join(alts[0] for alts in asked.subject) or "无"),
             ("结论", verdict), ("回答首行", answer.text.split("\n", 1)[0])]
    summary = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts)
    head = ["名次", "条款", "综合分", "相关度", "地区加分", "关键词分", *(channel_label(c) for c in channels), "命中原因"]
    rows = []
    for rank, hit in enumerate(retrieval.hits, 1):
        cells = [rank, index.heading(hit.clause), f"{hit.score:.3f}", f"{hit.relevance:.3f}", f"{hit.boost:.3f}",
                 "—" if hit.bm25 is None else f"{hit.bm25:.2f}",
                 *("—" if c not in hit.channels else f"{hit.channels[c]:.3f}" for c in channels), hit.why or "—"]
        rows.append("<tr>" + "".join(f"<td data-label='{esc(h)}'>{esc(v)}</td>" for h, v in zip(head, cells)) + "</tr>")
    table = (f"<table class='docs hits'><thead><tr>{''.join(f'<th>{esc(h)}</th>' for h in head)}</tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>") if rows else "<p class='empty'>没有检索到条款。</p>"
    return f"<table class='docs hit-summary'><tbody>{summary}</tbody></table><h4>检索结果</h4>{table}"


def lookup_results(index: Index, clauses: list[Clause]) -> str:
    if not clauses:
        return "<p class='empty'>没有符合条件的条款。</p>"
    cards = "".join(clause_card(index, c, open_=len(clauses) <= 3, css="lookup") for c in clauses)
    return f"<p class='count'>共 {len(clauses)} 条</p>{cards}"


def copy_text(index: Index, clauses: list[Clause]) -> str:
    """Plain text of the clauses, ready to paste: heading, full text, 责任单位 is inside the text."""
    return "\n\n".join(f"〔{index.heading(c)}〕\n{c.text.strip()}" for c in clauses)


DOC_COLUMNS = ("标题", "简称", "文号", "类型", "发文机关", "日期", "层级", "地区", "效力", "条款数", "引用/贯彻的文件")


def documents_table(index: Index, today: dt.date | None = None) -> str:
    rows = []
    # The hierarchy: national documents first, then each province's, then the more local ones.
    for doc in sorted(index.documents.values(), key=lambda d: (d.level not in LEVEL_RANK, locality(d), d.place, d.name)):
        count = index.clause_count(doc.doc_id)
        cites = "、".join(dict.fromkeys(doc.implements + doc.cites)) or "—"  # a 文号 both implemented and cited: once
        standing = versions.relation_text(doc, index.documents, today or dt.date.today())
        values = (doc.title or doc.doc_id, doc.name, doc.doc_number or "—", doc.doc_type or "—", doc.issuer or "—",
                  doc.dates_text() or "—", doc.level or "—", doc.place or "—", standing, count, cites)
        rows.append("<tr>" + "".join(f"<td data-label='{label}'>{esc(v)}</td>" for label, v in zip(DOC_COLUMNS, values))
                    + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in DOC_COLUMNS)
    table = f"<table class='docs'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    refs = [r for r in index.references if not r.in_corpus]
    if refs:
        items = "".join(f"<li>《{esc(r.title or '（标题未知）')}》（{esc(r.doc_number)}）"
                        f"{esc(' · ' + r.issuer) if r.issuer else ''}</li>" for r in refs)
        table += f"<h4>被引用但不在本库中的文件</h4><ul class='refs'>{items}</ul>"
    return table


CSS = """
/* Every colour comes from Gradio's theme variables, which it switches in dark mode (:root.dark / .dark);
   the few of our own (highlight, warning, secondary text, the matching groups' marks) are set for both:
   Gradio's subdued text colour is too faint for the source line on a card (contrast 1.8). */
:root { --pa-mark: #fff3b0; --pa-warn: #8a5a00; --pa-quiet: #57606a; --pa-explicit: #1a7f37; --pa-possible: #9a6700; }
.dark { --pa-mark: #6b5a12; --pa-warn: #e3b341; --pa-quiet: #a4acb6; --pa-explicit: #3fb950; --pa-possible: #d29922; }
.cards h4, .docs-wrap h4 { margin: .6em 0 .3em; color: var(--body-text-color); }
details.cite, details.related, details.lookup, .match-card { border: 1px solid var(--border-color-primary);
  border-radius: 8px; padding: .4em .8em; margin: .4em 0; background: var(--background-fill-secondary);
  color: var(--body-text-color); }
details summary { cursor: pointer; }
.clause-text { white-space: pre-wrap; line-height: 1.7; margin: .4em 0; }
.clause-text mark { background: var(--pa-mark); color: var(--body-text-color); padding: 0 .1em; }
p.source { color: var(--pa-quiet); font-size: .85em; margin: .2em 0; }
p.validity { color: var(--pa-warn); }
table.docs { border-collapse: collapse; width: 100%; color: var(--body-text-color); }
table.docs td, table.docs th { border: 1px solid var(--border-color-primary); padding: .3em .5em; text-align: left; }
.match-card[data-group='明确适用'] { border-left: 4px solid var(--pa-explicit); }
.match-card[data-group='可能适用'] { border-left: 4px solid var(--pa-possible); }
p.fits, p.excluded { color: var(--pa-quiet); font-size: .9em; }
p.match-first { font-size: 1.05em; }
summary.match-fold { font-weight: bold; margin: .6em 0 .3em; color: var(--body-text-color); }
.match-card p { margin: .25em 0; }
.match-group h4 small { font-weight: normal; color: var(--pa-quiet); margin-left: .6em; }
p.match-summary, p.disclaimer { color: var(--pa-quiet); }
#chat .placeholder { padding: 0 1em; color: var(--pa-quiet); }  /* the empty chat's hint, off the border */
/* Keep an answer's indents (a match's fields under each quoted sentence); Gradio's pre-line drops them. */
#chat .message-markdown-disabled, #chat .message-markdown-disabled .message-content,
#chat .message-markdown-disabled .md { white-space: pre-wrap; }
/* The page's side margins shrink with a narrow screen (12 px on a phone, as before on a desktop). Not in the
   @media block below: Gradio scopes rules there to inside the app, and these margins are the app's own. */
.main.app { padding-left: min(var(--size-8), 3vw) !important; padding-right: min(var(--size-8), 3vw) !important; }
/* Phones: every tab in the bar, the six of an admin's page too (Gradio moves the ones that do not fit behind
   "•••", measured on these same buttons: the page's side margins give them the room), and the documents table as one card per document, each value under its column's name. */
@media (max-width: 600px) {
  .tab-container button { padding-left: 3px !important; padding-right: 3px !important; font-size: 13px !important; }
  table.docs thead { display: none; }
  table.docs, table.docs tbody, table.docs tr, table.docs td { display: block; width: 100%; box-sizing: border-box; }
  table.docs tr { border: 1px solid var(--border-color-primary); border-radius: 8px; margin: .5em 0;
    padding: .3em .5em; background: var(--background-fill-secondary); }
  table.docs td { border: none; padding: .1em 0; overflow-wrap: anywhere; }
  table.docs td::before { content: attr(data-label) "："; color: var(--pa-quiet); }
}
"""


# Gradio's own words its Chinese translation lacks (the chat's copy button), by the keys of its frontend.
GRADIO_TRANSLATIONS = {"zh-CN": {"chatbot.copy_message": "复制回答", "chatbot.copied_message": "已复制"}}

# What the page runs once it loads (mount_gradio_app's js: one function).
PAGE_SCRIPT = """() => {
  // The open tab lives in the address (?tab=lookup): a link or a reload opens it again. Gradio renders the page
  // after this runs, so the tab named in the address is clicked once its button exists.
  (() => {
    document.addEventListener('click', event => {
      const tab = event.target.closest && event.target.closest('button[role=tab][data-tab-id]');
      if (!tab) return;
      const url = new URL(window.location.href);
      url.searchParams.set('tab', tab.dataset.tabId);
      window.history.replaceState(null, '', url);
    });
    const wanted = new URLSearchParams(window.location.search).get('tab');
    if (!wanted) return;
    let tries = 0;
    const open = () => {
      const tab = [...document.querySelectorAll('button[role=tab][data-tab-id]')].find(b => b.dataset.tabId === wanted);
      if (tab) tab.click(); else if (tries++ < 100) setTimeout(open, 100);
    };
    open();
  })();
  // A filter list (Gradio's dropdown) shows its value, （全部）, in its text box, and typing appended to it
  // ("（全部）州财" matches nothing): on focus the text is selected, so the first key typed replaces it.
  // Selecting waits for Gradio's own focus handling; what is typed before then replaces the value too.
  document.addEventListener('focusin', event => {
    const box = event.target;
    if (!(box.matches && box.matches('input[role=combobox]'))) return;
    const shown = box.value;
    setTimeout(() => {
      if (box.value === shown) box.select();
      else if (shown && box.value.startsWith(shown)) {
        box.value = box.value.slice(shown.length);
        box.dispatchEvent(new Event('input', {bubbles: true}));
      }
    }, 0);
  });
  // Gradio's status line and a few names it gives screen readers are English it does not translate
  // ("processing | 0.8s", "queue: 1/2 |", "More tabs"): put in Chinese as they are drawn.
  const words = [[/processing/g, '处理中'], [/queue:/g, '排队：']];
  const labels = {'More tabs': '更多标签页', 'chatbot conversation': '对话记录', 'Gradio footer navigation': '页脚链接'};
  const relabel = element => [element, ...element.querySelectorAll('[aria-label]')].forEach(el => {
    const chinese = labels[el.getAttribute('aria-label')];
    if (chinese) el.setAttribute('aria-label', chinese);
  });
  const translate = node => {
    const text = node.nodeValue;
    if (!text || !/processing|queue:/.test(text)) return;
    const parent = node.parentElement;
    if (parent && parent.closest('.progress-text')) node.nodeValue = words.reduce((t, [a, b]) => t.replace(a, b), text);
  };
  new MutationObserver(changes => changes.forEach(change => {
    if (change.type === 'characterData') translate(change.target);
    if (change.type === 'attributes') relabel(change.target);
    change.addedNodes.forEach(added => {
      if (added.nodeType === 3) { translate(added); return; }
      if (added.nodeType !== 1) return;
      relabel(added);
      const walker = document.createTreeWalker(added, NodeFilter.SHOW_TEXT);
      while (walker.nextNode()) translate(walker.currentNode);
    });
  })).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true,
                              attributeFilter: ['aria-label']});
  relabel(document.body);
}"""


def admin_documents(index: Index, skipped: Sequence[tuple[str, str]], today: dt.date | None = None) -> str:
    """管理's view of the corpus: the files the index could not use with the reason, the documents whose
    fields the parser could not find, then every indexed document with its fields, standing and clause count."""
    parts = [f"<p class='count'>已建立索引的文件 {len(index.documents)} 份，条款 {len(index.clauses)} 条。</p>"]
    if skipped:
        items = "".join(f"<li><b>{esc(path)}</b>：{esc(reason or '无法读取（重建索引时会给出原因）')}</li>"
                        for path, reason in skipped)
        parts.append(f"<h4>未能建立索引的文件（{len(skipped)}）</h4><ul class='refs skipped'>{items}</ul>"
                     "<p class='source'>修正或删除后重建索引。</p>")
    unsure = [(doc, hints) for doc in index.documents.values() if (hints := document_hints(doc))]
    if unsure:
        items = "".join(f"<li><b>{esc(doc.title or doc.name)}</b>：{esc('；'.join(hints))}</li>" for doc, hints in unsure)
        parts.append(f"<h4>需要核对的文件（{len(unsure)}）</h4><ul class='refs unsure'>{items}</ul>"
                     "<p class='source'>可在文件开头补上标题、文号和日期，或写入语料目录的 manifest.toml。</p>")
    return "".join(parts) + documents_table(index, today)


def document_hints(doc: DocumentMeta) -> list[str]:
    """What the parser could not find in a document and a person should check: answers cite these fields."""
    hints = []
    if doc.title_from_file:
        hints.append("未识别出标题，暂以文件名代替")
    if not doc.dates:
        hints.append("未识别出发布或施行日期，无法判断是否现行")
    if not doc.level:
        hints.append("未识别出层级（国家/省/市州/县）")
    return hints


def uploaded_document(doc: DocumentMeta, clause_count: int) -> str:
    """What an upload became, as 管理 reports it: the fields read from the text and what to check."""
    fields = [f"《{doc.title or doc.name}》"]
    fields += [value for value in (doc.doc_number, doc.issuer, doc.level, doc.place) if value]
    line = "，".join(fields) + f"，{clause_count} 条条款"
    hints = document_hints(doc)
    return line + (f"（请核对：{'；'.join(hints)}）" if hints else "")


def match_cards(index: Index, result: MatchResult) -> str:
    """The 政策匹配 result: the answer in one line, then the measures by what they are to the owner (可以申请,
    可以利用, and 政策背景 folded away), the first few of each shown and the rest under 更多; each card quotes
    the sentences of it that fit, their figures, what to check, whom to ask, what of it is for others only,
    and the clause in full on opening."""
    where = f"适用于{esc(result.region)}的" if result.region else ""
    head = (f"<p class='match-first'><b>{esc(first_line(result))}</b></p>"
            f"<p class='match-summary'>按您的情况（{esc(result.profile.describe())}），查了{where}{result.documents}份文件。"
            f"{esc(''.join(result.read_as))}</p>")
    notes = "".join(f"<p class='validity'>⚠️ {esc(n)}</p>" for n in result.notes)
    if not result.measures:
        return head + notes + "<p class='empty'>可少选几项需求再查，或拨打12345政务服务便民热线咨询。</p>"
    sections = []
    for kind in RESULTS:
        items = result.of(kind)
        if not items:
            continue
        cards = [_match_card(index, m) for m in items]
        shown = len(cards) if kind == BACKGROUND else MATCH_SHOWN
        body = "".join(cards[:shown])
        if len(cards) > shown:
            body += (f"<details class='match-more'><summary>更多（{len(cards) - shown}）</summary>"
                     f"{''.join(cards[shown:])}</details>")
        title = f"{esc(RESULT_LEADS[kind])}（{len(items)}）"
        if kind == BACKGROUND:  # agencies' own work: folded away, open on request
            sections.append(f"<section class='match-group' data-result='{kind}'><details>"
                            f"<summary class='match-fold'>{title}</summary>{body}</details></section>")
        else:
            sections.append(f"<section class='match-group' data-result='{kind}'><h4>{title}</h4>{body}</section>")
    return head + notes + "".join(sections) + f"<p class='disclaimer'>{esc(MATCH_DISCLAIMER)}</p>"


def _field(kind: str, label: str, text: str) -> str:
    return f"<p class='{kind}'><b>{label}：</b>{esc(text)}</p>"


def _match_card(index: Index, m: MatchedMeasure) -> str:
    clause = index.by_id[m.clause_id]
    rows = [f"<p class='fits'>{esc(fits_text(m))}</p>"]
    for part in m.quoted(every_part=True):
        rows.append(f"<p class='benefit'>“{esc(part.text)}”</p>")
        rows += [_field(kind, label, text) for kind, label, text in part_fields(part)]
    rows += [_field(kind, label, text) for kind, label, text in measure_fields(m)]
    if m.units:
        rows.append(f"<p class='units'><b>责任单位：</b>{esc('、'.join(m.units))}</p>")
    rows += [f"<p class='validity'>⚠️ {esc(n)}</p>" for n in m.notes]
    return (f"<div class='match-card' data-clause='{esc(m.clause_id)}' data-group='{esc(m.group)}' "
            f"data-result='{esc(m.result)}'><p class='match-title'><b>{esc(m.title)}</b></p>{''.join(rows)}"
            f"<details><summary>条款全文</summary><div class='clause-text'>{esc(clause.text)}</div></details></div>")
