"""The browser-test support itself: the offsite rule, and a failing app start that says why."""

from __future__ import annotations

import pytest

from tests.browser import AppServer, AppStartError, is_offsite

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:7860/", "http://localhost:1/x.js", "http://[::1]:80/", "http://127.3.4.5/",
    "data:text/plain,hi", "blob:http://127.0.0.1:1/abc", "about:blank",
])
def test_loopback_and_local_urls_are_allowed(url):
    assert not is_offsite(url)


@pytest.mark.parametrize("url", [
    "https://fonts.googleapis.com/css2?family=Source+Sans+Pro", "http://10.0.0.1/", "wss://example.org/ws",
    "http://192.168.1.2:7860/", "https://raw.githubusercontent.com/x.jpg",
])
def test_other_hosts_are_offsite(url):
    assert is_offsite(url)


def test_app_start_failure_reports_its_output(tmp_path):
    server = AppServer(env={"POLICY_TOP_K": "0"}, log_path=tmp_path / "app.log")
    with pytest.raises(AppStartError, match="POLICY_TOP_K") as info:
        server.start(timeout=60)
    assert "exited with code 1" in str(info.value)
    assert server.proc.poll() is not None
