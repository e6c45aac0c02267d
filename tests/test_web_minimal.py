"""The web entry point serves a page and answers a clause search through the Gradio API."""

from __future__ import annotations

import socket
import urllib.request

from assistant.web import build_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_app_serves_and_searches(seed_settings):
    from gradio_client import Client

    app = build_app(seed_settings)
    port = _free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
        client = Client(url, verbose=False)
        html = client.predict("创业担保贷款最高多少", 3, api_name="/search")
        assert "用好财政贴息政策" in html and "300万元" in html
        escaped = client.predict("<script>alert(1)</script>", 1, api_name="/search")
        assert "<script>" not in escaped
        assert "请输入" in client.predict("   ", 1, api_name="/search")
    finally:
        app.close()
