"""Policy matching: an enterprise's profile → the measures of the documents in scope that it can use.

docs/matching.md fixes the meaning: a measure is read sentence by sentence (its sub-measures, each 可以申请,
可以利用 or 政策背景 to the owner); it is offered for the sentences that fit the profile, 明确适用 when it names
a kind the profile is and grants what it needs, 可能适用 when it is for SMEs at large. Everything a matched
measure carries (the sentences, figures, conditions, whom to ask) was read from its clause when the index was
built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..corpus.measures import GENERAL
from ..models import BACKGROUND, CHANNEL, CLAIM, RESULTS, Clause, Measure, Result, SubMeasure
from ..numerals import int_to_cn
from ..search.documents import locality
from ..search.index import Index
from .profile import Profile

Group = Literal["明确适用", "可能适用"]
EXPLICIT: Group = "明确适用"
POSSIBLE: Group = "可能适用"
HOTLINE = "12345政务服务便民热线"  # whom to ask when a measure names no one


@dataclass(frozen=True)
class MatchedMeasure:
    """One measure the profile can use, with everything quoted from its clause: the sentences of it that fit
    the profile (its sub-measures), their figures, conditions and whom to ask."""

    clause_id: str
    group: Group
    title: str  # the citation heading
    benefit: str  # the fitting sentence that says most of what it grants
    figures: tuple[str, ...]  # of the fitting sentences only
    conditions: tuple[str, ...]
    units: tuple[str, ...]
    notes: tuple[str, ...] = ()
    beneficiaries: tuple[str, ...] = ()  # the kinds that made it match
    support: tuple[str, ...] = ()  # the kinds of support that fit the needs
    result: Result = CLAIM  # the best of its fitting sentences: 可以申请, then 可以利用, then 政策背景
    lead: str = ""  # whom to ask first
    parts: tuple[SubMeasure, ...] = ()  # its sentences that fit the profile
    excluded: tuple[str, ...] = ()  # what its other sentences grant, and to whom only ("2.88%：仅适用于民族贸易定点")

    def quoted(self, *, every_part: bool = False) -> tuple[SubMeasure, ...]:
        """The sentences to quote, at most QUOTED: the one that says it best first, then those stating figures or
        conditions of their own (and with ``every_part`` the other fitting ones), in text order. Each figure
        and condition is shown under the sentence that states it, never under another's (2.88% is the
        民族贸易 firms' 贴息, not the 300万元 loan's), so figures of sentences not quoted are not shown."""
        best = next((p for p in self.parts if p.text == self.benefit), None) or SubMeasure(
            text=self.benefit, result=self.result, figures=self.figures, conditions=self.conditions)
        rest = [p for p in self.parts if p is not best]
        stating = [p for p in rest if p.figures or p.conditions]
        others = [p for p in rest if not (p.figures or p.conditions)] if every_part else []
        return (best, *stating, *others)[:QUOTED]

    def to_json(self) -> dict[str, Any]:
        return {"clause_id": self.clause_id, "group": self.group, "result": self.result, "title": self.title,
                "benefit": self.benefit, "figures": list(self.figures), "conditions": list(self.conditions),
                "lead": self.lead, "units": list(self.units), "notes": list(self.notes),
                "beneficiaries": list(self.beneficiaries), "support": list(self.support),
                "parts": [{"text": p.text, "result": p.result, "beneficiaries": list(p.beneficiaries),
                           "support": list(p.support), "figures": list(p.figures), "conditions": list(p.conditions),
                           "lead": p.lead} for p in self.parts],
                "excluded": list(self.excluded)}


@dataclass
class MatchResult:
    profile: Profile
    measures: list[MatchedMeasure] = field(default_factory=list)
    region: str = ""  # the area the documents were chosen for (临夏回族自治州), "" for anywhere
    documents: int = 0  # how many documents were searched
    notes: list[str] = field(default_factory=list)
    ranked: list[str] = field(default_factory=list)  # clause ids a search for the asker's own words ranked
    read_as: list[str] = field(default_factory=list)  # which choice each everyday word became ("“外汇”按需求“外汇避险”查找。")

    def group(self, group: Group) -> list[MatchedMeasure]:
        return [m for m in self.measures if m.group == group]

    def of(self, result: Result) -> list[MatchedMeasure]:
        """The measures whose best sentence is ``result`` (可以申请 / 可以利用 / 政策背景), best first."""
        return [m for m in self.measures if m.result == result]

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile.to_json(), "region": self.region, "documents": self.documents,
                "read_as": list(self.read_as), "measures": [m.to_json() for m in self.measures],
                "notes": list(self.notes)}


def group_of(clause: Clause, profile: Profile) -> tuple[Group, tuple[str, ...], tuple[str, ...]] | None:
    """The group ``clause`` falls in for ``profile`` with the kinds and needs that put it there, or None."""
    measure = clause.measure
    if measure is None or not measure.usable:
        return None
    return _fit(measure.beneficiaries, measure.kinds, profile)


def _fit(beneficiaries: tuple[str, ...], kinds: tuple[str, ...], profile: Profile
         ) -> tuple[Group, tuple[str, ...], tuple[str, ...]] | None:
    support = tuple(k for k in kinds if not profile.needs or k in profile.needs)
    if not support:
        return None
    named = tuple(k for k in beneficiaries if k in profile.kinds)
    if named:
        return EXPLICIT, named, support
    loose = tuple(k for k in beneficiaries if k == GENERAL or k in profile.loose_kinds)
    return (POSSIBLE, loose, support) if loose else None


def parts_of(measure: Measure) -> tuple[SubMeasure, ...]:
    """A measure's sentences; a clause record written before sentences were kept is one claimable part."""
    if measure.sub_measures:
        return measure.sub_measures
    return (SubMeasure(text=measure.benefit, result=CLAIM, beneficiaries=measure.beneficiaries, support=measure.kinds,
                       figures=tuple(f for s in measure.support for f in s.figures), conditions=measure.conditions),)


def _excluded(part: SubMeasure, profile: Profile) -> str:
    """What a sentence that does not fit grants, when it states figures the owner might take for theirs."""
    if not part.figures or not part.beneficiaries or not any(not profile.needs or k in profile.needs
                                                             for k in part.support):
        return ""
    return f"{'、'.join(part.figures)}：仅适用于{'、'.join(part.beneficiaries)}"


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
        self._titles: dict[str, str] = {}
        position: dict[str, int] = {}
        for clause in index.clauses:
            at = position[clause.doc_id] = position.get(clause.doc_id, -1) + 1
            measure = clause.measure
            if measure is None or not measure.usable:
                continue
            n = len(self.clauses)
            self.clauses.append(clause)
            self.place.append((order.get(clause.doc_id, 0), at))
            for kind in {k for p in parts_of(measure) for k in p.beneficiaries} | set(measure.beneficiaries):
                self.by_beneficiary.setdefault(kind, set()).add(n)
            for kind in {k for p in parts_of(measure) for k in p.support} | set(measure.kinds):
                self.by_support.setdefault(kind, set()).add(n)

    def candidates(self, profile: Profile) -> set[int]:
        kinds = profile.kinds | profile.loose_kinds | {GENERAL}
        found = set().union(*(self.by_beneficiary.get(k, set()) for k in kinds))
        if profile.needs:
            found &= set().union(*(self.by_support.get(k, set()) for k in profile.needs))
        return found

    def match(self, profile: Profile, doc_ids: frozenset[str] | None, notes_of=lambda clause: (),
              ranking: dict[str, int] | None = None) -> list[MatchedMeasure]:
        """The measures of ``doc_ids`` (None: every document) that ``profile`` can use, decided sentence by
        sentence: a measure is offered for the sentences of it that fit (a kind the profile is, or SMEs at
        large, granting a kind it needs), and is what the best of them is (可以申请 before 可以利用 before
        政策背景). Inside each, the most concrete first: naming the profile's own kinds (the more the
        better), by ``ranking`` (clause id → rank of a search for the asker's own words) when given, with
        figures, the most local documents, then document order. ``notes_of(clause)`` gives validity notes."""
        ranking = ranking or {}
        found: list[tuple[tuple, MatchedMeasure]] = []
        for n in self.candidates(profile):
            clause = self.clauses[n]
            if doc_ids is not None and clause.doc_id not in doc_ids:
                continue
            item = self._item(clause, clause.measure, profile, notes_of) if clause.measure is not None else None
            if item is None:
                continue
            doc = self.index.documents.get(clause.doc_id)
            named = len(item.beneficiaries) if item.group == EXPLICIT else 0
            found.append(((RESULTS.index(item.result), item.group != EXPLICIT, -named,
                           ranking.get(clause.clause_id, len(ranking)), not item.figures, -locality(doc),
                           *self.place[n]), item))
        return [item for _, item in sorted(found, key=lambda pair: pair[0])]

    def _item(self, clause: Clause, measure: Measure, profile: Profile, notes_of) -> MatchedMeasure | None:
        """``clause`` as a measure for ``profile``, or None. A sentence fits when it names a kind the profile is
        (or SMEs at large) and grants a kind it needs. A clause that names the profile's own kind in one
        sentence and grants what it needs in another (优化对制造业的担保服务 … 担保贷款) is for it too, 明确适用,
        with its sentences that name the kind shown; one only for SMEs at large must fit in one sentence:
        进出口信贷 for 中小企业开拓境外市场 is no loan for a restaurant."""
        parts = parts_of(measure)
        # A sentence that names no beneficiary speaks of the clause's ("单户1000万元以下的融资担保费率不高于1%").
        fits = [_fit(p.beneficiaries or measure.beneficiaries, p.support, profile) for p in parts]
        whole = group_of(clause, profile)
        explicit = any(f is not None and f[0] == EXPLICIT for f in fits) or (whole is not None and whole[0] == EXPLICIT)
        if not explicit and not any(fits):
            return None
        needed = set(whole[2]) if whole is not None else set()

        def shown(part: SubMeasure, fit) -> bool:
            if fit is not None:
                return True
            return explicit and (bool(set(part.beneficiaries) & profile.kinds)
                                 or not any(fits) and bool(set(part.support) & needed))

        chosen = [(p, f) for p, f in zip(parts, fits) if shown(p, f)]
        if not chosen:
            return None
        group = EXPLICIT if explicit else POSSIBLE
        kinds = tuple(dict.fromkeys(k for p, f in chosen
                                    for k in ((p.beneficiaries or measure.beneficiaries) if explicit else f[1] if f is not None else ())
                                    if not explicit or k in profile.kinds)) or (whole[1] if whole else ())
        support = tuple(dict.fromkeys(k for p, _ in chosen for k in p.support if not profile.needs or k in profile.needs))
        shown_parts = tuple(p for p, _ in chosen)
        result = min((p.result for p in shown_parts), key=RESULTS.index)
        # The sentence that says it best: of the best result, naming the profile's kinds itself, granting what it
        # needs, with figures.
        best = min(shown_parts, key=lambda p: (RESULTS.index(p.result), not set(p.beneficiaries) & profile.kinds,
                                               not set(p.support) & set(support), not p.figures))
        excluded = [_excluded(p, profile) for p, f in zip(parts, fits) if not shown(p, f)]
        return MatchedMeasure(
            clause_id=clause.clause_id, group=group, title=self._title(clause), benefit=best.text,
            figures=tuple(dict.fromkeys(f for p in shown_parts for f in p.figures)),
            conditions=tuple(dict.fromkeys(c for p in shown_parts for c in p.conditions)), units=clause.units,
            notes=tuple(notes_of(clause)), beneficiaries=kinds, support=support, result=result,
            lead=self._lead(clause, best, shown_parts), parts=shown_parts,
            excluded=tuple(dict.fromkeys(e for e in excluded if e)))

    def _title(self, clause: Clause) -> str:
        """The clause's citation heading, made once: a profile open to all SMEs offers hundreds of laws' articles."""
        title = self._titles.get(clause.clause_id)
        if title is None:
            title = self._titles[clause.clause_id] = self.index.heading(clause)
        return title

    def _lead(self, clause: Clause, best: SubMeasure, parts: tuple[SubMeasure, ...]) -> str:
        """Whom to ask: the provider the best sentence names (or another fitting one does), else the clause's
        first 责任单位, else the document's issuer (a national law names no 责任单位), else the 12345 line."""
        doc = self.index.documents.get(clause.doc_id)
        return (best.lead or next((p.lead for p in parts if p.lead), "") or (clause.units[0] if clause.units else "")
                or (doc.issuer if doc else "") or HOTLINE)


# How many measures a chat answer lists of each result, and how many the first line names; the 政策匹配 tab and the
# API list them all (the tab shows the first MATCH_SHOWN of each and folds the rest under 更多).
CHAT_LISTED = {CLAIM: 5, CHANNEL: 3, BACKGROUND: 0}
FIRST_LINE_NAMED = 3
QUOTED = 3  # sentences a measure quotes at most (MatchedMeasure.quoted); the clause's full text has the rest
MATCH_SHOWN = 5
MATCH_DISCLAIMER = "以上按文件条款原文整理，是否符合条件以责任单位的认定为准。"
# What each result means, as the chat and the tab head it.
RESULT_LEADS = {CLAIM: "可以申请（您可以向办理单位提出的支持）", CHANNEL: "可以利用（可以使用的渠道和服务）",
                BACKGROUND: "政策背景（部门和机构的工作安排，间接帮助您）"}


def first_line(result: MatchResult) -> str:
    """The answer in one line: how many measures the owner can claim, the first few named by what they grant."""
    claims = result.of(CLAIM)
    if claims:
        named = "；".join(_short(m) for m in claims[:FIRST_LINE_NAMED])
        more = "等" if len(claims) > FIRST_LINE_NAMED else ""
        return f"可以申请{int_to_cn(len(claims))}项：{named}{more}。"
    channels = result.of(CHANNEL)
    if channels:
        return f"没有找到可以直接申请的支持；可以利用的渠道和服务{int_to_cn(len(channels))}项，见下。"
    background = result.of(BACKGROUND)
    if background:
        return f"没有找到您可以直接申请或利用的措施；相关的政策背景{int_to_cn(len(background))}项，见下。"
    return "文件中没有写明适用于您这类主体的支持措施。"


def _short(m: MatchedMeasure) -> str:
    """A measure as the first line names it: its citation, as every list line prints it, and the figures of the
    sentence that says it best."""
    said = m.quoted()[0].figures
    figures = f"（{'、'.join(said[:2])}）" if said else ""
    return f"〔{m.title}〕{figures}"


def match_text(result: MatchResult, *, every_measure: bool = False) -> str:
    """The chat answer of a match (``every_measure``: the CLI's, not cut to CHAT_LISTED): the first line, then
    the measures by result, each with its heading, the sentences that fit quoted, their figures, what to
    check, whom to ask, and what of it is for others only. Counts are in words and the list numbering is
    layout, so every digit shown is a clause's."""
    where = f"适用于{result.region}的" if result.region else ""
    lines = [first_line(result), f"按您的情况（{result.profile.describe()}），查了{where}{int_to_cn(result.documents)}份文件。"]
    lines += result.read_as
    lines += [f"⚠️ {n}" for n in result.notes]
    if not result.measures:
        lines.append("可换一种需求再查，或拨打12345政务服务便民热线咨询。")
        return "\n".join(lines)
    for kind in RESULTS:
        items = result.of(kind)
        listed = len(items) if every_measure else CHAT_LISTED[kind]
        if not items:
            continue
        lines.append(f"\n【{RESULT_LEADS[kind]}，共{int_to_cn(len(items))}项】")
        for i, m in enumerate(items[:listed], start=1):
            lines += _measure_lines(i, m)
        if len(items) > listed:
            lines.append(f"另有{int_to_cn(len(items) - listed)}项，见“政策匹配”页。")
    lines.append("\n" + MATCH_DISCLAIMER)
    return "\n".join(lines)


def fits_text(m: MatchedMeasure) -> str:
    """Why the measure is offered: the kinds the clause names that the owner is (明确适用), or that it is for
    SMEs at large (可能适用)."""
    if m.group == EXPLICIT:
        return f"明确适用：条款写明适用于{'、'.join(m.beneficiaries)}"
    return "可能适用：面向中小微企业普遍适用，是否符合请向办理单位确认"


def part_fields(part: SubMeasure) -> list[tuple[str, str, str]]:
    """(kind, label, text) of what one quoted sentence states, shown right under it: its figures and conditions."""
    fields = [("figures", "额度与费率", "；".join(part.figures))] if part.figures else []
    return fields + ([("conditions", "需确认", "；".join(part.conditions))] if part.conditions else [])


def measure_fields(m: MatchedMeasure) -> list[tuple[str, str, str]]:
    """(kind, label, text) of what a measure shows under its quoted sentences, for the chat and the card alike:
    whom to ask, and what of it is for others only."""
    return [("lead", "办理咨询", m.lead)] + [("excluded", "不适用", e) for e in m.excluded]


def _measure_lines(i: int, m: MatchedMeasure) -> list[str]:
    best, *more = m.quoted()
    lines = [f"{i}. 〔{m.title}〕“{best.text}”", f"   {fits_text(m)}",
             *(f"   {label}：{text}" for _, label, text in part_fields(best))]
    for part in more:
        lines += [f"   另：“{part.text}”", *(f"     {label}：{text}" for _, label, text in part_fields(part))]
    return lines + [f"   {label}：{text}" for _, label, text in measure_fields(m)]
