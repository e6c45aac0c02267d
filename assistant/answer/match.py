"""Policy matching: an enterprise's profile → the measures of the documents in scope that it can use.

docs/matching.md fixes the meaning: 明确适用 when a measure names a kind the profile is and grants
what it needs, 可能适用 when the measure is for SMEs at large. Everything a matched measure carries
(benefit, figures, conditions, 责任单位) is quoted from its clause when the index was built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..corpus.measures import GENERAL, benefit_sentence
from ..models import Clause
from ..numerals import int_to_cn
from ..search.documents import locality
from ..search.index import Index
from .profile import Profile

Group = Literal["明确适用", "可能适用"]
EXPLICIT: Group = "明确适用"
POSSIBLE: Group = "可能适用"
@dataclass(frozen=True)
class MatchedMeasure:
    """One measure the profile can use, with everything quoted from its clause."""

    clause_id: str
    group: Group
    title: str  # the citation heading
    benefit: str
    figures: tuple[str, ...]
    conditions: tuple[str, ...]
    units: tuple[str, ...]
    notes: tuple[str, ...] = ()
    beneficiaries: tuple[str, ...] = ()  # the kinds that made it match
    support: tuple[str, ...] = ()  # the kinds of support that fit the needs

    def to_json(self) -> dict[str, Any]:
        return {"clause_id": self.clause_id, "group": self.group, "title": self.title, "benefit": self.benefit,
                "figures": list(self.figures), "conditions": list(self.conditions), "units": list(self.units),
                "notes": list(self.notes), "beneficiaries": list(self.beneficiaries), "support": list(self.support)}


@dataclass
class MatchResult:
    profile: Profile
    measures: list[MatchedMeasure] = field(default_factory=list)
    region: str = ""  # the area the documents were chosen for (临夏回族自治州), "" for anywhere
    documents: int = 0  # how many documents were searched
    notes: list[str] = field(default_factory=list)
    ranked: list[str] = field(default_factory=list)  # clause ids a search for the asker's own words ranked

    def group(self, group: Group) -> list[MatchedMeasure]:
        return [m for m in self.measures if m.group == group]

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile.to_json(), "region": self.region, "documents": self.documents,
                "measures": [m.to_json() for m in self.measures], "notes": list(self.notes)}


def group_of(clause: Clause, profile: Profile) -> tuple[Group, tuple[str, ...], tuple[str, ...]] | None:
    """The group ``clause`` falls in for ``profile`` with the kinds and needs that put it there, or None."""
    measure = clause.measure
    if measure is None or not measure.usable:
        return None
    support = tuple(k for k in measure.kinds if not profile.needs or k in profile.needs)
    if not support:
        return None
    named = tuple(k for k in measure.beneficiaries if k in profile.kinds)
    if named:
        return EXPLICIT, named, support
    loose = tuple(k for k in measure.beneficiaries if k == GENERAL or k in profile.loose_kinds)
    return (POSSIBLE, loose, support) if loose else None


class MeasureIndex:
    """An index's usable measures by the kinds they name, so a match reads only its candidates: the
    measures naming a kind the profile is (or SMEs at large) and granting a kind it needs. Built once
    per index (``Assistant.warm``); a match then costs what it finds, not the size of the corpus."""

    def __init__(self, index: Index):
        self.index = index
        self.by_beneficiary: dict[str, set[int]] = {}
        self.by_support: dict[str, set[int]] = {}
        order = {doc_id: i for i, doc_id in enumerate(index.documents)}
        self.clauses: list[Clause] = []
        self.place: list[tuple[int, int]] = []  # (document order, position in the document)
        position: dict[str, int] = {}
        for clause in index.clauses:
            at = position[clause.doc_id] = position.get(clause.doc_id, -1) + 1
            measure = clause.measure
            if measure is None or not measure.usable:
                continue
            n = len(self.clauses)
            self.clauses.append(clause)
            self.place.append((order.get(clause.doc_id, 0), at))
            for kind in measure.beneficiaries:
                self.by_beneficiary.setdefault(kind, set()).add(n)
            for kind in measure.kinds:
                self.by_support.setdefault(kind, set()).add(n)

    def candidates(self, profile: Profile) -> set[int]:
        kinds = profile.kinds | profile.loose_kinds | {GENERAL}
        found = set().union(*(self.by_beneficiary.get(k, set()) for k in kinds))
        if profile.needs:
            found &= set().union(*(self.by_support.get(k, set()) for k in profile.needs))
        return found

    def match(self, profile: Profile, doc_ids: frozenset[str] | None, notes_of=lambda clause: (),
              ranking: dict[str, int] | None = None) -> list[MatchedMeasure]:
        """The measures of ``doc_ids`` (None: every document) that ``profile`` can use: 明确适用 first; inside
        a group by ``ranking`` (clause id → rank of a search for the asker's own words) when given, then
        the most local documents, then the more kinds and needs named, then in document order.
        ``notes_of(clause)`` gives its validity notes."""
        ranking = ranking or {}
        index = self.index
        found: list[tuple[tuple, MatchedMeasure]] = []
        for n in self.candidates(profile):
            clause = self.clauses[n]
            if doc_ids is not None and clause.doc_id not in doc_ids:
                continue
            grouped = group_of(clause, profile)
            if grouped is None:
                continue
            group, kinds, support = grouped
            benefit = benefit_sentence(clause.text[slice(*clause.body)], support, kinds if group == EXPLICIT else ())
            figures = tuple(f for s in clause.measure.support if s.kind in support for f in s.figures)
            item = MatchedMeasure(
                clause_id=clause.clause_id, group=group, title=index.heading(clause),
                benefit=benefit, figures=tuple(dict.fromkeys(figures)),
                conditions=clause.measure.conditions, units=clause.units, notes=tuple(notes_of(clause)),
                beneficiaries=kinds, support=support)
            doc = index.documents.get(clause.doc_id)
            # Then the measures that name more of what the profile is and needs: 个体工商户 and 首贷 before 首贷 alone.
            found.append(((group != EXPLICIT, ranking.get(clause.clause_id, len(ranking)), -locality(doc),
                           -len(kinds) - len(support), *self.place[n]), item))
        return [item for _, item in sorted(found, key=lambda pair: pair[0])]


# How many measures of each group a chat answer lists; the 政策匹配 tab and the API list them all.
CHAT_LISTED = {EXPLICIT: 8, POSSIBLE: 5}
CHAT_UNITS = 4  # 责任单位 named per measure in a chat answer
MATCH_DISCLAIMER = "以上按文件条款原文整理，是否符合条件以责任单位的认定为准。"


def match_text(result: MatchResult, *, every_measure: bool = False) -> str:
    """The chat answer of a match (``every_measure``: the CLI's, not cut to CHAT_LISTED): both groups,
    each measure with its heading, the benefit quoted, its figures, what to check and whom to contact.
    Counts are in words and the list numbering is layout, so every digit shown is a clause's."""
    listed = {g: len(result.measures) for g in CHAT_LISTED} if every_measure else CHAT_LISTED
    where = f"适用于{result.region}的" if result.region else ""
    lines = [f"按您的情况（{result.profile.describe()}），在{where}{int_to_cn(result.documents)}份文件中："]
    if not result.measures:
        lines.append("没有找到写明适用的措施。可换一种需求再查，或向当地金融监管部门、中小企业主管部门咨询。")
        return "\n".join(lines)
    for group, lead in ((EXPLICIT, "明确适用（条款写明适用于您这类主体）"), (POSSIBLE, "可能适用（面向全体中小微企业的措施）")):
        items = result.group(group)
        if not items:
            continue
        lines.append(f"\n【{lead}，共{int_to_cn(len(items))}项】")
        for i, m in enumerate(items[:listed[group]], start=1):
            lines.append(f"{i}. 〔{m.title}〕“{m.benefit}”")
            if m.figures:
                lines.append(f"   额度与费率：{'；'.join(m.figures)}")
            if m.conditions:
                lines.append(f"   需确认：{'；'.join(m.conditions)}")
            if m.units:  # the card and the API list them all
                more = "等" if len(m.units) > CHAT_UNITS else ""
                lines.append(f"   责任单位：{'、'.join(m.units[:CHAT_UNITS])}{more}")
        if len(items) > listed[group]:
            lines.append(f"另有{int_to_cn(len(items) - listed[group])}项，见“政策匹配”页。")
    lines.append("\n" + MATCH_DISCLAIMER)
    return "\n".join(lines)
