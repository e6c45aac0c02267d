"""The eval of policy matching: profiles with the measures that apply to them, by group.

A set (``evals/match.jsonl``) holds one profile per line with the clause ids that are 明确适用
(``explicit``) and 可能适用 (``possible``) for it. Beside it, ``match_clauses.jsonl`` may say which
clauses are measures at all (written by reading them); with it the eval also counts the
agency-internal clauses offered and scores the measure/internal call clause by clause.

Metrics (micro-averaged over the profiles): precision and recall of 明确适用, recall of 明确适用 ∪
可能适用 (what the owner would see at all), the internal clauses offered, and, for profiles with a
question, how often the chat routes it to matching and reads the profile right.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..answer.match import EXPLICIT, HOTLINE, POSSIBLE
from ..answer.profile import Profile, read_profile
from ..corpus.measures import GENERAL
from ..errors import ProfileError, QAFileError
from ..models import CLAIM
from .report import HTML_NAME, MD_NAME, esc, html_page, html_table, md_table

ANNOTATIONS = "match_clauses.jsonl"
# The sentence labels of the measures (evaluation/submeasures.py): the profiles, not these, are what a matching
# set holds out, so both are read.
SENTENCE_ANNOTATIONS = ("submeasures.jsonl", "submeasures_holdout.jsonl")
PROFILE_FIELDS = ("type", "industry", "situations", "needs")


@dataclass(frozen=True)
class MatchItem:
    id: str
    profile: Profile
    explicit: frozenset[str]
    possible: frozenset[str]
    question: str = ""


@dataclass
class MatchOutcome:
    id: str
    profile: dict
    gold_explicit: list[str]
    gold_possible: list[str]
    explicit: list[str]
    possible: list[str]
    internal_offered: list[str] = field(default_factory=list)
    question: str = ""
    routed: bool | None = None  # the chat answered the question by matching
    read_right: bool | None = None  # the chat read the profile the set gives
    cards: list[dict] = field(default_factory=list)  # each measure offered: clause_id, result, lead_named, figures

    @property
    def missed(self) -> list[str]:
        return [c for c in self.gold_explicit if c not in self.explicit]

    @property
    def extra(self) -> list[str]:
        return [c for c in self.explicit if c not in self.gold_explicit]


def is_match_set(path: Path) -> bool:
    """Whether ``path`` is a matching set (its first record has a ``profile``), not a QA set."""
    try:
        with path.open(encoding="utf-8") as handle:
            first = next((line for line in handle if line.strip()), "")
        return path.suffix == ".jsonl" and "profile" in json.loads(first or "{}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False


def load_match(path: Path, known_clauses: set[str] | None = None) -> list[MatchItem]:
    """Read a matching set.

    Raises:
        QAFileError: unreadable file, a bad line, a profile value not offered, or an unknown clause id
            (every problem listed).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QAFileError(f"无法读取匹配评测集 {path}：{exc}") from None
    items, problems = [], []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            p = row["profile"]
            profile = Profile.of(p.get("type", ""), p.get("industry", ""), p.get("situations", ()),
                                 p.get("needs", ()), p.get("region", ""))
            item = MatchItem(str(row["id"]), profile, frozenset(row.get("explicit", ())),
                             frozenset(row.get("possible", ())), row.get("question", ""))
        except json.JSONDecodeError as exc:
            problems.append(f"第 {n} 行不是有效的 JSON：{exc.msg}")
            continue
        except KeyError as exc:
            problems.append(f"第 {n} 行缺少字段：{exc.args[0]}")
            continue
        except (TypeError, AttributeError):
            problems.append(f"第 {n} 行应为 JSON 对象，profile 为对象，explicit、possible 与各项选择为列表")
            continue
        except ProfileError as exc:
            problems.append(f"第 {n} 行：{exc}")
            continue
        unknown = sorted((item.explicit | item.possible) - known_clauses) if known_clauses is not None else []
        if unknown:
            problems.append(f"第 {n} 行（{item.id}）引用了索引中没有的条款：{'、'.join(unknown[:5])}")
        items.append(item)
    if problems:
        raise QAFileError.listing(f"匹配评测集 {path}", problems)
    if not items:
        raise QAFileError(f"匹配评测集 {path} 中没有画像")
    return items


def load_annotations(path: Path) -> dict[str, bool]:
    """clause id → whether it is a measure, from ``match_clauses.jsonl`` beside the set ({} when absent)."""
    file = path.parent / ANNOTATIONS
    if not file.is_file():
        return {}
    rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {r["clause_id"]: bool(r["measure"]) for r in rows}


def run_match(items: list[MatchItem], assistant, annotations: dict[str, bool], *,
              today: dt.date | None = None) -> list[MatchOutcome]:
    outcomes = []
    for item in items:
        result = assistant.match(item.profile, today=today)
        offered = [m.clause_id for m in result.measures]
        outcome = MatchOutcome(
            item.id, item.profile.to_json(), sorted(item.explicit), sorted(item.possible),
            [m.clause_id for m in result.group(EXPLICIT)], [m.clause_id for m in result.group(POSSIBLE)],
            internal_offered=[c for c in offered if annotations.get(c) is False], question=item.question,
            cards=[{"clause_id": m.clause_id, "result": m.result, "figures": list(m.figures),
                    "lead_named": m.lead not in (HOTLINE, _issuer(assistant.index, m.clause_id))}
                   for m in result.measures])
        if item.question:
            answer = assistant.ask(item.question, today=today, region=item.profile.region, compose="extractive")
            outcome.routed = answer.route == "match"
            read = read_profile(item.question)
            outcome.read_right = read is not None and all(
                _same(getattr(read, f), getattr(item.profile, f)) for f in PROFILE_FIELDS)
        outcomes.append(outcome)
    return outcomes


def _issuer(index, clause_id: str) -> str:
    doc = index.documents.get(clause_id.split("#")[0])
    return doc.issuer if doc else ""


def card_metrics(outcomes: list[MatchOutcome], sentences: dict[str, list[dict]]) -> dict:
    """The cards offered against the sentence labels (``sentences``: clause id → its annotated sentences):
    how many 可以申请 cards the reading agrees with (a sentence of the clause labelled 可以申请 grants what
    the profile needs: the labelled support must be a need asked, the strict measure), how many are clauses
    with nothing an owner can claim (agencies' duties; ``claim_card_no_duty`` is the share free of them, the
    issue's own definition of 可以申请 precision), whether each figure shown comes from a
    sentence whose beneficiaries include the owner, and how many cards name whom to ask (a provider or
    责任单位, not the issuer or the 12345 line)."""
    claims = right = agency = right_figures = figures = named = cards = 0
    for o in outcomes:
        needs = set(o.profile["needs"])
        profile = Profile.of(o.profile["type"], o.profile["industry"], o.profile["situations"], o.profile["needs"])
        for card in o.cards:
            cards += 1
            named += bool(card["lead_named"])
            gold = sentences.get(card["clause_id"], [])
            if card["result"] == CLAIM:
                claims += 1
                right += any(g["result"] == CLAIM and (not needs or needs & set(g["support"])) for g in gold)
                agency += not any(g["result"] == CLAIM for g in gold)  # nothing in it an owner can claim
            for figure in card["figures"]:
                source = next((g for g in gold if figure in g["text"]), None)
                if source is not None:
                    figures += 1
                    whom = set(source["beneficiaries"])
                    right_figures += (not whom or bool(whom & (profile.kinds | profile.loose_kinds | {GENERAL})))
    share = lambda hits, total: round(hits / total, 3) if total else None  # noqa: E731
    return {"cards": cards, "claim_cards": claims, "claim_card_precision": share(right, claims),
            "claim_card_no_duty": share(claims - agency, claims), "claim_card_agency": agency, "figures_fit": share(right_figures, figures),
            "lead_named": share(named, cards)}


def load_sentences(path: Path) -> dict[str, list[dict]]:
    """clause id → annotated sentences, from the sub-measure sets beside a matching set ({} when absent)."""
    out: dict[str, list[dict]] = {}
    for name in SENTENCE_ANNOTATIONS:
        file = path.parent / name
        if file.is_file():
            for line in file.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    out[row["clause_id"]] = row["sentences"]
    return out


def _same(a, b) -> bool:
    return set(a) == set(b) if isinstance(a, tuple) else a == b


def match_metrics(outcomes: list[MatchOutcome]) -> dict:
    hit = sum(len(set(o.explicit) & set(o.gold_explicit)) for o in outcomes)
    shown = sum(len(o.explicit) for o in outcomes)
    gold = sum(len(o.gold_explicit) for o in outcomes)
    union_gold = sum(len(set(o.gold_explicit) | set(o.gold_possible)) for o in outcomes)
    union_hit = sum(len((set(o.gold_explicit) | set(o.gold_possible)) & (set(o.explicit) | set(o.possible)))
                    for o in outcomes)
    asked = [o for o in outcomes if o.question]

    def share(values: list[bool]) -> float | None:
        return round(sum(values) / len(values), 3) if values else None

    return {
        "profiles": len(outcomes),
        "explicit_precision": round(hit / shown, 3) if shown else None,
        "explicit_recall": round(hit / gold, 3) if gold else None,
        "union_recall": round(union_hit / union_gold, 3) if union_gold else None,
        "internal_offered": sum(len(o.internal_offered) for o in outcomes),
        "internal_offered_clauses": len({c for o in outcomes for c in o.internal_offered}),
        "chat_routed": share([bool(o.routed) for o in asked]),
        "chat_profile_read": share([bool(o.read_right) for o in asked]),
    }


def measure_metrics(index, annotations: dict[str, bool]) -> dict:
    """The measure/internal call of the index against the annotations, over the annotated clauses it has."""
    pairs = [(index.by_id[c].measure is not None and index.by_id[c].measure.usable, gold)
             for c, gold in annotations.items() if c in index.by_id]
    tp = sum(1 for p, g in pairs if p and g)
    fp = sum(1 for p, g in pairs if p and not g)
    fn = sum(1 for p, g in pairs if g and not p)
    return {"annotated_clauses": len(pairs),
            "measure_precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "measure_recall": round(tp / (tp + fn), 3) if tp + fn else None}


def write_match_run(out: Path, outcomes: list[MatchOutcome], summary: dict, match_file: Path) -> list[Path]:
    """``results.jsonl``, ``summary.json``, ``report.md`` and ``report.html`` of a matching run."""
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    results.write_text("".join(json.dumps({**o.__dict__, "missed": o.missed, "extra": o.extra}, ensure_ascii=False)
                               + "\n" for o in outcomes), encoding="utf-8")
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    rows = [[label, "—" if summary["overall"].get(key) is None else str(summary["overall"][key])]
            for key, label in METRIC_LABELS]
    worst = sorted((o for o in outcomes if o.missed or o.extra or o.internal_offered),
                   key=lambda o: -(len(o.missed) + len(o.extra) + len(o.internal_offered)))
    detail = [[o.id, "、".join(v for v in [o.profile["type"], o.profile["industry"], *o.profile["situations"]] if v),
               "、".join(o.profile["needs"]) or "全部", "、".join(o.missed) or "—", "、".join(o.extra) or "—",
               "、".join(o.internal_offered) or "—"] for o in worst]
    facts = f"评测集：{match_file}　生成时间：{summary['generated']}　画像 {len(outcomes)} 个"
    differ = f"有出入的画像（{len(worst)} 个）"
    agree = "全部画像的明确适用与标注一致。"
    md = (f"# {MATCH_TITLE}\n\n{facts}\n\n## 总体\n\n{md_table(['指标', '数值'], rows)}\n\n## {differ}\n\n"
          + (md_table(DETAIL_HEADER, detail, right_from=len(DETAIL_HEADER)) if detail else agree) + "\n")
    page = (f"<h1>{esc(MATCH_TITLE)}</h1><p>{esc(facts)}</p><h2>总体</h2>{html_table(['指标', '数值'], rows)}"
            f"<h2>{esc(differ)}</h2>"
            + (html_table(DETAIL_HEADER, detail, numeric_from=len(DETAIL_HEADER)) if detail else f"<p>{agree}</p>"))
    md_path, html_path = out / MD_NAME, out / HTML_NAME
    md_path.write_text(md, encoding="utf-8")
    html_path.write_text(html_page(MATCH_TITLE, page), encoding="utf-8")
    return [results, summary_path, md_path, html_path]


MATCH_TITLE = "政策通 政策匹配评测报告"
DETAIL_HEADER = ("画像", "主体", "需求", "漏掉的明确适用", "多出的明确适用", "提供了的内部条款")
METRIC_LABELS = (("explicit_precision", "明确适用 精确率"), ("explicit_recall", "明确适用 召回率"),
                 ("union_recall", "明确∪可能 召回率"), ("internal_offered", "提供了的内部条款（次）"),
                 ("chat_routed", "对话中转入政策匹配"), ("chat_profile_read", "对话中读对画像"),
                 ("measure_precision", "措施判断 精确率（条款级）"), ("measure_recall", "措施判断 召回率（条款级）"),
                 ("claim_card_precision", "可以申请 卡片精确率"), ("claim_card_no_duty", "可以申请中没有部门职责的比例"),
                 ("claim_card_agency", "可以申请中的部门职责（张）"),
                 ("figures_fit", "额度属于本主体"), ("lead_named", "写明办理咨询单位的卡片"))


def evaluate_match_suite(settings, index, match_file: Path, out: Path, *, floors=None,
                         today: dt.date | None = None) -> tuple[dict, list[str]]:
    """Run a matching set, write the run folder; (summary, floor violations)."""
    from ..answer.assistant import Assistant
    from .runner import check_floors

    items = load_match(match_file, known_clauses=set(index.by_id))
    annotations = load_annotations(match_file)
    assistant = Assistant.from_settings(settings, index=index, today=today)
    outcomes = run_match(items, assistant, annotations, today=today)
    overall = {**match_metrics(outcomes), **measure_metrics(index, annotations),
               **card_metrics(outcomes, load_sentences(match_file))}
    summary: dict[str, Any] = {"match_file": str(match_file),
                               "generated": dt.datetime.now().isoformat(timespec="seconds"), "overall": overall}
    violations = check_floors(summary, floors) if floors else []
    summary["floor_violations"] = violations
    write_match_run(out, outcomes, summary, match_file)
    return summary, violations
