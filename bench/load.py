"""Concurrent-user load on a running server: N clients × M questions through the Gradio API and the
OpenAI-compatible endpoint, loopback only. Used by tests/test_load.py (bounded) and ``make bench``.

Each client is a thread with its own HTTP client, asking the eval questions in its own order, so
requests overlap the way several users' would.
"""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class LoadResult:
    endpoint: str  # "gradio" | "openai"
    clients: int
    per_client: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    error_samples: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        data = asdict(self)
        data.pop("latencies_ms")
        data.update(p50_ms=round(float(np.percentile(lat, 50)), 1), p95_ms=round(float(np.percentile(lat, 95)), 1),
                    max_ms=round(float(lat.max()), 1),
                    throughput_rps=round(self.requests / self.seconds, 1) if self.seconds else 0.0)
        return data


def questions_from(qa_path: Path) -> list[str]:
    return [json.loads(line)["question"] for line in qa_path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _gradio_client(url: str):
    from gradio_client import Client

    client = Client(url, verbose=False)

    def ask(question: str) -> None:
        data = client.predict(question, api_name="/ask")
        if not isinstance(data, dict) or "answer" not in data:
            raise RuntimeError(f"unexpected reply: {str(data)[:80]}")

    return ask


def _openai_client(url: str):
    import httpx

    http = httpx.Client(base_url=url.rstrip("/") + "/v1", timeout=60)

    def ask(question: str) -> None:
        reply = http.post("/chat/completions", json={"model": "policy-assistant",
                                                     "messages": [{"role": "user", "content": question}]})
        reply.raise_for_status()
        if "citations" not in reply.json():
            raise RuntimeError("reply without citations")

    return ask


def run_load(url: str, questions: list[str], *, endpoint: str, clients: int = 20, per_client: int = 10,
             seed: int = 0) -> LoadResult:
    """``clients`` concurrent clients each ask ``per_client`` questions; every failure is counted."""
    make = {"gradio": _gradio_client, "openai": _openai_client}[endpoint]
    result = LoadResult(endpoint, clients, per_client)
    askers = [make(url) for _ in range(clients)]  # connect first: set-up is not part of the load

    def client_run(i: int) -> list[tuple[float, str]]:
        rng = random.Random(seed + i)
        out = []
        for question in rng.sample(questions, per_client):
            t = time.perf_counter()
            try:
                askers[i](question)
                out.append(((time.perf_counter() - t) * 1000, ""))
            except Exception as exc:  # counted and sampled, never raised: the run reports them all
                out.append(((time.perf_counter() - t) * 1000, f"{type(exc).__name__}: {exc}"[:200]))
        return out

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        outcomes = [o for batch in pool.map(client_run, range(clients)) for o in batch]
    result.seconds = time.perf_counter() - started
    result.requests = len(outcomes)
    result.latencies_ms = [ms for ms, err in outcomes if not err]
    failures = [err for _, err in outcomes if err]
    result.errors = len(failures)
    result.error_samples = failures[:5]
    return result
