"""Typed errors raised by the library; the CLI and the web app turn them into Chinese messages.

Every error carries a user-facing message in Chinese (``str(err)``). Callers never need to parse
tracebacks: catching :class:`PolicyError` is enough at an edge.
"""

from __future__ import annotations

REBUILD_COMMAND = "policy-assistant index --rebuild"
# What a user sees of a fault of ours (not a PolicyError): the traceback goes to the log, not to them.
INTERNAL_ERROR = "服务内部出错，请稍后再试；如果一直出现，请联系管理员查看服务日志。"


class PolicyError(Exception):
    """Base class for every error the assistant reports to a user."""


class ConfigError(PolicyError):
    """A setting (``POLICY_*`` variable or CLI option) has an invalid value."""


class CorpusFileError(PolicyError):
    """A corpus file cannot be read or holds no usable policy text.

    Attributes:
        path: the offending file, so messages and reports can name it.
    """

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"语料文件 {path}：{reason}")


class ManifestError(PolicyError):
    """The corpus manifest is malformed or inconsistent."""


class UnknownEncoderError(PolicyError):
    """An encoder name is not in the registry and not an ``st:`` model reference."""


class EncoderLoadError(PolicyError):
    """An encoder could not be loaded (e.g. a sentence-transformers model not on disk)."""


class IndexMissingError(PolicyError):
    """No index has been built yet in the configured index directory."""


class IndexMismatchError(PolicyError):
    """The index was built with another encoder or an older format; it must be rebuilt."""


class IndexBuildError(PolicyError):
    """A build could not complete; the previous index is left untouched."""


class ChromaUnavailableError(PolicyError):
    """The configured Chroma server cannot be reached (after retries, for a query)."""


class UnknownClauseError(PolicyError):
    """A clause id does not exist in the index."""


class EmptyQueryError(PolicyError):
    """A question or search query is empty (or whitespace only)."""


class FeedbackError(PolicyError, ValueError):
    """Feedback cannot be stored or read: an invalid rating, or a missing, busy or foreign database file."""


class LexiconError(PolicyError):
    """A vocabulary file of ``assistant/data/`` (glossary, aspects, cues, prompt …) is missing or malformed."""


class ProfileError(PolicyError):
    """A matching profile names a choice the form does not offer, nor any everyday word for one."""


class UploadError(PolicyError):
    """An upload was refused; the message says why, in Chinese."""


class FloorsError(PolicyError):
    """An eval's floors file is missing or malformed."""


class StardFileError(PolicyError):
    """The STARD file cannot be read."""


# Problems listed in an eval file's error message; the rest are counted (a wholly wrong file has one per line).
MAX_LISTED_PROBLEMS = 20


class QAFileError(PolicyError):
    """An eval file (a QA, matching or sub-measure set) is malformed; the message names the file and every bad line."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()):
        super().__init__(message)
        self.problems = problems

    @classmethod
    def listing(cls, what: str, problems: list[str]) -> "QAFileError":
        """The error for ``what`` (问答集 evals/x.jsonl) with every bad line: the first ones listed, the rest counted."""
        listed = "\n".join(f"  {p}" for p in problems[:MAX_LISTED_PROBLEMS])
        more = f"\n  …… 另有 {len(problems) - MAX_LISTED_PROBLEMS} 处问题" if len(problems) > MAX_LISTED_PROBLEMS else ""
        return cls(f"{what} 有 {len(problems)} 处问题：\n{listed}{more}", tuple(problems))
