"""Retries with backoff for calls to a Chroma server, which can restart or drop a connection mid-operation.

Only failures that a retry can cure are retried: the caller says which (``transient``; for Chroma,
:func:`assistant.search.vectorstore.transient`: connection and timeout errors). Anything else (a
damaged or mismatched index, a bad request) is raised at once, unchanged, so its own message (the
rebuild hint of an ``IndexMismatchError``) reaches the user. Declared with tenacity.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_chain, wait_fixed

T = TypeVar("T")

# Waits between attempts (seconds): four attempts in about two seconds, then give up.
RETRY_DELAYS = (0.2, 0.5, 1.2)


def with_retries(call: Callable[[], T], *, transient: Callable[[BaseException], bool],
                 on_retry: Callable[[BaseException], None] | None = None,
                 delays: tuple[float, ...] = RETRY_DELAYS, sleep: Callable[[float], None] = time.sleep) -> T:
    """``call()``; when it raises an error ``transient`` accepts, run ``on_retry(exc)``, wait ``delays[i]``
    and try again. The last error, or any other, is raised as it is."""
    retrying = Retrying(
        retry=retry_if_exception(transient),
        stop=stop_after_attempt(len(delays) + 1),
        wait=wait_chain(*(wait_fixed(d) for d in delays)) if delays else wait_fixed(0),
        sleep=sleep,
        before_sleep=(lambda state: _report(state, on_retry)) if on_retry else None,
        reraise=True,
    )
    return retrying(call)


def _report(state: RetryCallState, on_retry: Callable[[BaseException], None]) -> None:
    """Tell ``on_retry`` which failure is being retried (tenacity calls this before each sleep)."""
    failure = state.outcome.exception() if state.outcome is not None else None
    if failure is not None:
        on_retry(failure)
