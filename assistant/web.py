"""Gradio front end, built by :func:`build_app` (no retrieval logic lives here).

This is the minimal clause-search page of the foundation; the chat front end replaces it.
Everything from documents or users is HTML-escaped before it is shown.
"""

from __future__ import annotations

import html
import os

from .config import Settings
from .encoders import get_encoder
from .errors import PolicyError
from .index import Index, open_index
from .retrieve import HybridSearcher

MAX_QUERY_CHARS = 2000
# Gradio phones home for analytics by default; this app must make no outbound connection.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _render(index: Index, searcher: HybridSearcher, query: str, k: int) -> str:
    from .cli import clause_heading

    query = (query or "").strip()
    if not query:
        return "<p>请输入问题或关键词，例如：创业担保贷款最高多少？</p>"
    if len(query) > MAX_QUERY_CHARS:
        return f"<p>问题太长了（超过 {MAX_QUERY_CHARS} 字），请精简后再试。</p>"
    try:
        hits = searcher.search(query, k=int(k))
    except PolicyError as exc:
        return f"<p>{html.escape(str(exc))}</p>"
    cards = []
    for hit in hits:
        c = hit.clause
        units = f"<p><b>责任单位：</b>{html.escape('、'.join(c.units))}</p>" if c.units else ""
        cards.append(
            f"<details class='clause' open><summary><b>{html.escape(clause_heading(c, index))}</b>"
            f" <small>{html.escape(c.clause_id)} · {html.escape(hit.why)}</small></summary>"
            f"<p style='white-space:pre-wrap'>{html.escape(c.text)}</p>{units}</details>"
        )
    return "\n".join(cards) or "<p>没有找到相关条款。</p>"


def build_app(settings: Settings):
    """Build the Gradio Blocks for ``settings`` (index opened, or built when missing)."""
    import gradio as gr

    index = open_index(settings)
    searcher = HybridSearcher(index, get_encoder(settings.encoder, settings.allow_model_download),
                              settings.dense_weight)
    with gr.Blocks(title="政策通 · 中小微企业融资政策") as app:
        gr.Markdown("# 政策通\n中小微企业融资政策条款检索（临州办发〔2022〕84号 等）。输入问题或关键词，查看原文条款。")
        with gr.Row():
            query = gr.Textbox(label="问题或关键词", placeholder="例如：创业担保贷款最高多少？", scale=4)
            k = gr.Slider(1, 10, value=settings.top_k, step=1, label="条数", scale=1)
        button = gr.Button("检索", variant="primary")
        results = gr.HTML()
        gr.Examples(["创业担保贷款最高额度", "融资担保费率", "延期还本付息", "州税务局"], inputs=query)
        button.click(lambda q, n: _render(index, searcher, q, n), [query, k], results, api_name="search")
        query.submit(lambda q, n: _render(index, searcher, q, n), [query, k], results)
    return app
