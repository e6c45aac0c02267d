"""Concurrent users, bounded and on loopback: 20 clients × 10 questions through the Gradio API and
through the OpenAI-compatible endpoint of one real server (as app.py runs it). Zero errors allowed.

Latency figures are printed for the record; the numbers that matter are in docs/performance.md
(``make bench``), not asserted here.
"""

from __future__ import annotations

import pytest

from assistant.web.server import create_server
from assistant.web.service import Service
from bench.load import questions_from, run_load
from tests.support import ROOT, serve

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

CLIENTS, PER_CLIENT = 20, 10


@pytest.fixture(scope="module")
def server_url(seed_settings, seed_index):
    with serve(create_server(seed_settings, Service(seed_settings, seed_index))) as url:
        yield url + "/"


@pytest.mark.parametrize("endpoint", ["gradio", "openai"])
def test_concurrent_clients_get_answers_without_errors(server_url, endpoint):
    questions = questions_from(ROOT / "evals" / "qa.jsonl")
    result = run_load(server_url, questions, endpoint=endpoint, clients=CLIENTS, per_client=PER_CLIENT)
    summary = result.summary()
    print(f"\n{endpoint}: {summary}")
    assert result.requests == CLIENTS * PER_CLIENT
    assert result.errors == 0, result.error_samples
