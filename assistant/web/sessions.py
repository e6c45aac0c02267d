"""Bounded Gradio session memory.

Gradio keeps a ``SessionState`` per session hash: a copy of every component's configuration (about
125 KB for this app) plus its ``gr.State`` values. It drops them only past ``state_session_capacity``
sessions (10,000 by default, least recently used first), never by age. Its REST API
(``/gradio_api/call/<name>``) starts a new session for every call, so 5,400 API calls held 650 MB.

Two bounds:
- :class:`ApiSessionReaper` forgets a REST call's session once its result has been read: such a session
  (named after the call's event id) is never used again.
- :func:`bound_sessions` sets the capacity (``POLICY_WEB_SESSIONS``): browsers and clients that keep a
  session of their own, and calls whose result is never fetched, are held up to that many.
"""

from __future__ import annotations

import re

# GET /gradio_api/call/<api name>/<event id>: the result of one REST call, whose session is the event id.
CALL_RESULT = re.compile(r"/gradio_api/call/[^/]+/([0-9a-f]{32})/?$")


def bound_sessions(blocks, capacity: int) -> None:
    """Hold at most ``capacity`` sessions (set before the Blocks are mounted, which copies it)."""
    blocks.state_session_capacity = capacity


class ApiSessionReaper:
    """ASGI middleware: after a REST call's result stream ends, its session is dropped."""

    def __init__(self, app, blocks):
        self.app = app
        self.blocks = blocks

    async def __call__(self, scope, receive, send):
        found = CALL_RESULT.search(scope.get("path", "")) if scope["type"] == "http" else None
        if found is None or scope.get("method") != "GET":
            return await self.app(scope, receive, send)
        try:
            return await self.app(scope, receive, send)
        finally:
            self._forget(found.group(1))

    def _forget(self, session: str) -> None:
        holder = getattr(self.blocks, "state_holder", None)
        if holder is None:
            return
        with holder.lock:
            holder.session_data.pop(session, None)
            holder.time_last_used.pop(session, None)
