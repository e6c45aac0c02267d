"""Chroma access: an embedded PersistentClient per index generation, or a shared Chroma server.

Each index generation writes a collection of its own, so a build never touches the collection the
running app reads; the generation pointer switches only after the new collection is complete.

Every call to a server is bounded: connect and read timeouts on the client's session, and a circuit
breaker (pybreaker) per server that, once a call has failed for want of the server, fails the calls
of the next :data:`COOLDOWN` seconds at once instead of letting each one wait out its timeout.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Iterable, Sequence, TypeVar

import httpx
import numpy as np
import pybreaker

from ..config import Settings
from ..errors import ChromaUnavailableError
from ..models import Part

__all__ = ["ChromaUnavailableError", "transient", "reconnectable", "guarded", "is_down"]

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
