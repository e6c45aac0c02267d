"""Fill in the gold measures of the matching sets from the clause annotations.

`evals/match_clauses.jsonl` says, for every clause of the multi-document corpus in force, whether
it is a measure an enterprise can use and which beneficiaries and support it names: written by
reading each clause against docs/matching.md. This script applies that page's two rules to each
profile of `evals/match.jsonl` and `evals/match_holdout.jsonl` and writes the clause ids into
`explicit` (明确适用) and `possible` (可能适用). It imports nothing from the package: the gold follows
the page, not the code.

    python evals/match_gold.py          # rewrite the lists in place
    python evals/match_gold.py --check  # exit 1 when a stored list differs from the annotations
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
SETS = ("match.jsonl", "match_holdout.jsonl")
# The documents in force that apply in each area of the sets: the national ones everywhere, and the
# area's own (docs/matching.md: a superseded version is not offered).
NATIONAL = ("guoban-2019-6", "中小企业促进法-2017-09-01", "融资担保公司监督管理条例-2017-08-02",
            "促进个体工商户发展条例-2022-10-01", "保障中小企业款项支付条例-2025-03-17")
LOCAL = {"临夏州": ("linxia-2022-84",), "兰州市": (), "杭州市": ("浙江省民营企业发展促进条例-2020-01-16",),
         "郑州市": ("河南省实施-中小企业促进法-办法-2008-06-06",)}
TYPE_KINDS = {"小型企业": {"小微企业"}, "微型企业": {"小微企业"}, "个体工商户": {"个体工商户"}}
LOOSE_KINDS = {"个体工商户": {"小微企业"}}


def groups(profile: dict, clauses: list[dict]) -> tuple[list[str], list[str]]:
    docs = NATIONAL + LOCAL[profile["region"]]
    kinds = TYPE_KINDS.get(profile.get("type", ""), set()) | set(profile.get("situations", ()))
    kinds |= {profile["industry"]} if profile.get("industry") else set()
    loose = LOOSE_KINDS.get(profile.get("type", ""), set()) | {"中小微企业"}
    needs = set(profile.get("needs", ()))
    explicit, possible = [], []
    for c in clauses:
        if not c["measure"] or c["clause_id"].split("#")[0] not in docs:
            continue
        if needs and not needs & set(c["support"]):
            continue
        if kinds & set(c["beneficiaries"]):
            explicit.append(c["clause_id"])
        elif loose & set(c["beneficiaries"]):
            possible.append(c["clause_id"])
    return explicit, possible


def main(check: bool) -> int:
    clauses = [json.loads(line) for line in (HERE / "match_clauses.jsonl").read_text(encoding="utf-8").splitlines()]
    stale = 0
    for name in SETS:
        path = HERE / name
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for row in rows:
            explicit, possible = groups(row["profile"], clauses)
            stale += (row.get("explicit"), row.get("possible")) != (explicit, possible)
            row["explicit"], row["possible"] = explicit, possible
        if not check:
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    if check and stale:
        print(f"{stale} profiles differ from the clause annotations: run python evals/match_gold.py")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
