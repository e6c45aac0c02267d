"""Chroma access: an embedded PersistentClient per index generation, or a shared Chroma server, and
:class:`VectorStore`, one generation's part vectors as the index reads them.

Each index generation writes a collection of its own, so a build never touches the collection the
running app reads; the generation pointer switches only after the new collection is complete.

Every call to a server is bounded: connect and read timeouts on the client's session, and a circuit
breaker (pybreaker) per server that, once a call has failed for want of the server, fails the calls
of the next :data:`COOLDOWN` seconds at once instead of letting each one wait out its timeout.
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence, TypeVar

import httpx
import numpy as np
import pybreaker

from .. import retry
from ..config import Settings
from ..errors import REBUILD_COMMAND, ChromaUnavailableError, IndexMismatchError, PolicyError
from ..models import Part
from . import integrity

if TYPE_CHECKING:
    from .layout import Channel, IndexManifest

__all__ = ["ChromaUnavailableError", "VectorStore", "transient", "reconnectable", "guarded", "is_down"]

T = TypeVar("T")

# Seconds to connect to a server (at most: a smaller chroma_timeout wins). A refused connection is
# immediate; one that takes longer than this goes to a host that is not there.
CONNECT_TIMEOUT = 3.0
# Seconds a server that failed is left alone before one call tries it again.
COOLDOWN = 15.0


def transient(exc: BaseException) -> bool:
    """A failure of the Chroma client that says the server is not there (now): the connection was
    refused, reset or timed out (httpx's transport errors), or reconnecting found the server down."""
    return isinstance(exc, (httpx.TransportError, ChromaUnavailableError, ConnectionError, TimeoutError))


def reconnectable(exc: BaseException) -> bool:
    """A transient failure a retry on a fresh connection can cure soon (a restart, a dropped
    connection). A timeout is not: the server is hung, and each retry would wait the whole timeout again."""
    timed_out = (httpx.TimeoutException, TimeoutError)
    return transient(exc) and not isinstance(exc, timed_out) and not isinstance(exc.__cause__, timed_out)


_breakers: dict[str, pybreaker.CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def _breaker(settings: Settings) -> pybreaker.CircuitBreaker:
    """The circuit breaker of the server ``settings`` name, shared by every index and client on it."""
    where = chroma_location(settings)
    with _breakers_lock:
        if where not in _breakers:
            # One failure opens it: the failure has already been retried (or was a timeout). Errors that
            # are not the server's absence (a missing collection, a bad request) do not count.
            _breakers[where] = pybreaker.CircuitBreaker(
                fail_max=1, reset_timeout=COOLDOWN, exclude=[lambda exc: not transient(exc)],
                throw_new_error_on_trip=False, name=where)
        _breakers[where].reset_timeout = COOLDOWN  # read each time: a test may shorten it
        return _breakers[where]


def guarded(settings: Settings, call: Callable[[], T]) -> T:
    """``call()`` through the server's circuit breaker.

    Raises:
        ChromaUnavailableError: the server failed within the last :data:`COOLDOWN` seconds (no call made).
    """
    try:
        return _breaker(settings).call(call)
    except pybreaker.CircuitBreakerError:
        raise ChromaUnavailableError(
            f"Chroma 服务器 {chroma_location(settings)} 刚才没有响应，{COOLDOWN:.0f} 秒内不再等待它") from None


def is_down(settings: Settings) -> bool:
    """Whether the server's breaker is open: a call just failed for want of the server."""
    return settings.server_mode and _breaker(settings).current_state == pybreaker.STATE_OPEN


def chroma_location(settings: Settings) -> str:
    """Where vectors live, as recorded in the index manifest ("embedded" or the server URL)."""
    if settings.server_mode:
        scheme = "https" if settings.chroma_ssl else "http"
        return f"{scheme}://{settings.chroma_host}:{settings.chroma_port}"
    return "embedded"


def make_client(settings: Settings, generation_dir: Path):
    """A Chroma client: HttpClient when a server is configured, else a PersistentClient in the generation.

    Raises:
        ChromaUnavailableError: the server does not answer.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    # Telemetry would try to reach the network; nothing here may.
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.server_mode:
        timeout = httpx.Timeout(settings.chroma_timeout, connect=min(CONNECT_TIMEOUT, settings.chroma_timeout))
        try:
            # HttpClient() itself calls the server with no timeout: ask first, with one.
            httpx.get(f"{chroma_location(settings)}/api/v2/heartbeat", timeout=timeout).raise_for_status()
            client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                         ssl=settings.chroma_ssl, settings=chroma_settings)
        except Exception as exc:  # connection refused, DNS, TLS, a hung server: all mean "server unavailable"
            raise ChromaUnavailableError(
                f"无法连接 Chroma 服务器 {chroma_location(settings)}：{type(exc).__name__}。"
                "请确认服务器已启动，或清除 POLICY_CHROMA_HOST 改用本地索引。") from exc
        _bound_waits(client, timeout)
        return client
    return chromadb.PersistentClient(path=str(generation_dir / "chroma"), settings=chroma_settings)


def _bound_waits(client, timeout: httpx.Timeout) -> None:
    """Give the HttpClient's session ``timeout``: chromadb 1.5 builds it with ``timeout=None`` and has
    no setting for it, so a frozen server would hold each request, and the thread serving it, forever."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if not isinstance(session, httpx.Client):  # a chromadb upgrade moved it: fail loudly, not unbounded
        raise RuntimeError("chromadb HttpClient has no httpx session at ._server._session")
    session.timeout = timeout


def collection_name(prefix: str, generation: str) -> str:
    return f"{prefix}-{generation}"


def create_collection(client, name: str, encoder_id: str, metadata: dict | None = None):
    """``metadata``: extra scalars recorded on the collection (the generation and its content hash)."""
    # embedding_function=None: we always pass vectors, and Chroma must never fetch its default model.
    return client.create_collection(
        name=name,
        configuration={"hnsw": {"space": "cosine"}},
        embedding_function=None,
        metadata={"encoder": encoder_id, **(metadata or {})},
    )


def get_collection(client, name: str):
    return client.get_collection(name=name, embedding_function=None)


def part_metadata(part: Part) -> dict:
    """What Chroma keeps beside a vector: where it belongs (for ``where`` filters by clause or document).
    Everything else about a clause is in the index folder; each extra field cost write time at scale."""
    return {"clause_id": part.clause_id, "doc_id": part.doc_id, "ordinal": part.ordinal}


def add_parts(collection, parts: Sequence[Part], vectors: np.ndarray, metadatas: Sequence[dict]) -> None:
    """One batch of part vectors with their metadata. The texts stay in the index folder
    (clauses.jsonl): Chroma's full-text index over them doubled the write time and is never queried."""
    collection.add(ids=[p.part_id for p in parts], embeddings=vectors, metadatas=list(metadatas))


def delete_parts(collection, ids: Sequence[str], batch_size: int = 1000) -> None:
    for start in range(0, len(ids), batch_size):
        collection.delete(ids=list(ids[start:start + batch_size]))


def fetch_vectors(collection, ids: Iterable[str], batch_size: int = 1000) -> dict[str, np.ndarray]:
    """Stored vectors by part id (ids absent from the collection are simply missing)."""
    ids = list(ids)
    out: dict[str, np.ndarray] = {}
    for start in range(0, len(ids), batch_size):
        got = collection.get(ids=ids[start:start + batch_size], include=["embeddings"])
        for pid, vec in zip(got["ids"], got["embeddings"]):
            out[pid] = np.asarray(vec, dtype=np.float32)
    return out


def query(collection, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
    """(clause_id, cosine similarity) of the ``n`` nearest parts, best first."""
    if n <= 0:
        return []
    # Ids only: the clause id is in the part id, and fetching metadata triples the query time.
    result = collection.query(query_embeddings=[vector.tolist()], n_results=n, include=["distances"])
    return [(clause_of_part(pid), 1.0 - float(dist)) for pid, dist in zip(result["ids"][0], result["distances"][0])]


def clause_of_part(part_id: str) -> str:
    """The clause id of a part id: ``<clause_id>`` or ``<clause_id>/<n>`` (clause ids end in ``#<number>``)."""
    head, sep, tail = part_id.rpartition("/")
    return head if sep and "#" not in tail and tail.isdigit() else part_id


def drop_collections(client, prefix: str, keep: set[str]) -> None:
    """Delete this project's collections except ``keep`` (old generations in server mode)."""
    for col in client.list_collections():
        name = col if isinstance(col, str) else col.name
        if name.startswith(prefix + "-") and name not in keep:
            try:
                client.delete_collection(name)
            except Exception:  # already gone (another builder cleaned it): nothing to do
                pass


def vectors_digest_of(collection, part_count: int, settings: Settings) -> str:
    """integrity.vectors_digest of a collection as written, when it is small enough for the exact scan to
    read it whole (and check it then); "" otherwise."""
    if not 0 < part_count <= settings.exact_search_max_parts:
        return ""
    got = collection.get(include=["embeddings"])
    return integrity.vectors_digest(got["ids"], np.asarray(got["embeddings"], dtype=np.float32))


# What a catch-all around Chroma lets through: Chroma's Rust panics derive from BaseException, these do not mean damage.
_STOPS = (KeyboardInterrupt, SystemExit, GeneratorExit)


class VectorStore:
    """One dense channel's part vectors: its Chroma collection (embedded in the generation or on a
    server), checked against the manifest when opened, scanned exactly in memory when small, and called
    with retries and the server's circuit breaker.

    Args:
        manifest: the generation's ``IndexManifest`` (generation, part count, content hash).
        channel: which of its channels (encoder, collection, vectors checksum).
        row: clause id → the clause's row in the index (what a part's vectors are reported by).
    """

    def __init__(self, settings: Settings, gen_dir: Path | None, manifest: "IndexManifest", channel: "Channel",
                 row: Mapping[str, int]):
        self.settings = settings
        self.dir = gen_dir
        self.manifest = manifest
        self.channel = channel
        self.row = row
        self._collection = None
        self._exact: tuple[list[str], np.ndarray] | None = None

    @classmethod
    def in_memory(cls, settings: Settings, manifest: "IndexManifest", channel: "Channel", row: Mapping[str, int],
                  part_clauses: list[str], vectors: np.ndarray) -> "VectorStore":
        """Vectors held in memory only (``Index.in_memory``): always the exact scan, no Chroma."""
        store = cls(settings, None, manifest, channel, row)
        store._exact = (part_clauses, vectors)
        return store

    def open(self) -> None:
        """Open and check the collection now, and read embedded vectors for the exact scan (checked by
        their sum): damage shows when the index is opened, not at a question.

        Raises:
            IndexMismatchError: the collection is missing, damaged or another generation's.
            ChromaUnavailableError: the server does not answer.
        """
        _ = self.collection
        if self.channel.vectors_sha256 and not self.settings.server_mode:
            self.exact_vectors()

    @property
    def name(self) -> str:
        """The channel's Chroma collection."""
        return self.channel.collection

    @property
    def down(self) -> bool:
        """Whether the Chroma server failed just now (server mode), so searches go by keywords alone."""
        return is_down(self.settings)

    @property
    def collection(self):
        if self._collection is None:
            try:
                if not self.settings.server_mode and not (self.dir / "chroma").is_dir():
                    raise FileNotFoundError(self.dir / "chroma")  # a PersistentClient would create it empty
                collection = get_collection(make_client(self.settings, self.dir), self.name)
            except (ChromaUnavailableError, *_STOPS):
                raise
            except BaseException as exc:  # also Chroma's Rust panics (not Exceptions) on a damaged database
                chroma = self.dir / "chroma"
                if not self.settings.server_mode and chroma.is_dir() and not os.access(chroma, os.W_OK):
                    raise IndexMismatchError(  # not damage: a rebuild would not help
                        f"索引目录不可写（{self.dir}）：本地向量库打开时需要写入。请让索引目录可写，"
                        "或改用 Chroma 服务器（POLICY_CHROMA_HOST）。") from None
                raise IndexMismatchError(
                    f"向量集合 {self.name} 无法打开（{type(exc).__name__}）。"
                    f"请运行：{REBUILD_COMMAND}") from None
            self._check(collection)
            self._collection = collection
        return self._collection

    def _check(self, collection) -> None:
        """The collection must be the one this generation built: same generation, content and size.

        In server mode the index folder (BM25, clause records) and the vectors live apart; a replica
        whose folder lags behind the server, or a server collection rebuilt under it, would otherwise
        mix two versions of the corpus.
        """
        count = collection.count()
        if not self.manifest.clauses_sha256:  # built before generations were recorded: the size only
            if count != self.manifest.part_count:
                raise IndexMismatchError(
                    f"向量集合 {self.name} 不完整（{self.dir}）。请运行：{REBUILD_COMMAND}")
            return
        meta = collection.metadata or {}
        found = (meta.get("generation"), meta.get("clauses_sha256"), count)
        wanted = (self.manifest.generation, self.manifest.clauses_sha256, self.manifest.part_count)
        if found != wanted:
            raise IndexMismatchError(
                f"向量集合 {self.name} 与索引目录 {self.dir} 不一致"
                f"（集合：版本 {found[0]}、{found[2]} 段；索引：版本 {wanted[0]}、{wanted[2]} 段）。"
                f"请确认各副本使用同一索引目录，或运行：{REBUILD_COMMAND}")

    def dense_rows(self, vector: np.ndarray, n: int, within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(clause rows, best cosine similarity of each) among the ``n`` nearest parts.

        Up to ``settings.exact_search_max_parts`` parts, the vectors (read once from the collection) are scanned
        with one matrix product, which is exact and faster than a call into Chroma's HNSW index;
        larger collections are searched by Chroma.

        Args:
            within: a mask over clause rows (a search kept to some documents): in an exact scan, every part
                of those clauses is measured too, so a clause just past the nearest ``n`` of the whole
                corpus still counts inside its documents.

        Raises:
            ChromaUnavailableError: the Chroma server still fails after retries with backoff.
        """
        n = min(n, self.manifest.part_count)
        exact = self.exact_vectors()
        if exact is not None:
            _, matrix = exact
            sims = matrix @ (vector / (np.linalg.norm(vector) or 1.0))
            top = np.argpartition(-sims, n - 1)[:n] if 0 < n < len(sims) else np.arange(len(sims))
            if within is not None:
                top = np.union1d(top, np.flatnonzero(within[self._part_rows]))
            part_rows, part_sims = self._part_rows[top], sims[top]
        else:
            nearest = self.call(lambda: query(self.collection, vector, n))
            part_rows = np.fromiter((self.row[c] for c, _ in nearest), dtype=np.int64, count=len(nearest))
            part_sims = np.fromiter((s for _, s in nearest), dtype=np.float32, count=len(nearest))
        # The best part of each clause: sorted by row, then by similarity falling, the first of each row.
        order = np.lexsort((-part_sims, part_rows))
        part_rows, part_sims = part_rows[order], part_sims[order]
        first = np.concatenate(([True], part_rows[1:] != part_rows[:-1])) if part_rows.size else part_rows.astype(bool)
        return part_rows[first], part_sims[first].astype(np.float32)

    @cached_property
    def _part_rows(self) -> np.ndarray:
        """The clause row of each part of the exact-search matrix."""
        exact = self.exact_vectors()
        part_clauses = exact[0] if exact is not None else []
        return np.fromiter((self.row[c] for c in part_clauses), dtype=np.int64, count=len(part_clauses))

    def exact_vectors(self) -> tuple[list[str], np.ndarray] | None:
        """(clause id per part, unit-length part vectors) for exact search, or None for a large index."""
        if self._exact is None and not 0 < self.manifest.part_count <= self.settings.exact_search_max_parts:
            return None
        if self._exact is None:
            got = self.call(lambda: self.collection.get(include=["embeddings"]))
            matrix = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1)
            if self.channel.vectors_sha256 and integrity.vectors_digest(got["ids"], matrix) != self.channel.vectors_sha256:
                raise IndexMismatchError(
                    f"向量集合 {self.name} 已损坏（与建立时不一致）。请运行：{REBUILD_COMMAND}")
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            self._exact = ([clause_of_part(pid) for pid in got["ids"]], matrix / np.where(norms, norms, 1.0))
        return self._exact

    def call(self, call: Callable[[], T]) -> T:
        """``call()`` on the collection; against a Chroma server, retried with backoff on a fresh
        connection each time, since a server restart or network blip should cost a delay, not an error.
        A timeout is not retried, and while the server is known down no call waits for it (:func:`guarded`).
        """
        if not self.settings.server_mode:
            try:
                return call()
            except (PolicyError, *_STOPS):
                raise
            except BaseException as exc:  # the embedded store cannot be read (a Rust panic too): damaged on disk
                raise IndexMismatchError(f"本地向量库读取失败（{self.dir}：{type(exc).__name__}），可能已损坏。"
                                         f"请运行：{REBUILD_COMMAND}") from None

        def reconnect(_exc: BaseException) -> None:
            self._collection = None

        try:
            return guarded(self.settings, lambda: retry.with_retries(
                call, transient=reconnectable, on_retry=reconnect, delays=retry.RETRY_DELAYS))
        except PolicyError:
            raise  # the server is down after the retries, or the index does not match it (with its rebuild hint)
        except Exception as exc:  # not retried unless transient; either way the user gets a Chinese message
            what = "暂时无法访问" if transient(exc) else "返回了错误"
            raise ChromaUnavailableError(
                f"Chroma 服务器 {chroma_location(self.settings)} {what}（{type(exc).__name__}）") from None
