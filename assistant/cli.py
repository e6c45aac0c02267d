"""Command line: ``policy-assistant index | clauses | show | search | ask | match | eval | docs | feedback``.

Commands only parse options, call the library and print; every library error becomes one Chinese
line on stderr and a non-zero exit, never a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__
from .answer.llm import PROVIDERS
from .answer.profile import ProfileOptions
from .config import Settings
from .corpus import versions
from .errors import EmptyQueryError, PolicyError
from .search.build import build_index, open_index
from .search.index import Index

EXIT_ERROR = 1


def _settings(args: argparse.Namespace) -> Settings:
    folders = args.corpus or []
    return Settings.from_env(
        corpus_dir=folders[0] if folders else None,
        extra_corpus_dirs=tuple(folders[1:]) if len(folders) > 1 else None,
        index_dir=args.index_dir,
        encoder=args.encoder,
        strict=True if getattr(args, "strict", False) else None,
        top_k=getattr(args, "top_k", None),
        llm=getattr(args, "llm", None),
        region=getattr(args, "region", None),
    )


# Terminal control characters (C0 but tab and newline, DEL, C1): in a title, a clause or a file name
# they would recolour, move the cursor or rewrite what the terminal shows. Printed as �.
_CONTROLS = dict.fromkeys([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)], "\ufffd")


class _Printable:
    """A text stream that writes terminal control characters as �."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(text.translate(_CONTROLS))

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _err(message: str) -> None:
    print(message.translate(_CONTROLS), file=sys.stderr, flush=True)


def _load(args: argparse.Namespace) -> tuple[Settings, Index]:
    settings = _settings(args)
    return settings, open_index(settings, progress=sys.stderr.isatty(), log=_err)


def cmd_index(args: argparse.Namespace) -> int:
    settings = _settings(args)
    report = build_index(settings, rebuild=args.rebuild, progress=not args.quiet)
    for problem in report.problems:
        _err(f"已跳过 {problem}")
    for warning in report.warnings:
        _err(f"请注意 {warning}")
    head = "索引已是最新" if report.unchanged else "索引完成"
    detail = "" if report.unchanged else f"（{report.parts} 段，新嵌入 {report.embedded} 段，复用 {report.reused} 段）"
    removed = f"，移除文档 {len(report.removed)} 个" if report.removed else ""
    print(f"{head}：{report.documents} 个文档，{report.clauses} 条条款{detail}{removed}，用时 {report.seconds:.1f} 秒")
    if not report.unchanged and report.seconds >= 10:  # where a long build spent its time
        names = {"read": "读取", "parse": "解析", "vectors": "嵌入与写入向量", "tokenize": "分词", "write": "写入索引文件"}
        print("各阶段用时：" + "，".join(f"{names.get(k) or k.replace('vectors:', '其中编码器 ')} {v:.1f} 秒"
                                    for k, v in report.stages.items()))
    return 0


def cmd_clauses(args: argparse.Namespace) -> int:
    _, index = _load(args)
    clauses = [c for c in index.clauses if not args.doc or c.doc_id == args.doc]
    if args.json:
        _print_json([index.clause_json(c) for c in clauses])
        return 0
    for c in clauses:
        units = f"  【责任单位】{'、'.join(c.units)}" if c.units else ""
        print(f"{c.clause_id}\t{index.heading(c)}{units}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    _, index = _load(args)
    clause = index.clause(args.clause_id)
    if args.json:
        _print_json(index.clause_json(clause))
        return 0
    print(f"【{index.heading(clause)}】（{clause.clause_id}）")
    if clause.section:
        print(f"所属部分：{clause.section_label}")
    print()
    print(clause.text)
    print()
    if clause.units:
        print(f"责任单位：{'、'.join(clause.units)}")
    if clause.figures:
        print(f"数额与比例：{'、'.join(clause.figures)}")
    if clause.deadlines:
        print(f"期限：{'、'.join(d.text for d in clause.deadlines)}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from .answer.assistant import Assistant

    if not args.query.strip():
        raise EmptyQueryError("查询内容为空，请输入问题或关键词")
    settings, index = _load(args)
    hits = Assistant.from_settings(settings, index=index).search(args.query)
    if args.json:
        _print_json([index.hit_json(h) for h in hits])
        return 0
    if not hits:
        print("没有找到相关条款。")
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank}. {index.heading(hit.clause)}  [{hit.clause.clause_id}]  得分 {hit.score:.3f}")
        if hit.why:
            print(f"   {hit.why}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from .answer.assistant import Assistant

    if not args.question.strip():
        raise EmptyQueryError("问题为空，请输入您想了解的政策问题")
    settings, index = _load(args)
    assistant = Assistant.from_settings(settings, index=index)
    if not args.json:
        return _stream_answer(assistant, args.question)
    _print_json(assistant.ask(args.question).to_json())
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    from .answer.assistant import Assistant
    from .answer.match import match_text
    from .answer.profile import ProfileOptions

    settings = _settings(args)
    # The words are checked before the index is opened: a wrong one is told at once.
    profile, said = ProfileOptions.load(settings.lexicon_dir).from_words(
        args.type or "", args.industry or "", args.situation or (), args.need or (), args.region or "")
    index = open_index(settings, progress=sys.stderr.isatty(), log=_err)
    result = Assistant.from_settings(settings, index=index).match(profile)
    result.read_as = said
    if args.json:
        _print_json(result.to_json())
        return 0
    print(match_text(result, every_measure=True))
    for note in result.notes + sorted({n for m in result.measures for n in m.notes}):
        print(f"提示：{note}")
    return 0


def _stream_answer(assistant, question: str) -> int:
    """Print the answer as it is produced; when verification replaced it, print the checked version."""
    from .models import Final

    shown: list[str] = []
    for event in assistant.stream(question):
        if isinstance(event, Final):
            if not event.answer.text.startswith("".join(shown)):
                print("\n\n—— 以上大模型回答未通过核验，以下为条款原文 ——\n", flush=True)
                print(event.answer.text, end="")
            print()
            return 0
        shown.append(event.text)
        print(event.text, end="", flush=True)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from collections import Counter

    from .evaluation.evaluate import load_qa
    from .evaluation.matching import is_match_set
    from .evaluation.runner import evaluate_suite, load_floors
    from .evaluation.stard import is_stard_set
    from .evaluation.submeasures import is_submeasure_set

    settings, index = _load(args)
    if is_submeasure_set(args.qa):
        return _eval_submeasures(args, index)
    if is_match_set(args.qa):
        return _eval_match(args, settings, index)
    if is_stard_set(args.qa):
        return _eval_stard(args, settings, index)
    items = load_qa(args.qa, known_clauses=set(index.by_id))
    if args.check:
        kinds = Counter(item.type or "（未分类）" for item in items)
        print(f"问答集有效：{args.qa}，{len(items)} 个问题（" + "，".join(f"{t} {n}" for t, n in kinds.most_common()) + "）")
        return 0
    floors = load_floors(args.floors) if args.floors else None
    out = args.out or Path("evals/runs") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    if args.k > settings.top_k:  # said, not silently changed: the eval measures the settings as given
        _err(f"提示：每个问题只检索前 {settings.top_k} 条（POLICY_TOP_K），hit@{args.k}、recall@{args.k} "
             f"按这 {settings.top_k} 条计算；要检索更多条请设置 POLICY_TOP_K。")
    evaluation = evaluate_suite(settings, index, items, out, k=args.k, baseline=args.baseline, qa_file=args.qa,
                                floors=floors, progress=None if args.quiet else _progress_bar)
    for system in evaluation.runs:
        o = system.summary["overall"]
        print(f"{system.name}：hit@1 {_fmt(o['hit@1'])}  hit@{args.k} {_fmt(o[f'hit@{args.k}'])}  "
              f"MRR {_fmt(o['mrr'])}  引用命中 {_fmt(o['citation_hit'])}  事实覆盖 {_fmt(o['fact_coverage'])}  "
              f"拒答准确率 {_fmt(o['refusal_accuracy'])}  误拒率 {_fmt(o['false_refusal'])}  "
              f"p50 {_fmt(o['latency_p50_ms'])} ms")
    print(f"结果已写入 {out}（results.jsonl、summary.json、report.md、report.html）")
    for line in evaluation.violations:
        _err(f"低于指标下限：{line}")
    return EXIT_ERROR if evaluation.violations else 0


def _eval_submeasures(args: argparse.Namespace, index) -> int:
    """``eval evals/submeasures.jsonl``: each annotated sentence's reading against the index's sub-measures."""
    from .evaluation.runner import check_floors, load_floors
    from .evaluation.submeasures import load_submeasures, submeasure_metrics

    gold = load_submeasures(args.qa)
    if args.check:
        print(f"分项措施标注有效：{args.qa}，{len(gold)} 句")
        return 0
    o = submeasure_metrics(index, gold)
    violations = check_floors({"overall": o}, load_floors(args.floors)) if args.floors else []
    print(f"分项措施（{o['sentences']} 句）：结果一致 {_fmt(o['result_accuracy'])}  可以申请 精确率 "
          f"{_fmt(o['claim_precision'])} 召回率 {_fmt(o['claim_recall'])}（其中部门职责或非措施 "
          f"{_fmt(o['claim_agency_share'])}）  可以利用 精确率 {_fmt(o['channel_precision'])}  额度归属 召回率 "
          f"{_fmt(o['figures_recall'])} 精确率 {_fmt(o['figures_precision'])}  办理单位一致 {_fmt(o['lead_agreement'])}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.json").write_text(json.dumps(o, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for line in violations:
        _err(f"低于指标下限：{line}")
    return EXIT_ERROR if violations else 0


def _eval_match(args: argparse.Namespace, settings, index) -> int:
    """``eval evals/match.jsonl``: the matching set, scored into a run folder of its own."""
    from .evaluation.matching import evaluate_match_suite, load_match
    from .evaluation.runner import load_floors

    if args.check:
        print(f"匹配评测集有效：{args.qa}，{len(load_match(args.qa, set(index.by_id)))} 个画像")
        return 0
    out = args.out or Path("evals/runs") / (dt.datetime.now().strftime("%Y%m%d-%H%M%S") + "-match")
    summary, violations = evaluate_match_suite(settings, index, args.qa, out,
                                               floors=load_floors(args.floors) if args.floors else None)
    o = summary["overall"]
    print(f"政策匹配：明确适用 精确率 {_fmt(o['explicit_precision'])}  召回率 {_fmt(o['explicit_recall'])}  "
          f"明确∪可能 召回率 {_fmt(o['union_recall'])}  提供了的内部条款 {o['internal_offered']} 次  "
          f"对话转入 {_fmt(o['chat_routed'])}  读对画像 {_fmt(o['chat_profile_read'])}  "
          f"措施判断 P {_fmt(o['measure_precision'])} R {_fmt(o['measure_recall'])}  "
          f"可以申请卡片 精确率 {_fmt(o['claim_card_precision'])}，无部门职责 {_fmt(o['claim_card_no_duty'])}"
          f"（部门职责 {o['claim_card_agency']} 张）  "
          f"额度属于本主体 {_fmt(o['figures_fit'])}  写明办理单位 {_fmt(o['lead_named'])}")
    print(f"结果已写入 {out}（results.jsonl、summary.json、report.md、report.html）")
    for line in violations:
        _err(f"低于指标下限：{line}")
    return EXIT_ERROR if violations else 0


def _eval_stard(args: argparse.Namespace, settings, index) -> int:
    """``eval ../shared/benchmarks/stard/train.jsonl``: STARD's questions, ranked by the assistant and by STARD's
    BM25 on the same clauses, into a run folder of its own."""
    from .evaluation.runner import load_floors
    from .evaluation.stard import evaluate_stard, load_stard

    if args.check:
        items, left_out = load_stard(args.qa, index)
        print(f"STARD 问题集有效：{args.qa}，{len(items)} 个问题可评测（{left_out} 个问题的法条不在索引中）")
        return 0
    out = args.out or Path("evals/runs") / (dt.datetime.now().strftime("%Y%m%d-%H%M%S") + "-stard")
    run = evaluate_stard(settings, index, args.qa, out, floors=load_floors(args.floors) if args.floors else None,
                         progress=None if args.quiet else _progress_bar, limit=args.limit)
    for split in ("all", "dev", "holdout"):
        part = run.summary[split]
        for system, name in (("ours", "政策通"), ("bm25", "STARD BM25")):
            o = part[system]
            print(f"{split} {name}（{o.get('questions', 0)} 题）：hit@1 {_fmt(o.get('hit@1'))}  MRR@10 {_fmt(o.get('mrr@10'))}  "
                  f"R@5 {_fmt(o.get('recall@5'))}  R@10 {_fmt(o.get('recall@10'))}  R@100 {_fmt(o.get('recall@100'))}")
    print(f"结果已写入 {out}（results.jsonl、summary.json、report.md）")
    for line in run.violations:
        _err(f"低于指标下限：{line}")
    return EXIT_ERROR if run.violations else 0


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _progress_bar(label: str, total: int) -> Callable[[], None]:
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit="题", file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)

    def tick() -> None:
        bar.update()
        if bar.n >= total:
            bar.close()

    return tick


def cmd_docs(args: argparse.Namespace) -> int:
    _, index = _load(args)
    if args.json:
        _print_json({"documents": [d.to_dict() for d in index.documents.values()],
                     "references": [r.__dict__ for r in index.references]})
        return 0
    today = dt.date.today()
    for doc in index.documents.values():
        count = index.clause_count(doc.doc_id)
        print("\t".join([doc.doc_id, doc.name, doc.doc_number or "（无文号）", doc.title, doc.doc_type or "（类型未知）",
                         doc.level or "（层级未知）", doc.issuer or "（发布机关未知）", doc.dates_text() or "（无日期）",
                         versions.relation_text(doc, index.documents, today), f"{count} 条"]))
    for ref in index.references:
        where = "语料中" if ref.in_corpus else "不在语料中"
        print(f"（引用）{ref.doc_number}\t{ref.title}\t{ref.issuer}\t{where}")
    return 0


def _feedback_store(args: argparse.Namespace):
    from .web.feedback import FeedbackStore

    path = Settings.from_env(feedback_db=args.db).feedback_db
    return FeedbackStore(path, create=False)  # reading commands never create an empty database


def cmd_feedback_export(args: argparse.Namespace) -> int:
    store = _feedback_store(args)
    if args.out is None:
        store.export_csv(sys.stdout)
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # UTF-8 with a BOM: Excel then opens the Chinese text correctly.
    with open(args.out, "w", encoding="utf-8-sig", newline="") as out:
        count = store.export_csv(out)
    _err(f"已导出 {count} 条反馈到 {args.out}")
    return 0


def cmd_feedback_stats(args: argparse.Namespace) -> int:
    store = _feedback_store(args)
    stats = store.stats()
    if args.json:
        _print_json({**stats, "db": str(store.path)})
        return 0
    print(f"反馈共 {stats['total']} 条：👍 {stats['up']}，👎 {stats['down']}，附留言 {stats['with_comment']} 条")
    if stats["total"]:
        print(f"时间范围（UTC）：{stats['first']} 至 {stats['last']}")
    print(f"反馈库：{store.path}")
    return 0


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policy-assistant",
        description="政策通：中小微企业融资政策问答与条款检索。",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--corpus", type=Path, action="append",
                        help="语料目录（POLICY_CORPUS_DIR，默认 corpus）；可重复，第二个起为附加目录"
                             "（POLICY_EXTRA_CORPUS_DIRS），例如 --corpus corpus --corpus ../shared/realdocs/policy"),
    parser.add_argument("--index-dir", type=Path, help="索引目录（POLICY_INDEX_DIR，默认 index）")
    parser.add_argument("--encoder", help="编码器：use-multilingual 或 st:<模型名或路径>（POLICY_ENCODER）")
    parser.add_argument("--debug", action="store_true", help="出错时显示完整的调用栈")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = add("index", cmd_index, "建立或更新索引（未变化的文档不重新计算向量）")
    p.add_argument("--rebuild", action="store_true", help="丢弃原有向量，全部重新建立")
    p.add_argument("--strict", action="store_true", help="有无法读取的语料文件时构建失败（原有索引保持不变）")
    p.add_argument("--quiet", action="store_true", help="不显示进度条")

    p = add("clauses", cmd_clauses, "列出全部条款")
    p.add_argument("--json", action="store_true", help="以 JSON 输出")
    p.add_argument("--doc", help="只列出某个文档（doc_id）的条款")

    p = add("show", cmd_show, "显示一条条款的全文")
    p.add_argument("clause_id", help="条款编号，例如 linxia-2022-84#6")
    p.add_argument("--json", action="store_true", help="以 JSON 输出")

    p = add("search", cmd_search, "按问题或关键词检索条款（关键词 + 语义混合检索）")
    p.add_argument("query", help="问题或关键词")
    p.add_argument("--k", type=int, dest="top_k", help="返回条数（POLICY_TOP_K，默认 5）")
    p.add_argument("--json", action="store_true", help="以 JSON 输出")

    p = add("ask", cmd_ask, "提问：给出有条款依据的简短回答（引用原文、责任单位）")
    p.add_argument("question", help="问题，例如：创业担保贷款最高额度是多少？")
    p.add_argument("--json", action="store_true", help="以 JSON 输出（answer、citations、retrieved、refused、notes、latency_ms）")
    p.add_argument("--llm", choices=PROVIDERS,
                   help="用大模型组织回答（POLICY_LLM；接口地址、模型见 POLICY_LLM_BASE_URL、POLICY_LLM_MODEL），"
                        "回答仍逐条核验，未通过时改为引用原文")

    p.add_argument("--region", help="提问者所在地区，例如 临夏州（POLICY_REGION）：只用该地区、上级地区和国家的文件作答")

    options = ProfileOptions.load()
    p = add("match", cmd_match, "政策匹配：按企业情况列出可以申请、可以利用的措施和政策背景，附条款、额度、条件与办理咨询单位；"
                                    "各项也可用日常说法（外汇、开饭馆的）")
    p.add_argument("--type", help=f"主体类型：{'、'.join(options.types)}")
    p.add_argument("--industry", help=f"行业：{'、'.join(options.industries)}")
    p.add_argument("--situation", action="append", help=f"情况（可重复）：{'、'.join(options.situations)}")
    p.add_argument("--need", action="append", help=f"需求（可重复；不填为全部）：{'、'.join(options.needs)}")
    p.add_argument("--region", help="所在地区，例如 临夏州（默认 POLICY_REGION）")
    p.add_argument("--json", action="store_true",
                   help="以 JSON 输出：{profile, measures: [{clause_id, group, title, benefit, figures, conditions, units, notes}]}")

    p = add("eval", cmd_eval, "在问答集上评测（检索、引用、事实、拒答、延迟），写出结果与报告")
    p.add_argument("qa", type=Path, help="问答集（.jsonl 或 .csv），例如 evals/qa.jsonl")
    p.add_argument("--out", type=Path, help="输出目录（默认 evals/runs/<时间>）")
    p.add_argument("--k", type=int, default=5,
                   help="hit@k、recall@k 的 k（默认 5；每题检索的条数仍由 POLICY_TOP_K 决定）")
    p.add_argument("--baseline", action="store_true", help="同时评测 LangChain 教程基线（向量检索、向量+BM25），报告并列对比")
    p.add_argument("--llm", choices=PROVIDERS, help="用大模型组织回答后再评测（见 ask --llm）")
    p.add_argument("--floors", type=Path, help="指标下限文件（如 evals/floors.toml）；低于下限时退出码为 1")
    p.add_argument("--check", action="store_true", help="只校验问答集（格式、重复 id、未知条款编号），不运行评测")
    p.add_argument("--quiet", action="store_true", help="不显示进度条")
    p.add_argument("--limit", type=int, default=0, help="只评测前 N 个问题（STARD 问题集；0 表示全部）")
    p.add_argument("--region", help="提问者所在地区（POLICY_REGION）；问答集中带 region 的问题按其自己的地区提问")

    p = add("docs", cmd_docs, "列出语料中的文档及其引用的文件")
    p.add_argument("--json", action="store_true", help="以 JSON 输出")

    feedback_help = "网页上用户对回答的评价（👍/👎 与留言）：导出、统计"
    p = sub.add_parser("feedback", help=feedback_help, description=feedback_help)
    actions = p.add_subparsers(dest="feedback_command", required=True, metavar="ACTION",
                               help="export：导出为 CSV；stats：统计 👍/👎 条数")

    def add_feedback(name: str, func: Callable, help_text: str) -> argparse.ArgumentParser:
        fp = actions.add_parser(name, help=help_text, description=help_text)
        fp.set_defaults(func=func)
        fp.add_argument("--db", type=Path, help="反馈库文件（POLICY_FEEDBACK_DB，默认 feedback/feedback.sqlite3）")
        return fp

    fp = add_feedback("export", cmd_feedback_export, "导出全部反馈（英文表头；写入文件时带 BOM，Excel 可直接打开）")
    fp.add_argument("--csv", action="store_true", help="以 CSV 导出（目前唯一的格式，可省略）")
    fp.add_argument("--out", type=Path, help="输出文件（不给则写到标准输出）")
    fp = add_feedback("stats", cmd_feedback_stats, "统计反馈条数（👍/👎、附留言的条数、时间范围）")
    fp.add_argument("--json", action="store_true", help="以 JSON 输出")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``policy-assistant`` console script."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")
    parser = build_parser()
    args = parser.parse_args(argv)
    stdout = sys.stdout
    sys.stdout = _Printable(stdout)  # everything a command prints passes here (progress bars go to stderr)
    try:
        return args.func(args)
    except PolicyError as exc:
        if args.debug:
            traceback.print_exc()
        _err(f"错误：{exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("已中断。")
        return 130
    except BrokenPipeError:  # `… | head` closed the pipe: nothing more to print, and no traceback
        stdout = open(os.devnull, "w")  # noqa: SIM115 (the interpreter flushes stdout at exit)
        return 0
    finally:
        sys.stdout = stdout


if __name__ == "__main__":
    sys.exit(main())
