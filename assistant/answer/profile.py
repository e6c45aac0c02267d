"""Who asks, for policy matching: the profile form's choices (``assistant/data/profile.toml``), a
checked :class:`Profile`, and the profile a self-description question gives."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from ..corpus.measures import Vocabulary
from ..datafiles import read_text
from ..errors import LexiconError, ProfileError
from ..lexicon import MEASURES, PROFILE

OTHER = "其他"  # the industry that names no kind
FIELD_LABELS = {"type": "主体类型", "industry": "行业", "situation": "情况", "need": "需求"}


@dataclass(frozen=True)
class ProfileOptions:
    """The choices of ``assistant/data/profile.toml``, the kinds they are, and their everyday words."""

    types: tuple[str, ...]
    industries: tuple[str, ...]
    situations: tuple[str, ...]
    needs: tuple[str, ...]
    type_kinds: dict[str, tuple[str, ...]]
    loose_kinds: dict[str, tuple[str, ...]]
    words: dict[str, dict[str, tuple[str, ...]]]  # field → choice → words
    self_cues: tuple[str, ...]
    ask_cues: tuple[str, ...]
    not_ask_cues: tuple[str, ...]

    @cached_property
    def readers(self) -> dict[str, tuple[dict[str, str], re.Pattern]]:
        """field → (word → choice, the words longest first): the longest word at a place wins."""
        out = {}
        for name, table in self.words.items():
            choice_of = {w: choice for choice, ws in table.items() for w in ws}
            out[name] = (choice_of, re.compile("|".join(re.escape(w) for w in sorted(choice_of, key=len, reverse=True))))
        return out

    def read_words(self, text: str, prefer: str = "") -> list[tuple[str, str]]:
        """(field, choice) of each everyday word in ``text``: those of field ``prefer`` when it has any, else
        those of the other fields."""
        found = []
        for name in sorted(self.readers, key=lambda n: n != prefer):
            choice_of, pattern = self.readers[name]
            found += [(name, choice_of[m.group(0)]) for m in pattern.finditer(text)]
            if found and name == prefer:
                break
        return list(dict.fromkeys(found))

    @classmethod
    @lru_cache(maxsize=1)
    def load(cls) -> "ProfileOptions":
        """Read ``profile.toml``.

        Raises:
            LexiconError: a need that is no kind of support of ``measures.toml``, or an industry or
                situation that is no beneficiary kind there (a choice no clause could ever match).
        """
        data = tomllib.loads(read_text(PROFILE))
        vocabulary = Vocabulary.load()
        support = {k for kinds in vocabulary.support_kinds.values() for k in kinds}
        beneficiaries = {k for kinds in vocabulary.beneficiary_kinds.values() for k in kinds}
        unknown = ([n for n in data["needs"] if n not in support]
                   + [k for k in [*data["industries"], *data["situations"]] if k not in beneficiaries | {OTHER}])
        if unknown:
            raise LexiconError(f"词表文件 {PROFILE}：{'、'.join(unknown)} 不是 {MEASURES} 中的支持方式或受益主体")
        return cls(
            types=tuple(data["types"]), industries=tuple(data["industries"]),
            situations=tuple(data["situations"]), needs=tuple(data["needs"]),
            type_kinds={k: tuple(v) for k, v in data["type_kinds"].items()},
            loose_kinds={k: tuple(v) for k, v in data["loose_kinds"].items()},
            words={f: {k: tuple(v) for k, v in table.items()} for f, table in data["words"].items()},
            self_cues=tuple(data["cues"]["self"]), ask_cues=tuple(data["cues"]["asks"]),
            not_ask_cues=tuple(data["cues"].get("not_asks", ())),
        )


@dataclass(frozen=True)
class Profile:
    """Who asks: subject type, industry, situations, needs and area (any may be empty)."""

    type: str = ""
    industry: str = ""
    situations: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    region: str = ""

    @classmethod
    def of(cls, type: str = "", industry: str = "", situations=(), needs=(), region: str = "") -> "Profile":
        """A profile checked against the offered choices.

        Raises:
            ProfileError: a value the form does not offer (the message lists the choices).
        """
        options = ProfileOptions.load()
        profile = cls((type or "").strip(), (industry or "").strip(),
                      tuple(dict.fromkeys(s.strip() for s in situations or () if s.strip())),
                      tuple(dict.fromkeys(n.strip() for n in needs or () if n.strip())), (region or "").strip())
        for name, values, allowed in (("主体类型", [profile.type] if profile.type else [], options.types),
                                      ("行业", [profile.industry] if profile.industry else [], options.industries),
                                      ("情况", profile.situations, options.situations),
                                      ("需求", profile.needs, options.needs)):
            wrong = [v for v in values if v not in allowed]
            if wrong:
                raise ProfileError(f"{name}“{'、'.join(wrong)}”不在可选范围内。可选：{'、'.join(allowed)}。")
        return profile

    @classmethod
    def from_words(cls, type: str = "", industry: str = "", situations=(), needs=(), region: str = ""
                   ) -> tuple["Profile", list[str]]:
        """A profile from the choices or the everyday words the chat understands ("外汇", "上市挂牌", "开饭馆的"),
        with a line for each word that became a choice ("“外汇”按“外汇避险”查找"). A word of another field goes
        there ("开饭馆的" given as a type is the industry 餐饮).

        Raises:
            ProfileError: a value that is no choice and holds no word of any (the message lists the choices).
        """
        options = ProfileOptions.load()
        chosen: dict[str, list[str]] = {"type": [], "industry": [], "situation": [], "need": []}
        said: list[str] = []
        given = {"type": [type] if type else [], "industry": [industry] if industry else [],
                 "situation": list(situations or ()), "need": list(needs or ())}
        allowed = {"type": options.types, "industry": options.industries, "situation": options.situations,
                   "need": options.needs}
        for field_name, values in given.items():
            for value in (v.strip() for v in values):
                if not value or value in allowed[field_name]:
                    chosen[field_name] += [value] if value else []
                    continue
                found = options.read_words(value, prefer=field_name)
                if not found:
                    label = FIELD_LABELS[field_name]
                    raise ProfileError(f"{label}“{value}”不在可选范围内，也没有认出其中的说法。"
                                       f"可选：{'、'.join(allowed[field_name])}。")
                for where, choice in found:
                    chosen[where].append(choice)
                said.append(f"“{value}”按" + "、".join(f"{FIELD_LABELS[w]}“{c}”" for w, c in found) + "查找。")
        first = {f: list(dict.fromkeys(v)) for f, v in chosen.items()}
        profile = cls.of(first["type"][0] if first["type"] else "", first["industry"][0] if first["industry"] else "",
                         first["situation"], first["need"], region)
        return profile, said

    @cached_property  # read once per profile: a match asks for them per candidate measure
    def kinds(self) -> frozenset[str]:
        """The beneficiary kinds the profile is: by type, industry and situations."""
        options = ProfileOptions.load()
        return frozenset(options.type_kinds.get(self.type, ()) + (self.industry,) + self.situations) - {""}

    @cached_property
    def loose_kinds(self) -> frozenset[str]:
        return frozenset(ProfileOptions.load().loose_kinds.get(self.type, ()))

    @property
    def empty(self) -> bool:
        return not (self.type or self.industry or self.situations or self.needs)

    def describe(self) -> str:
        """The profile in words: 个体工商户、餐饮、首贷；需求：贷款."""
        who = "、".join([v for v in (self.type, self.industry) if v] + list(self.situations))
        needs = f"需求：{'、'.join(self.needs)}" if self.needs else ""
        return "；".join(p for p in (who, needs) if p) or "未填写"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "industry": self.industry, "situations": list(self.situations),
                "needs": list(self.needs), "region": self.region}


def read_profile(question: str) -> Profile | None:
    """The profile a self-description question gives ("我是开饭馆的个体户，第一次贷款，能享受哪些政策？"),
    or None when the question does not describe its asker and ask what applies to them."""
    options = ProfileOptions.load()
    if (not any(c in question for c in options.self_cues) or not any(c in question for c in options.ask_cues)
            or any(c in question for c in options.not_ask_cues)):
        return None

    def found(field_name: str) -> list[str]:
        choice_of, pattern = options.readers[field_name]
        return list(dict.fromkeys(choice_of[m.group(0)] for m in pattern.finditer(question)))

    types, industries = found("type"), found("industry")  # the first named, if several
    profile = Profile(type=types[0] if types else "", industry=industries[0] if industries else "",
                      situations=tuple(found("situation")), needs=tuple(found("need")))
    return None if profile.empty else profile
