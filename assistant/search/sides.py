"""The sides of a comparison: "临夏州和国办发6号文对担保费率的规定分别是多少？".

A question that names two or more documents, versions of one document, areas or levels (and asks
分别 / 和…相比 / 有什么不同, or simply names them side by side) is answered side by side: each side is
searched on its own, so the best clause of one side is never crowded out by the other's. A side is the
documents it names, in force unless the question asks about an old text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..models import DocumentMeta
from ..regions import Region
from .documents import Named, name_key
from .scope import ScopeFinder

# The levels a question may name, with the cue that names each and the label its side gets.
_LEVELS = (("level_local", ("州", "市", "县"), "本地"), ("level_province", ("省",), "省级"),
           ("level_national", ("国家",), "国家"))


@dataclass(frozen=True)
class SideScope:
    """One side of a comparison: its label as the answer prints it, and its documents."""

    label: str  # 临夏州, 国办发〔2019〕6号, 保障中小企业款项支付条例（2020年）, 国家
    doc_ids: frozenset[str]


class SideFinder:
    """Reads the sides of a comparison question over one index's documents."""

    def __init__(self, scopes: ScopeFinder):
        self.scopes = scopes
        self.cues = scopes.cues

    def find(self, question: str, named: Named, today: dt.date, region: Region | None) -> list[SideScope]:
        """The sides ``question`` (normalized) compares, in order of mention; [] when it compares nothing.

        Args:
            named: the documents it names (:meth:`DocumentNames.named`).
            region: where the asker is: a level side holds the documents of that level that apply there.
        """
        documents = self.scopes.index.documents
        compares = bool(self.cues.compare.search(question))
        sides: list[tuple[int, SideScope]] = []
        keyed = name_key(question)
        for name, doc_ids in named.groups:
            at = keyed.find(name)  # names are compared as keys (no 《》, 的): so are their places
            editions = [d for d in doc_ids if documents[d].edition]
            if compares and len(editions) > 1 and len(named.groups) == 1:
                # 2020年版和2025年版 / 修订前后: one side per version, the old one first.
                for d in sorted(editions, key=lambda d: documents[d].issue_date or documents[d].effective_date):
                    sides.append((at, SideScope(documents[d].name, frozenset({d}))))
                continue
            sides.append((at, SideScope(self._doc_label(doc_ids, documents),
                                        frozenset(self.scopes.in_force(set(doc_ids), question, today, named=True)))))
        here, places = self.scopes.places(question)
        if here is not None and compares:  # 我在浙江…浙江条例和国家条例分别…: where the asker is, as a side
            places = [here, *places]
        for place in dict.fromkeys(places):
            own = self.scopes.area_documents(place)
            if own:
                label = next((n for n in place.short_names[1:] if n.endswith(("州", "市", "县"))), place.name)
                at = min((keyed.find(n) for n in place.short_names if n in keyed), default=-1)
                sides.append((at, SideScope(label, frozenset(self.scopes.in_force(own, question, today)))))
        for cue, levels, label in _LEVELS:
            m = getattr(self.cues, cue).search(keyed)
            if m is None:
                continue
            pool = {d for d, doc in documents.items() if doc.level in levels
                    and (region is None or not doc.region_code or region.code.startswith(doc.region_code))}
            if pool:
                sides.append((m.start(), SideScope(label, frozenset(self.scopes.in_force(pool, question, today)))))
        unique: list[SideScope] = []
        for _, side in sorted(sides, key=lambda s: s[0]):
            if side.doc_ids and all(side.doc_ids != u.doc_ids for u in unique):
                unique.append(side)
        return unique if len(unique) > 1 else []

    def content(self, question: str) -> str:
        """``question`` without the words that name or compare its sides (分别, 和…相比, 新旧, 州里, places)."""
        rest = question
        for cue in (self.cues.compare, self.cues.old_version, self.cues.level_local, self.cues.level_province,
                    self.cues.level_national):
            rest = cue.sub(" ", rest)
        for name, _ in self.scopes.regions.mentioned(rest):
            rest = rest.replace(name, " ")
        return rest

    def versions(self, question: str, doc_id: str) -> list[SideScope]:
        """The versions of ``doc_id``'s document, old first, when ``question`` compares versions (修订前后有没有
        变化, 新条例和旧条例相比) without naming the document; [] otherwise."""
        documents = self.scopes.index.documents
        doc = documents.get(doc_id)
        if doc is None or not (doc.supersedes or doc.superseded_by) or not self.cues.old_version.search(question):
            return []
        family = {doc_id, *doc.supersedes, *([doc.superseded_by] if doc.superseded_by else [])}
        editions = sorted((d for d in family if d in documents),
                          key=lambda d: documents[d].issue_date or documents[d].effective_date)
        return [SideScope(documents[d].name, frozenset({d})) for d in editions] if len(editions) > 1 else []

    @staticmethod
    def _doc_label(doc_ids: tuple[str, ...], documents: dict[str, DocumentMeta]) -> str:
        """A document side's label: its name as citations print it (without the edition when the side holds
        every version of it)."""
        docs = [documents[d] for d in doc_ids]
        name = docs[0].name
        if len(docs) > 1 and docs[0].edition:
            name = name[: -len(docs[0].edition) - 2]
        return name
