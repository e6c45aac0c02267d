"""A scripted chat-model endpoint on loopback, speaking the OpenAI and Ollama wire protocols.

A protocol stand-in for a hosted LLM (which cannot run here): it records each request and replies
with the text the test scripted, streamed in small pieces the way real servers do. It is never
quality evidence; it lets the tests check the request we send, streaming, parsing and the
verifier's fallback.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class ScriptedLLM:
    """``with ScriptedLLM(reply) as llm:`` serves ``llm.base_url`` (OpenAI, ends in /v1) and ``llm.root`` (Ollama)."""

    def __init__(self, reply: str | Callable[[dict], str], piece_chars: int = 3):
        self.reply = reply
        self.piece_chars = piece_chars
        self.requests: list[dict] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.root + "/v1"

    def __enter__(self) -> "ScriptedLLM":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def text_for(self, body: dict) -> str:
        return self.reply(body) if callable(self.reply) else self.reply

    def pieces(self, text: str) -> list[str]:
        return [text[i:i + self.piece_chars] for i in range(0, len(text), self.piece_chars)] or [""]

    def _handler(self):
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                scripted.requests.append(body)
                scripted.paths.append(self.path)
                scripted.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path == "/v1/chat/completions":
                    self._openai(body)
                elif self.path == "/api/chat":
                    self._ollama(body)
                else:
                    self.send_error(404)

            def _openai(self, body: dict) -> None:
                text = scripted.text_for(body)
                base = {"id": "chatcmpl-test", "created": int(time.time()), "model": body.get("model", "")}
                if not body.get("stream"):
                    self._json({**base, "object": "chat.completion", "choices": [{
                        "index": 0, "finish_reason": "stop",
                        "message": {"role": "assistant", "content": text}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for piece in scripted.pieces(text):
                    chunk = {**base, "object": "chat.completion.chunk", "choices": [{
                        "index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()
                done = {**base, "object": "chat.completion.chunk",
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())

            def _ollama(self, body: dict) -> None:
                text = scripted.text_for(body)
                model = body.get("model", "")
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                for piece in scripted.pieces(text):
                    line = {"model": model, "created_at": "2026-11-28T00:00:00Z",
                            "message": {"role": "assistant", "content": piece}, "done": False}
                    self.wfile.write((json.dumps(line, ensure_ascii=False) + "\n").encode())
                    self.wfile.flush()
                final = {"model": model, "created_at": "2026-11-28T00:00:00Z",
                         "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
                         "total_duration": 1, "eval_count": 1, "prompt_eval_count": 1}
                self.wfile.write((json.dumps(final) + "\n").encode())

            def _json(self, data: dict) -> None:
                raw = json.dumps(data, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler
