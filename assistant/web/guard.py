"""The server's edge: what every response carries, and who may upload files.

A pure ASGI middleware (streams pass through untouched):
- Gradio's upload route (``/gradio_api/upload``) stores any file anyone sends in its cache. Only the admin
  area uploads documents, so without an admin password the route is closed (403); with one, each client
  may upload a few files per window (429 after that), and Gradio deletes cached files after an hour.
- Every response says the page must not be framed by another site (X-Frame-Options, CSP
  frame-ancestors), its content types are not to be guessed, and no referrer is sent elsewhere.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque

# Uploads one client may make in a window (an admin uploads a document at a time).
UPLOADS_PER_WINDOW, UPLOAD_WINDOW_SECONDS = 20, 600.0
# Cached uploads older than this are deleted, checked this often (Gradio's delete_cache: frequency, age).
UPLOAD_CACHE = (600, 3600)
SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class EdgeGuard:
    """ASGI middleware: the upload route's gate and the security headers (see the module docstring)."""

    def __init__(self, app, *, uploads_allowed: bool, clock=time.monotonic):
        self.app = app
        self.uploads_allowed = uploads_allowed
        self.clock = clock
        self._uploads: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope.get("method") == "POST" and scope.get("path", "").rstrip("/").endswith("/upload"):
            refusal = self._upload_refusal(scope)
            if refusal is not None:
                return await _reply(send, *refusal)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in SECURITY_HEADERS if k not in present)]
            await send(message)

        return await self.app(scope, receive, with_headers)

    def _upload_refusal(self, scope) -> tuple[int, str] | None:
        if not self.uploads_allowed:
            return 403, "本服务不接受文件上传（未开启管理功能）。"
        client = (scope.get("client") or ("", 0))[0]
        now = self.clock()
        with self._lock:
            seen = self._uploads[client]
            while seen and now - seen[0] > UPLOAD_WINDOW_SECONDS:
                seen.popleft()
            if len(seen) >= UPLOADS_PER_WINDOW:
                return 429, f"上传过于频繁，请 {int(UPLOAD_WINDOW_SECONDS - (now - seen[0])) + 1} 秒后再试。"
            seen.append(now)
        return None


async def _reply(send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
