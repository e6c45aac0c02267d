"""A synthetic corpus of N clauses generated from the real documents, for scale measurements.

Each synthetic document keeps the real document's structure (文号 line, issuer, title, sections
一、二、, clauses (一)…(二十八) with their titles and 责任单位 notes) so the real reader, parser and
indexer run on it, but gets a distinct doc id and 文号, and every clause body is rebuilt from
shuffled sentences: its own, in a new order, mixed with one or two borrowed from other clauses, cut
back to the real clause's length. BM25 and the dense search therefore score many different,
realistic clauses instead of copies of one.

The real documents are included unchanged, so the eval questions still have their gold clauses.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

# A clause paragraph: "(一)Title。body…(责任单位：…)".
_CLAUSE = re.compile(r"^(?P<label>[(（][一二三四五六七八九十]{1,4}[)）])(?P<title>[^。]{2,40}。)(?P<body>.*?)"
                     r"(?P<units>[(（]责任单位[:：][^)）]*[)）])?\s*$")
_SENTENCE = re.compile(r"[^。；！？]+[。；！？]")
_DOC_NUMBER = re.compile(r"^\S{1,12}〔\d{4}〕\d+号\s*$")
_ISSUERS = ["临夏回族自治州人民政府办公室", "兰州市人民政府办公室", "天水市人民政府办公室", "白银市人民政府办公室",
            "酒泉市人民政府办公室", "张掖市人民政府办公室", "武威市人民政府办公室", "定西市人民政府办公室"]
_PREFIXES = ["临州办发", "兰政办发", "天政办发", "白政办发", "酒政办发", "张政办发", "武政办发", "定政办发"]


def real_documents(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.glob("*.txt"))


def generate(corpus: Path, out: Path, clauses: int, *, seed: int = 7, clauses_per_doc: int = 29) -> dict:
    """Write a corpus of about ``clauses`` clauses into ``out`` (replaced); returns counts.

    The real corpus (files and manifest) is copied first; synthetic documents fill up the rest.
    """
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for path in corpus.iterdir():
        if path.is_file():
            shutil.copy2(path, out / path.name)
    sources = [p.read_text(encoding="utf-8") for p in real_documents(corpus)]
    pool = [s for text in sources for line in text.splitlines()
            if (m := _CLAUSE.match(line.strip())) for s in _SENTENCE.findall(m.group("body"))]
    rng = random.Random(seed)
    docs = max(0, -(-(clauses - clauses_per_doc * len(sources)) // clauses_per_doc))
    for i in range(docs):
        template = sources[i % len(sources)]
        text = _synthetic(template, i, pool, rng)
        (out / f"synth-{i:05d}.txt").write_text(text, encoding="utf-8")
    return {"documents": docs + len(sources), "synthetic_documents": docs}


def _synthetic(template: str, i: int, pool: list[str], rng: random.Random) -> str:
    lines = []
    year = 2015 + (i // 900) % 10
    k = i % len(_PREFIXES)
    issuer_old = _ISSUERS[0]
    for line in template.splitlines():
        stripped = line.strip()
        if _DOC_NUMBER.match(stripped):
            lines.append(f"{_PREFIXES[k]}〔{year}〕{100 + i % 900}号")
            continue
        m = _CLAUSE.match(stripped)
        if not m:
            lines.append(line.replace(issuer_old, _ISSUERS[k]) if issuer_old in line else line)
            continue
        own = _SENTENCE.findall(m.group("body"))
        budget = len(m.group("body"))  # keep the real clause's length, so parts per clause stay realistic
        borrowed = rng.sample(pool, k=rng.randint(1, 2))
        body = borrowed + own
        rng.shuffle(body)
        while len(body) > 1 and sum(map(len, body)) > budget:
            body.pop(rng.randrange(len(body)))
        lines.append(f"{m.group('label')}{m.group('title')}{''.join(body)}{m.group('units') or ''}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write a synthetic corpus of N clauses.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--clauses", type=int, default=1000)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    args = parser.parse_args()
    print(generate(args.corpus, args.out, args.clauses))
