"""Which documents a question names: by title, short name, 文号, alias ("6号文"), or a shortened title.

Users rarely type a full title: they say 中小企业促进法, 融资担保条例 for 融资担保公司监督管理条例,
款项支付条例, 84号文. A shortened name counts when its characters occur in order in one document's
title and it ends with the title's kind word (条例, 法, 办法 …), so it cannot be an everyday phrase. A
name in 《…》 or a 文号 that matches no document is reported, so the answer can say the document is
not in the corpus instead of answering from others.

Also here, because they too are facts about the corpus's documents that questions are matched
against: how local a level is (:func:`locality`), and where a document states its 施行 and 印发 dates (:func:`dated_clauses`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import grammar
from ..corpus.metadata import EFFECTIVE
from ..corpus.versions import version_key
from ..models import Clause, DocumentMeta, Reference
from ..regions import Regions
from .text import normalize

# How titles of laws, regulations and 公文 end: a shortened name must end the same way.
_KIND = r"(?:条例|法|办法|规定|细则|意见|通知|方案|措施|决定)"
# A run of characters ending with a kind word: a candidate shortened name (its tail is tried first).
_SHORTENED = re.compile(rf"[\u4e00-\u9fa5]{{1,24}}?{_KIND}")
_BRACKETED = re.compile(r"《([^《》]{2,60})》")
# A title in plain text: what laws and regulations are called (办法 only with a word that makes it one:
# "有什么办法" is everyday speech).
_PLAIN_TITLE = re.compile(r"[\u4e00-\u9fa5]{1,24}?(?:法典|条例|(?:管理|实施|暂行|监管|试行)办法|实施细则)")
# Words before a plain title that are not part of it (现行款项支付条例, 按融资担保条例, 国家条例).
_NOT_TITLE = re.compile(r"^(?:请问|问一下|按照?|根据|依照|依据|关于|对于?|在|和|与|及|的|这个|这部|该|本|此|原来?的?|老|新|旧|"
                        r"现行的?|现在的|以前的|修订[后前]的?|国家|地方|相关|有关|省里|州里|市里|政府)+")
# Shortened names shorter than this are too vague (促进法, 支付条例).
MIN_SHORTENED = 5


@dataclass(frozen=True)
class Named:
    """What a question names: documents in the corpus, and a document that is not in it."""

    doc_ids: tuple[str, ...] = ()
    matched: tuple[str, ...] = ()  # the names as written
    missing: str = ""  # 《…》 title or 文号 named in the question that no corpus document has
    # The missing name was read from plain text (民法典, 融资再担保公司管理办法), not from 《》 or a 文号:
    # an area the question also names (河南的实施办法) may still identify a document.
    guessed: bool = False
    # Each name as written with the documents it names, in order of mention (a comparison's sides).
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()


NOTHING_NAMED = Named()


def without_names(text: str, names: tuple[str, ...]) -> str:
    """``text`` (normalized) with the document names a question used taken out, its other words as written
    (的 included): what is left says what is asked of the document ("6号文第九条" → "第九条")."""
    norm = text
    # The characters a name key keeps, with their places in the text: a name is found in the key and cut
    # from the text, together with the 《》 and 的 inside it.
    tokens = list(re.finditer(r"中华人民共和国|.", norm, re.S))
    kept = [(m.group(0), m.start()) for m in tokens if not _KEY_SKIPPED.fullmatch(m.group(0))]
    skipped = [False] * len(norm)  # 《》, spaces and 中华人民共和国: cut along with a name they touch
    for m in tokens:
        if _KEY_SKIPPED.fullmatch(m.group(0)) and m.group(0) != "的":
            skipped[m.start():m.end()] = [True] * (m.end() - m.start())
    key = "".join(ch for ch, _ in kept)
    cut = [False] * len(norm)
    for name in names:
        at = key.find(name)
        while name and at >= 0:
            lo, hi = kept[at][1], kept[at + len(name) - 1][1] + 1
            while lo > 0 and skipped[lo - 1]:
                lo -= 1
            while hi < len(norm) and skipped[hi]:
                hi += 1
            cut[lo:hi] = [True] * (hi - lo)
            at = key.find(name, at + len(name))
    out = re.sub(r"\x00+", " ", "".join("\x00" if gone else ch for ch, gone in zip(norm, cut)))
    return re.sub(r"^[\s《》的]+|[\s《》]+$", "", out)


_KEY_SKIPPED = re.compile(r"[《》\s的]|中华人民共和国")


def name_key(text: str) -> str:
    """A name as compared: normalized (simplified, half-width), without 《》, 的 and 中华人民共和国, so
    "河南省实施中小企业促进法的办法" names 河南省实施《中华人民共和国中小企业促进法》办法."""
    return _KEY_SKIPPED.sub("", normalize(text))


class DocumentNames:
    """Every name of every document of an index, and the question parts that name them."""

    def __init__(self, documents: dict[str, DocumentMeta], references: list[Reference] | tuple = ()):
        self.documents = documents
        names: dict[str, set[str]] = {}
        for doc in documents.values():
            for name in (doc.title, doc.short_name, doc.doc_number, *doc.aliases, version_key(doc.title),
                         _spoken_number(doc.doc_number)):
                key = name_key(name)
                if len(key) >= 3:
                    names.setdefault(key, set()).add(doc.doc_id)
        # Longest first, so 河南省实施中小企业促进法办法 wins over the 中小企业促进法 inside it.
        self._names = sorted(names.items(), key=lambda item: -len(item[0]))
        # By first character, so a question is compared with the few names it could contain (thousands of
        # documents have tens of thousands of names).
        self._by_first: dict[str, list[tuple[str, set[str]]]] = {}
        for name, doc_ids in self._names:
            self._by_first.setdefault(name[0], []).append((name, doc_ids))
        self._titles = {doc.doc_id: name_key(version_key(doc.title)) for doc in documents.values() if doc.title}
        # By their last two characters: a shortened name ends like its title (…条例).
        self._by_ending: dict[str, dict[str, str]] = {}
        for doc_id, title in self._titles.items():
            self._by_ending.setdefault(title[-2:], {})[doc_id] = title
        # Documents the corpus cites but does not hold (甘政办发〔2022〕101号), by 文号 and by title.
        self._absent = {name_key(n): ref.doc_number or f"《{ref.title}》" for ref in references if not ref.in_corpus
                        for n in (ref.doc_number, ref.title) if len(name_key(n)) >= 3}

    def named(self, question: str) -> Named:
        """The documents ``question`` (normalized: :attr:`Query.normalized`) names (all versions of a named
        document), and a missing one."""
        q = _KEY_SKIPPED.sub("", question)
        absent = next((shown for name, shown in self._absent.items() if name in q), "")
        if absent:
            return Named(missing=absent)
        rest = q
        groups: list[tuple[int, str, tuple[str, ...]]] = []
        candidates = sorted((item for ch in set(q) for item in self._by_first.get(ch, ())), key=lambda i: (-len(i[0]), i[0]))
        for name, doc_ids in candidates:
            pos = rest.find(name)
            if pos < 0:
                continue
            groups.append((pos, name, tuple(sorted(doc_ids))))
            rest = rest[:pos] + "\0" * len(name) + rest[pos + len(name):]
        for m in _SHORTENED.finditer(rest):
            hit = self._shortened(m.group(0))
            if hit:
                groups.append((m.start(), hit[0], tuple(hit[1])))
        found = list(dict.fromkeys(d for _, _, doc_ids in groups for d in doc_ids))
        missing, guessed = ("", False) if found else self._missing(question)
        ordered = tuple((name, doc_ids) for _, name, doc_ids in sorted(groups, key=lambda g: g[0]))
        return Named(tuple(found), tuple(name for _, name, _ in groups), missing, guessed, ordered)

    def _shortened(self, run: str) -> tuple[str, list[str]] | None:
        """The longest tail of ``run`` whose characters occur in order in exactly one title (all the
        versions of one document count as one)."""
        titles = self._by_ending.get(run[-2:], {})
        for start in range(len(run) - MIN_SHORTENED + 1):
            tail = run[start:]
            docs = [d for d, title in titles.items() if _in_order(tail, title)]
            if docs and len({titles[d] for d in docs}) == 1:
                # A place named just before it that the title does not share: 江苏省中小企业促进条例 is
                # not 浙江省民营企业发展促进条例.
                places = Regions.load().mentioned(run[:start])
                if any(name not in self._titles[docs[0]] for name, _ in places):
                    return None
                return tail, sorted(docs)
        return None

    def _missing(self, question: str) -> tuple[str, bool]:
        """(a 《title》, 文号 or plain-text title in ``question`` that names no corpus document, whether it
        was read from plain text)."""
        for m in _BRACKETED.finditer(question):
            title = name_key(m.group(1))
            if not self._known(title):
                return f"《{m.group(1)}》", False
        for m in grammar.DOC_NUMBER.finditer(question):
            number = grammar.doc_number(m.group(0))
            if not any(name_key(number) == name for name, _ in self._names):
                return number, False
        for m in _PLAIN_TITLE.finditer(_KEY_SKIPPED.sub("", question)):
            title = _NOT_TITLE.sub("", m.group(0))
            kind = re.search(r"(?:法典|条例|办法|实施细则)$", title)
            if kind and kind.start() >= 1 and not self._known(title) and not _generic(title[:kind.start()]):
                return f"《{title}》", True
        return "", False

    def fits(self, short: str, doc_ids: tuple[str, ...]) -> bool:
        """``short`` (实施办法) may name one of ``doc_ids``: its characters occur in order in the title."""
        return bool(short) and any(_in_order(short, self._titles.get(d, "")) for d in doc_ids)

    def _known(self, title: str) -> bool:
        return any(title == name or name in title for name, _ in self._names) or bool(self._shortened(title))


# What a generic reference to a document says besides its kind: who issued it, where, which version (国务院的条例,
# 浙江条例, 新版条例, 省里的办法). It names no document, so it is never "a document the corpus lacks".
_GENERIC_WORDS = re.compile(r"(?:听说|有个|有一个|有部|一个|某个|国家|国务院|中央|全国|省里?|州里?|市里?|县里?|地方|当地|本地|政府|人民政府|人大|部门|"
                            r"新|旧|老|原|前|后|年|版本?|现行|最新|修订|修改|那个|这个|相关|有关|\d{4}年?|[〇○零一二三四五六七八九]{4}年?)*")


def _generic(head: str) -> bool:
    """``head`` (a plain title without its kind word) names no particular document: only issuers, places,
    levels and versions (国务院, 浙江, 新版)."""
    rest = head
    for name, _ in Regions.load().mentioned(head):
        rest = rest.replace(name, "")
    return _GENERIC_WORDS.fullmatch(rest) is not None


_DOC_NUMBER_PARTS = re.compile(r"^([\u4e00-\u9fa5]+)[〔\[［(（【]\s*\d{4}\s*[〕\]］)）】]\s*(\d{1,4})\s*号$")


def _spoken_number(doc_number: str) -> str:
    """How a 文号 is said aloud, issuer and serial without the year: 国办发〔2019〕6号 → 国办发6号文."""
    m = _DOC_NUMBER_PARTS.match(doc_number.strip())
    return f"{m.group(1)}{m.group(2)}号文" if m else ""


def dated_clauses(clauses: list[Clause]) -> dict[str, tuple[Clause, int, int]]:
    """Where a document states its dates outside the preamble, as (clause, start, end) of the words:
    "施行" → 本法自2018年1月1日起施行 (often the last article), "印发" → a 公文's signature date line."""
    found: dict[str, tuple[Clause, int, int]] = {}
    for clause in reversed(clauses):
        if clause.number == "0":
            continue
        m = EFFECTIVE.search(clause.text)
        if m and "施行" not in found:
            found["施行"] = (clause, m.start(), m.end())
        for line in re.finditer(r"^[^\S\n]*(\S[^\n]{0,19})$", clause.text, re.M):
            if "印发" not in found and grammar.FULL_DATE.fullmatch(line.group(1).strip()):
                found["印发"] = (clause, line.start(1), line.start(1) + len(line.group(1).strip()))
    return found


# How local a level is: among equally relevant clauses the more local rule comes first, because it
# implements the higher ones for its area (and is the more specific of them).
LEVEL_RANK = {"国家": 0, "省": 1, "市": 2, "州": 2, "县": 3}
MAX_RANK = max(LEVEL_RANK.values())


def locality(doc: DocumentMeta | None) -> int:
    """0 (national or unknown) … 3 (county): the document's level as a rank."""
    return LEVEL_RANK.get(doc.level, 0) if doc is not None else 0


def _in_order(short: str, title: str) -> bool:
    """Every character of ``short`` occurs in ``title`` in the same order, and both end alike."""
    if not title.endswith(short[-2:]) or len(short) > len(title):
        return False
    chars = iter(title)
    return all(ch in chars for ch in short)
