"""Support for the real-browser tests: the app as a subprocess, Debian's chromium, and an offsite guard.

The fixtures built on these live in ``conftest.py`` (``start_app``, ``app_server``, ``chromium``,
``browser_page``, ``offsite``). Nothing here downloads a browser: playwright drives the chromium that
``make chromium`` installs from Debian, and ``playwright install`` is never run.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tests.support import ROOT, free_port, policy_free_env, stop_process

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
# Root on a closed network: no sandbox, no GPU, nothing that phones home. playwright adds --headless
# itself and gives every launch a fresh user-data-dir.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY_TIMEOUT = 90.0
LOG_TAIL = 4000

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


def is_loopback_host(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (the only hosts a test page may reach)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_offsite(url: str) -> bool:
    """A network URL whose host is not loopback (data:, blob:, about: and the like are local)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss", "ftp"):
        return False
    return not is_loopback_host(parts.hostname)


# ---------------------------------------------------------------- the app as a subprocess


class AppStartError(RuntimeError):
    pass


@dataclass
class AppServer:
    """``python app.py`` from the repo root, serving on 127.0.0.1:``port``.

    ``env`` holds the POLICY_* (and other) variables given on top of the cleaned environment;
    the process's stdout and stderr go to ``log_path``.
    """

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    python: str = sys.executable
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def full_env(self) -> dict[str, str]:
        # The developer's own POLICY_* settings must not leak into the app under test.
        env = policy_free_env()
        env.update(
            GRADIO_ANALYTICS_ENABLED="False",
            PYTHONUNBUFFERED="1",
            PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
            POLICY_HOST=self.host,
            POLICY_PORT=str(self.port),
        )
        env.update({k: str(v) for k, v in self.env.items()})
        return env

    def start(self, timeout: float = READY_TIMEOUT) -> AppServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [self.python, "app.py"], cwd=ROOT, env=self.full_env(),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def log_tail(self, limit: int = LOG_TAIL) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return text[-limit:]

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AppStartError(
                    f"app.py exited with code {self.proc.returncode} before serving {self.url}; "
                    f"its output ({self.log_path}):\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    if response.status == 200:
                        return
                    last = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
            except (OSError, urllib.error.URLError) as exc:
                last = str(exc)
            time.sleep(0.25)
        raise AppStartError(
            f"app.py did not answer GET {self.url} with 200 within {timeout:.0f} s (last: {last}); "
            f"its output ({self.log_path}):\n{self.log_tail()}"
        )

    def stop(self) -> None:
        stop_process(self.proc)


# ---------------------------------------------------------------- chromium and the offsite guard


def launch_chromium(playwright):
    """Debian's headless chromium through playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run `make chromium` (Debian's chromium package)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


class OffsiteGuard:
    """Blocks (aborts) every request to a non-loopback host and records its URL.

    Install it on a context or page with :meth:`install` before navigating; ``blocked`` then lists
    what the page tried to load from elsewhere, in order.
    """

    def __init__(self) -> None:
        self.blocked: list[str] = []

    def install(self, target) -> OffsiteGuard:
        target.route("**/*", self._route)
        if hasattr(target, "route_web_socket"):
            target.route_web_socket(re.compile(".*"), self._route_ws)
        return self

    def _route(self, route) -> None:
        url = route.request.url
        if is_offsite(url):
            self.blocked.append(url)
            route.abort("blockedbyclient")
        else:
            route.fallback()

    def _route_ws(self, ws) -> None:
        if is_offsite(ws.url):
            self.blocked.append(ws.url)
            ws.close()
        else:
            ws.connect_to_server()

    def hosts(self) -> list[str]:
        return sorted({urlsplit(u).hostname or "" for u in self.blocked})


def artifact_name(nodeid: str) -> str:
    """A file-name-safe stem for a test id (``tests/x.py::test_y[a]`` -> ``x.py-test_y-a``)."""
    stem = nodeid.split("/")[-1]
    return re.sub(r"[^\w.\-]+", "-", stem).strip("-")[:150]
