"""政策通 (policy-assistant): answers SME financing-policy questions from policy documents, with clauses.

Use from Python::

    import assistant

    bot = assistant.open_assistant("corpus", index="index", region="临夏州")
    answer = bot.ask("创业担保贷款最高能贷多少？")
    print(answer.text)                      # the answer, its first line the fact asked
    for citation in answer.citations:       # the clauses it quotes
        print(citation.heading, citation.quote)
    result = bot.match(assistant.Profile.of("个体工商户", "餐饮", needs=["贷款"]))

The names below are the library's surface; they are imported on first use, so ``import assistant`` loads
nothing heavy (the CLI's cold start stays short).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

__version__ = "0.1.0"

# Public name → the module that defines it.
_EXPORTS = {
    "Assistant": "assistant.answer.assistant",
    "Settings": "assistant.config",
    "Answer": "assistant.models",
    "Citation": "assistant.models",
    "Clause": "assistant.models",
    "Hit": "assistant.models",
    "Delta": "assistant.models",
    "Final": "assistant.models",
    "Profile": "assistant.answer.profile",
    "MatchResult": "assistant.answer.match",
    "MatchedMeasure": "assistant.answer.match",
    "PolicyError": "assistant.errors",
    "build_index": "assistant.search.build",
}

__all__ = ["Answer", "Assistant", "Citation", "Clause", "Delta", "Final", "Hit", "MatchResult", "MatchedMeasure", "PolicyError", "Profile",
           "Settings", "__version__", "build_index", "open_assistant"]

if TYPE_CHECKING:
    from .answer.assistant import Assistant
    from .answer.match import MatchedMeasure, MatchResult
    from .answer.profile import Profile
    from .config import Settings
    from .errors import PolicyError
    from .models import Answer, Citation, Clause, Delta, Final, Hit
    from .search.build import build_index


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")


def open_assistant(corpus: str | Path | Sequence[str | Path] = "corpus", *, index: str | Path = "index",
                   region: str = "", encoder: str | None = None, from_env: bool = False, **settings: Any
                   ) -> "Assistant":
    """An assistant over the documents of ``corpus`` (a folder, or several: the first is where uploads go),
    with its index in ``index`` (built or refreshed there when missing or stale), answering for an asker in
    ``region`` (临夏州; "" for anywhere) with the dense channels ``encoder`` names (default: the bundled ones).

    The environment is read only when ``from_env`` is true (then ``POLICY_*`` variables fill what is not
    given here); ``settings`` sets any other field of :class:`Settings` (``top_k=8``).

    Raises:
        PolicyError: a bad setting, no usable document, or an index or encoder that cannot be loaded (the
            message says which, in Chinese).
    """
    from .answer.assistant import Assistant
    from .config import Settings

    folders = [corpus] if isinstance(corpus, (str, Path)) else list(corpus)
    given = {"corpus_dir": Path(folders[0]), "extra_corpus_dirs": tuple(Path(f) for f in folders[1:]),
             "index_dir": Path(index), "region": region, **settings}
    if encoder is not None:
        given["encoder"] = encoder
    chosen = Settings.from_env(env=None if from_env else {}, **given)
    return Assistant.from_settings(chosen)
