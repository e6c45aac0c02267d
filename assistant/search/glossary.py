"""Everyday words of business owners → the policy terms the documents use (package data).

"利息补贴" never occurs in a policy; "贴息" does. Expanding a question with the mapped terms lets
BM25 and the encoder find the clause the owner means.
"""

from __future__ import annotations

from functools import lru_cache

from ..datafiles import read_text
from ..models import Expansion
from .text import normalize, policy_terms


@lru_cache(maxsize=1)
def glossary() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(everyday, policy terms) pairs, longest everyday phrase first."""
    raw = read_text("glossary.tsv")
    pairs = []
    for line in raw.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "\t" not in line:
            continue
        everyday, policy = line.split("\t", 1)
        terms = tuple(t.strip() for t in policy.split("|") if t.strip())
        if everyday.strip() and terms:
            pairs.append((normalize(everyday.strip()).lower(), terms))
    return tuple(sorted(pairs, key=lambda p: -len(p[0])))


def expand(question: str) -> Expansion:
    """Policy terms for the everyday words in ``question`` (terms already present are not repeated)."""
    q = normalize(question).lower()  # English entries match case-insensitively
    terms: list[str] = []
    triggers: list[str] = []
    # Words already in policy vocabulary need no expansion: "创业" inside "创业担保贷款" must not pull in
    # the clauses about 初创业者.
    covered = q
    for term in sorted(policy_terms(), key=len, reverse=True):
        if len(term) >= 3 and term.lower() in covered:
            covered = covered.replace(term.lower(), " ")
    for everyday, policy in glossary():
        if everyday in covered:
            triggers.append(everyday)
            # Blank out the match so "网上贷款" does not also fire "贷款"-level entries inside it.
            covered = covered.replace(everyday, " ")
            for term in policy:
                if term not in q and term not in terms:
                    terms.append(term)
    return Expansion(tuple(terms), tuple(triggers))
