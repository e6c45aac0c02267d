"""Retries with backoff for calls to a Chroma server, which can restart or drop a connection mid-operation.

Only server mode retries: an embedded store's errors are not transient. After the last attempt the
caller gets a :class:`~assistant.vectorstore.ChromaUnavailableError` with a Chinese message, which the
answer pipeline turns into an error answer rather than a traceback.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")

# Waits between attempts (seconds): four attempts in about two seconds, then give up.
RETRY_DELAYS = (0.2, 0.5, 1.2)


def with_retries(call: Callable[[], T], *, on_retry: Callable[[Exception], None] | None = None,
                 delays: tuple[float, ...] = RETRY_DELAYS, sleep: Callable[[float], None] = time.sleep) -> T:
    """``call()``; on an exception wait ``delays[i]``, run ``on_retry(exc)`` and try again; re-raise the last."""
    for delay in delays:
        try:
            return call()
        except Exception as exc:  # connection refused, reset, timeout, server error: all worth a retry
            sleep(delay)
            if on_retry is not None:
                on_retry(exc)
    return call()
