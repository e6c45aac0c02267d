"""Who asks, for policy matching: the profile form's choices (``assistant/data/profile.toml``), a
checked :class:`Profile`, and the profile a self-description question gives."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .. import grammar
from ..corpus.measures import Vocabulary
from ..errors import ProfileError
from ..lexicon import MEASURES, PROFILE, DataFiles

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
        text = grammar.joined_words(text)
        for name in sorted(self.readers, key=lambda n: n != prefer):
            choice_of, pattern = self.readers[name]
            found += [(name, choice_of[m.group(0)]) for m in pattern.finditer(text)]
            if found and name == prefer:
                break
        return list(dict.fromkeys(found))

    @classmethod
    def load(cls, directory: Path | None = None) -> "ProfileOptions":
        """Read and check ``profile.toml``; a deployment's own in ``directory`` (POLICY_LEXICON_DIR) replaces
        the package's. Loaded once per assistant, and passed on.

        Raises:
            LexiconError: a missing or malformed table or list (naming the file and line), a need that is no
                kind of support of ``measures.toml``, or an industry or situation that is no beneficiary kind
                there (a choice no clause could ever match).
        """
        files = DataFiles(directory)
        data = files.toml(PROFILE)
        vocabulary = Vocabulary.load(directory)
        support = {k for kinds in vocabulary.support_kinds.values() for k in kinds}
        beneficiaries = {k for kinds in vocabulary.beneficiary_kinds.values() for k in kinds}
        choices = {key: files.words(PROFILE, data, key) for key in ("types", "industries", "situations", "needs")}
        for key, known in (("needs", support), ("industries", beneficiaries | {OTHER}),
                           ("situations", beneficiaries)):
            unknown = [k for k in choices[key] if k not in known]
            if unknown:
                raise files.error(PROFILE, files.line_of(PROFILE, key),
                                  f"{'、'.join(unknown)} 不是 {MEASURES} 中的支持方式或受益主体")
        words = files.table(PROFILE, data, "words")
        cues = files.table(PROFILE, data, "cues")
        return cls(
            types=choices["types"], industries=choices["industries"],
            situations=choices["situations"], needs=choices["needs"],
            type_kinds=files.word_table(PROFILE, data, "type_kinds"),
            loose_kinds=files.word_table(PROFILE, data, "loose_kinds"),
            words={f: files.word_table(PROFILE, words, f) for f in words},
            self_cues=files.words(PROFILE, cues, "self"), ask_cues=files.words(PROFILE, cues, "asks"),
            not_ask_cues=files.words(PROFILE, cues, "not_asks", optional=True),
        )

    def profile(self, type: str = "", industry: str = "", situations=(), needs=(), region: str = "") -> "Profile":
        """A profile checked against these choices, with the kinds it is.

        Raises:
            ProfileError: a value the form does not offer (the message lists the choices).
        """
        profile = Profile((type or "").strip(), (industry or "").strip(),
                          tuple(dict.fromkeys(s.strip() for s in situations or () if s.strip())),
                          tuple(dict.fromkeys(n.strip() for n in needs or () if n.strip())), (region or "").strip())
        for name, values, allowed in (("主体类型", [profile.type] if profile.type else [], self.types),
                                      ("行业", [profile.industry] if profile.industry else [], self.industries),
                                      ("情况", profile.situations, self.situations),
                                      ("需求", profile.needs, self.needs)):
            wrong = [v for v in values if v not in allowed]
            if wrong:
                raise ProfileError(f"{name}“{'、'.join(wrong)}”不在可选范围内。可选：{'、'.join(allowed)}。")
        return self.with_kinds(profile)

    def with_kinds(self, profile: "Profile") -> "Profile":
        """``profile`` with the beneficiary kinds it is by these choices: by type, industry and situations, and
        the kinds a type may loosely be (a 个体工商户 may count as a 小微企业)."""
        kinds = frozenset(self.type_kinds.get(profile.type, ()) + (profile.industry,) + profile.situations) - {""}
        return dataclasses.replace(profile, kinds=kinds, loose_kinds=frozenset(self.loose_kinds.get(profile.type, ())))

    def from_words(self, type: str = "", industry: str = "", situations=(), needs=(), region: str = ""
                   ) -> tuple["Profile", list[str]]:
        """A profile from the choices or the everyday words the chat understands ("外汇", "上市挂牌", "开饭馆的"),
        with a line for each word that became a choice ("“外汇”按“外汇避险”查找"). A word of another field goes
        there ("开饭馆的" given as a type is the industry 餐饮).

        Raises:
            ProfileError: a value that is no choice and holds no word of any (the message lists the choices).
        """
        chosen: dict[str, list[str]] = {"type": [], "industry": [], "situation": [], "need": []}
        said: list[str] = []
        given = {"type": [type] if type else [], "industry": [industry] if industry else [],
                 "situation": list(situations or ()), "need": list(needs or ())}
        allowed = {"type": self.types, "industry": self.industries, "situation": self.situations, "need": self.needs}
        for field_name, values in given.items():
            for value in (v.strip() for v in values):
                if not value or value in allowed[field_name]:
                    chosen[field_name] += [value] if value else []
                    continue
                found = self.read_words(value, prefer=field_name)
                if not found:
                    label = FIELD_LABELS[field_name]
                    raise ProfileError(f"{label}“{value}”不在可选范围内，也没有认出其中的说法。"
                                       f"可选：{'、'.join(allowed[field_name])}。")
                for where, choice in found:
                    chosen[where].append(choice)
                said.append(f"“{value}”按" + "、".join(f"{FIELD_LABELS[w]}“{c}”" for w, c in found) + "查找。")
        first = {f: list(dict.fromkeys(v)) for f, v in chosen.items()}
        profile = self.profile(first["type"][0] if first["type"] else "",
                               first["industry"][0] if first["industry"] else "",
                               first["situation"], first["need"], region)
        return profile, said

    def read(self, question: str) -> "Profile | None":
        """The profile a self-description question gives ("我是开饭馆的个体户，第一次贷款，能享受哪些政策？"),
        or None when the question does not describe its asker and ask what applies to them."""
        if (not any(c in question for c in self.self_cues) or not any(c in question for c in self.ask_cues)
                or any(c in question for c in self.not_ask_cues)):
            return None

        question = grammar.joined_words(question)

        def found(field_name: str) -> list[str]:
            choice_of, pattern = self.readers[field_name]
            return list(dict.fromkeys(choice_of[m.group(0)] for m in pattern.finditer(question)))

        types, industries = found("type"), found("industry")  # the first named, if several
        profile = Profile(type=types[0] if types else "", industry=industries[0] if industries else "",
                          situations=tuple(found("situation")), needs=tuple(found("need")))
        return None if profile.empty else self.with_kinds(profile)


@dataclass(frozen=True)
class Profile:
    """Who asks: subject type, industry, situations, needs and area (any may be empty), and the beneficiary
    kinds that makes them (filled by :class:`ProfileOptions`, which checked the choices)."""

    type: str = ""
    industry: str = ""
    situations: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    region: str = ""
    kinds: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    loose_kinds: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @classmethod
    def of(cls, type: str = "", industry: str = "", situations=(), needs=(), region: str = "") -> "Profile":
        """A profile checked against the package's choices (a deployment's own: ``Assistant.profile_options``).

        Raises:
            ProfileError: a value the form does not offer (the message lists the choices).
        """
        return ProfileOptions.load().profile(type, industry, situations, needs, region)

    @classmethod
    def from_words(cls, type: str = "", industry: str = "", situations=(), needs=(), region: str = ""
                   ) -> tuple["Profile", list[str]]:
        """:meth:`ProfileOptions.from_words` with the package's choices."""
        return ProfileOptions.load().from_words(type, industry, situations, needs, region)

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


def read_profile(question: str, options: ProfileOptions | None = None) -> Profile | None:
    """:meth:`ProfileOptions.read` with ``options`` (None: the package's)."""
    return (options or ProfileOptions.load()).read(question)
