"""Route a question before searching: clause references, responsible units, document metadata.

Hotline staff ask "第十八条" or "州税务局负责哪些措施"; a ranking model cannot answer those reliably,
but the clause records can, exactly. Everything else goes to hybrid search.
"""

from __future__ import annotations

import re

from ..lexicon import Lexicon
from ..models import Clause, Route
from ..numerals import CN_NUMERAL_CHARS as _CN
from ..numerals import cn_to_int
from .index import Index
from .text import normalize

_CLAUSE_REFS = (
    re.compile(rf"第\s*[(（]?([{_CN}\d]{{1,5}})[)）]?\s*(?:条|项|款|点|个措施|项措施)"),
    re.compile(rf"[(（]\s*([{_CN}]{{1,5}})\s*[)）]"),
    re.compile(r"#\s*(\d{1,3})\b"),
    re.compile(rf"(?:措施|条款)\s*([{_CN}\d]{{1,5}})(?![\d{_CN}])"),
)


def unit_aliases(units: list[str], table: dict[str, str]) -> dict[str, str]:
    """alias → unit for every unit in the index: the unit itself, prefix-less forms, and ``table``
    (everyday names from ``data/unit_aliases.tsv``)."""
    aliases: dict[str, str] = {}
    for unit in units:
        aliases[unit] = unit
        for prefix in ("临夏州", "临夏", "州", "省", "市", "各"):
            if unit.startswith(prefix) and len(unit) - len(prefix) >= 3:
                aliases.setdefault(unit[len(prefix):], unit)
    for alias, unit in table.items():
        if unit in units:
            aliases.setdefault(alias, unit)
    return aliases


class Router:
    """Recognises clause references, unit questions and document questions for one index."""

    def __init__(self, index: Index, lexicon: Lexicon):
        self.index = index
        self.cues = lexicon.cues
        units = sorted({u for c in index.clauses for u in c.units})
        aliases = unit_aliases(units, dict(lexicon.unit_aliases))
        # Longest alias first, so 州政府金融办 wins over 金融办.
        self._aliases = sorted(aliases.items(), key=lambda item: -len(item[0]))
        self._by_number: dict[str, list[Clause]] = {}
        for clause in index.clauses:
            self._by_number.setdefault(clause.number, []).append(clause)

    def route(self, question: str) -> Route:
        q = normalize(question).strip()
        docs = self._documents_named(q)
        named = self.units_in(q)
        if named and (self.cues.unit.search(q) or len(q) <= sum(len(a) for a, _ in named) + 4 * len(named)):
            units = [u for _, u in named]
            pool = [c for c in self.index.clauses if not docs or c.doc_id in docs]
            # Several units: the measures they share; when they share none, every measure of any of them.
            shared = tuple(c for c in pool if all(u in c.units for u in units))
            clauses = shared or tuple(c for c in pool if any(u in c.units for u in units))
            if clauses:
                return Route("unit", clauses, unit="、".join(units), shared=len(units) > 1 and bool(shared),
                             matched=tuple(a for a, _ in named))
        asks_document = self.cues.document.search(q)
        if asks_document:
            preambles = tuple(c for c in self.index.clauses if c.number == "0" and (not docs or c.doc_id in docs))
            if preambles:
                return Route("document", preambles, matched=(asks_document.group(0),))
        for pattern in _CLAUSE_REFS:
            m = pattern.search(q)
            if not m:
                continue
            number = _number(m.group(1))
            clauses = tuple(c for c in self._by_number.get(number, []) if not docs or c.doc_id in docs)
            if clauses and number != "0":
                remainder = (q[:m.start()] + q[m.end():]).strip(" ，,。？?！!：:")
                whole = bool(self.cues.whole_clause.match(re.sub(r"[的了吗呢啊呀]", "", remainder)))
                return Route("clause", clauses, whole_clause=whole, remainder=remainder, matched=(m.group(0),))
        return Route("search")

    def unit_in(self, text: str) -> tuple[str, str] | None:
        """(alias as written, unit) of the first responsible unit named in ``text``."""
        named = self.units_in(text)
        return named[0] if named else None

    def units_in(self, text: str) -> list[tuple[str, str]]:
        """(alias as written, unit) of every responsible unit named in ``text``, in order of mention.

        Longest aliases are matched first and their text is consumed, so 州政府金融办 does not also
        count as 金融办.
        """
        found: list[tuple[int, str, str]] = []
        rest = text
        for alias, unit in self._aliases:
            pos = rest.find(alias)
            if pos >= 0 and unit not in {u for _, _, u in found}:
                found.append((pos, alias, unit))
                rest = rest[:pos] + "\0" * len(alias) + rest[pos + len(alias):]
        return [(alias, unit) for _, alias, unit in sorted(found)]

    def _documents_named(self, q: str) -> set[str]:
        named = set()
        for doc_id, doc in self.index.documents.items():
            if doc_id in q or (doc.doc_number and doc.doc_number in q):
                named.add(doc_id)
        return named


def _number(raw: str) -> str:
    try:
        return str(cn_to_int(raw))
    except ValueError:
        return ""
