"""What a clause offers, for policy matching: who benefits, what they get, on what condition.

Read from the clause text when the index is built, with the vocabulary of
``assistant/data/measures.toml``; docs/matching.md says what the kinds mean. Everything kept is
verbatim from the text (conditions, figures, the granting sentence), so a match never claims what
the clause does not say.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from pathlib import Path

from .. import grammar
from ..lexicon import MEASURES, DataFiles
from ..models import BACKGROUND, CHANNEL, CLAIM, Measure, Result, SubMeasure, Support

GENERAL = "中小微企业"  # the beneficiary kind of a measure for SMEs at large (中小企业, 民营企业, 市场主体 …)
_SEGMENT = re.compile(r"[^，；,;]+")
_BAN = re.compile(r"不得|禁止|严禁")
# Marks that end the noun phrase a qualifier can reach: "受疫情影响的中小微企业" is qualified,
# "小微企业、中小企业" is not.
_PHRASE_BREAK = re.compile(r"[，。；：、,;:\n和及与或]")
# An industry named right before a general word (新兴产业中小微企业, 文化旅游行业中小企业), not all of them (各行业).
_INDUSTRY_BEFORE = re.compile(r"(?<![各全多每])(?:产业|行业)$")
# A figure's qualifier printed before it: 最高300万元, 不高于1%, 按已支付利息的50%.
_QUALIFIER = re.compile(r"(?:最高(?:额度|限额|金额)?|最多|最低|不超过|不高于|不低于|不少于|高于|低于|至少|上限|下限|按[^，。；：]{1,12}?的)"
                        r"(?:为|达|可达|给予)?$")


def _words(table: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """word → the kinds it names (a word may name several)."""
    out: dict[str, list[str]] = {}
    for kind, words in table.items():
        for word in words:
            out.setdefault(word, []).append(kind)
    return out


def _pattern(words) -> re.Pattern:
    # Longest first, so 中小微企业 is one match and not 小微企业 inside it.
    return re.compile("|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)))


@dataclass(frozen=True)
class Vocabulary:
    """The words of ``measures.toml``, compiled once."""

    beneficiary_kinds: dict[str, tuple[str, ...]]
    beneficiaries: re.Pattern
    support_kinds: dict[str, tuple[str, ...]]  # (): a word that only looks like support (社会保险)
    support: re.Pattern
    support_phrases: tuple[tuple[re.Pattern, tuple[str, ...]], ...]  # support said in a phrase: 提供…指导和服务
    conditions: tuple[re.Pattern, ...]
    internal_section: re.Pattern
    internal_heading: re.Pattern
    internal_body: re.Pattern
    grant: re.Pattern
    protections: frozenset[str]  # kinds of support a ban grants
    channel: re.Pattern  # a sentence offering a way to support (平台, 名单, 绿色通道): 可以利用
    background: re.Pattern  # agencies' own work in a sentence (机制, 计划, 考核): 政策背景
    services: frozenset[str]  # kinds of support that are a service to use, not a benefit to claim
    urging: frozenset[str]  # grant words that only urge (鼓励, 引导): not weighed against agencies' own work
    generic: frozenset[str]  # support words too general to claim anything by (金融产品和服务)
    recipient: re.Pattern  # a beneficiary given something: 为中小企业提供…, 对50万元以下个体工商户免收…
    provider_end: re.Pattern  # how a sentence's subject ends when it is an organization
    urged_actor: re.Pattern  # the institutions a government urges to act (国家鼓励各类创新服务机构为…)
    lead_words: dict[str, tuple[str, ...]]  # kind of support → words of the 责任单位 that provides it

    @classmethod
    def load(cls, directory: Path | None = None) -> "Vocabulary":
        """Read and check ``measures.toml``; a deployment's own in ``directory`` (POLICY_LEXICON_DIR) replaces
        the package's. Loaded once per index build and per assistant, and passed on.

        Raises:
            LexiconError: a missing or malformed table, list or pattern, naming the file and line.
        """
        files = DataFiles(directory)
        data = files.toml(MEASURES)
        kinds = _words(files.word_table(MEASURES, data, "beneficiaries"))
        for word, extra in files.word_table(MEASURES, data, "beneficiaries_also", optional=True).items():
            kinds.setdefault(word, []).extend(k for k in extra if k not in kinds[word])
        support = {w: tuple(k) for w, k in _words(files.word_table(MEASURES, data, "support")).items()}  # 担保贷款: 贷款 and 担保
        for words in files.word_table(MEASURES, data, "support_not", optional=True).values():
            support.update({word: () for word in words})
        addressee, result = files.table(MEASURES, data, "addressee"), files.table(MEASURES, data, "result")
        said = {key: files.words(MEASURES, addressee, key) for key in
                ("internal_section", "internal_heading", "internal_body", "grant", "protections")}
        said |= {key: files.words(MEASURES, result, key) for key in
                 ("channel", "background", "services", "urging", "generic", "gives", "provider_ends")}
        patterns = files.words(MEASURES, files.table(MEASURES, data, "conditions"), "patterns")
        organization = _pattern(said["provider_ends"]).pattern  # how a provider's name ends
        return cls(
            beneficiary_kinds={w: tuple(k) for w, k in kinds.items()},
            beneficiaries=_pattern(kinds),
            support_kinds=support,
            support=_pattern(support),
            support_phrases=tuple(
                (files.pattern(MEASURES, files.line_of(MEASURES, "support_phrases"), phrase), (kind,))
                for kind, phrases in files.word_table(MEASURES, data, "support_phrases", optional=True).items()
                for phrase in phrases),
            conditions=tuple(files.pattern(MEASURES, files.line_of(MEASURES, "patterns"), p) for p in patterns),
            internal_section=_pattern(said["internal_section"]),
            internal_heading=_pattern(said["internal_heading"]),
            internal_body=_pattern(said["internal_body"]),
            grant=_pattern(said["grant"]),
            protections=frozenset(said["protections"]),
            channel=_pattern(said["channel"]),
            background=_pattern(said["background"]),
            services=frozenset(said["services"]),
            urging=frozenset(said["urging"]),
            generic=frozenset(said["generic"]),
            recipient=re.compile(f"(?:为|向|对)[^，。；]{{0,10}}?(?:{_pattern(kinds).pattern})[^，。；]{{0,12}}?"
                                 f"(?:{_pattern(said['gives']).pattern})"),
            provider_end=re.compile(f"(?:{organization})$"),
            urged_actor=re.compile(f"{_URGER}([^，。；“”]{{1,24}}?(?:{organization})){_URGED_VERB}"),
            lead_words=files.word_table(MEASURES, data, "lead"),
        )


def _kinds_of(word: str, v: Vocabulary) -> tuple[str, ...]:
    """The kinds of support a word or phrase that ``_granted_words`` found names."""
    kinds = v.support_kinds.get(word)
    if kinds is not None:
        return kinds
    return next((k for pattern, k in v.support_phrases if pattern.fullmatch(word)), ())


def read_measure(text: str, body: tuple[int, int], *, title: str = "", section: str = "", preamble: bool = False,
                 units: tuple[str, ...] = (), vocabulary: Vocabulary | None = None) -> Measure:
    """The :class:`Measure` of a clause: ``text`` is the clause, ``body`` its span without the marker
    and the 责任单位 note, ``title`` its own heading, ``section`` the chapter or part it stands in, ``units``
    its 责任单位 (whom to ask about a sentence that names no provider); ``vocabulary`` is the loaded
    ``measures.toml`` (None: the package's, loaded for this call)."""
    v = vocabulary or Vocabulary.load()
    body_text = text[body[0]:body[1]]
    beneficiaries = _beneficiaries(body_text, v)
    support = _support(body_text, v)
    kinds = [s.kind for s in support]
    # A clause that names no kind of enterprise grants nothing an enterprise could claim: it rules
    # banks', guarantors' or agencies' own work (再担保费率, 资本补充, 审慎经营).
    # Agencies' own work named beside a grant to a beneficiary (通过宣传资料等形式，为创业人员免费提供咨询) does not
    # outweigh it: the sentence reader's rule too.
    gives = v.recipient.search(body_text) is not None
    internal = (preamble or not kinds or not beneficiaries
                or (_internal(body_text, v, bool(set(kinds) & v.protections)) and not gives)
                or v.internal_heading.search(re.sub(r"\s+", "", title)) is not None
                or v.internal_section.search(re.sub(r"\s+", "", section)) is not None)
    if internal:
        return Measure(addressee="internal")
    conditions = tuple(_conditions(body_text, v))
    # A figure inside a condition is a threshold to check (单户授信1000万元以下), not what is granted.
    support = [Support(s.kind, tuple(f for f in s.figures if not any(f in c for c in conditions))) for s in support]
    return Measure(addressee="enterprise", beneficiaries=tuple(beneficiaries), support=tuple(support),
                   conditions=conditions, benefit=_benefit(body_text, v),
                   sub_measures=sub_measures(body_text, v, conditions, units))


def sub_measures(body: str, v: Vocabulary, conditions: tuple[str, ...], units: tuple[str, ...]
                 ) -> tuple[SubMeasure, ...]:
    """The sentences of a measure's body that grant some support, each with what it names itself.

    The clause's opening title sentence ("用好财政贴息政策。") is not one of them."""
    sentences = [m.group(0).strip() for m in grammar.SENTENCE.finditer(body) if m.group(0).strip()]
    found: list[SubMeasure] = []
    for i, sentence in enumerate(sentences):
        if i == 0 and len(sentences) > 1 and grammar.TITLE_SENTENCE.fullmatch(sentence) and len(sentence) <= 20:
            continue
        words = _granted_words(sentence, v)
        kinds = tuple(dict.fromkeys(k for w in words for k in _kinds_of(w, v)))
        if not kinds:
            continue
        stated = tuple(c for c in conditions if c in sentence)
        figures = tuple(f for f in _figures(sentence) if not any(f in c for c in stated))
        lead = _lead(sentence, kinds, units, v)
        if _DETAIL.match(sentence) and found and found[-1].text == sentences[i - 1]:
            lead = found[-1].lead or lead
        found.append(SubMeasure(text=sentence, result=_result(sentence, words, kinds, figures, v),
                                beneficiaries=_for_whom(sentence, v), support=kinds, figures=figures,
                                conditions=stated, lead=lead))
    return tuple(found)


def _for_whom(sentence: str, v: Vocabulary) -> tuple[str, ...]:
    """The kinds a sentence names as beneficiaries. Support named by a kind itself (进出口信贷, 出口信用保险) is
    for that kind only: SMEs at large named elsewhere in the sentence (", 支持中小企业开拓境外市场") are whom
    it serves through them, not who else may ask; in the same list (中小微企业和个体工商户、货车司机贷款) they
    stay."""
    named = _beneficiaries(sentence, v)
    supports = {m.start() for m in v.support.finditer(sentence)}
    qualifying = [m for m in v.beneficiaries.finditer(sentence)
                  if m.end() in supports and v.beneficiary_kinds[m.group(0)] != (GENERAL,)]
    if not qualifying or GENERAL not in named:
        return tuple(named)
    segments = [m.span() for m in _SEGMENT.finditer(sentence)]
    own = {i for i, (a, b) in enumerate(segments) for q in qualifying if a <= q.start() < b}
    general_elsewhere = all(i not in own for i, (a, b) in enumerate(segments)
                            for m in v.beneficiaries.finditer(sentence, a, b)
                            if v.beneficiary_kinds[m.group(0)] == (GENERAL,))
    return tuple(k for k in named if k != GENERAL) if general_elsewhere else tuple(named)


def _figures(sentence: str) -> list[str]:
    """The figures of one sentence, each with the qualifier printed before it (最高300万元, 不高于1%)."""
    shown = []
    for m in grammar.FIGURE.finditer(sentence):
        qualifier = _QUALIFIER.search(sentence, max(0, m.start() - 16), m.start())
        shown.append(sentence[qualifier.start() if qualifier else m.start():m.end()])
    return list(dict.fromkeys(shown))


def _result(sentence: str, words: list[str], kinds: tuple[str, ...], figures: tuple[str, ...], v: Vocabulary
            ) -> Result:
    """What a sentence granting ``kinds`` (by its support ``words``) is to an owner. One that states figures (不高于1%, 最高300万元) is
    concrete: a benefit to claim. One naming a way to support (平台, 名单, 绿色通道) is 可以利用. Else agencies'
    own work (建立机制, 信贷投放计划) as often as the grant words that do more than urge, or more, is 政策背景,
    unless a beneficiary is given something (为中小企业提供…); a service alone is 可以利用; else a benefit to
    claim."""
    if figures:
        return CLAIM
    if v.channel.search(sentence):
        return CHANNEL
    if all(word in v.generic for word in words):
        return BACKGROUND  # 国家鼓励各类金融机构开发和提供适合中小企业特点的金融产品和服务: nothing in particular
    grants = sum(1 for word in v.grant.findall(sentence) if word not in v.urging)
    own_work = len(v.background.findall(sentence)) + len(v.internal_body.findall(sentence))
    if own_work and own_work >= grants and not v.recipient.search(sentence):
        return BACKGROUND
    return CHANNEL if set(kinds) <= v.services else CLAIM


# What may stand between a sentence's subject and its verb: 政府性融资担保机构要…, 各银行业金融机构应当…; a
# subject may list several (各级政府性融资担保、再担保机构要…).
_SUBJECT = re.compile(r"^(?:对|为|在)?([^，。；：“”（）()]{2,24}?)(?:要|应当|应|将|可以|可|须|必须|负责|积极|进一步|加大|提供|给予)")


_URGED = re.compile(r"^(?:引导|鼓励|支持|推动|督促|指导|要求|组织|积极|进一步)+")
# A government that urges institutions to act (国家推动保险机构开展…, 鼓励、引导、支持商业银行等金融机构增加…): the
# institutions, up to the first word that ends like an organization (各类创新服务机构为…: not 各类 before 创新).
_URGER = r"^(?:国家|国务院|[^，。；]{0,12}?人民政府)?(?:[、和]?(?:鼓励|引导|推动|支持|督促|指导))+"
_URGED_VERB = r"(?:等)?(?:为|向|对|开发|提供|开展|加大|增加|创新|降低|在|通过|积极|与|创造|建立|加强|开放)"
# A sentence that details the one before it (其中，对单户500万元及以下的…) is that one's provider's.
_DETAIL = re.compile(r"^其中")


def _lead(sentence: str, kinds: tuple[str, ...], units: tuple[str, ...], v: Vocabulary) -> str:
    """Whom to ask about a sentence: the institutions a government urges in it (国家推动保险机构开展…), else the
    organization it makes its subject (政府性融资担保机构要…), else the clause's 责任单位 whose name says it
    provides the most particular kind of support it grants (州财政局 for 贴息), else ""."""
    for segment in _SEGMENT.findall(sentence):  # 国家鼓励各类金融机构开发…: the institutions urged are the ones to ask
        urged = v.urged_actor.match(segment)
        if urged:
            return urged.group(1)
    subject = _SUBJECT.match(sentence)
    if subject and not subject.group(0).startswith(("对", "为", "在")):
        actor = _URGED.sub("", subject.group(1))  # 引导辖内金融机构…: the institutions urged are the ones to ask
        if v.provider_end.search(actor) and len(actor) >= 2:
            return actor
    for kind in (k for k in v.lead_words if k in kinds):  # the most particular kind first (measures.toml)
        for word in v.lead_words[kind]:
            unit = next((u for u in units if word in u), None)
            if unit:
                return unit
    return ""


def _beneficiaries(body: str, v: Vocabulary) -> list[str]:
    """The kinds named, in order; a general word qualified by a narrower kind in its phrase does not count,
    nor one an industry qualifies (战略性新兴产业中小微企业: that industry's, whether or not it is a kind)."""
    found: list[str] = []
    specific_ends: list[int] = []
    for m in v.beneficiaries.finditer(body):
        kinds = v.beneficiary_kinds[m.group(0)]
        if kinds == (GENERAL,):
            start = max((b.end() for b in _PHRASE_BREAK.finditer(body, 0, m.start())), default=0)
            if any(start <= end <= m.start() for end in specific_ends) or _INDUSTRY_BEFORE.search(body, 0, m.start()):
                continue
        else:
            specific_ends.append(m.end())
        found += [k for k in kinds if k not in found]
    return found


def _support(body: str, v: Vocabulary) -> list[Support]:
    """The kinds of support, in order, each with the figures of the sentences that name it (a figure
    belongs to every kind its sentence names: which of them it qualifies is not in the words)."""
    figures: dict[str, list[str]] = {}
    for sentence in grammar.SENTENCE.finditer(body):
        s = sentence.group(0)
        kinds = list(dict.fromkeys(k for w in _granted_words(s, v) for k in _kinds_of(w, v)))
        shown = _figures(s)
        for kind in kinds:
            found = figures.setdefault(kind, [])
            found += [f for f in shown if f not in found]
    return [Support(kind, tuple(found)) for kind, found in figures.items()]


def _granted_words(sentence: str, v: Vocabulary) -> list[str]:
    """The support words of ``sentence`` that it grants: not those a ban forbids (不得强制民营企业参加培训),
    save the kinds a ban itself grants (不得拖欠中小企业款项: being paid on time)."""
    words = []
    for segment in _SEGMENT.findall(sentence):
        ban = _BAN.search(segment)
        # A phrase counts only when it names no support word itself, nor one too general to claim by: 提供信贷服务 is
        # credit, 提供金融服务 nothing in particular, neither a service to use.
        found = [*v.support.finditer(segment), *(m for pattern, _ in v.support_phrases for m in pattern.finditer(segment)
                                                 if not v.support.search(m.group(0))
                                                 and not any(word in m.group(0) for word in v.generic))]
        for m in found:
            kinds = _kinds_of(m.group(0), v)
            if ban is None or m.start() < ban.start() or set(kinds) & v.protections:
                words.append(m.group(0))
    return words


def _internal(body: str, v: Vocabulary, protects: bool) -> bool:
    """Agencies' own work outweighs the grants (or weighs as much, in a clause that does not protect), or
    there are no grants. A ban is a grant only in a clause that ``protects`` (pays on time):
    不得对民营企业设置不平等的条件 grants no support."""
    grants = sum(1 for g in v.grant.findall(body) if protects or not _BAN.fullmatch(g))
    internal = len(v.internal_body.findall(body))
    return grants == 0 or internal > grants or (internal == grants and not protects)


def _conditions(body: str, v: Vocabulary) -> list[str]:
    """The conditions the body states, in text order; an earlier pattern's match wins where two overlap.

    Linear in the matches (a one-paragraph file of 800 KB has tens of thousands): the spans kept so far
    never overlap, so sorted by start they are sorted by end too, and each pattern's matches, in text
    order, are checked against them with one forward pointer, then merged in.
    """
    kept: list[tuple[int, int]] = []
    for pattern in v.conditions:
        found, i = [], 0
        for m in pattern.finditer(body):
            start, end = m.span()
            while i < len(kept) and kept[i][1] <= start:
                i += 1
            if end > start and not (i < len(kept) and kept[i][0] < end):
                found.append((start, end))
        kept = list(heapq.merge(kept, found))
    return list(dict.fromkeys(body[s:e] for s, e in kept))


def _benefit(body: str, v: Vocabulary) -> str:
    """The sentence that best says what the measure grants, whatever the asker needs."""
    return benefit_sentence(body, (), (), v)


def benefit_sentence(body: str, support: tuple[str, ...], beneficiaries: tuple[str, ...], v: Vocabulary) -> str:
    """The body's sentence that grants the kinds of ``support`` to the kinds of ``beneficiaries`` (any
    kind when empty): the most of their words, a grant word, and not the bare title sentence
    ("用好财政贴息政策。") when a sentence of substance says more."""
    sentences = [m.group(0).strip() for m in grammar.SENTENCE.finditer(body) if m.group(0).strip()]

    def score(index: int) -> tuple:
        s = sentences[index]
        kinds = [k for w in v.support.findall(s) for k in v.support_kinds[w]]
        wanted = sum(1 for k in kinds if not support or k in support)
        named = sum(1 for w in v.beneficiaries.findall(s)
                    if not beneficiaries or set(v.beneficiary_kinds[w]) & set(beneficiaries))
        title = index == 0 and len(s) <= 20 and len(sentences) > 1
        return (wanted > 0, not title, named > 0, bool(v.grant.search(s)), wanted + named, -index)

    return sentences[max(range(len(sentences)), key=score)] if sentences else ""
