"""The ``eval`` command's work: run a QA set through the assistant (and baselines), write the run folder.

A run folder holds ``results.jsonl`` (one line per question), ``summary.json`` (metrics overall and
per type, plus the baselines' when asked), ``report.md`` and ``report.html``. Floors (``evals/floors.toml``)
turn the summary into a pass/fail regression guard.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..config import Settings
from ..errors import FloorsError
from ..search.index import Index
from .evaluate import QAItem, Result, result_dicts, run, summarize

RESULT_FIELDS = ("id", "question", "type", "gold", "retrieved", "citations", "answer", "refused", "partial",
                 "expect", "latency_ms", "facts", "facts_found", "facts_first", "sides")


@dataclass(frozen=True)
class Floor:
    metric: str
    bound: float
    lower_is_better: bool  # a "max" floor: the metric must stay at or below the bound
    measured: float | None = None  # the value the floor was set from

    def violated_by(self, value: float | None) -> bool:
        if value is None:
            return True
        return value > self.bound if self.lower_is_better else value < self.bound


@dataclass
class SystemRun:
    name: str
    settings: str
    results: list[Result]
    summary: dict
    slug: str  # file-name part: "" for ours, "baseline-dense" …


@dataclass
class EvalRun:
    out_dir: Path
    runs: list[SystemRun] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


def load_floors(path: Path) -> list[Floor]:
    """Read ``[floors]`` entries such as ``"hit@5" = { min = 0.95, measured = 0.971 }``.

    Raises:
        FloorsError: unreadable file, or an entry without exactly one of ``min``/``max``.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FloorsError(f"无法读取指标下限文件 {path}：{exc}") from None
    floors = []
    for metric, spec in data.get("floors", {}).items():
        if not isinstance(spec, dict) or ("min" in spec) == ("max" in spec):
            raise FloorsError(f"{path}：指标 {metric} 应写成 {{ min = … }} 或 {{ max = … }}")
        bound = spec["min"] if "min" in spec else spec["max"]
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise FloorsError(f"{path}：指标 {metric} 的下限应为数字，而不是 {bound!r}")
        floors.append(Floor(metric, float(bound), "max" in spec, spec.get("measured")))
    if not floors:
        raise FloorsError(f"{path} 中没有 [floors] 条目")
    return floors


def check_floors(summary: dict, floors: list[Floor]) -> list[str]:
    """Chinese lines naming each metric that is below (or above, for max floors) its floor."""
    out = []
    overall = summary["overall"]
    for floor in floors:
        value = overall.get(floor.metric)
        if floor.violated_by(value):
            relation = "≤" if floor.lower_is_better else "≥"
            out.append(f"{floor.metric} = {value}，未达到要求（{relation} {floor.bound}）")
    return out


def evaluate_suite(settings: Settings, index: Index, items: list[QAItem], out_dir: Path, *, k: int = 5,
                   baseline: bool = False, qa_file: Path | None = None, floors: list[Floor] | None = None,
                   progress: Callable[[str, int], Callable[[], None]] | None = None,
                   today: dt.date | None = None) -> EvalRun:
    """Run ``items`` through the assistant (and both tutorial baselines), write the run folder.

    ``progress(label, total)`` returns a tick callback (the CLI draws a bar with it).
    """
    from ..answer.assistant import Assistant

    assistant = Assistant.from_settings(settings, index=index, today=today)
    composer = assistant.llm.name if assistant.llm else "extractive"
    folders = " + ".join(str(f) for f in settings.corpus_dirs)
    ours = _run_system("政策通", f"corpus={folders} ({len(index.documents)} documents), encoder={settings.encoder}, "
                       f"dense_weight={settings.dense_weight}, local_boost={settings.local_boost}, "
                       f"composer={composer}, k={k}", "", items, assistant.ask, k, progress)
    runs = [ours]
    if baseline:
        runs += _run_baselines(settings, index, assistant.encoder, items, k, progress)
    evaluation = EvalRun(out_dir=out_dir, runs=runs)
    evaluation.violations = check_floors(ours.summary, floors) if floors else []
    evaluation.files = _write(evaluation, qa_file, k)
    return evaluation


def _run_system(name: str, settings: str, slug: str, items: list[QAItem], ask, k: int, progress) -> SystemRun:
    tick = progress(name, len(items)) if progress else None
    results = run(items, ask, progress=tick)
    return SystemRun(name, settings, results, summarize(results, k), slug)


def _run_baselines(settings: Settings, index: Index, encoder, items: list[QAItem], k: int, progress) -> list[SystemRun]:
    from ..corpus.ingest import load_corpus
    from .baseline import TutorialBaseline

    documents = [d for d in load_corpus(settings.corpus_dirs).documents if d.doc_id in index.documents]
    runs = []
    for variant in ("dense", "bm25"):
        with TutorialBaseline.build(documents, index.clauses, encoder, variant=variant, k=k) as base:
            description = (f"RecursiveCharacterTextSplitter 750/150 + Chroma, {variant}, "
                           f"{len(base.chunks)} chunks, build {base.build_ms:.0f} ms")
            runs.append(_run_system(base.name, description, f"baseline-{variant}", items, base.ask, k, progress))
    return runs


def _write(evaluation: EvalRun, qa_file: Path | None, k: int) -> list[Path]:
    from .report import RunReport, write_report

    out = evaluation.out_dir
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for system in evaluation.runs:
        path = out / (f"results-{system.slug}.jsonl" if system.slug else "results.jsonl")
        rows = [{key: row[key] for key in RESULT_FIELDS} for row in result_dicts(system.results)]
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        files.append(path)
    ours, *baselines = evaluation.runs
    summary = {
        "qa_file": str(qa_file or ""), "generated": dt.datetime.now().isoformat(timespec="seconds"), "k": k,
        "system": ours.name, "settings": ours.settings, **ours.summary,
        "baselines": {b.slug: {"name": b.name, "settings": b.settings, **b.summary} for b in baselines},
        "floor_violations": evaluation.violations,
    }
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    files.append(out / "summary.json")
    reports = [RunReport(s.name, s.summary, s.results, s.settings) for s in evaluation.runs]
    files += write_report(out, reports, qa_file=qa_file or "", k=k)
    return files
