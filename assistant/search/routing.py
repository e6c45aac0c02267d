"""Route a question before searching: named documents, clause references, responsible units, metadata.

Hotline staff ask "第十八条" or "州税务局负责哪些措施"; a ranking model cannot answer those reliably,
but the clause records can, exactly. A question naming a document ("6号文第九条") is routed within it;
a bare clause number several documents have is settled by the conversation, or asked back.
Everything else goes to hybrid search.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Sequence

from ..lexicon import Lexicon
from ..models import Clause, Route
from ..numerals import CN_NUMERAL_CHARS as _CN
from ..numerals import cn_to_int
from .documents import NOTHING_NAMED, DocumentNames, Named, locality, without_names
from .index import Index

# A document question that names no document is answered for at most this many (most local first).
MAX_UNNAMED_DOCUMENTS = 5

_CLAUSE_REFS = (
    re.compile(rf"第\s*[(（]?([{_CN}\d]{{1,5}})[)）]?\s*(?:条(?:之([{_CN}]{{1,3}}))?|项|款|点|个措施|项措施)"),
    re.compile(rf"[(（]\s*([{_CN}]{{1,5}})\s*[)）]"),
    re.compile(r"#\s*(\d{1,3})\b"),
    re.compile(rf"(?:措施|条款)\s*([{_CN}\d]{{1,5}})(?![\d{_CN}])"),
)


def unit_aliases(units: list[str], table: dict[str, str], prefixes: Sequence[str]) -> dict[str, str]:
    """alias → unit for every unit in the index: the unit itself, its forms without one of ``prefixes``
    (``data/unit_prefixes.txt``), and ``table`` (everyday names from ``data/unit_aliases.tsv``)."""
    aliases: dict[str, str] = {}
    for unit in units:
        aliases[unit] = unit
        for prefix in prefixes:
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
        self.names = DocumentNames(index.documents, index.references)
        units = sorted({u for c in index.clauses for u in c.units})
        aliases = unit_aliases(units, dict(lexicon.unit_aliases), lexicon.unit_prefixes)
        # Longest alias first, so 州政府金融办 wins over 金融办.
        self._aliases = sorted(aliases.items(), key=lambda item: -len(item[0]))
        self._by_number: dict[str, list[Clause]] = {}
        for clause in index.clauses:
            self._by_number.setdefault(clause.number, []).append(clause)
        self._preambles = tuple(self._by_number.get("0", ()))

    def route(self, question: str, named_docs: Named = NOTHING_NAMED, scope: Collection[str] | None = None,
              context: Collection[str] = ()) -> Route:
        """Where ``question`` goes.

        Args:
            question: normalized (:attr:`Query.normalized`): the router does not normalize it again.
            named_docs: the documents the question names (:meth:`DocumentNames.named`).
            scope: doc_ids that may answer (the named ones, the texts in force); None: every document.
            context: doc_ids the conversation is about, which settle a bare clause number.
        """
        q = question.strip()
        if named_docs.matched:  # "6号文第九条" is a clause question once the document is known
            q = without_names(q, named_docs.matched)
        docs = set(scope) if scope is not None else set()
        found = self._route(q, docs)
        if found.kind == "clause" and not named_docs.doc_ids:
            found = self._settle(found, set(context))
        elif found.kind == "document":
            preambles, matched = found.clauses, len(found.clauses)
            if not named_docs.doc_ids:
                # "文号是多少" without a name: the document the conversation is about, else the most local
                # few (a library of laws would otherwise answer with thousands of documents' facts).
                about = tuple(c for c in preambles if c.doc_id in set(context))
                preambles = about or self._most_local_first(preambles)[:MAX_UNNAMED_DOCUMENTS]
            found = Route("document", self._with_dates(preambles, q), matched=found.matched,
                          documents_matched=matched)
        return dataclasses.replace(found, documents=named_docs.doc_ids, missing_document=named_docs.missing)

    def _settle(self, route: Route, context: set[str]) -> Route:
        """A clause number several documents have: the one the conversation is about, else ask which."""
        in_docs = {c.doc_id for c in route.clauses}
        if len(in_docs) < 2:
            return route
        if context & in_docs:
            clauses = tuple(c for c in route.clauses if c.doc_id in context)
            return Route("clause", clauses, whole_clause=route.whole_clause, remainder=route.remainder,
                         matched=route.matched)
        return Route("clause", self._most_local_first(route.clauses), whole_clause=route.whole_clause, remainder=route.remainder,
                     matched=route.matched, ambiguous=True, documents_matched=len(in_docs))

    def _most_local_first(self, clauses: tuple[Clause, ...]) -> tuple[Clause, ...]:
        return tuple(sorted(clauses, key=lambda c: -locality(self.index.documents.get(c.doc_id))))

    def _route(self, q: str, docs: set[str]) -> Route:
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
            preambles = tuple(c for c in self._preambles if not docs or c.doc_id in docs)
            if preambles:
                return Route("document", preambles, matched=(asks_document.group(0),))
        for pattern in _CLAUSE_REFS:
            m = pattern.search(q)
            if not m:
                continue
            number = _number(m.group(1), m.group(2) if pattern.groups > 1 else None)
            clauses = tuple(c for c in self._by_number.get(number, []) if not docs or c.doc_id in docs)
            if clauses and number != "0":
                remainder = (q[:m.start()] + q[m.end():]).strip(" ，,。？?！!：:")
                whole = bool(self.cues.whole_clause.match(re.sub(r"[的了吗呢啊呀]", "", remainder)))
                return Route("clause", clauses, whole_clause=whole, remainder=remainder, matched=(m.group(0),))
        return Route("search")

    def _with_dates(self, preambles: tuple[Clause, ...], q: str) -> tuple[Clause, ...]:
        """Each document's preamble and the clauses that state its dates, the one asked about first."""
        asked = "施行" if self.cues.effective.search(q) else "印发" if self.cues.signed.search(q) else ""
        out: list[Clause] = []
        for preamble in preambles:
            dated = self.index.dated(preamble.doc_id)
            first = [dated[asked][0]] if asked in dated else []
            rest = [c for c, _, _ in dated.values() if c not in first]
            out += [c for c in dict.fromkeys([*first, preamble, *rest])]
        return tuple(out)

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


def _number(raw: str, sub: str | None = None) -> str:
    """The clause number a reference names: "19", or "133之1" for 第一百三十三条之一."""
    try:
        return f"{cn_to_int(raw)}之{cn_to_int(sub)}" if sub else str(cn_to_int(raw))
    except ValueError:
        return ""
