"""The STARD eval: gold articles mapped to clauses, STARD's BM25 baseline, the metrics and the run folder.

Small fixture laws written here; the real set (``../shared/benchmarks/stard``) is measured by ``make eval``."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from assistant.evaluation.stard import StardBM25, StardItem, evaluate_stard, is_stard_set, load_stard, scores
from assistant.search.build import build_index
from assistant.search.index import Index
from tests.support import make_settings

LOAN = """# 中华人民共和国借款条例

2020年1月1日 施行

<!-- INFO END -->

第一条 借款人应当按照约定的期限返还借款。借款人未按照约定的期限返还借款的，应当按照约定或者国家有关规定支付逾期利息。

第二条 出借人不得预先在本金中扣除利息。利息预先在本金中扣除的，应当按照实际借款数额返还借款并计算利息。

第三条 自然人之间的借款合同，自出借人提供借款时成立。
"""

LABOUR = """# 中华人民共和国劳动报酬条例

2021年1月1日 施行

<!-- INFO END -->

第一条 用人单位应当按时足额支付劳动报酬。

第二条 用人单位拖欠劳动报酬的，劳动者可以依法向当地人民法院申请支付令。
"""

TEXTS = ["借款人应当按期返还借款，逾期的支付逾期利息。", "出借人不得预先在本金中扣除利息。", "借款合同自出借人提供借款时成立。",
         "用人单位应当按时足额支付劳动报酬。", "用人单位拖欠劳动报酬的，劳动者可以申请支付令。"]


def reference_scores(texts: list[str], question: str, stopwords: set[str]) -> list[float]:
    """STARD's src/BM25 as written there: a loop over documents and over every query word."""
    import jieba

    docs = [[w for w in jieba.cut(t) if w not in stopwords] for t in texts]
    n, avg = len(docs), sum(len(d) for d in docs) / len(docs)
    df = Counter(w for d in docs for w in set(d))
    idf = {w: math.log((n - f + 0.5) / (f + 0.5)) for w, f in df.items()}
    query = [w for w in jieba.cut(question) if w not in stopwords]
    qf = Counter(query)
    out = []
    for doc in docs:
        tf, score = Counter(doc), 0.0
        for q in query:
            if q in tf:
                score += idf[q] * (tf[q] * 2.3 / (tf[q] + 1.3 * (0.25 + 0.75 * len(doc) / avg))) * (qf[q] * 2.5 / (qf[q] + 1.5))
        out.append(score)
    return out


@pytest.mark.parametrize("question", ["借钱不还，出借人能要逾期利息吗？利息利息", "老板拖欠工资怎么办", "合同什么时候成立"])
def test_the_baseline_scores_as_stards_own_loop(question):
    baseline = StardBM25(TEXTS)
    expected = reference_scores(TEXTS, question, baseline.stopwords)
    assert len(baseline.stopwords) > 700  # STARD's cn_stopwords list and its own additions
    ranked = baseline.rank(question, len(TEXTS))
    assert [round(expected[r], 4) for r in ranked] == sorted((round(s, 4) for s in expected), reverse=True)[:len(ranked)]


def test_scores_follow_stards_definitions():
    got = scores(["a", "x", "b"] + [f"n{i}" for i in range(200)], ["b", "c"])
    assert got["hit@1"] == 0.0 and got["mrr@10"] == pytest.approx(1 / 3)
    assert got["recall@5"] == 0.5 and got["recall@100"] == 0.5


def test_split_is_stable_and_holds_out_about_a_quarter():
    splits = Counter(StardItem(f"s{i}", "", ()).split for i in range(2000))
    assert 400 < splits["holdout"] < 600
    assert StardItem("s7", "", ()).split == StardItem("s7", "？", ("x",)).split


@pytest.fixture
def laws(tmp_path) -> tuple[Path, Path]:
    corpus = tmp_path / "laws"
    (corpus / "民法").mkdir(parents=True)
    (corpus / "社会法").mkdir()
    (corpus / "民法" / "借款条例.md").write_text(LOAN, encoding="utf-8")
    (corpus / "社会法" / "劳动报酬条例.md").write_text(LABOUR, encoding="utf-8")
    questions = [
        {"id": "s1", "question": "借钱的人到期不还钱，要付逾期利息吗？", "gold": [{"file": "民法/借款条例.md", "article": "第一条"}]},
        {"id": "s2", "question": "单位拖欠劳动报酬，能去法院申请支付令吗？", "gold": [{"file": "社会法/劳动报酬条例.md", "article": "第二条"}]},
        {"id": "s3", "question": "借条上的利息能先从本金里扣掉吗？", "gold": [{"file": "民法/借款条例.md", "article": "第二条"},
                                                                  {"file": "民法/借款条例.md", "article": "第一条"}]},
        # Cites a law the index does not hold: left out and counted, never scored as a miss.
        {"id": "s4", "question": "商标怎么注册？", "gold": [{"file": "民法商法/商标法.md", "article": "第四条"}]},
    ]
    stard = tmp_path / "train.jsonl"
    stard.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
    return corpus, stard


@pytest.mark.integration
def test_stard_run_scores_ours_and_the_baseline_on_the_same_clauses(tmp_path, laws):
    corpus, stard = laws
    settings = make_settings(corpus, tmp_path / "index", region="临夏州")
    build_index(settings)
    index = Index.open(settings)
    assert is_stard_set(stard) and not is_stard_set(Path("evals/qa.jsonl"))
    items, left_out = load_stard(stard, index)
    assert left_out == 1 and [len(i.gold) for i in items] == [1, 1, 2]
    assert items[2].gold[0].endswith("#2")
    run = evaluate_stard(settings, index, stard, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary == run.summary | {"floor_violations": []}
    assert summary["all"]["ours"]["questions"] == 3 and summary["questions_left_out"] == 1
    # Two laws, five articles: both systems find the labour question's article first.
    results = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text("utf-8").splitlines()]
    labour = next(r for r in results if r["id"] == "s2")
    assert labour["ours"][0] == labour["bm25"][0] == labour["gold"][0]
    assert summary["all"]["ours"]["recall@100"] == summary["all"]["bm25"]["recall@100"] == 1.0
    report = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert "STARD BM25" in report and "| holdout |" in report
