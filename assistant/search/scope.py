"""Which documents may answer a question: the ones it names, the area or level it names, else the
ones that apply where the asker is, always without texts that are not in force.

The asker's area (``POLICY_REGION`` or the conversation's choice, or "我在临夏…" in the question)
decides what applies: that area's documents, those of every area enclosing it, and national ones. A
question naming a document, an area (浙江省…) or a level (国家层面, 省里, 州里) is answered from those
documents only; when the corpus has none, the question is refused and says so, rather than answered
from documents of another area or level.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from functools import cached_property

from .. import grammar
from ..corpus import versions
from ..lexicon import Cues
from ..models import DocumentMeta
from ..regions import Region, Regions
from .documents import NOTHING_NAMED, DocumentNames, Named
from .index import Index

# A plain-text title this short, once its area is taken out, is a generic reference (浙江那边的条例).
GENERIC_REFERENCE = 6


@dataclass(frozen=True)
class Scope:
    """The documents a question may be answered from, and why."""

    doc_ids: frozenset[str] | None  # None: every document
    named: Named = NOTHING_NAMED  # the documents the question names (their names are taken out for ranking)
    region: Region | None = None  # the asker's area, as given or as the question says
    missing: str = ""  # what the question asks for that the corpus lacks: "甘政办发〔2022〕101号", "甘肃省的文件"
    missing_document: bool = True  # the missing thing is a document (else an area's or a level's documents)


def as_of(question: str, today: dt.date) -> dt.date:
    """The day a question is set on: the end of the latest past year it names (2023年 → 2023-12-31),
    else ``today``."""
    years = [int(m.group(0)[:4]) for m in grammar.YEAR.finditer(question)]
    past = [y for y in years if y < today.year]
    return dt.date(max(past), 12, 31) if past and len(past) == len(years) else today


def applies(doc: DocumentMeta, region: Region | None) -> bool:
    """Whether ``doc`` applies to an asker in ``region``: national and area-less documents everywhere,
    a local one in its own area and the areas inside it."""
    return region is None or not doc.region_code or region.code.startswith(doc.region_code)


CURRENT_CACHED = 64  # pools and days whose documents in force are kept


class ScopeFinder:
    """Decides a question's :class:`Scope` over one index."""

    def __init__(self, index: Index, names: DocumentNames, cues: Cues, regions: Regions | None = None):
        self.index = index
        self.names = names
        self.cues = cues
        self.regions = regions or Regions.load()
        self._applicable_by_area: dict[str, frozenset[str]] = {}
        # The documents of a pool in force on a day: the same for every question of that day (3,466 laws took
        # 20 ms to check, each time).
        self._current: dict[tuple[frozenset[str], dt.date, bool], frozenset[str]] = {}

    @cached_property
    def _areas_with_documents(self) -> frozenset[str]:
        return frozenset(doc.region_code for doc in self.index.documents.values() if doc.region_code)

    def _applicable(self, region: Region | None) -> frozenset[str]:
        """The documents that apply to an asker in ``region`` (cached per area: the same for every question)."""
        key = region.code if region else ""
        if key not in self._applicable_by_area:
            self._applicable_by_area[key] = frozenset(d for d, doc in self.index.documents.items()
                                                      if applies(doc, region))
        return self._applicable_by_area[key]

    def find(self, question: str, today: dt.date, region: Region | None = None) -> Scope:
        """The scope of ``question`` (normalized) for an asker in ``region`` on ``today``."""
        documents = self.index.documents
        named = self.names.named(question)
        if named.missing and named.guessed and self.index.substrings.contains(named.missing.strip("《》")):
            # The documents use the phrase themselves (…信用担保机构监管办法由省人民政府制定): a thing they
            # speak of, not a document the corpus lacks.
            named = dataclasses.replace(named, missing="", guessed=False)
        if named.missing and not named.guessed:
            return Scope(None, named, region, named.missing)
        if named.doc_ids:
            return Scope(self.in_force(set(named.doc_ids), question, today, named=True), named, region)
        here, place = self._places(question, region)
        region = here or region
        if place is not None:
            own = self.area_documents(place)
            if own and named.guessed and not self._fits(named.missing, place, own):
                return Scope(None, named, region, named.missing)  # 河南省信用担保机构监管办法: not 河南's text
            if self.cues.level_national.search(question):
                own |= {d for d, doc in documents.items() if doc.level == "国家"}
            if own:
                return Scope(self.in_force(own, question, today), Named(tuple(sorted(own))), region)
            return Scope(None, named, region, named.missing if named.guessed else f"{place.name}的政策文件",
                         missing_document=named.guessed)
        applicable = set(self._applicable(region))
        # "贯彻落实省里哪个文件": a question about a document's facts, not about a level's rules.
        level = None if self.cues.document.search(question) else self._level(question, applicable, region)
        if level is not None:
            pool, label = level
            if not pool:
                return Scope(None, named, region, label, missing_document=False)
            return Scope(self.in_force(pool, question, today), NOTHING_NAMED, region)
        if named.missing:  # a plain-text title the corpus lacks, and no area to read it as
            return Scope(None, named, region, named.missing)
        if not applicable:  # every document is of another area
            return Scope(None, named, region, f"适用于{region.name if region else '该地区'}的政策文件",
                         missing_document=False)
        return Scope(self.in_force(applicable, question, today), NOTHING_NAMED, region)

    def _places(self, question: str, region: Region | None) -> tuple[Region | None, Region | None]:
        """(the asker's area if the question says where they are, the area the question asks about)."""
        here, asked = self.places(question)
        if not asked:
            return here, None
        # The most local area asked about that the others enclose (甘肃临夏州 → 临夏州).
        inner = [r for r in asked if all(self.regions.encloses(o, r) or self.regions.encloses(r, o) for o in asked)]
        return here, max(inner or asked[:1], key=lambda r: len(r.code))

    def places(self, question: str) -> tuple[Region | None, list[Region]]:
        """(the asker's area if the question says where they are, every area it asks about, in order).

        A place that says who the asker is (浙江人, 老家河南, 来自温州) is neither: the documents that apply
        are those of where the business is.
        """
        here: Region | None = None
        asked: list[Region] = []
        pos = 0
        for name, found in self.regions.mentioned(question):
            pos = question.find(name, pos)
            before, after = question[max(0, pos - 6):pos], question[pos + len(name):pos + len(name) + 2]
            if self.cues.origin.search(before) or self.cues.origin_after.match(after):
                continue
            if self.cues.self_place.search(before):
                here = found  # "我在临夏开饭馆": where the asker is
                continue
            has_documents = found.code in self._areas_with_documents
            if not has_documents and self.index.substrings.contains(question[pos:pos + len(name) + 2]):
                continue  # part of a term the documents use (甘肃股权交易中心), not a place asked about
            asked.append(found)
        return here, asked

    def area_documents(self, place: Region) -> set[str]:
        """The documents of ``place`` itself (浙江省's, not 杭州市's)."""
        return {d for d, doc in self.index.documents.items() if doc.region_code == place.code}

    def _fits(self, title: str, place: Region, doc_ids: set[str]) -> bool:
        """A plain-text title with an area in it may name one of that area's documents: 河南的实施办法."""
        rest = title.strip("《》")
        for name in place.short_names:
            rest = rest.replace(name, "")
        rest = rest.lstrip("的省市州")
        # A few words and the kind (那边的条例, 的实施办法) refer to the area's document; more must match.
        return len(rest) <= GENERIC_REFERENCE or self.names.fits(rest, tuple(doc_ids))

    def _level(self, question: str, applicable: set[str], region: Region | None
               ) -> tuple[set[str], str] | None:
        """(documents of the level the question names, what to call them when there are none), or None."""
        documents = self.index.documents
        if self.cues.level_national.search(question):
            return {d for d in applicable if documents[d].level == "国家"}, "国家层面的政策文件"
        if self.cues.level_province.search(question):
            province = self.regions.chain(region)[-1] if region else None
            label = f"{province.name}的省级政策文件" if province else "省级政策文件"
            return {d for d in applicable if documents[d].level == "省"}, label
        if self.cues.level_local.search(question):
            local = {d for d in applicable if documents[d].level in ("州", "市", "县")}
            if region is not None:
                local = {d for d in local if documents[d].region_code.startswith(region.code[:4])}
            return local, f"{region.name}的政策文件" if region else "本地的政策文件"
        return None

    def in_force(self, pool: set[str], question: str, today: dt.date, *, named: bool = False) -> frozenset[str]:
        """``pool`` without texts that are not in force (superseded, repealed), unless the question asks
        about an old text: then the old texts of a named document. A question set in a past year
        ("2023年签的合同，大企业多久付款") is answered by the texts in force that year."""
        documents = self.index.documents
        asks_old = bool(self.cues.old_version.search(question))  # "2020年版": the old text, named by its year
        when = today if asks_old else as_of(question, today)
        key = (frozenset(pool), when, when == today)
        current = self._current.get(key)
        if current is None:
            current = frozenset(d for d in pool if versions.in_force(documents[d], documents, when)
                                and (when == today or not versions.takes_effect_after(documents[d], when)))
            if len(self._current) >= CURRENT_CACHED:
                self._current.clear()
            self._current[key] = current
        if asks_old:
            old = {d for d in pool - current if documents[d].status not in versions.REPEALED}
            return frozenset((old or pool) if named else pool)
        return frozenset(current or pool)  # a question naming only a repealed text still sees it (marked)
