"""Everyday words of business owners → the policy terms the documents use (package data).

"利息补贴" never occurs in a policy; "贴息" does. Expanding a question with the mapped terms lets
BM25 and the encoder find the clause the owner means.
"""

from __future__ import annotations

from ..lexicon import Lexicon
from ..models import Expansion
from .text import normalize


class Glossary:
    """The glossary of a :class:`~assistant.lexicon.Lexicon`, normalized once for matching questions."""

    def __init__(self, lexicon: Lexicon):
        # Longest everyday phrase first, so "网上贷款" is matched before "贷款".
        pairs = [(normalize(everyday).lower(), terms) for everyday, terms in lexicon.glossary]
        self.pairs = tuple(sorted(pairs, key=lambda p: -len(p[0])))
        # Policy words of three or more characters, longest first: words the documents themselves use.
        self.policy_terms = tuple(t.lower() for t in sorted(lexicon.policy_terms, key=len, reverse=True)
                                  if len(t) >= 3)

    def expand(self, question: str) -> Expansion:
        """Policy terms for the everyday words in ``question`` (normalized: :attr:`Query.normalized`; terms
        already present are not repeated)."""
        return _expand(question, self)


def _expand(question: str, glossary: Glossary) -> Expansion:
    q = question.lower()  # English entries match case-insensitively
    terms: list[str] = []
    triggers: list[str] = []
    groups: list[tuple[str, tuple[str, ...]]] = []
    # Words already in policy vocabulary need no expansion: "创业" inside "创业担保贷款" must not pull in
    # the clauses about 初创业者.
    covered = q
    for term in glossary.policy_terms:
        if term in covered:
            covered = covered.replace(term, " ")
    for everyday, policy in glossary.pairs:
        if everyday in covered:
            triggers.append(everyday)
            groups.append((everyday, tuple(policy)))
            # Blank out the match so "网上贷款" does not also fire "贷款"-level entries inside it.
            covered = covered.replace(everyday, " ")
            for term in policy:
                if term not in q and term not in terms:
                    terms.append(term)
    return Expansion(tuple(terms), tuple(triggers), tuple(groups))
