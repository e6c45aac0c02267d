"""Evaluator reports: Markdown and self-contained HTML comparing evaluation runs.

The first run is ours; every later run is a baseline it is compared with. Both files show the
same content: overall metrics (with an ours/baseline ratio per baseline), per-type tables, a bar
chart per metric by question type, and the failures of the first run.

The HTML has inline CSS and inline SVG only (no JavaScript, no external URLs), so it can be
mailed or archived as one file. Questions and answers are user-controlled text: every such string
goes through ``html.escape`` before it reaches either file.
"""

from __future__ import annotations

import datetime as dt
import html
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .evaluate import Result, summarize

MD_NAME = "report.md"
HTML_NAME = "report.html"
TITLE = "政策通 评测报告"
NA = "—"  # metric not applicable (no question of that kind)
OVERALL = "overall"
ANSWER_PREVIEW = 120
TOP_SHOWN = 3
BAR_BLOCKS = 24
PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#64748b")


@dataclass(frozen=True)
class Metric:
    key: str  # as in evaluate.metrics
    label: str  # what evaluators read
    lower_better: bool = False
    unit: str = ""  # "ms" for latencies; rates have none

    @property
    def heading(self) -> str:
        return f"{self.key} {'↓' if self.lower_better else '↑'}"


def metric_specs(k: int = 5) -> tuple[Metric, ...]:
    """Reported metrics in display order (hit@k/recall@k keys follow ``k`` like evaluate.metrics)."""
    return (
        Metric("hit@1", "首位命中率"),
        Metric(f"hit@{k}", f"前 {k} 命中率"),
        Metric("mrr", "平均倒数排名"),
        Metric(f"recall@{k}", f"前 {k} 召回率"),
        Metric("citation_hit", "引用命中率"),
        Metric("fact_coverage", "事实覆盖率"),
        Metric("fact_first", "首行给出事实的比例"),
        Metric("refusal_accuracy", "应拒答时拒答（或说明缺什么）的比例"),
        Metric("false_refusal", "可回答却拒答的比例", lower_better=True),
        Metric("false_partial", "可完整回答却只答一部分的比例", lower_better=True),
        Metric("partial_ok", "应部分回答时如实部分回答的比例"),
        Metric("sides_cited", "比较问题各方都有引用的比例"),
        Metric("latency_p50_ms", "延迟中位数", lower_better=True, unit="ms"),
        Metric("latency_p95_ms", "延迟 95 分位", lower_better=True, unit="ms"),
    )


@dataclass
class RunReport:
    """One evaluated system: display name, summary from ``evaluate.summarize``, per-question results."""

    name: str
    summary: dict
    results: list[Result]
    settings: str = ""  # one line describing the configuration (encoder, k, variant …)

    @classmethod
    def from_results(cls, name: str, results: list[Result], settings: str = "", k: int = 5) -> RunReport:
        return cls(name=name, summary=summarize(results, k), results=results, settings=settings)

    def value(self, key: str, group: str = OVERALL) -> float | None:
        metrics = self.summary["overall"] if group == OVERALL else self.summary["by_type"].get(group, {})
        return metrics.get(key)


@dataclass(frozen=True)
class Failure:
    """A question the run got wrong, and why (reasons are evaluator-facing Chinese)."""

    result: Result
    reasons: tuple[str, ...]


@dataclass
class ReportMeta:
    qa_file: str = ""
    generated: dt.datetime = field(default_factory=dt.datetime.now)
    k: int = 5
    title: str = TITLE


# --------------------------------------------------------------------------- analysis


def failure_reasons(r: Result, k: int = 5) -> tuple[str, ...]:
    """Why ``r`` counts as a failure; empty when it does not."""
    if not r.gold:
        return () if r.refused or r.partial else ("应拒答却作答",)
    reasons = []
    if not set(r.retrieved[:k]) & set(r.gold):
        reasons.append(f"金标准条款不在前 {k}")
    if r.refused:
        # A refusal has no citations and no facts by design; listing those too would only repeat it.
        reasons.append("可回答却拒答")
        return tuple(reasons)
    if not set(r.citations) & set(r.gold):
        reasons.append("引用未包含金标准条款")
    missing = [fact_label(r, i) for i, found in enumerate(r.facts_found) if not found]
    if missing:
        reasons.append("缺少事实：" + "、".join(missing))
    late = [fact_label(r, i) for i, found in enumerate(r.facts_first) if not found and r.facts_found[i]]
    if late:
        reasons.append("首行未给出：" + "、".join(late))
    if r.partial and r.expect == "answer":
        reasons.append("可完整回答却只答一部分")
    if r.expect == "partial" and not r.partial:
        reasons.append("应说明文件没有规定的部分")
    missed = [side for side in r.sides if not set(side) & set(r.citations)]
    if missed:
        reasons.append("比较问题缺少一方：" + "、".join("/".join(side) for side in missed))
    return tuple(reasons)


def fact_label(r: Result, i: int) -> str:
    # Results from before Result.facts existed only know the position of the fact.
    return r.facts[i] if i < len(r.facts) else f"第 {i + 1} 项"


def failures(results: Sequence[Result], k: int = 5) -> list[Failure]:
    return [Failure(r, reasons) for r in results if (reasons := failure_reasons(r, k))]


def groups(runs: Sequence[RunReport]) -> list[str]:
    """"overall" then every question type seen in any run, first run's order first."""
    seen = dict.fromkeys(t for run in runs for t in run.summary["by_type"])
    return [OVERALL, *seen]


def group_label(group: str) -> str:
    return "全部" if group == OVERALL else group


# --------------------------------------------------------------------------- formatting


def fmt(value: float | None, metric: Metric | None = None) -> str:
    if value is None:
        return NA
    if metric is not None and metric.unit == "ms":
        return f"{value:.1f} ms"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def ratio(ours: float | None, base: float | None) -> str:
    """ours/baseline, or "—" when either is missing or the baseline is 0 (no meaningful ratio)."""
    if ours is None or base is None or base == 0:
        return NA
    return f"{ours / base:.2f}×"


def preview(text: str, limit: int = ANSWER_PREVIEW) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def md_text(text: str) -> str:
    """User text made safe inside a Markdown table or list: HTML-escaped, one line, pipes escaped.

    Markdown renderers pass raw HTML through, so a question holding ``<script>`` must be escaped
    here as well, not only in the HTML report.
    """
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


def code_text(text: str) -> str:
    """User text made inert inside a fenced code block: one line, and no backtick that could close the
    fence (after which the rest would be live Markdown and HTML). Not HTML-escaped: code shows verbatim."""
    return " ".join(str(text).split()).replace("`", "\u02cb")


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def scale_max(metric: Metric, runs: Sequence[RunReport], names: Sequence[str]) -> float:
    """Full-scale value of a chart: 1 for rates, the largest value for latencies."""
    if metric.unit != "ms":
        return 1.0
    values = [v for run in runs for g in names if (v := run.value(metric.key, g)) is not None]
    return max(values, default=0.0) or 1.0


# --------------------------------------------------------------------------- markdown


def render_markdown(runs: Sequence[RunReport], meta: ReportMeta) -> str:
    parts = [md_header(runs, meta), md_overall(runs, meta), md_by_type(runs, meta), md_charts(runs, meta),
             md_failures(runs[0], meta)]
    return "\n\n".join(parts) + "\n"


LEGEND = "↑ 越高越好，↓ 越低越好；— 表示该指标不适用（没有相应的题目）。"


def header_facts(runs: Sequence[RunReport], meta: ReportMeta, escape) -> list[str]:
    """The run's date, QA file, size and systems, each escaped for the format by ``escape``."""
    facts = [f"日期：{meta.generated:%Y-%m-%d %H:%M}", f"问答集：{escape(str(meta.qa_file)) or NA}",
             f"题数：{escape(str(runs[0].value('questions')))}"]
    for i, run in enumerate(runs):
        role = "本系统" if i == 0 else "基线"
        detail = f"（{escape(run.settings)}）" if run.settings else ""
        facts.append(f"{role}：{escape(run.name)}{detail}")
    return facts


def md_header(runs: Sequence[RunReport], meta: ReportMeta) -> str:
    lines = [f"# {md_text(meta.title)}", "", *(f"- {fact}" for fact in header_facts(runs, meta, md_text)), "", LEGEND]
    return "\n".join(lines)


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> str:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def overall_header(runs: Sequence[RunReport]) -> list[str]:
    names = [run.name for run in runs]
    return ["指标", *names, *(f"{names[0]}/{name}" for name in names[1:])]


def overall_rows(runs: Sequence[RunReport], meta: ReportMeta) -> list[list[str]]:
    rows = [["questions", *(fmt(run.value("questions")) for run in runs), *(NA for _ in runs[1:])]]
    for m in metric_specs(meta.k):
        values = [run.value(m.key) for run in runs]
        rows.append([f"{m.heading}（{m.label}）", *(fmt(v, m) for v in values),
                     *(ratio(values[0], v) for v in values[1:])])
    return rows


def md_overall(runs: Sequence[RunReport], meta: ReportMeta) -> str:
    header = [md_text(h) for h in overall_header(runs)]
    rows = [[md_text(c) for c in row] for row in overall_rows(runs, meta)]
    return "## 总体指标\n\n" + md_table(header, rows)


def type_rows(runs: Sequence[RunReport], metric: Metric) -> list[list[str]]:
    return [[group_label(g), fmt(runs[0].value("questions", g)), *(fmt(run.value(metric.key, g), metric) for run in runs)]
            for g in groups(runs)]


def md_by_type(runs: Sequence[RunReport], meta: ReportMeta) -> str:
    out = ["## 按题型"]
    header = ["题型", "题数", *(md_text(run.name) for run in runs)]
    for m in metric_specs(meta.k):
        rows = [[md_text(c) for c in row] for row in type_rows(runs, m)]
        out.append(f"### {m.heading}（{m.label}）\n\n" + md_table(header, rows))
    return "\n\n".join(out)


def text_bar(value: float | None, full: float) -> str:
    if value is None:
        return pad("", BAR_BLOCKS)
    filled = round(BAR_BLOCKS * min(1.0, max(0.0, value / full)))
    return "█" * filled + "░" * (BAR_BLOCKS - filled)


def md_chart(runs: Sequence[RunReport], metric: Metric) -> str:
    names = groups(runs)
    full = scale_max(metric, runs, names)
    width = max(display_width(code_text(run.name)) for run in runs)
    lines = []
    for g in names:
        lines.append(code_text(group_label(g)))
        for run in runs:
            value = run.value(metric.key, g)
            label = pad(code_text(run.name), width)
            lines.append(f"  {label}  {text_bar(value, full)}  {fmt(value, metric)}")
    return f"### {metric.heading}（{metric.label}）\n\n```text\n" + "\n".join(lines) + "\n```"


def md_charts(runs: Sequence[RunReport], meta: ReportMeta) -> str:
    return "\n\n".join(["## 图表（按题型）", *(md_chart(runs, m) for m in metric_specs(meta.k))])


def expected_text(r: Result) -> str:
    gold = "、".join(r.gold) if r.gold else "无（应拒答）"
    facts = "；".join(fact_label(r, i) + ("" if found else " ✗") for i, found in enumerate(r.facts_found))
    return f"金标准 {gold}" + (f"；事实 {facts}" if facts else "")


def got_text(r: Result) -> str:
    top = "、".join(r.retrieved[:TOP_SHOWN]) or NA
    refused = "是" if r.refused else "否"
    return f"检索前 {TOP_SHOWN}：{top}；拒答：{refused}；回答：{preview(r.answer) or NA}"


def md_failures(run: RunReport, meta: ReportMeta) -> str:
    found = failures(run.results, meta.k)
    head = f"## 失败案例：{md_text(run.name)}（{len(found)} / {len(run.results)}）"
    if not found:
        return head + "\n\n没有失败的题目。"
    items = []
    for f in found:
        r = f.result
        items.append("\n".join([
            f"### {md_text(r.id)} · {md_text(r.type)}",
            f"- 问题：{md_text(r.question)}",
            f"- 原因：{md_text('；'.join(f.reasons))}",
            f"- 期望：{md_text(expected_text(r))}",
            f"- 实际：{md_text(got_text(r))}",
        ]))
    return head + "\n\n" + "\n\n".join(items)


# --------------------------------------------------------------------------- html

CSS = """
body{font-family:system-ui,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1f2937;line-height:1.5}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #e5e7eb;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;font-size:.92rem}
th,td{border:1px solid #e5e7eb;padding:.3rem .6rem;vertical-align:top}
th{background:#f9fafb;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#6b7280;font-size:.9rem}.chart{margin:.4rem 0 1.6rem}
.fail td{font-size:.88rem}.reason{color:#b91c1c}
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def render_html(runs: Sequence[RunReport], meta: ReportMeta) -> str:
    body = [html_header(runs, meta), html_overall(runs, meta), html_by_type(runs, meta), html_charts(runs, meta),
            html_failures(runs[0], meta)]
    return html_page(meta.title, "\n".join(body))


def html_page(title: str, body: str) -> str:
    """A self-contained report page (no scripts) around ``body``."""
    return ("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n")


def html_header(runs: Sequence[RunReport], meta: ReportMeta) -> str:
    items = "".join(f"<li>{fact}</li>" for fact in header_facts(runs, meta, esc))
    return f"<h1>{esc(meta.title)}</h1><ul>{items}</ul><p class=\"note\">{LEGEND}</p>"


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1,
               css_class: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td class=\"num\">{esc(c)}</td>" if i >= numeric_from else f"<td>{esc(c)}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    cls = f" class=\"{css_class}\"" if css_class else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_overall(runs: Sequence[RunReport], meta: ReportMeta) -> str:
    return "<h2>总体指标</h2>" + html_table(overall_header(runs), overall_rows(runs, meta))


def html_by_type(runs: Sequence[RunReport], meta: ReportMeta) -> str:
    header = ["题型", "题数", *(run.name for run in runs)]
    out = ["<h2>按题型</h2>"]
    for m in metric_specs(meta.k):
        out.append(f"<h3>{esc(m.heading)}（{esc(m.label)}）</h3>" + html_table(header, type_rows(runs, m)))
    return "\n".join(out)


def svg_chart(runs: Sequence[RunReport], metric: Metric) -> str:
    """Grouped bars: one group per question type, one bar per run, value printed above each bar."""
    names = groups(runs)
    full = scale_max(metric, runs, names)
    bar, gap, top, plot_h, left = 18, 22, 40, 160, 10
    group_w = bar * len(runs) + gap
    legend, legend_w = svg_legend(runs, left)
    width = max(left * 2 + group_w * len(names), legend_w + left)
    height = top + plot_h + 40
    base = top + plot_h
    parts = [(f"<svg role=\"img\" aria-label=\"{esc(metric.key)}\" width=\"{width:.0f}\" height=\"{height}\" "
              f"viewBox=\"0 0 {width:.0f} {height}\" font-size=\"10\">"), legend,
             f"<line x1=\"{left}\" y1=\"{base}\" x2=\"{width - left:.0f}\" y2=\"{base}\" stroke=\"#9ca3af\"/>"]
    for gi, g in enumerate(names):
        gx = left + gi * group_w + gap / 2
        for ri, run in enumerate(runs):
            value = run.value(metric.key, g)
            x = gx + ri * bar
            h = 0.0 if value is None else plot_h * min(1.0, max(0.0, value / full))
            parts.append(f"<rect x=\"{x:.1f}\" y=\"{base - h:.1f}\" width=\"{bar - 2}\" height=\"{h:.1f}\" "
                         f"fill=\"{PALETTE[ri % len(PALETTE)]}\"><title>{esc(run.name)} · {esc(group_label(g))}: "
                         f"{esc(fmt(value, metric))}</title></rect>")
            label = NA if value is None else (f"{value:.0f}" if metric.unit == "ms" else f"{value:.2f}")
            parts.append(f"<text x=\"{x + (bar - 2) / 2:.1f}\" y=\"{base - h - 3:.1f}\" text-anchor=\"middle\" "
                         f"font-size=\"8\">{esc(label)}</text>")
        parts.append(f"<text x=\"{gx + bar * len(runs) / 2:.1f}\" y=\"{base + 16}\" text-anchor=\"middle\" "
                     f"font-size=\"11\">{esc(group_label(g))}</text>")
    parts.append("</svg>")
    return "".join(parts)


def svg_legend(runs: Sequence[RunReport], left: int) -> tuple[str, float]:
    """Colour key along the top of a chart, and the x where it ends (to size the SVG)."""
    parts, x = [], float(left)
    for i, run in enumerate(runs):
        parts.append(f"<rect x=\"{x:.0f}\" y=\"6\" width=\"10\" height=\"10\" fill=\"{PALETTE[i % len(PALETTE)]}\"/>"
                     f"<text x=\"{x + 14:.0f}\" y=\"15\">{esc(run.name)}</text>")
        # At font-size 10 a CJK character is about 10px wide and an ASCII one about 5.5px.
        x += 14 + display_width(run.name) * 5.5 + 18
    return "".join(parts), x


def html_charts(runs: Sequence[RunReport], meta: ReportMeta) -> str:
    out = ["<h2>图表（按题型）</h2>"]
    for m in metric_specs(meta.k):
        out.append(f"<h3>{esc(m.heading)}（{esc(m.label)}）</h3><div class=\"chart\">{svg_chart(runs, m)}</div>")
    return "\n".join(out)


def html_failures(run: RunReport, meta: ReportMeta) -> str:
    found = failures(run.results, meta.k)
    head = f"<h2>失败案例：{esc(run.name)}（{len(found)} / {len(run.results)}）</h2>"
    if not found:
        return head + "<p>没有失败的题目。</p>"
    rows = "".join(
        f"<tr><td>{esc(f.result.id)}</td><td>{esc(f.result.type)}</td><td>{esc(f.result.question)}</td>"
        f"<td class=\"reason\">{esc('；'.join(f.reasons))}</td><td>{esc(expected_text(f.result))}</td>"
        f"<td>{esc(got_text(f.result))}</td></tr>"
        for f in found)
    header = "".join(f"<th>{h}</th>" for h in ("编号", "题型", "问题", "原因", "期望", "实际"))
    return f"{head}<table class=\"fail\"><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>"


# --------------------------------------------------------------------------- entry point


def write_report(out_dir: Path, runs: list[RunReport], *, qa_file: str | Path = "",
                 generated: dt.datetime | None = None, k: int = 5, title: str = TITLE) -> list[Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir`` (created if needed); return their paths.

    ``runs[0]`` is ours; the rest are baselines compared against it.

    Raises:
        ValueError: no runs given.
    """
    if not runs:
        raise ValueError("write_report needs at least one run")
    meta = ReportMeta(qa_file=str(qa_file), generated=generated or dt.datetime.now(), k=k, title=title)
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, html_path = out_dir / MD_NAME, out_dir / HTML_NAME
    md_path.write_text(render_markdown(runs, meta), encoding="utf-8")
    html_path.write_text(render_html(runs, meta), encoding="utf-8")
    return [md_path, html_path]
