"""Clause lookup for hotline staff: by number, keyword, responsible unit, section and document.

Exact filters over the clause records (no ranking): staff want every clause that matches, in document
order, with the full text to copy.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..models import Clause
from ..numerals import cn_to_int
from .index import Index
from .routing import Router
from .text import normalize

ALL = ""  # the "no filter" value of every field


@dataclass(frozen=True)
class LookupQuery:
    number: str = ALL  # 第十八条 / （十八） / 18 / 十八 / linxia-2022-84#18
    keyword: str = ALL  # words that must all occur in the clause (traditional script accepted)
    unit: str = ALL  # a responsible unit as parsed from the 责任单位 notes
    section: str = ALL  # a section heading
    doc_id: str = ALL
    level: str = ALL  # 国家 / 省 / 州 / 市 / 县: the issuing level of the document
    place: str = ALL  # the area of a local document (临夏回族自治州, 浙江省)

    @property
    def empty(self) -> bool:
        return not any(v.strip() for v in (self.number, self.keyword, self.unit, self.section, self.doc_id,
                                           self.level, self.place))


def units(index: Index) -> list[str]:
    """Every responsible unit, the most often named first (the list staff pick from)."""
    counts = Counter(u for c in index.clauses for u in c.units)
    return [u for u, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def documents(index: Index) -> list[tuple[str, str]]:
    """(name as citations print it, doc_id) of every document, the most local first, then by name."""
    from .documents import locality

    docs = sorted(index.documents.values(), key=lambda d: (-locality(d), d.name))
    return [(d.name, d.doc_id) for d in docs]


def levels(index: Index) -> list[str]:
    """The levels of the corpus's documents, national first."""
    from .documents import LEVEL_RANK

    present = {d.level for d in index.documents.values() if d.level in LEVEL_RANK}
    return sorted(present, key=lambda lvl: (LEVEL_RANK[lvl], lvl))


def places(index: Index) -> list[str]:
    """The areas of the corpus's local documents, the most local first."""
    from .documents import locality

    docs = sorted((d for d in index.documents.values() if d.place), key=lambda d: (-locality(d), d.place))
    return list(dict.fromkeys(d.place for d in docs))


def sections(index: Index) -> list[str]:
    """Section headings in document order, as the documents print them (一、…, 第三章 …)."""
    seen = dict.fromkeys(c.section_label for c in index.clauses if c.section)
    return list(seen)


# A section picked from :func:`section_choices`: its document and its heading, so 第一章 总则 of one law is not
# every law's first chapter.
SECTION_OF = "§"


def section_choices(index: Index, doc_id: str = "") -> list[tuple[str, str]]:
    """(what the list shows, the :attr:`LookupQuery.section` it filters by) of every section heading of
    ``doc_id`` (all documents: each heading followed by its document's name), in document order; headings that
    differ only by spaces (第一章 总则 / 第一章 总 则) once per document."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for c in index.clauses:
        if not c.section or (doc_id and c.doc_id != doc_id):
            continue
        key = (c.doc_id, "".join(c.section_label.split()))
        if key not in seen:
            shown = c.section_label if doc_id else f"{c.section_label}（{index.document(c.doc_id).name}）"
            seen[key] = (shown, f"{c.doc_id}{SECTION_OF}{c.section_label}")
    return list(seen.values())


def lookup(index: Index, query: LookupQuery, router: Router) -> list[Clause]:
    """Clauses matching every given filter, in index (document) order; [] for an empty query."""
    if query.empty:
        return []
    clauses = list(index.clauses)
    if query.doc_id.strip():
        clauses = [c for c in clauses if c.doc_id == query.doc_id.strip()]
    if query.level.strip():
        clauses = [c for c in clauses if index.document(c.doc_id).level == query.level.strip()]
    if query.place.strip():
        clauses = [c for c in clauses if index.document(c.doc_id).place == query.place.strip()]
    if query.number.strip():
        wanted = _numbered(index, query.number.strip(), router)
        clauses = [c for c in clauses if c.clause_id in wanted]
    if query.unit.strip():
        clauses = [c for c in clauses if query.unit.strip() in c.units]
    if query.section.strip():
        doc, _, label = query.section.strip().rpartition(SECTION_OF)
        label = "".join(label.split())
        clauses = [c for c in clauses if (not doc or c.doc_id == doc)
                   and label in ("".join(c.section_label.split()), "".join(c.section.split()))]
    words = normalize(query.keyword).lower().split()
    if words:
        clauses = [c for c in clauses if all(w in normalize(f"{c.title}{c.text}").lower() for w in words)]
    return clauses


def _numbered(index: Index, text: str, router: Router) -> set[str]:
    if text in index.by_id:
        return {text}
    bare = normalize(text).strip("第条项()（）# ")
    exact = {c.clause_id for c in index.clauses if c.number == bare}  # also "2.1" where numbering restarts
    if exact:
        return exact
    try:
        number = str(cn_to_int(bare))
        return {c.clause_id for c in index.clauses if c.number == number}
    except ValueError:
        pass
    route = router.route(normalize(text))
    return {c.clause_id for c in route.clauses} if route.kind == "clause" else set()
