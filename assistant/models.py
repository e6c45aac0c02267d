"""Typed records passed between pipeline stages (ingest → structure → index → route → retrieve → answer).

Records are frozen dataclasses with tuple fields so they can be hashed and shared between threads.
``to_dict``/``from_dict`` give the JSON shape used by the index files; ``to_json`` the shape every
interface (CLI ``--json``, the web API, the OpenAI-compatible API) returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal


@dataclass(frozen=True)
class Reference:
    """A document cited or implemented by a corpus document, possibly not in the corpus itself."""

    doc_number: str
    title: str = ""
    issuer: str = ""
    level: str = ""
    in_corpus: bool = False


@dataclass(frozen=True)
class DocumentMeta:
    """What the index keeps of a document: its metadata, without the text."""

    doc_id: str
    path: str = ""
    title: str = ""
    doc_number: str = ""
    issuer: str = ""
    issue_date: str = ""  # ISO date (YYYY-MM-DD) or "" when unknown
    level: str = ""  # 州 / 省 / 国家 / "" when unknown
    place: str = ""  # the area of a local document: 浙江省, 临夏回族自治州 ("" for national ones)
    region_code: str = ""  # that area's division code (assistant/regions.py): "33", "6229"
    source: str = ""
    sha256: str = ""
    implements: tuple[str, ...] = ()
    cites: tuple[str, ...] = ()
    short_name: str = ""  # what citations print: 中小企业促进法, 国办发〔2019〕6号
    aliases: tuple[str, ...] = ()  # names a question may use: title, short name, 文号, "6号文"
    dates: tuple[tuple[str, str], ...] = ()  # (kind, ISO date): 通过, 公布, 修订, 修正, 施行, 印发 …
    doc_type: str = ""  # 法律 / 行政法规 / 地方性法规 / 规章 / 司法解释 / 规范性文件
    title_from_file: bool = False  # no title in the text or manifest: the file name stands in
    status: str = ""  # from the manifest: "" (in force when dated so), 废止 or 失效
    # Versions of one document (same title, different dates; corpus/versions.py): each text's edition
    # (2020年, 2025年修订) and the doc_ids of the text it replaces and of the one that replaced it.
    edition: str = ""
    supersedes: tuple[str, ...] = ()
    superseded_by: str = ""

    @property
    def name(self) -> str:
        """The document as citations name it: its short name (else 文号, title or id), and its edition
        when the corpus holds several texts of it: 保障中小企业款项支付条例（2025年修订）."""
        base = self.short_name or self.doc_number or self.title or self.doc_id
        return f"{base}（{self.edition}）" if self.edition else base

    @property
    def effective_date(self) -> str:
        """Its 施行 date (ISO), or "" when the text gives none."""
        return next((date for kind, date in self.dates if kind == "施行"), "")

    @property
    def expiry_date(self) -> str:
        """The last day the text says it applies (ISO: 有效期至…), or "" when it states no end."""
        return next((date for kind, date in self.dates if kind == "失效"), "")

    def dates_text(self) -> str:
        """Its dates with their kinds, as listings show them: 通过 2002-06-29；修订 2017-09-01."""
        return "；".join(f"{kind} {date}" for kind, date in self.dates)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DocumentMeta":
        known = {f for f in cls.__dataclass_fields__}
        if "region" in data and "region_code" not in data:  # an index written before the field's rename
            data = {**data, "region_code": data["region"]}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("implements", "cites", "aliases", "supersedes"):
            values[key] = tuple(values.get(key, ()))
        values["dates"] = tuple(tuple(d) for d in values.get("dates", ()))
        return cls(**values)


@dataclass(frozen=True)
class Document(DocumentMeta):
    """One policy document read from ``corpus/``: its metadata and its text.

    ``text`` is the decoded file text exactly as read; clause spans index into it.
    """

    text: str = ""

    def meta(self) -> DocumentMeta:
        """Metadata without the full text, for the index and listings."""
        return DocumentMeta(**{f: getattr(self, f) for f in DocumentMeta.__dataclass_fields__})


@dataclass(frozen=True)
class Deadline:
    """A time limit stated in a clause: the words used and the last day they name."""

    text: str  # verbatim, e.g. "2022年底"
    date: str  # ISO date of the last day, e.g. "2022-12-31"


@dataclass(frozen=True)
class Support:
    """One kind of support a measure grants, with the figures that belong to it, verbatim."""

    kind: str  # 贷款, 担保, 贴息, … (assistant/data/measures.toml)
    figures: tuple[str, ...] = ()  # with their qualifier as printed: "最高300万元", "不高于1%"


# What a sub-measure is to an enterprise owner (docs/matching.md): a benefit it can ask for, a channel or
# service it can use, or agencies' own duties that help it only indirectly.
Result = Literal["可以申请", "可以利用", "政策背景"]
CLAIM: Result = "可以申请"
CHANNEL: Result = "可以利用"
BACKGROUND: Result = "政策背景"
RESULTS: tuple[Result, ...] = (CLAIM, CHANNEL, BACKGROUND)


@dataclass(frozen=True)
class SubMeasure:
    """One sentence of a measure with its own beneficiaries and support: the figures and conditions it states
    belong to it alone (2.88% to 民族贸易定点 firms, not to the 创业担保贷款 of the sentence before)."""

    text: str  # the sentence, verbatim
    result: Result
    beneficiaries: tuple[str, ...] = ()  # the kinds it names itself (none: it speaks of the clause's)
    support: tuple[str, ...] = ()  # kinds of support it grants
    figures: tuple[str, ...] = ()  # with their qualifier as printed
    conditions: tuple[str, ...] = ()
    lead: str = ""  # the provider the sentence names for its support (政府性融资担保机构), "" when none

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SubMeasure":
        return cls(text=data["text"], result=data["result"], beneficiaries=tuple(data.get("beneficiaries", ())),
                   support=tuple(data.get("support", ())), figures=tuple(data.get("figures", ())),
                   conditions=tuple(data.get("conditions", ())), lead=data.get("lead", ""))


@dataclass(frozen=True)
class Measure:
    """What a clause offers, read from its text when the index is built: who benefits, what they get,
    on what condition, and whether an enterprise can use it at all."""

    addressee: str  # "enterprise": a grant an enterprise can use (itself or through its bank); "internal"
    beneficiaries: tuple[str, ...] = ()  # kinds named: 小微企业, 个体工商户, 首贷, 餐饮 …; "中小微企业" = SMEs at large
    support: tuple[Support, ...] = ()
    conditions: tuple[str, ...] = ()  # quoted: "符合条件的", "单户1000万元以下"
    benefit: str = ""  # the sentence that grants it, verbatim
    sub_measures: tuple[SubMeasure, ...] = ()  # its sentences that grant something, in text order

    @property
    def usable(self) -> bool:
        return self.addressee == "enterprise"

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(s.kind for s in self.support)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Measure":
        return cls(addressee=data["addressee"], beneficiaries=tuple(data.get("beneficiaries", ())),
                   support=tuple(Support(s["kind"], tuple(s.get("figures", ()))) for s in data.get("support", ())),
                   conditions=tuple(data.get("conditions", ())), benefit=data.get("benefit", ""),
                   sub_measures=tuple(SubMeasure.from_dict(m) for m in data.get("sub_measures", ())))


@dataclass(frozen=True)
class Clause:
    """One retrievable unit: a numbered measure with its heading, or the preamble (number "0")."""

    clause_id: str  # "<doc_id>#<number>"
    doc_id: str
    number: str  # "0" for the preamble, "6", or "2.1" where numbering restarts per section
    label: str  # the marker as printed: "(六)", "第十八条", "1."; "" for the preamble
    section: str  # section heading text, e.g. "落实金融政策措施，加大信贷投放力度"
    section_number: str  # "一", "二", … or "" when the document has no sections
    title: str  # e.g. "用好财政贴息政策"
    text: str  # full clause text, verbatim from the source (== document.text[start:end])
    start: int
    end: int
    units: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    deadlines: tuple[Deadline, ...] = field(default_factory=tuple)
    # Offsets into ``text``, set by the parser: the （责任单位：…） note, and the body (after the marker,
    # up to the note) whose sentences answers quote.
    units_span: tuple[int, int] | None = None
    body_span: tuple[int, int] | None = None
    measure: Measure | None = None  # for policy matching; None for a clause made without the parser

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)

    @property
    def section_label(self) -> str:
        """The part it stands in, as the document prints it: 第三章 融资促进 for an article of a law,
        一、落实金融政策措施… for a measure of a 公文, "" when the document has no parts."""
        if not self.section:
            return ""
        if not self.section_number:
            return self.section
        if self.section_number.startswith("第"):  # 第二编 / 第三章 / 第一节, as printed
            return f"{self.section_number} {self.section}"
        if self.label.startswith("第") and "条" in self.label:  # an index built before 编/节 were kept
            return f"第{self.section_number}章 {self.section}"
        return f"{self.section_number}、{self.section}"

    @property
    def body(self) -> tuple[int, int]:
        """``body_span``, or the whole text for a clause made without the parser."""
        return self.body_span or (0, len(self.text))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["span"] = [self.start, self.end]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Clause":
        data = dict(data)
        data.pop("span", None)
        data["units"] = tuple(data.get("units", ()))
        data["figures"] = tuple(data.get("figures", ()))
        data["deadlines"] = tuple(Deadline(**d) for d in data.get("deadlines", ()))
        for key in ("units_span", "body_span"):
            data[key] = tuple(data[key]) if data.get(key) is not None else None
        data["measure"] = Measure.from_dict(data["measure"]) if data.get("measure") else None
        return cls(**data)

    def to_json(self, doc: DocumentMeta | None = None) -> dict[str, Any]:
        """The clause for every interface: its record plus its document's 文号 and title."""
        return {**self.to_dict(), "doc_number": doc.doc_number if doc else "", "doc_title": doc.title if doc else ""}


def heading(clause: Clause, doc: DocumentMeta | None, mark: str = "") -> str:
    """Citation heading such as 临州办发〔2022〕84号 第（六）条 用好财政贴息政策.

    Args:
        mark: the document's standing when it is not the text in force (已被2025年修订版取代, 已废止),
            printed with its name so a quote of an old text never passes for the current rule.
    """
    source = doc.name if doc else clause.doc_id
    if mark:
        source = f"{source[:-1]}，{mark}）" if source.endswith("）") and doc and doc.edition else f"{source}（{mark}）"
    if clause.number == "0":
        return f"{source} 文件信息"
    label = clause.label
    if label.startswith(("(", "（")):
        label = f"第（{label.strip('()（）')}）条"
    elif label.endswith(("、", ".", "．")):
        label = f"第{label.rstrip('、.．')}项"
    return f"{source} {label} {clause.title}".strip()


@dataclass(frozen=True)
class Part:
    """The piece of a clause that is embedded: a whole clause, or a sentence-aligned slice of a long one."""

    part_id: str  # clause_id for a single part, "<clause_id>/<n>" for slices
    clause_id: str
    doc_id: str
    ordinal: int
    text: str  # what the encoder sees: title prefix + body slice


# How a question was answered: one name for the router's choice (by clause number, by responsible unit,
# from document metadata, or by search: the first four), where a hit came from, and an answer's route,
# which adds a follow-up about the previous answer's clause, policy matching, an empty question, a failed
# search and the evaluation's tutorial baseline.
RouteKind = Literal["clause", "unit", "document", "search", "followup", "match", "empty", "error", "baseline"]
ROUTED: tuple[RouteKind, ...] = ("clause", "unit", "document", "search")  # what the router picks among


@dataclass(frozen=True)
class Hit:
    """A ranked search result and why it was found."""

    clause: Clause
    score: float
    dense: float | None = None
    bm25: float | None = None
    why: str = ""
    matched_terms: tuple[str, ...] = ()
    route: RouteKind = "search"  # how it was found
    boost: float = 0.0  # the part of ``score`` that is its document's locality, not relevance
    # The similarity in each dense channel, by encoder name (a channel whose nearest list missed it: absent).
    channels: dict[str, float] = field(default_factory=dict)

    @property
    def relevance(self) -> float:
        """The score without the locality bonus: how well the clause matches the question."""
        return self.score - self.boost

    def to_json(self, doc: DocumentMeta | None = None) -> dict[str, Any]:
        """The shape ``search --json`` and the web ``/search`` return: the clause, score, signals and why."""
        return {**self.clause.to_json(doc), "score": round(self.score, 6),
                "dense": None if self.dense is None else round(self.dense, 6),
                "bm25": None if self.bm25 is None else round(self.bm25, 6), "why": self.why,
                "matched_terms": list(self.matched_terms), "channels": dict(self.channels)}


@dataclass(frozen=True)
class Route:
    """Where a question goes, and what the router recognised in it."""

    kind: RouteKind
    clauses: tuple[Clause, ...] = ()
    unit: str = ""  # the unit asked about; several joined with 、 ("州人社局和州民委负责哪条")
    shared: bool = False  # several units named and these clauses list them all (else: any of them)
    whole_clause: bool = False  # the user wants the full text of the referenced clause
    remainder: str = ""  # the question with the recognised reference removed
    matched: tuple[str, ...] = field(default_factory=tuple)
    documents: tuple[str, ...] = ()  # doc_ids the question names (it is answered from these only)
    # What the question asks for that the corpus lacks: a 《title》 or 文号, or an area's or a level's
    # documents ("甘肃省的政策文件"); it is refused, never answered from other documents.
    missing_document: str = ""
    missing_is_document: bool = True
    # A bare clause number ("第十九条") that several documents have: the answer asks which one is meant.
    ambiguous: bool = False
    # How many documents matched in all, when the route holds only the first few (most local first).
    documents_matched: int = 0


@dataclass(frozen=True)
class Expansion:
    """Policy terms added to a question, and the everyday words that triggered them."""

    terms: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()
    # Each trigger with every term it maps to (also those the question already has): one concept.
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Asked:
    """What a question asks for (search/asked.py): the aspect, the asker's own figures, the subject."""

    aspect: str = ""  # amount, rate, period … (data/aspects.tsv); "" for a general question
    cue: str = ""  # the words that ask it: 多少, 谁负责, 是什么意思
    label: str = ""  # what a partial answer says the text does not give: 具体金额, 期限, 定义
    figures: tuple[Any, ...] = ()  # grammar.Quantity: the figures the asker states (贷款500万)
    term: str = ""  # a definition question's term (首贷户)
    # The question's content words as concepts: each a tuple of alternatives (an everyday word and the
    # policy terms it maps to), any one of which states it.
    subject: tuple[tuple[str, ...], ...] = ()
    # Pairs of concepts (by position in ``subject``) the question reads as X的Y, whose Y is asked: 国家融资担保基金
    # and 注册资本 in 国家融资担保基金的注册资本. A passage that states the 注册资本 of something else does not
    # answer it.
    owners: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Query:
    """A question as every stage reads it, normalized and tokenized once."""

    text: str  # as asked (after follow-up resolution)
    normalized: str
    tokens: tuple[str, ...]  # the question's own search tokens
    expansion: Expansion = Expansion()
    # The question's tokens plus its glossary terms': what BM25 and sentence choice match.
    search_tokens: tuple[str, ...] = ()
    asked: Asked = Asked()

    @property
    def search_text(self) -> str:
        """The question with its glossary terms appended: what the dense encoder sees."""
        return f"{self.text} {' '.join(self.expansion.terms)}".strip()


@dataclass(frozen=True)
class Side:
    """One side of a comparison (search/sides.py): its label and the best clauses of its documents."""

    label: str  # 临夏州, 国办发〔2019〕6号, 保障中小企业款项支付条例（2020年）, 国家
    hits: tuple[Hit, ...] = ()


@dataclass(frozen=True)
class Retrieval:
    """Ranked hits for a question, with the route taken and the glossary expansion applied."""

    query: Query
    route: Route
    hits: list[Hit]
    region: str = ""  # the asker's area the documents were chosen for (临夏回族自治州), "" for anywhere
    sides: tuple[Side, ...] = ()  # a comparison's sides, each searched on its own (hits interleave them)

    @property
    def question(self) -> str:
        return self.query.text

    @property
    def expansion(self) -> Expansion:
        return self.query.expansion

    @property
    def clause_ids(self) -> list[str]:
        return [h.clause.clause_id for h in self.hits]


@dataclass(frozen=True)
class Citation:
    """A statement's source: the clause, the quoted sentence, and where it sits in the document."""

    clause_id: str
    title: str
    heading: str  # e.g. 临州办发〔2022〕84号 第（六）条 用好财政贴息政策
    quote: str  # verbatim from the clause
    start: int  # char span of the quote in the source document text
    end: int
    units: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The shape every interface returns: ``{clause_id, title, heading, quote, span, units}``."""
        return {"clause_id": self.clause_id, "title": self.title, "heading": self.heading, "quote": self.quote,
                "span": [self.start, self.end], "units": list(self.units)}


def by_clause(citations: Sequence[Citation]) -> dict[str, list[Citation]]:
    """Citations grouped by clause id, clauses in order of first citation."""
    grouped: dict[str, list[Citation]] = {}
    for c in citations:
        grouped.setdefault(c.clause_id, []).append(c)
    return grouped


@dataclass
class Answer:
    """What the assistant says, and everything needed to show and check it."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[str] = field(default_factory=list)  # ranked clause ids
    related: list[str] = field(default_factory=list)  # clause ids shown as 相关/可能相关
    refused: bool = False
    # The documents address the question's subject but not the thing asked: the answer says what they
    # do say and what they do not (文件规定…；但没有规定办理时限).
    partial: bool = False
    notes: list[str] = field(default_factory=list)
    route: RouteKind = "search"
    composer: str = "extractive"  # or "llm:<provider>" when a chat model wrote the text
    region: str = ""  # the asker's area the answer applied (临夏回族自治州), "" for anywhere
    markers: dict[int, str] = field(default_factory=dict)  # LLM answers: citation marker [n] → clause id
    # A clause question that several documents could answer ("第十九条讲了什么"), waiting for the asker to
    # say which document: a reply naming one ("84号文") is answered as that document's clause.
    clarify: str = ""
    # The replies to such a question, each (what to show, the question it asks): the chat offers them as
    # buttons (临州办发〔2022〕84号 第（十八）条 …, "临州办发〔2022〕84号第十八条").
    choices: list[tuple[str, str]] = field(default_factory=list)
    # Verification problems, for the debug view and evals; not shown to users, because a rejected
    # answer's numbers must not reach the screen even inside a note.
    checks: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # ms per stage, and "total"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["answer"] = data.pop("text")
        data["latency_ms"] = round(self.timings.get("total", 0.0), 1)
        return data

    def to_json(self) -> dict[str, Any]:
        """The shape ``ask --json`` and the ``/ask`` API return: :meth:`to_dict`, citations as :meth:`Citation.to_json`."""
        return {**self.to_dict(), "citations": [c.to_json() for c in self.citations]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Answer":
        """The answer :meth:`to_dict` gave (as JSON gives it back: lists for tuples, string keys); unknown keys
        are ignored, so a conversation saved by an older version still opens.

        Raises:
            TypeError, ValueError, KeyError: ``data`` is not an answer.
        """
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["text"] = str(data["answer"])
        values["citations"] = [Citation(**{**c, "units": tuple(c.get("units", ()))}) for c in data.get("citations", ())]
        values["markers"] = {int(k): str(v) for k, v in dict(data.get("markers", {})).items()}
        values["choices"] = [(str(a), str(b)) for a, b in data.get("choices", ())]
        return cls(question=str(data["question"]), **{k: v for k, v in values.items() if k != "question"})


@dataclass(frozen=True)
class Delta:
    """A provisional piece of an answer's text as it is produced: an LLM's tokens, then what the checked
    answer adds (related clauses, notes). Shown as it arrives; the :class:`Final` answer is authoritative."""

    text: str


@dataclass(frozen=True)
class Final:
    """The last event of :meth:`Assistant.stream`: the checked answer. Its ``text`` is what should be shown
    (an LLM answer that fails verification is replaced by the extractive one, so it may not continue the
    deltas)."""

    answer: Answer


# What Assistant.stream yields: deltas, then one Final.
StreamEvent = Delta | Final
