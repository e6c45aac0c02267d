"""All settings in one frozen dataclass, read from ``POLICY_*`` environment variables.

CLI options map onto the same field names (``--encoder`` → ``encoder``), so a setting means the
same thing wherever it is given. The README's settings table mirrors :data:`SETTINGS_DOC`; a test keeps
the two in step.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import ConfigError

ENV_PREFIX = "POLICY_"


@dataclass(frozen=True)
class Settings:
    """Every tunable of the assistant. Construct with :meth:`from_env`."""

    corpus_dir: Path = Path("corpus")
    # More folders read beside corpus_dir (each may have its own manifest.toml), e.g. a shared national
    # library beside the local measures; uploads still go to corpus_dir. Env: paths joined by ":".
    extra_corpus_dirs: tuple[Path, ...] = ()
    index_dir: Path = Path("index")
    # Dense channels, fused with BM25: USE (fast) and e5 (reads everyday Chinese paraphrase; ~20× the cost
    # per text). Both beat USE alone on every dev set (evals/README.md); a corpus where e5 would take long
    # says so when its build starts (POLICY_ENCODER=use-multilingual is the fast choice).
    encoder: str = "use-multilingual+e5"
    # Chroma server mode: when chroma_host is set, an HttpClient is used instead of the embedded store.
    chroma_host: str = ""
    chroma_port: int = 8000
    chroma_ssl: bool = False
    # Seconds one call to the Chroma server may take (its connection: at most 3 s). A server that does
    # not answer in time is left alone for a while (search/vectorstore.py), so it cannot hold requests.
    chroma_timeout: float = 10.0
    collection_prefix: str = "policy-clauses"
    # Weight of the dense score in the fused ranking (1 - weight goes to BM25).
    dense_weight: float = 0.5
    # How the dense weight is split among the encoder's channels: relative weights by encoder name (a channel
    # not named weighs 1). Calibrated on the dev sets by evals/fusion.py (e5 carries the paraphrases USE misses).
    channel_weights: str = "use-multilingual=1,e5=4"
    # Where the askers are (临夏州, 临夏回族自治州, 浙江省; "" = anywhere): the documents that apply are
    # that area's, every enclosing area's and the national ones. A conversation may choose another.
    region: str = ""
    # Added to the fused score (0..1) of a clause by its document's level, full for a county, none for
    # a national text: among equally relevant clauses the local measure, which implements the higher
    # ones, comes first. Chosen on evals/qa.jsonl and qa_multi.jsonl (docs/evaluation.md).
    local_boost: float = 0.1
    # With the asker's area known (POLICY_REGION, the conversation's choice), the bonus of the asker's
    # own area's documents instead (less for each enclosing area, none for national ones): the rule
    # that implements the higher ones for this asker leads, the higher ones follow it.
    region_boost: float = 0.3
    # Added to the fused score of a clause by its document's kind (法律, 司法解释, 行政法规 …): `kind=bonus`
    # joined by `,`; kinds not named get 0. Off by default (a policy deployment's 行政法规 are primary
    # sources); a laws deployment calibrates it on its own questions (evals/kind_prior.py): laypeople's
    # questions are answered by a 法律 far more often than the share of 法律 among the near misses.
    kind_prior: str = ""
    top_k: int = 5
    embed_batch_size: int = 64
    # Up to this many vector parts, dense search scans all vectors in memory (exact, and faster than
    # a call into Chroma); larger indexes query Chroma. 0 always queries Chroma.
    exact_search_max_parts: int = 20_000
    # Processes that embed and tokenize a large build (0: one per CPU; 1: in the building process).
    build_workers: int = 0
    # Corpus files that cannot be read fail the build instead of being skipped and reported.
    strict: bool = False
    # Build (or refresh) the index on first use when it is missing or stale.
    auto_build: bool = True
    # sentence-transformers models may be fetched from a model hub only when this is set.
    allow_model_download: bool = False
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    # Answers computed at once by the web app's queue (more users wait in the queue). Chosen from the
    # load test in docs/performance.md: on 2 cores more workers only add contention.
    web_concurrency: int = 4
    # Browser sessions the web app holds (about 125 KB each), least recently used dropped first.
    web_sessions: int = 2000
    # Optional LLM composer: "" (off, extractive answers only), "openai" (any OpenAI-compatible
    # endpoint) or "ollama". Answers are verified against the cited clauses either way.
    llm: str = ""
    llm_model: str = ""
    llm_base_url: str = ""
    llm_api_key: str = field(default="", repr=False)  # a secret: kept out of reprs and logs
    llm_timeout: float = 60.0
    # Clauses given to the model, best first.
    llm_clauses: int = 4
    # The web admin area (reindex, upload) exists only when a password is set.
    admin_password: str = field(default="", repr=False)
    upload_max_mb: int = 20
    # What one corpus file may hold (corpus/readers.py CorpusLimits): past a limit it is skipped, named.
    corpus_max_file_mb: int = 50
    corpus_max_chars: int = 2_000_000
    corpus_max_clauses: int = 10_000
    admin_max_failures: int = 5
    # SQLite file of answer feedback (👍/👎 and comments) from the web app.
    feedback_db: Path = Path("feedback/feedback.sqlite3")
    # A folder of this deployment's own vocabulary files (glossary.tsv, cues.toml …); each file found
    # there replaces the package's. Read again on every admin reload.
    lexicon_dir: Path | None = None

    def __post_init__(self) -> None:
        # Paths may be given as text (Settings(corpus_dir="corpus")): every path field holds a Path.
        for name in ("corpus_dir", "index_dir", "feedback_db"):
            value = getattr(self, name)
            if not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        if self.lexicon_dir is not None and not isinstance(self.lexicon_dir, Path):
            object.__setattr__(self, "lexicon_dir", Path(self.lexicon_dir))
        extra = self.extra_corpus_dirs
        if isinstance(extra, (str, Path)):
            extra = (extra,)
        object.__setattr__(self, "extra_corpus_dirs", tuple(Path(p) for p in extra))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Read settings from ``POLICY_<FIELD>`` variables, then apply explicit overrides.

        Args:
            env: variables to read (defaults to ``os.environ``).
            overrides: field values that win over the environment (``None`` values are ignored,
                so CLI options that were not given fall through).

        Raises:
            ConfigError: a variable cannot be converted to the field's type.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw.strip() != "":
                values[f.name] = _convert(f, raw.strip())
        if "llm_api_key" not in values and env.get("OPENAI_API_KEY", "").strip():
            values["llm_api_key"] = env["OPENAI_API_KEY"].strip()  # the variable OpenAI tooling already uses
        for name, value in overrides.items():
            if value is not None:
                values[name] = value
        settings = cls(**values)
        settings._validate()
        return settings

    def weights_of_channels(self, encoders: Sequence[str] | None = None) -> tuple[float, ...]:
        """The relative weight of each of ``encoders`` (default: the channels of ``encoder``), in order,
        from ``channel_weights``.

        Raises:
            ValueError: an entry is not ``name=weight`` with a non-negative number.
        """
        named: dict[str, float] = {}
        for entry in filter(str.strip, self.channel_weights.split(",")):
            name, sep, weight = entry.partition("=")
            if not sep or float(weight) < 0 or not math.isfinite(float(weight)):
                raise ValueError(entry)
            named[name.strip()] = float(weight)
        return tuple(named.get(name, 1.0) for name in (encoders or channel_names(self.encoder)))

    def kind_bonuses(self) -> dict[str, float]:
        """The ranking bonus of each document kind named in ``kind_prior``.

        Raises:
            ValueError: an entry is not ``kind=bonus`` with a bonus between -1 and 1.
        """
        named: dict[str, float] = {}
        for entry in filter(str.strip, self.kind_prior.split(",")):
            kind, sep, bonus = entry.partition("=")
            if not sep or not kind.strip() or not -1.0 <= float(bonus) <= 1.0:
                raise ValueError(entry)
            named[kind.strip()] = float(bonus)
        return named

    @property
    def corpus_dirs(self) -> tuple[Path, ...]:
        """Every folder the corpus is read from: ``corpus_dir`` first, then ``extra_corpus_dirs``."""
        return (self.corpus_dir, *self.extra_corpus_dirs)

    @property
    def server_mode(self) -> bool:
        """True when the vectors live in a Chroma server rather than under ``index_dir``."""
        return bool(self.chroma_host)

    def _validate(self) -> None:
        if self.region.strip():
            from .regions import Regions

            if Regions.load().find(self.region) is None:
                raise ConfigError(f"POLICY_REGION “{self.region}” 不是已知的行政区划名称（例如 临夏州、临夏回族自治州、浙江省）")
        if not 0.0 <= self.region_boost <= 1.0:
            raise ConfigError(f"POLICY_REGION_BOOST 应在 0 到 1 之间，当前为 {self.region_boost}")
        if not 0.0 <= self.local_boost <= 1.0:
            raise ConfigError(f"POLICY_LOCAL_BOOST 应在 0 到 1 之间，当前为 {self.local_boost}")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ConfigError(f"POLICY_DENSE_WEIGHT 应在 0 到 1 之间，当前为 {self.dense_weight}")
        try:
            weights = self.weights_of_channels()
        except ValueError:
            raise ConfigError(f"POLICY_CHANNEL_WEIGHTS 应写成 编码器=权重，用逗号分隔（例如 use-multilingual=1,e5=4），"
                              f"权重为非负数，当前为 {self.channel_weights!r}") from None
        if not sum(weights):
            raise ConfigError(f"POLICY_CHANNEL_WEIGHTS 给编码器 {'、'.join(channel_names(self.encoder))} 的权重全为 0")
        try:
            self.kind_bonuses()
        except ValueError:
            raise ConfigError(f"POLICY_KIND_PRIOR 应写成 文件类别=加分，用逗号分隔（例如 法律=0.07,行政法规=-0.17），"
                              f"加分在 -1 到 1 之间，当前为 {self.kind_prior!r}") from None
        if self.top_k < 1:
            raise ConfigError(f"返回条数（--k / POLICY_TOP_K）应为正整数，当前为 {self.top_k}")
        if self.llm and self.llm.strip().lower() not in ("openai", "ollama"):
            raise ConfigError(f"POLICY_LLM 只能是 openai 或 ollama（留空表示不用大模型），当前为 {self.llm!r}")
        if self.llm_clauses < 1:
            raise ConfigError(f"POLICY_LLM_CLAUSES 应为正整数，当前为 {self.llm_clauses}")
        if not 0 < self.chroma_timeout <= 600:
            raise ConfigError(f"POLICY_CHROMA_TIMEOUT 应为 0 到 600 之间的秒数，当前为 {self.chroma_timeout}")
        if self.web_sessions < 1:
            raise ConfigError(f"POLICY_WEB_SESSIONS 应为正整数，当前为 {self.web_sessions}")
        if self.web_concurrency < 1:
            raise ConfigError(f"POLICY_WEB_CONCURRENCY 应为正整数，当前为 {self.web_concurrency}")
        if self.admin_max_failures < 1:
            raise ConfigError(f"POLICY_ADMIN_MAX_FAILURES 应为正整数，当前为 {self.admin_max_failures}")
        if self.upload_max_mb < 1:
            raise ConfigError(f"POLICY_UPLOAD_MAX_MB 应为正整数，当前为 {self.upload_max_mb}")
        for name in ("corpus_max_file_mb", "corpus_max_chars", "corpus_max_clauses"):
            if getattr(self, name) < 1:
                raise ConfigError(f"POLICY_{name.upper()} 应为正整数，当前为 {getattr(self, name)}")
        if self.build_workers < 0:
            raise ConfigError(f"POLICY_BUILD_WORKERS 应为 0（按 CPU 数）或正整数，当前为 {self.build_workers}")
        if self.exact_search_max_parts < 0:
            raise ConfigError(f"POLICY_EXACT_SEARCH_MAX_PARTS 应为 0 或正整数，当前为 {self.exact_search_max_parts}")
        if self.embed_batch_size < 1:
            raise ConfigError(f"POLICY_EMBED_BATCH_SIZE 应为正整数，当前为 {self.embed_batch_size}")


# An index may hold several dense channels, each its own encoder: "use-multilingual+e5".
CHANNEL_SEPARATOR = "+"


def channel_names(encoder: str) -> list[str]:
    """The encoders of an encoder setting, in order (one name, or several joined by ``+``)."""
    return [part.strip() for part in encoder.split(CHANNEL_SEPARATOR) if part.strip()] or [encoder]


_TRUE = {"1", "true", "yes", "on", "是"}
_FALSE = {"0", "false", "no", "off", "否"}


def _convert(f: dataclasses.Field, raw: str) -> Any:
    name = ENV_PREFIX + f.name.upper()
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "bool":
            low = raw.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind in ("Path", "Path | None"):
            return Path(raw).expanduser()
        if kind == "tuple[Path, ...]":
            return tuple(Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip())
        return raw
    except ValueError:
        raise ConfigError(f"环境变量 {name} 的值无效：{raw!r}") from None


# One line per setting, used by the README table and `policy-assistant settings`.
SETTINGS_DOC: dict[str, str] = {
    "corpus_dir": "Folder of policy documents and manifest.toml",
    "extra_corpus_dirs": "More document folders read beside `corpus_dir` (paths joined by `:`; each may have a manifest.toml)",
    "index_dir": "Where the built index lives (generations, pointer, BM25, embedded Chroma)",
    "encoder": "Dense encoders, one channel each, joined by `+`: `use-multilingual` (bundled, fast), `e5` (bundled, "
               "Chinese-capable, ~20× the cost per text), `st:<model id or local path>`",
    "chroma_host": "Chroma server host; when set, vectors go to the server via HttpClient",
    "chroma_port": "Chroma server port",
    "chroma_ssl": "Use HTTPS for the Chroma server",
    "chroma_timeout": "Seconds one call to the Chroma server may take; a server that does not answer is then skipped for a while",
    "collection_prefix": "Prefix of Chroma collection names (one collection per index generation)",
    "dense_weight": "Weight of the dense score in hybrid ranking (0..1; BM25 gets the rest)",
    "channel_weights": "How the dense weight is split among the encoder's channels: `name=weight` joined by `,` (relative; a channel not named weighs 1)",
    "region": "Where the askers are (e.g. `临夏州`): documents of that area, the areas enclosing it and national ones apply; empty: all",
    "region_boost": "With the asker's area known: ranking bonus (0..1) of its own area's documents (less for enclosing areas)",
    "local_boost": "Ranking bonus (0..1) of a clause by its document's level: full for a county, none for national texts",
    "kind_prior": "Ranking bonus by document kind: `kind=bonus` joined by `,` (e.g. `法律=0.07,行政法规=-0.17`; -1..1; off when empty), calibrated per deployment by `evals/kind_prior.py`",
    "top_k": "Default number of hits",
    "embed_batch_size": "Texts per encoder batch while indexing",
    "exact_search_max_parts": "Up to this many vector parts, dense search scans vectors in memory; above it (or 0) it queries Chroma",
    "build_workers": "Processes that embed and tokenize a large build (0: one per CPU; 1: no worker processes)",
    "strict": "Fail the build on an unreadable corpus file instead of skipping it",
    "auto_build": "Build or refresh the index on first use when it is missing or stale",
    "allow_model_download": "Let sentence-transformers fetch a model from a hub (off: local files only)",
    "host": "Web app host",
    "port": "Web app port",
    "share": "Ask Gradio for a public share link",
    "web_concurrency": "Answers the web app computes at once; further requests wait in its queue",
    "web_sessions": "Browser sessions the web app keeps (about 125 KB each); past that the least recently used is dropped",
    "llm": "Optional LLM composer: empty (extractive only), `openai` (OpenAI-compatible endpoint) or `ollama`",
    "llm_model": "Model name for the LLM composer (required for `openai`; `ollama` defaults to qwen2.5:7b)",
    "llm_base_url": "Endpoint base URL, e.g. http://127.0.0.1:8000/v1 (vLLM) or http://127.0.0.1:11434 (Ollama)",
    "llm_api_key": "API key of the OpenAI-compatible endpoint (falls back to OPENAI_API_KEY)",
    "llm_timeout": "Seconds to wait for the LLM before answering extractively",
    "llm_clauses": "Number of top clauses given to the LLM",
    "admin_password": "Password of the web admin area (reindex, upload, list, delete); empty: no admin area",
    "upload_max_mb": "Largest document the admin area accepts, in MB",
    "corpus_max_file_mb": "Largest corpus file read, in MB; a larger one is skipped and named",
    "corpus_max_chars": "Most characters of text one corpus file may hold (a .docx: after decompression); more is skipped and named",
    "corpus_max_clauses": "Most clauses one corpus file may be split into; more is skipped and named",
    "admin_max_failures": "Wrong admin passwords one client may give in 5 minutes (all clients: ten times as many) "
                          "before every try is refused until the window has passed",
    "feedback_db": "SQLite file where answer feedback (👍/👎, comments) is stored; export with `feedback export`",
    "lexicon_dir": "Folder of vocabulary files (glossary.tsv, cues.toml …) that replace the package's; re-read on reload",
}
