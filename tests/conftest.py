"""Shared fixtures: a copy of the real corpus, and a real index built once per session.

Everything is real: the bundled USE encoder, jieba, and an embedded Chroma under tmp paths.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.search.build import build_index
from tests.support import REALDOCS, copy_corpus, make_settings

# Every index a test builds, in this process or in a child it starts, uses the fast encoder unless the test
# asks for another: the default's e5 channel is ~20× the cost per text (tests/test_channels.py builds it once).
os.environ.setdefault("POLICY_ENCODER", "use-multilingual")


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A private, writable copy of corpus/ for tests that change documents."""
    return copy_corpus(tmp_path / "corpus")


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory) -> Settings:
    """Settings of an index built once from the real corpus; tests must not modify it."""
    base = tmp_path_factory.mktemp("seed")
    settings = make_settings(copy_corpus(base / "corpus"), base / "index")
    build_index(settings)
    return settings


@pytest.fixture(scope="session")
def seed_index(seed_settings):
    from assistant.search.index import Index

    return Index.open(seed_settings)


@pytest.fixture(scope="session")
def multi_settings(tmp_path_factory) -> Settings:
    """The multi-document corpus: a copy of the seed plus the 8 real documents of realdocs/policy, read
    in place (never copied), indexed once per session."""
    policy = REALDOCS / "policy"
    if not policy.is_dir():
        pytest.skip(f"real documents not found at {policy} (CI has ../shared/realdocs beside the checkout)")
    base = tmp_path_factory.mktemp("multi")
    settings = make_settings(copy_corpus(base / "corpus"), base / "index", extra_corpus_dirs=(policy,),
                             auto_build=False)
    build_index(settings)
    return settings


@pytest.fixture(scope="session")
def multi_assistant(multi_settings):
    """An assistant over the multi-document corpus, judging validity on 2026-12-01."""
    import datetime as dt

    from assistant.answer.assistant import Assistant

    return Assistant.from_settings(multi_settings, today=dt.date(2026, 12, 1))


# ---------------------------------------------------------------- the fast lane

# Fixtures that build an index, start a server or a browser: a test using any of them is integration.
INTEGRATION_FIXTURES = {"seed_settings", "seed_index", "corpus_dir", "start_app", "app_server", "chromium",
                        "browser_page", "multi_settings", "multi_assistant"}


def pytest_collection_modifyitems(items):
    """Mark integration tests by the fixtures they use, so ``pytest -m "not integration"`` runs in seconds.

    Modules that build indexes or start processes without these fixtures mark themselves
    (``pytestmark = pytest.mark.integration``).
    """
    for item in items:
        if INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


# ---------------------------------------------------------------- real-browser tests (tests/browser.py)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item, so browser_page can tell at teardown that the test failed.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def start_app(seed_settings, tmp_path_factory):
    """Factory: ``start_app(**env) -> AppServer`` runs ``python app.py`` on a free loopback port.

    By default the app serves the session's seed copy (POLICY_CORPUS_DIR / POLICY_INDEX_DIR from
    ``seed_settings``, POLICY_AUTO_BUILD=false so it never rewrites it); keyword arguments add or
    override environment variables, e.g. ``start_app(POLICY_ADMIN_PASSWORD="pw")``. Servers with
    the same variables are shared within the session unless ``fresh=True``; all stop at session end.
    """
    from tests.browser import AppServer

    servers: dict[tuple, AppServer] = {}
    started: list[AppServer] = []
    logs = tmp_path_factory.mktemp("app-logs")

    def start(*, fresh: bool = False, timeout: float | None = None, **env: str) -> AppServer:
        key = tuple(sorted((k, str(v)) for k, v in env.items()))
        if not fresh and key in servers and servers[key].proc.poll() is None:
            return servers[key]
        full = {
            "POLICY_CORPUS_DIR": str(seed_settings.corpus_dir),
            "POLICY_INDEX_DIR": str(seed_settings.index_dir),
            "POLICY_AUTO_BUILD": "false",
            # Each server gets its own feedback database, never the repository's feedback/ folder.
            "POLICY_FEEDBACK_DB": str(logs / f"feedback-{len(started)}.sqlite3"),
            **{k: str(v) for k, v in env.items()},
        }
        server = AppServer(env=full, log_path=logs / f"app-{len(started)}.log")
        server.start(**({"timeout": timeout} if timeout else {}))
        started.append(server)
        if not fresh:
            servers[key] = server
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def app_server(start_app):
    """The app with default settings on the seed index; ``.url`` is ``http://127.0.0.1:<port>/``."""
    return start_app()


@pytest.fixture(scope="session")
def chromium():
    """One headless Debian chromium per session, driven by playwright's sync API."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch_chromium

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def offsite():
    """An OffsiteGuard; ``browser_page`` installs it, so ``offsite.blocked`` lists offsite requests."""
    from tests.browser import OffsiteGuard

    return OffsiteGuard()


@pytest.fixture
def browser_page(chromium, offsite, request):
    """A fresh page (own context, zh-CN, 1280x900) that can reach loopback hosts only.

    Requests to any other host are aborted and recorded in ``offsite.blocked``. When the test
    fails, a full-page screenshot goes to tests/artifacts/<test id>.png.
    """
    from playwright.sync_api import Error as PlaywrightError

    from tests.browser import ARTIFACTS, artifact_name

    context = chromium.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    offsite.install(context)
    page = context.new_page()
    yield page
    failed = any(getattr(getattr(request.node, f"rep_{when}", None), "failed", False)
                 for when in ("setup", "call"))
    if failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{artifact_name(request.node.nodeid)}.png"), full_page=True)
        except PlaywrightError as exc:  # a crashed page must not hide the test's own failure
            print(f"failure screenshot not taken: {exc}")
    context.close()
