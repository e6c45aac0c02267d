"""Copy a subset of ``../shared/realdocs/laws`` that holds every law STARD's questions cite, plus as many
other laws (every n-th of the rest, in path order), into a scratch folder: the corpus on which the e5
channel is measured, since embedding all 3,496 laws with e5 takes hours on 2 cores.

    .venv/bin/python evals/stard_subset.py /tmp/laws-subset

The files keep their paths under the laws folder, so STARD's gold ``file`` entries map unchanged.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
LAWS = SHARED / "realdocs" / "laws"
STARD = SHARED / "benchmarks" / "stard" / "train.jsonl"


def subset(out: Path) -> int:
    cited = {g["file"] for line in STARD.read_text(encoding="utf-8").splitlines() if line.strip()
             for g in json.loads(line)["gold"]}
    rest = sorted(str(p.relative_to(LAWS)) for p in LAWS.rglob("*.md") if str(p.relative_to(LAWS)) not in cited)
    step = max(1, len(rest) // len(cited))
    chosen = sorted(cited) + rest[::step][:len(cited)]
    for name in chosen:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(LAWS / name, target)
    return len(chosen)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(f"{subset(Path(sys.argv[1]))} files copied to {sys.argv[1]}")
