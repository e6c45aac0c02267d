"""The optional LLM composer: a LangChain chat model writes the answer from numbered clauses.

Providers: ``openai`` (any OpenAI-compatible endpoint: Qwen, DeepSeek, vLLM, llama.cpp server) and
``ollama``. The model only phrases the answer; grounding is enforced afterwards by
:func:`assistant.grounding.verify` (markers and numbers), and the caller falls back to the extractive
answer when verification fails. Nothing here runs unless ``POLICY_LLM`` (or ``--llm``) is set.
"""

from __future__ import annotations

from typing import Iterator

from .. import grammar
from ..config import Settings
from ..errors import ConfigError
from ..lexicon import Prompt
from ..models import Citation, Clause
from ..search.text import tokenize
from .compose import ExtractiveComposer, score_sentences
from .grounding import PromptGuard

PROVIDERS = ("openai", "ollama")
DEFAULT_OLLAMA_MODEL = "qwen2.5:7b"
DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
# vLLM and llama.cpp servers accept any key, but the OpenAI client refuses to start without one.
PLACEHOLDER_API_KEY = "EMPTY"



def chat_model(settings: Settings, provider: str | None = None):
    """The LangChain chat model for ``provider`` (default: ``settings.llm``).

    Raises:
        ConfigError: unknown provider, or an OpenAI-compatible endpoint without a model name.
    """
    provider = (provider or settings.llm).strip().lower()
    if provider == "openai":
        ChatOpenAI = _client("langchain_openai", "ChatOpenAI")

        if not settings.llm_model:
            raise ConfigError("使用 OpenAI 兼容接口时需要设置模型名称（POLICY_LLM_MODEL），例如 qwen-plus")
        return ChatOpenAI(model=settings.llm_model, base_url=settings.llm_base_url or None,
                          api_key=settings.llm_api_key or PLACEHOLDER_API_KEY, temperature=0,
                          timeout=settings.llm_timeout, max_retries=1, streaming=True)
    if provider == "ollama":
        ChatOllama = _client("langchain_ollama", "ChatOllama")

        return ChatOllama(model=settings.llm_model or DEFAULT_OLLAMA_MODEL,
                          base_url=settings.llm_base_url or DEFAULT_OLLAMA_URL, temperature=0,
                          client_kwargs={"timeout": settings.llm_timeout})
    raise ConfigError(f"未知的大模型接口“{provider}”，可选：{'、'.join(PROVIDERS)}")


def _client(module: str, name: str):
    """A LangChain chat-model class from the optional ``[llm]`` extra.

    Raises:
        ConfigError: the extra is not installed.
    """
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        raise ConfigError(f"使用大模型需要安装 {module.replace('_', '-')}：pip install 'policy-assistant[llm]'"
                          "（开发环境：pip install -e '.[llm]'）") from None


class LLMComposer:
    """Streams an answer from a chat model over numbered clauses and maps its markers to citations."""

    def __init__(self, model, name: str, composer: ExtractiveComposer, prompt: Prompt, max_clauses: int = 4):
        self.model = model
        self.name = name
        self.composer = composer
        self.max_clauses = max_clauses
        self.prompt = prompt
        self.guard = PromptGuard(prompt.system)

    def number(self, clauses: list[Clause]) -> dict[int, Clause]:
        """The clauses shown to the model, keyed by the marker that cites them."""
        return {i: c for i, c in enumerate(clauses[: self.max_clauses], start=1)}

    def messages(self, question: str, numbered: dict[int, Clause]) -> list[tuple[str, str]]:
        blocks = "\n\n".join(
            self.prompt.clause.format(n=n, heading=self.composer.index.heading(c),
                                      text=c.text.strip())
            for n, c in numbered.items())
        return [("system", self.prompt.system), ("human", self.prompt.user.format(clauses=blocks, question=question))]

    def stream(self, question: str, numbered: dict[int, Clause]) -> Iterator[str]:
        """Text pieces as the model produces them. Provider errors propagate to the caller."""
        for chunk in self.model.stream(self.messages(question, numbered)):
            text = chunk.text if isinstance(chunk.text, str) else chunk.text()
            if text:
                yield text

    def citations(self, text: str, numbered: dict[int, Clause]) -> list[Citation]:
        """One citation per marker used: the clause sentence closest to the answer sentences citing it."""
        claims: dict[int, list[str]] = {}
        for sentence in grammar.SENTENCE.findall(text):
            for n in grammar.markers(sentence):
                claims.setdefault(n, []).append(grammar.MARKER_RUN.sub("", sentence))
        cites = []
        for n, said in claims.items():
            clause = numbered.get(n)
            if clause is None:
                continue
            scored = score_sentences(clause, set(tokenize(" ".join(said))), wants_figure=False)
            if scored:
                best = max(scored, key=lambda s: s.score)
                cites.append(self.composer.cite(clause, best.text, best.start, best.end))
            else:
                cites.append(self.composer.whole_clause(clause))
        return cites
