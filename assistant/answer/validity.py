"""Notes on cited texts that may no longer hold: expired measures, superseded or repealed documents,
texts not yet in effect. Shared by answers and policy matching."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from ..corpus import versions
from ..search.index import Index


def validity_notes(index: Index, clause_ids: Iterable[str], today: dt.date) -> list[str]:
    """The notes for the clauses ``clause_ids`` (in order, each document and clause once)."""
    clause_ids = list(dict.fromkeys(clause_ids))
    notes = standing_notes(index, clause_ids, today)
    for clause_id in clause_ids:
        clause = index.by_id[clause_id]
        expired = [d for d in clause.deadlines if dt.date.fromisoformat(d.date) < today]
        if expired:
            units = "、".join(clause.units[:3]) or "发文机关"
            notes.append(f"〔{index.heading(clause)}〕是有期限的措施"
                         f"（期限：{'、'.join(d.text for d in expired)}），该期限已过，"
                         f"是否仍在执行请向责任单位（{units}等）确认。")
    return notes


def standing_notes(index: Index, clause_ids: Iterable[str], today: dt.date) -> list[str]:
    """Cited texts that are not the rule in force today: superseded, repealed, or not yet in effect."""
    documents = index.documents
    notes = []
    for doc_id in dict.fromkeys(index.by_id[cid].doc_id for cid in clause_ids):
        doc = documents.get(doc_id)
        if doc is None:
            continue
        if not versions.in_force(doc, documents, today):
            successor = documents.get(doc.superseded_by)
            current = f"，现行规定见{successor.name}" if successor and doc.status not in versions.REPEALED else ""
            notes.append(f"{doc.name}{versions.status_mark(doc, documents, today)}，以上引文仅供了解原规定{current}。")
        elif versions.takes_effect_after(doc, today):
            when = index.dated(doc_id).get("施行")
            words = f"（“{when[0].text[when[1]:when[2]]}”）" if when else ""
            notes.append(f"{doc.name}尚未施行{words}，施行前请以现行规定为准。")
    return notes
