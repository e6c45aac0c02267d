"""Versions of one document, and corpus-level checks on names: which text supersedes which.

Two texts with the same title and different dates (保障中小企业款项支付条例 of 2020 and of 2025) are
versions of one document: the newer text supersedes the older. Both stay in the index (a question
may ask about the old text), each named with its edition so citations tell them apart. Whether the
newer text is already in force depends on the day of the question; :func:`in_force` decides that.

Files that claim the same 文号, or the same title and date, are not versions: they are reported.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence

from ..models import DocumentMeta

# Manifest statuses that take a document out of answers (it stays in 条款查询, marked).
REPEALED = ("废止", "失效")
_STATE = "中华人民共和国"


def version_key(title: str) -> str:
    """What versions share: the title without 中华人民共和国, an edition note (（2020年修订）) or spaces."""
    key = re.sub(r"\s+", "", title)
    key = re.sub(r"[（(][^（）()]*(?:\d{4}|修订|修正|试行|暂行)[^（）()]*[）)]$", "", key)
    return key[len(_STATE):] if key.startswith(_STATE) else key


def link_versions(documents: Sequence[DocumentMeta]) -> list:
    """``documents`` with ``edition``, ``supersedes`` and ``superseded_by`` set (same type as given).

    A manifest that already sets ``superseded_by`` wins; otherwise the texts of one title are ordered
    by their issue date (the date of the text as it stands), and each is superseded by the next.
    """
    groups: dict[str, list[DocumentMeta]] = {}
    for doc in documents:
        if doc.title:
            groups.setdefault(version_key(doc.title), []).append(doc)
    changes: dict[str, dict] = {}
    for group in groups.values():
        dated = sorted((d for d in group if d.issue_date), key=lambda d: d.issue_date)
        if len({d.issue_date for d in dated}) < 2:
            continue  # one text (or the same date twice: a duplicate, reported by find_clashes)
        for older, newer in zip(dated, dated[1:]):
            if older.issue_date == newer.issue_date:
                continue
            changes.setdefault(older.doc_id, {})["superseded_by"] = older.superseded_by or newer.doc_id
            changes.setdefault(newer.doc_id, {})["supersedes"] = (older.doc_id,)
        for doc in dated:
            changes.setdefault(doc.doc_id, {})["edition"] = doc.edition or edition_name(doc, first=doc is dated[0])
    return [dataclasses.replace(d, **changes[d.doc_id]) if d.doc_id in changes else d for d in documents]


def edition_name(doc: DocumentMeta, *, first: bool) -> str:
    """2025年修订 for a revised text, 2020年 for the first text of a document."""
    year = doc.issue_date[:4]
    kinds = {kind for kind, date in doc.dates if date == doc.issue_date}
    if not first and (kinds & {"修订", "修正"} or not kinds - {"文件名"}):
        return f"{year}年{'修正' if '修正' in kinds and '修订' not in kinds else '修订'}"
    return f"{year}年"


def in_force(doc: DocumentMeta, documents: dict[str, DocumentMeta], today: dt.date) -> bool:
    """Whether ``doc`` is the text that applies on ``today``: not repealed, not past the end it states
    (有效期至…), and not superseded by a text already in effect (a revision takes over on its 施行 date)."""
    if doc.status in REPEALED or expired(doc, today):
        return False
    successor = documents.get(doc.superseded_by) if doc.superseded_by else None
    return successor is None or takes_effect_after(successor, today)


def expired(doc: DocumentMeta, today: dt.date) -> bool:
    """The text's own end of validity (有效期至…, 有效期2年) is past on ``today``."""
    return bool(doc.expiry_date) and dt.date.fromisoformat(doc.expiry_date) < today


def takes_effect_after(doc: DocumentMeta, today: dt.date) -> bool:
    """The document's 施行 date is still to come (尚未施行)."""
    return bool(doc.effective_date) and dt.date.fromisoformat(doc.effective_date) > today


def status_mark(doc: DocumentMeta, documents: dict[str, DocumentMeta], today: dt.date | None = None) -> str:
    """What a citation of ``doc`` adds to its name on ``today`` (default: today): 已被2025年修订版取代,
    已废止, or "" (the text applies; an old text stays unmarked until its revision takes effect)."""
    if doc.status in REPEALED:
        return f"已{doc.status}"
    if expired(doc, today or dt.date.today()):
        end = dt.date.fromisoformat(doc.expiry_date)
        return f"已失效（有效期至{end.year}年{end.month}月{end.day}日）"
    successor = documents.get(doc.superseded_by) if doc.superseded_by else None
    if successor is not None and not takes_effect_after(successor, today or dt.date.today()):
        return f"已被{successor.edition or successor.issue_date[:4] + '年'}版取代"
    return ""


def find_clashes(documents: Sequence[DocumentMeta]) -> list[str]:
    """Messages naming the files that share a 文号, or a title and date, or that have no title of their own."""
    messages = []
    by_number: dict[str, list[DocumentMeta]] = {}
    by_title_date: dict[tuple[str, str], list[DocumentMeta]] = {}
    for doc in documents:
        if doc.doc_number:
            by_number.setdefault(doc.doc_number, []).append(doc)
        if doc.title:
            by_title_date.setdefault((version_key(doc.title), doc.issue_date), []).append(doc)
        if not doc.title or doc.title_from_file:
            messages.append(f"{doc.path}：没有找到文件标题，暂以文件名“{doc.title or doc.doc_id}”作标题"
                            f"（可在 manifest.toml 中填写 title）")
    for number, docs in by_number.items():
        if len(docs) > 1:
            messages.append(f"{'、'.join(d.path for d in docs)}：文号相同（{number}），请确认是否重复或填写 manifest.toml")
    for (title, date), docs in by_title_date.items():
        if len(docs) > 1 and not (len({d.doc_number for d in docs}) == len(docs) and all(d.doc_number for d in docs)):
            when = date or "日期不详"
            messages.append(f"{'、'.join(d.path for d in docs)}：标题和日期相同（{title}，{when}），"
                            f"无法区分版本，请确认是否重复")
    return messages


def relation_text(doc: DocumentMeta, documents: dict[str, DocumentMeta], today: dt.date, *,
                  dates: bool = True) -> str:
    """The document's standing for listings: 现行, 尚未施行, 已被…取代, 已废止, with the versions it relates to.

    Args:
        dates: say from when a text not yet in force applies (answers leave it out: they quote dates).
    """
    parts = []
    mark = status_mark(doc, documents, today)
    if doc.status in REPEALED:
        parts.append(mark)
    elif not in_force(doc, documents, today):
        parts.append(mark)
    elif takes_effect_after(doc, today):
        parts.append(f"尚未施行（{doc.effective_date} 起施行）" if dates else "尚未施行")
    else:
        parts.append("现行")
    older = [documents[d].name for d in doc.supersedes if d in documents]
    if older:
        parts.append(f"取代 {'、'.join(older)}")
    if doc.superseded_by in documents and doc.status not in REPEALED and in_force(doc, documents, today):
        parts.append(f"{documents[doc.superseded_by].name} 施行后被取代")
    return "；".join(parts)
