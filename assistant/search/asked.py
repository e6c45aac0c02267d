"""What a question asks for, read once into its :class:`~assistant.models.Query`.

- the **aspect** (an amount, a rate, a period, who is responsible, a definition, whether something is
  allowed …; ``data/aspects.tsv``): the answer's first line is the passage that gives it, and a text that
  does not give it is answered as a partial answer;
- the **figures the asker states** about their own case (贷款500万): the clause range they fall in
  (单户1000万元(含)以下) decides which figure answers;
- the **subject**: the question's content words, each with the policy terms the glossary maps it to, minus
  the words that only shape the question (多少, 能不能) and the asker's own figures. Sentence
  choice and the refusal evidence measure how much of the subject a passage states.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .. import grammar
from ..lexicon import Aspect, Lexicon
from ..models import Asked, Expansion
from ..regions import Regions
from .text import stopwords, words

# A definition question's term is what stands before the cue (首贷户是什么意思) or after it (什么叫首贷户),
# without the words that point at the documents or the asker (文件里说的, 这个, 所谓).
_TERM_FILLER = re.compile(r"^(?:请问|问一下|文件|政策|条例|规定|里面?|中|上|说的?|所说的?|提到的?|讲的?|所谓的?|这个|那个|这里|的)+"
                          r"|(?:的|这个词|这个说法|一词|这个概念|具体|到底|究竟|是)+$")
_TERM_RUN = re.compile(r"(?:(?!的)[\u4e00-\u9fa5A-Za-z0-9（）()]){2,30}")


class AskedReader:
    """Reads :class:`Asked` from a normalized question with the aspects of a lexicon."""

    def __init__(self, lexicon: Lexicon, known: Callable[[str], bool]):
        """Args:
            known: whether any clause of the corpus contains a string (units it knows are kept whole)."""
        self.aspects = lexicon.aspects
        self.question_words = lexicon.question_words
        self.known = known
        cues = lexicon.cues
        # Words that say where to look or how to compare, not what about: levels, versions, the asker's place.
        self.scope_words = (cues.compare, cues.level_national, cues.level_province, cues.level_local, cues.old_version,
                            cues.self_place, cues.origin)

    def aspect(self, q: str) -> tuple[Aspect | None, re.Match | None]:
        """The first aspect (in file order) whose cue the question matches, with the match."""
        for aspect in self.aspects:
            m = aspect.cue.search(q)
            if m:
                return aspect, m
        return None, None

    def read(self, normalized: str, tokens: tuple[str, ...], expansion: Expansion) -> Asked:
        """What ``normalized`` (the question as :func:`~assistant.search.text.normalize` gives it) asks.

        Args:
            tokens: its search tokens; expansion: the glossary terms its everyday words map to.
        """
        q = normalized.lower()
        aspect, cue = self.aspect(q)
        figures = tuple(grammar.asked_quantities(normalized))
        term = _definition_term(normalized, cue) if aspect is not None and aspect.kind == "definition" else ""
        subject = self._subject(q, tokens, expansion, figures, cue.span() if cue and aspect and not aspect.figure else None)
        return Asked(aspect=aspect.kind if aspect else "", cue=cue.group(0) if cue else "",
                     label=aspect.label if aspect else "", figures=figures, term=term,
                     subject=subject, owners=_owners(q, subject))

    def _subject(self, q: str, tokens: tuple[str, ...], expansion: Expansion, figures: tuple[grammar.Quantity, ...],
                 cue: tuple[int, int] | None = None) -> tuple[tuple[str, ...], ...]:
        """The content of the question as concepts, each a tuple of alternatives any one of which states it.

        A concept is the longest unit the corpus knows: 国家融资担保基金, not 国家, 融资, 担保 and 基金 apart
        (a passage on 融资担保公司's capital states those, and is about something else). A figure cue's
        attribute words stay (费率 in 担保费率是多少: a sentence on the rate must name it); another aspect's
        cue (``cue``: 需要哪些材料, 是怎么定义的) is what the evidence checks, not the subject. The question
        words (多少, 能不能), the asker's own figures and the words that place or compare (浙江, 州里,
        分别) do not count either.
        """
        concepts: list[tuple[str, ...]] = [(trigger, *terms) for trigger, terms in expansion.groups]
        spans = [(f.start, f.end) for f in figures] + ([cue] if cue else [])
        spans += [m.span() for pattern in self.scope_words for m in pattern.finditer(q)]
        regions = Regions.load()
        at = 0
        for name, _ in regions.mentioned(q):
            at = q.find(name, at)
            spans.append((at, at + len(name)))
        blank = q
        for lo, hi in spans:
            blank = blank[:lo] + " " * (hi - lo) + blank[hi:]
        for trigger, _ in expansion.groups:
            blank = blank.replace(trigger, " " * len(trigger))
        units = [t for t in dict.fromkeys([*self._phrases(blank), *tokens])
                 if len(t) >= 2 and not t.isdigit() and t not in self.question_words and t in blank]
        known = [u for u in units if self.known(u)]
        # A unit inside a longer one the corpus knows is stated by it; unknown units stay (they cost nothing:
        # their weight is 0), so an everyday word the glossary lacks does not hide the known word inside it.
        concepts += [(u,) for u in units if not any(u in longer and u != longer for longer in known)]
        return tuple(dict.fromkeys(concepts))


    def _phrases(self, text: str) -> list[str]:
        """Runs of adjacent words the corpus knows as one (国家融资担保基金 from 国家 融资担保 基金), longest
        first from each word: what the question names, without tagging parts of speech (a few ms a question)."""
        skip = stopwords() | self.question_words
        cut = [w for w in words(text) if w not in skip]
        out = []
        for i in range(len(cut)):
            for j in range(min(len(cut), i + MAX_PHRASE_WORDS), i + 1, -1):
                phrase = "".join(cut[i:j])
                if phrase in text and self.known(phrase):
                    out.append(phrase)
                    break
        return out


def _owners(q: str, subject: tuple[tuple[str, ...], ...]) -> tuple[tuple[int, int], ...]:
    """The pairs of concepts ``q`` names as X的Y (whose Y is asked), by position in ``subject``."""
    at: dict[int, int] = {}
    for i, alts in enumerate(subject):
        for alt in alts:
            if alt in q:
                at.setdefault(q.find(alt), i)
    out = []
    for i, alts in enumerate(subject):
        for alt in alts:
            start = q.find(alt)
            end = start + len(alt)
            if start >= 0 and q[end:end + 1] == "的" and end + 1 in at:
                out.append((i, at[end + 1]))
                break
    return tuple(out)


# The most words a question's phrase is read from (中小企业 发展 基金 → 中小企业发展基金).
MAX_PHRASE_WORDS = 4


def _definition_term(q: str, cue: re.Match | None) -> str:
    """The term a definition question asks about: 首贷户 in 首贷户是什么意思 / 什么叫首贷户 / “首贷户”指什么."""
    if cue is None:
        return ""
    quoted = re.search(r"[“\"]([^”\"]{2,20})[”\"]", q)
    if quoted:
        return quoted.group(1)
    before = [m.group(0) for m in _TERM_RUN.finditer(q[:cue.start()])]
    after = [m.group(0) for m in _TERM_RUN.finditer(q[cue.end():])]
    for run in before[-1:] + after[:1]:
        term = _TERM_FILLER.sub("", run)
        if 2 <= len(term) <= MAX_TERM:
            return term
    return ""


# A definition question's term is a word or a short phrase; a longer run is the question around it.
MAX_TERM = 10
