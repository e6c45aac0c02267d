"""The vocabularies and tunables the search and answer stages read, as one validated object.

Everything here is package data (``assistant/data/``): the glossary, the aspects a question may ask
for, topics, unit aliases, question fillers, question cues, the LLM prompt and the refusal
thresholds. :meth:`Lexicon.load` reads and checks every file once; a malformed line is a
:class:`~assistant.errors.LexiconError` naming the file and the line. The loaded object is passed to
the ``Router``, the retriever and the ``Assistant`` (no process-wide caches), so an admin reload
re-reads it. A deployment may keep its own versions of some files in a folder
(``POLICY_LEXICON_DIR``): a file found there replaces the package's, the others come from the package.

The jieba dictionary and the stopwords are read here too (:func:`policy_dictionary`,
:func:`stopword_list`) but belong to the index: they decide the BM25 tokens, so changing them
needs a rebuild, not a reload.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .datafiles import read_text
from .errors import LexiconError

GLOSSARY = "glossary.tsv"
ASPECTS = "aspects.tsv"
TOPICS = "topics.txt"
UNIT_ALIASES = "unit_aliases.tsv"
UNIT_PREFIXES = "unit_prefixes.txt"
QUESTION_WORDS = "question_words.txt"
CUES = "cues.toml"
PROMPT = "prompt.toml"
REFUSAL = "refusal.toml"
POLICY_DICT = "policy_dict.txt"
STOPWORDS = "stopwords.txt"
# Policy matching's vocabularies, loaded and checked by their stages: corpus/measures.py (what a clause
# offers, read at index time) and answer/match.py (the profile form, checked against the former).
MEASURES = "measures.toml"
PROFILE = "profile.toml"
# Every file of assistant/data/, so a test can tell that none is left unchecked.
DATA_FILES = (GLOSSARY, ASPECTS, TOPICS, UNIT_ALIASES, UNIT_PREFIXES, QUESTION_WORDS, CUES, PROMPT, REFUSAL, POLICY_DICT,
              STOPWORDS, MEASURES, PROFILE)
MAX_GLOSSARY_TERMS = 4


@dataclass(frozen=True)
class RefusalPolicy:
    """Thresholds of the refusal decision (see ``data/refusal.toml`` for how they were set)."""

    min_dense: float
    min_overlap: float
    max_unknown: int
    # The share of the question's subject (by weight) a passage must state to answer the asked aspect, and
    # to count as the text being about the subject at all (else: refused rather than partly answered).
    give_floor: float
    topic_floor: float


# The kinds of answer a question may ask for (``data/aspects.tsv``): figures read by assistant/grammar.py, and
# passages recognised by the words of the file's evidence column.
FIGURE_ASPECTS = ("amount", "rate", "multiple", "period", "date", "count", "figure")
WORD_ASPECTS = ("text", "who", "definition", "condition", "procedure", "permission")


@dataclass(frozen=True)
class Aspect:
    """One row of ``data/aspects.tsv``: a kind of answer a question asks for, and how to see it given."""

    kind: str  # one of FIGURE_ASPECTS or WORD_ASPECTS
    cue: re.Pattern
    evidence: re.Pattern | None  # the words a passage giving it contains; None for figure kinds (the grammar's)
    label: str  # what a partial answer says the text does not give (具体金额, 期限, 定义 …)

    @property
    def figure(self) -> bool:
        return self.kind in FIGURE_ASPECTS


@dataclass(frozen=True)
class Prompt:
    """The LLM composer's prompt templates (``data/prompt.toml``)."""

    system: str
    user: str  # {clauses}, {question}
    clause: str  # {n}, {heading}, {text}


@dataclass(frozen=True)
class Cues:
    """Patterns that say what a question wants (``data/cues.toml``)."""

    who: re.Pattern  # who is responsible ("这条谁负责？")
    pronoun: re.Pattern  # refers to the previous answer's clause ("这条", "该政策")
    follow_start: re.Pattern  # opens a follow-up ("那担保费呢？")
    wants_figure: re.Pattern  # wants a number: the sentence with an amount or rate should win
    wants_list: re.Pattern  # wants a list of measures, which usually spans several clauses
    unit: re.Pattern  # asks which measures a unit is responsible for
    document: re.Pattern  # asks about the document itself (文号, date, issuer, title)
    whole_clause: re.Pattern  # what is left of a clause question that wants only the clause itself
    old_version: re.Pattern  # asks about a superseded text (修订前, 旧版, 2020年版)
    effective: re.Pattern  # a document question about its 施行 date
    signed: re.Pattern  # a document question about its signature (印发) date
    level_national: re.Pattern  # names the national level (国家层面, 国务院)
    level_province: re.Pattern  # names the provincial level (省里)
    level_local: re.Pattern  # names the asker's own local level (州里, 本地)
    self_place: re.Pattern  # ends the words before a place that say the asker is there ("我在")
    compare: re.Pattern  # compares what it names (分别, 和…相比, 有什么不同)
    origin: re.Pattern  # ends the words before a place that say the asker comes from there ("老家")
    origin_after: re.Pattern  # starts the words after a place that say the asker comes from there ("人")


@dataclass(frozen=True)
class Lexicon:
    """Every vocabulary of the search and answer stages, loaded and checked together."""

    glossary: tuple[tuple[str, tuple[str, ...]], ...]  # (everyday words, policy terms), in file order
    policy_terms: tuple[str, ...]  # words of the jieba policy dictionary
    aspects: tuple[Aspect, ...]
    topics: tuple[str, ...]
    topic_endings: tuple[str, ...]  # "*税" lines: a word ending so is a topic (印花税)
    unit_aliases: tuple[tuple[str, str], ...]  # (alias, unit as written in 责任单位 notes)
    unit_prefixes: tuple[str, ...]  # what a question may leave off a unit's name (临夏州, 各)
    question_words: frozenset[str]
    cues: Cues
    prompt: Prompt
    refusal: RefusalPolicy

    def aspect(self, kind: str, label: str) -> Aspect | None:
        """The row of ``data/aspects.tsv`` a question's :class:`~assistant.models.Asked` was read from."""
        return next((a for a in self.aspects if a.kind == kind and a.label == label), None)

    @classmethod
    def load(cls, directory: Path | None = None) -> "Lexicon":
        """Read and check every data file; a file present in ``directory`` replaces the package's.

        Raises:
            LexiconError: a file is missing or malformed; the message names the file and line.
        """
        data = DataFiles(directory)
        topics = data.lines(TOPICS)
        return cls(
            glossary=tuple(_glossary(data)),
            policy_terms=tuple(word for word, _, _ in policy_dictionary(directory)),
            aspects=tuple(_aspects(data)),
            topics=tuple(w for _, w in topics if not w.startswith("*")),
            topic_endings=tuple(w[1:] for _, w in topics if w.startswith("*") and len(w) > 1),
            unit_aliases=tuple((alias, unit) for _, (alias, unit) in data.rows(UNIT_ALIASES, 2)),
            unit_prefixes=tuple(word for _, word in data.lines(UNIT_PREFIXES)),
            question_words=frozenset(w.lower() for _, w in data.lines(QUESTION_WORDS)),
            cues=_cues(data),
            prompt=_prompt(data),
            refusal=_refusal(data),
        )


class DataFiles:
    """Reads data files from the package or a directory (a file there replaces the package's), and reports
    problems by file and line: the one loader of every file in ``assistant/data/``."""

    def __init__(self, directory: Path | None):
        self.directory = directory

    def _local(self, name: str) -> Path | None:
        path = self.directory / name if self.directory is not None else None
        return path if path is not None and path.is_file() else None

    def where(self, name: str) -> str:
        local = self._local(name)
        return str(local) if local else f"assistant/data/{name}"

    def text(self, name: str) -> str:
        try:
            local = self._local(name)
            return local.read_text(encoding="utf-8") if local else read_text(name)
        except FileNotFoundError:
            raise LexiconError(f"词表文件 {self.where(name)} 不存在") from None
        except UnicodeDecodeError:
            raise LexiconError(f"词表文件 {self.where(name)} 不是 UTF-8 编码") from None

    def error(self, name: str, line: int | None, message: str) -> LexiconError:
        at = f" 第 {line} 行" if line else ""
        return LexiconError(f"词表文件 {self.where(name)}{at}：{message}")

    def lines(self, name: str) -> list[tuple[int, str]]:
        """(line number, stripped text) of the lines that are neither blank nor ``#`` comments."""
        return [(n, ln.strip()) for n, ln in enumerate(self.text(name).splitlines(), start=1)
                if ln.strip() and not ln.lstrip().startswith("#")]

    def rows(self, name: str, columns: int) -> Iterator[tuple[int, list[str]]]:
        """Tab-separated rows with exactly ``columns`` non-empty fields."""
        for n, line in self.lines(name):
            fields = [f.strip() for f in line.split("\t")]
            if len(fields) != columns or not all(fields):
                raise self.error(name, n, f"应有 {columns} 列（以 Tab 分隔且不为空），实际为 {len(fields)} 列：{line!r}")
            yield n, fields

    def pattern(self, name: str, line: int | None, source: str) -> re.Pattern:
        try:
            return re.compile(source)
        except re.error as exc:
            raise self.error(name, line, f"正则表达式无效（{exc}）：{source!r}") from None

    def toml(self, name: str) -> dict:
        try:
            return tomllib.loads(self.text(name))
        except tomllib.TOMLDecodeError as exc:  # its message carries the line and column
            raise self.error(name, None, f"TOML 格式错误（{exc}）") from None

    def line_of(self, name: str, key: str) -> int | None:
        """The first line that defines ``key`` (``key = …``, ``"key" = …`` or ``[key]``), for messages."""
        defines = re.compile(rf'^\s*(?:\[\s*{re.escape(key)}\s*\]|"?{re.escape(key)}"?\s*=)')
        return next((n for n, ln in enumerate(self.text(name).splitlines(), start=1) if defines.match(ln)), None)

    def table(self, name: str, data: dict, key: str) -> dict:
        """``data[key]``, which must be a TOML table."""
        value = data.get(key)
        if not isinstance(value, dict):
            raise self.error(name, self.line_of(name, key),
                             f"缺少 [{key}] 表" if value is None else f"{key} 应为表（[{key}]）")
        return value

    def words(self, name: str, data: dict, key: str, *, optional: bool = False) -> tuple[str, ...]:
        """``data[key]``, which must be a list of non-empty strings (``optional``: () when absent)."""
        value = data.get(key)
        if value is None and optional:
            return ()
        if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
            raise self.error(name, self.line_of(name, key),
                             f"缺少 {key}" if value is None else f"{key} 应为非空字符串的列表")
        return tuple(value)

    def word_table(self, name: str, data: dict, key: str, *, optional: bool = False) -> dict[str, tuple[str, ...]]:
        """``[key]``, a table of ``kind = [words]`` (``optional``: {} when absent)."""
        if key not in data and optional:
            return {}
        table = self.table(name, data, key)
        return {kind: self.words(name, table, kind) for kind in table}


def _glossary(data: DataFiles) -> Iterator[tuple[str, tuple[str, ...]]]:
    seen: dict[str, int] = {}
    for n, (everyday, policy) in data.rows(GLOSSARY, 2):
        terms = tuple(t.strip() for t in policy.split("|") if t.strip())
        if not 1 <= len(terms) <= MAX_GLOSSARY_TERMS:
            raise data.error(GLOSSARY, n, f"右侧应有 1–{MAX_GLOSSARY_TERMS} 个政策用语（以 | 分隔）")
        if everyday in seen:
            raise data.error(GLOSSARY, n, f"“{everyday}”与第 {seen[everyday]} 行重复")
        seen[everyday] = n
        yield everyday, terms


def _aspects(data: DataFiles) -> Iterator[Aspect]:
    for n, (kind, cue, found, label) in data.rows(ASPECTS, 4):
        if kind not in FIGURE_ASPECTS + WORD_ASPECTS:
            raise data.error(ASPECTS, n, f"第一列应为 {'、'.join(FIGURE_ASPECTS + WORD_ASPECTS)} 之一，实际为 {kind!r}")
        if (found == "-") != (kind in FIGURE_ASPECTS):
            raise data.error(ASPECTS, n, "第三列：数字类（金额、比例、期限等）写 -，其他类写正则表达式")
        evidence = None if found == "-" else data.pattern(ASPECTS, n, found)
        yield Aspect(kind, data.pattern(ASPECTS, n, cue), evidence, label)


def _cues(data: DataFiles) -> Cues:
    raw = data.toml(CUES)
    names = [f for f in Cues.__dataclass_fields__]
    missing = [name for name in names if name not in raw]
    if missing:
        raise data.error(CUES, None, f"缺少：{'、'.join(missing)}")
    patterns = {}
    for name in names:
        value = raw[name]
        # A list is a set of alternatives, one per line of the file; a string is one pattern.
        if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
            value = "|".join(value)
        if not isinstance(value, str) or not value:
            raise data.error(CUES, None, f"{name} 应为正则表达式字符串或字符串列表")
        patterns[name] = data.pattern(CUES, None, value)
    return Cues(**patterns)


def _prompt(data: DataFiles) -> Prompt:
    raw = data.toml(PROMPT)
    fields = {"system": (), "user": ("clauses", "question"), "clause": ("n", "heading", "text")}
    for name, placeholders in fields.items():
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            raise data.error(PROMPT, None, f"缺少 {name}（字符串）")
        try:
            if placeholders:  # the system prompt is used as written; the templates are formatted
                value.format(**{p: "" for p in placeholders})  # a stray or unknown {…} fails here
        except (KeyError, IndexError, ValueError) as exc:
            raise data.error(PROMPT, None, f"{name} 的占位符只能是 {placeholders}（{exc!r}）") from None
        absent = [p for p in placeholders if "{" + p + "}" not in value]
        if absent:
            raise data.error(PROMPT, None, f"{name} 缺少占位符 {absent}")
    return Prompt(system=raw["system"], user=raw["user"], clause=raw["clause"])


def _refusal(data: DataFiles) -> RefusalPolicy:
    raw = data.toml(REFUSAL)
    try:
        policy = RefusalPolicy(min_dense=float(raw["min_dense"]), min_overlap=float(raw["min_overlap"]),
                               max_unknown=int(raw["max_unknown"]), give_floor=float(raw["give_floor"]),
                               topic_floor=float(raw["topic_floor"]))
    except KeyError as exc:
        raise data.error(REFUSAL, None, f"缺少 {exc.args[0]}") from None
    except (TypeError, ValueError) as exc:
        raise data.error(REFUSAL, None, f"取值无效（{exc}）") from None
    shares = (policy.min_dense, policy.min_overlap, policy.give_floor, policy.topic_floor)
    if not (all(0 <= v <= 1 for v in shares) and policy.max_unknown >= 1):
        raise data.error(REFUSAL, None, "min_dense、min_overlap、give_floor、topic_floor 应在 0 到 1 之间，"
                                        "max_unknown 应为正整数")
    return policy


def policy_dictionary(directory: Path | None = None) -> list[tuple[str, int | None, str | None]]:
    """(word, frequency, part-of-speech tag) of each line of the jieba policy dictionary.

    Raises:
        LexiconError: a line is not ``word [frequency [tag]]``.
    """
    data = DataFiles(directory)
    out = []
    for n, line in data.lines(POLICY_DICT):
        parts = line.split()
        if len(parts) > 3 or (len(parts) > 1 and not parts[1].isdigit()):
            raise data.error(POLICY_DICT, n, f"应为“词 [词频 [词性]]”，实际为 {line!r}")
        out.append((parts[0], int(parts[1]) if len(parts) > 1 else None, parts[2] if len(parts) > 2 else None))
    return out


def stopword_list(directory: Path | None = None) -> list[str]:
    """The stopwords, one word per line.

    Raises:
        LexiconError: a line holds more than one word.
    """
    data = DataFiles(directory)
    words = []
    for n, line in data.lines(STOPWORDS):
        if len(line.split()) != 1:
            raise data.error(STOPWORDS, n, f"每行只能有一个词，实际为 {line!r}")
        words.append(line)
    return words
