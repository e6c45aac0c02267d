"""``make bench``: measure build, cold start, latency and scale on this machine.

Writes ``bench/results.json`` and the tables of ``docs/performance.md``. Every measurement that
loads models or indexes runs in a fresh child process, so its peak RSS (``wait4`` rusage) and its start
time are its own. Latency samples are taken over the eval questions (``evals/qa.jsonl``) after one
warm-up question, ``--repeat`` passes each; the reported percentile is the median over passes.

    python bench/run.py                       # real corpus + 1k, 10k, 50k clauses
    python bench/run.py --sizes 1000,10000     # fewer scale points
    python bench/run.py --quick                # real corpus, 1k only, one pass: a smoke run
    python bench/run.py --profile              # also write pyinstrument profiles of the query loops

Internal child commands (``_build``, ``_query``) print one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = {
    "retrieval_p50_ms": 15, "retrieval_p95_ms": 40, "answer_p95_ms": 100, "cold_start_s": 10,
    "scale_query_p95_ms": 150, "scale_build_s": 15 * 60, "scale_rss_mb": 2048,
    # The real-scale point (../shared/realdocs/laws, 3,496 files).
    "laws_build_vs_floor": 1.25, "laws_build_rss_mb": 2560, "laws_serving_rss_mb": 1536, "laws_incremental_s": 30,
    "laws_answer_p50_ms": 15, "laws_answer_p95_ms": 60, "laws_answer_max_ms": 250, "laws_retrieval_p95_ms": 30,
    "laws_cold_start_s": 10, "laws_server_answer_p95_ms": 80,
    # The default's two dense channels (USE + e5) on the multi-document corpus.
    "channels_answer_p95_ms": 60,
}


# --------------------------------------------------------------------------- children


def _rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


# The encoder of the scale and laws points: the fast channel alone, as the README advises for large corpora
# (e5 on 150,000 clauses takes hours on 2 cores). The channels point measures the default's two channels.
FAST_ENCODER = "use-multilingual"


def _settings(corpus: str, index: str, chroma_port: int = 0, encoder: str = FAST_ENCODER, extra_corpus: str = "",
              **extra):
    from assistant.config import Settings

    if chroma_port:  # server mode: vectors in a `chroma run` on loopback
        extra.update(chroma_host="127.0.0.1", chroma_port=chroma_port)
    if extra_corpus:
        extra.update(extra_corpus_dirs=(Path(extra_corpus),))
    return Settings.from_env(env={}, corpus_dir=Path(corpus), index_dir=Path(index), encoder=encoder, **extra)


def child_build(args) -> dict:
    from collections import Counter

    from assistant.search.build import build_index
    from assistant.search.layout import current_generation

    settings = _settings(args.corpus, args.index, args.chroma_port, args.encoder, args.extra_corpus)
    profiler = _profiler(args.profile)
    started = time.perf_counter()
    report = build_index(settings, rebuild=not args.incremental)
    seconds = time.perf_counter() - started
    _save_profile(profiler, args.profile)
    gen = current_generation(Path(args.index))
    docs = json.loads((gen / "documents.json").read_text(encoding="utf-8"))["documents"]
    reasons = Counter(p.reason for p in report.problems)
    return {"seconds": seconds, "documents": report.documents, "clauses": report.clauses,
            "parts": report.parts, "embedded": report.embedded, "problems": len(report.problems),
            "stages_s": report.stages, "size_mb": _du(gen), "size_parts_mb": {p.name: _du(p) for p in gen.iterdir()},
            "files": len(corpus_files_of(settings)), "skipped_reasons": dict(reasons.most_common()),
            "titled": sum(bool(d.get("title")) and not d.get("title_from_file") for d in docs),
            "dated": sum(bool(d.get("issue_date")) for d in docs)}


def corpus_files_of(settings) -> list:
    from assistant.corpus.ingest import corpus_sources

    return corpus_sources(settings.corpus_dirs)


def child_embed_floor(args) -> dict:
    """Each channel's encoder alone on the parts a build would embed, with the build's own worker pool."""
    from assistant.corpus.ingest import load_corpus
    from assistant.corpus.structure import parse_document, split_parts
    from assistant.errors import CorpusFileError
    from assistant.search.build import _embed_in_worker, _worker_pool
    from assistant.search.encoders import get_encoders, parts_max_chars

    settings = _settings(args.corpus, args.index, encoder=args.encoder, extra_corpus=args.extra_corpus)
    encoders = get_encoders(settings.encoder, settings.allow_model_download)
    max_chars = parts_max_chars(encoders)
    parts = []
    for doc in load_corpus(settings.corpus_dirs).documents:
        try:
            parts += [p for c in parse_document(doc) for p in split_parts(c, max_chars)]
        except CorpusFileError:
            pass
    size = settings.embed_batch_size
    batches = [[p.text for p in parts[i:i + size]] for i in range(0, len(parts), size)]
    channels = {}
    with _worker_pool(settings, len(parts)) as pool:
        for encoder in encoders:
            jobs = [(encoder.id, b) for b in batches]
            if pool is not None:  # workers start (and load the encoder) before the clock
                list(pool.map(_embed_in_worker, jobs[:2]))
            started = time.perf_counter()
            done = pool.map(_embed_in_worker, jobs, chunksize=4) if pool else map(encoder.embed_documents, batches)
            count = sum(len(v) for v in done)
            channels[encoder.id] = {"seconds": time.perf_counter() - started, "parts": count}
    return {"seconds": sum(c["seconds"] for c in channels.values()), "parts": len(parts), "channels": channels}


def _percentiles(samples: list[float]) -> dict:
    import numpy as np

    a = np.asarray(samples)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max()), "mean": float(a.mean()), "n": int(a.size)}


def _median_of_passes(passes: list[list[float]]) -> dict:
    per = [_percentiles(p) for p in passes]
    out = {key: statistics.median(p[key] for p in per) for key in ("p50", "p95", "p99", "mean")}
    out["max"] = max(p["max"] for p in per)
    out["n"] = sum(p["n"] for p in per)
    out["passes"] = [{k: round(v, 3) for k, v in p.items()} for p in per]
    return out


# The matching sets whose profiles and questions time policy matching.
MATCH_SETS = ("match.jsonl", "match_holdout.jsonl")


def _timed(fn, questions, repeat, reset=None) -> list[list[float]]:
    passes = []
    for _ in range(repeat):
        if reset:
            reset()
        samples = []
        for q in questions:
            t = time.perf_counter()
            fn(q)
            samples.append((time.perf_counter() - t) * 1000)
        passes.append(samples)
    return passes


def child_query(args) -> dict:
    t0 = time.perf_counter()
    from assistant.answer.assistant import Assistant
    from assistant.search.index import Index
    from assistant.search.text import normalize, tokenize

    settings = _settings(args.corpus, args.index, args.chroma_port, args.encoder, args.extra_corpus, auto_build=False)
    rss_start = _rss_mb()
    index = Index.open(settings)
    assistant = Assistant.from_settings(settings, index=index)
    questions = [json.loads(line)["question"] for qa in args.qa.split(",")
                 for line in Path(qa).read_text(encoding="utf-8").splitlines() if line.strip()]
    assistant.warm()  # what the app does at start: encoder, jieba, vectors, lookups
    load_s = time.perf_counter() - t0
    started = time.perf_counter()
    assistant.ask(questions[0])
    first_ms = (time.perf_counter() - started) * 1000
    rss_loaded = _rss_mb()
    retriever = assistant.retriever
    searcher = retriever.searcher
    encoder = searcher.encoder
    encoders = searcher.encoders
    out: dict = {"load_s": load_s, "first_answer_ms": first_ms, "rss_before_index_mb": rss_start,
                 "rss_loaded_mb": rss_loaded, "clauses": len(index.clauses), "parts": index.manifest.part_count,
                 "questions": len(questions)}
    from assistant.answer.compose import sentence_tokens

    def cold() -> None:  # every pass starts with empty per-process caches: no question is "asked again"
        searcher.embed_query.cache_clear()
        sentence_tokens.cache_clear()  # clause sentences' tokens

    out["retrieval_ms"] = _median_of_passes(_timed(retriever.retrieve, questions, args.repeat, cold))
    out["answer_ms"] = _median_of_passes(_timed(assistant.ask, questions, args.repeat, cold))
    # The same questions asked again (FAQ traffic): the query vector and sentence tokens are cached.
    out["answer_repeat_ms"] = _median_of_passes(_timed(assistant.ask, questions, 1))
    if args.profile:  # a separate pass: the profiler's overhead must not reach the numbers above
        profiler = _profiler(args.profile)
        _timed(assistant.ask, questions, 1, cold)
        _save_profile(profiler, args.profile)
    # Where retrieval time goes: the stages of HybridSearcher.search, timed separately.
    probe = encoder.embed_query("融资担保")
    stages = {"embed_query": lambda q: encoder.embed_query(normalize(q)),
              **{f"embed_query:{e.id}": (lambda q, e=e: e.embed_query(normalize(q))) for e in encoders[1:]},
              "bm25": lambda q: index.bm25.scores(tokenize(q)),
              "tokenize": lambda q: tokenize(q),
              "chroma_query": lambda q: index.dense(probe, 64)}
    out["stages_ms"] = {name: _median_of_passes(_timed(fn, questions, 1)) for name, fn in stages.items()}
    # Policy matching: the profiles of the matching sets (form and API), then their questions (chat).
    from assistant.answer.profile import Profile

    rows = [json.loads(line) for name in MATCH_SETS
            for line in (ROOT / "evals" / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    profiles = [Profile.of(**r["profile"]) for r in rows]
    out["match_ms"] = _median_of_passes(_timed(assistant.match, profiles, args.repeat))
    out["match_chat_ms"] = _median_of_passes(_timed(assistant.ask, [r["question"] for r in rows], args.repeat, cold))
    if args.baseline:
        out["baselines"] = _baselines(settings, index, encoder, questions, args.repeat)
    out["rss_peak_mb"] = _rss_mb("VmHWM")
    return out


def _baselines(settings, index, encoder, questions, repeat) -> dict:
    from assistant.corpus.ingest import load_corpus
    from assistant.evaluation.baseline import TutorialBaseline

    documents = [d for d in load_corpus(settings.corpus_dirs).documents if d.doc_id in index.documents]
    out = {}
    for variant in ("dense", "bm25"):
        with TutorialBaseline.build(documents, index.clauses, encoder, variant=variant, k=5) as base:
            base.ask(questions[0])
            out[variant] = {"name": base.name, "chunks": len(base.chunks), "build_ms": base.build_ms,
                            "answer_ms": _median_of_passes(_timed(base.ask, questions, repeat))}
    return out


def _profiler(path: str | None):
    if not path:
        return None
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    return profiler


def _save_profile(profiler, path: str | None) -> None:
    if profiler is None:
        return
    profiler.stop()
    Path(path).write_text(profiler.output_text(unicode=True, show_all=False), encoding="utf-8")


def _du(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


# --------------------------------------------------------------------------- parent


def _env(extra: dict | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICY_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def timed_child(argv: list[str], env: dict | None = None) -> tuple[dict, float, float]:
    """Like run_child, but reaps with wait4 to get the child's own peak RSS."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        proc = subprocess.Popen([sys.executable, __file__, *argv], stdout=out_file, stderr=err_file,
                                env=_env(env), cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read().decode(), err_file.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"child {argv[0]} failed ({proc.returncode}):\n{err[-4000:]}")
    return json.loads(out.strip().splitlines()[-1]), wall, usage.ru_maxrss / 1024


def cold_start_cli(corpus: Path, index: Path, question: str, repeat: int) -> dict:
    """Process start to the first answer printed: ``policy-assistant ask --json`` (index already built)."""
    walls, inner = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "assistant.cli", "--corpus", str(corpus), "--index-dir",
                               str(index), "ask", question, "--json"], capture_output=True, env=_env(None),
                              cwd=ROOT, timeout=300)
        walls.append(time.perf_counter() - started)
        if proc.returncode != 0:
            raise RuntimeError(f"ask failed: {proc.stderr.decode()[-2000:]}")
        inner.append(json.loads(proc.stdout)["latency_ms"])
    return {"median_s": statistics.median(walls), "runs_s": walls, "answer_latency_ms": statistics.median(inner)}


def cold_start_app(corpus: Path, index: Path, question: str, repeat: int) -> dict:
    """Process start of ``python app.py`` to the first answer received over HTTP.

    The answer is asked through the web app's named ``ask`` endpoint (Gradio API); if that endpoint is
    not there, the time to the first HTTP 200 is reported instead (the server answers a warm-up
    question before it listens, so it is the same moment minus one request).
    """
    runs = []
    for _ in range(repeat):
        port = _free_port()
        env = _env({"POLICY_CORPUS_DIR": str(corpus), "POLICY_INDEX_DIR": str(index), "POLICY_PORT": str(port),
                    "POLICY_HOST": "127.0.0.1"})
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{port}"
            ready = _wait_http(base + "/", proc, timeout=180)
            ready_s = time.perf_counter() - started
            answered, how = _ask_http(base, question)
            answer_s = time.perf_counter() - started if answered else None
            runs.append({"ready_s": ready_s, "first_answer_s": answer_s, "via": how, "http_ok": ready})
        finally:
            _stop(proc)
    answer = [r["first_answer_s"] for r in runs if r["first_answer_s"] is not None]
    return {"median_s": statistics.median(answer) if answer else statistics.median(r["ready_s"] for r in runs),
            "ready_median_s": statistics.median(r["ready_s"] for r in runs), "runs": runs}


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.status == 200
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"app.py did not answer on {url} within {timeout} s")


def _ask_http(base: str, question: str) -> tuple[bool, str]:
    body = json.dumps({"data": [question]}).encode()
    try:
        req = urllib.request.Request(base + "/gradio_api/call/ask", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            event = json.loads(resp.read())["event_id"]
        with urllib.request.urlopen(f"{base}/gradio_api/call/ask/{event}", timeout=60) as resp:
            text = resp.read().decode()
        return ("event: complete" in text and "answer" in text), "gradio api /ask"
    except (OSError, ValueError, KeyError):
        return False, "ready only"


def scale_point(size: int, work: Path, qa: Path, repeat: int, profile_dir: Path | None) -> dict:
    from bench.synth import generate

    corpus = work / f"corpus-{size}"
    index = work / f"index-{size}"
    info = generate(ROOT / "corpus", corpus, size)
    shutil.rmtree(index, ignore_errors=True)
    prof = ["--profile", str(profile_dir / f"build-{size}.txt")] if profile_dir else []
    build, wall, rss = timed_child(["_build", "--corpus", str(corpus), "--index", str(index), *prof])
    _log(f"  {size}: built {build['clauses']} clauses / {build['parts']} parts in {build['seconds']:.1f} s, "
         f"peak RSS {rss:.0f} MB, {build['size_mb']:.1f} MB on disk")
    prof = ["--profile", str(profile_dir / f"query-{size}.txt")] if profile_dir else []
    query, _, qrss = timed_child(["_query", "--corpus", str(corpus), "--index", str(index), "--qa", str(qa),
                                  "--repeat", str(repeat), *prof])
    _log(f"  {size}: retrieval p50 {query['retrieval_ms']['p50']:.1f} p95 {query['retrieval_ms']['p95']:.1f} ms, "
         f"answer p95 {query['answer_ms']['p95']:.1f} ms, serving RSS {qrss:.0f} MB")
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.rmtree(index, ignore_errors=True)
    return {"target_clauses": size, **info, "build": {**build, "wall_s": wall, "peak_rss_mb": rss},
            "query": {**query, "peak_rss_mb": qrss}}


LAWS = ROOT.parent / "shared" / "realdocs" / "laws"
POLICY = ROOT.parent / "shared" / "realdocs" / "policy"


def channels_point(work: Path, repeat: int) -> dict:
    """The default's dense channels (USE and e5) on the multi-document corpus (the seed and realdocs/policy):
    each channel's build time against its encoder alone, and answer latency and memory with both."""
    from assistant.config import Settings

    encoder = Settings().encoder
    corpus, index = work / "corpus-channels", work / "index-channels"
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.rmtree(index, ignore_errors=True)
    shutil.copytree(ROOT / "corpus", corpus)
    common = ["--corpus", str(corpus), "--index", str(index), "--encoder", encoder, "--extra-corpus", str(POLICY)]
    _log(f"channels ({encoder}): build")
    build, wall, rss = timed_child(["_build", *common])
    _log(f"  {build['parts']} parts in {build['seconds']:.1f} s ({', '.join(f'{k} {v:.1f} s' for k, v in build['stages_s'].items() if k.startswith('vectors:'))})")
    floor, _, _ = timed_child(["_embed_floor", *common])
    _log("  floor: " + ", ".join(f"{k} {v['seconds']:.1f} s" for k, v in floor["channels"].items()))
    qa = ",".join(str(ROOT / "evals" / name) for name in ("qa.jsonl", "qa_multi.jsonl"))
    query, _, qrss = timed_child(["_query", *common, "--qa", qa, "--repeat", str(repeat)])
    _log(f"  answer p50 {query['answer_ms']['p50']:.1f} p95 {query['answer_ms']['p95']:.1f} ms, serving RSS {qrss:.0f} MB")
    shutil.rmtree(index, ignore_errors=True)
    shutil.rmtree(corpus, ignore_errors=True)
    return {"encoder": encoder, "build": {**build, "wall_s": wall, "peak_rss_mb": rss}, "embed_floor": floor,
            "query": {**query, "peak_rss_mb": qrss}, "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}


def laws_point(work: Path, qa_files: list[Path], repeat: int, server: bool) -> dict:
    """The real-scale point: every file of ../shared/realdocs/laws (read from a scratch copy, so one file
    can be changed for the incremental rebuild), built, timed against the encoder alone, and queried."""
    corpus = work / "laws-corpus"
    index = work / "index-laws"
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.rmtree(index, ignore_errors=True)
    shutil.copytree(LAWS, corpus)
    qa = ",".join(str(p) for p in qa_files)
    _log("laws: full build")
    build, wall, rss = timed_child(["_build", "--corpus", str(corpus), "--index", str(index)])
    _log(f"  built {build['documents']} documents, {build['clauses']} clauses, {build['parts']} parts in "
         f"{build['seconds']:.0f} s, peak RSS {rss:.0f} MB")
    _log("laws: embedding floor (the encoder alone on the same parts)")
    floor, _, _ = timed_child(["_embed_floor", "--corpus", str(corpus), "--index", str(work / "unused")])
    _log(f"  floor {floor['seconds']:.0f} s: build / floor = {build['seconds'] / floor['seconds']:.2f}")
    _log("laws: latency")
    query, _, qrss = timed_child(["_query", "--corpus", str(corpus), "--index", str(index), "--qa", qa,
                                  "--repeat", str(repeat)])
    _log(f"  answer p50 {query['answer_ms']['p50']:.1f} p95 {query['answer_ms']['p95']:.1f} "
         f"max {query['answer_ms']['max']:.1f} ms, serving RSS {qrss:.0f} MB")
    changed = next(p for p in sorted(corpus.rglob("*.md")) if p.name != "_index.md")
    with open(changed, "a", encoding="utf-8") as handle:
        handle.write("\n（基准测试追加的一行，用于测量增量重建。）\n")
    _log(f"laws: incremental rebuild after changing {changed.relative_to(corpus)}")
    incremental, inc_wall, inc_rss = timed_child(["_build", "--corpus", str(corpus), "--index", str(index),
                                                  "--incremental"])
    _log(f"  {incremental['seconds']:.1f} s ({incremental['embedded']} parts embedded)")
    point = {"build": {**build, "wall_s": wall, "peak_rss_mb": rss}, "embed_floor": floor,
             "query": {**query, "peak_rss_mb": qrss},
             "incremental": {**incremental, "wall_s": inc_wall, "peak_rss_mb": inc_rss,
                             "changed": str(changed.relative_to(corpus))},
             "cold_start_cli": cold_start_cli(corpus, index, "融资担保公司的注册资本最低是多少？", 1)}
    if server:
        point["server"] = _laws_server_point(work, corpus, qa, repeat)
    shutil.rmtree(index, ignore_errors=True)
    shutil.rmtree(corpus, ignore_errors=True)
    return point


def _laws(work: Path, qa_files: list[Path], repeat: int, server: bool) -> dict:
    if not LAWS.is_dir():
        _log(f"laws: {LAWS} not found, real-scale point skipped")
        return {"skipped": f"{LAWS} not found"}
    point = laws_point(work, qa_files, repeat, server)
    point["measured"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    return point


def _laws_server_point(work: Path, corpus: Path, qa: str, repeat: int) -> dict:
    """The same corpus with its vectors in a Chroma server (`chroma run` on loopback)."""
    path, index, port = work / "chroma-server", work / "index-laws-server", _free_port()
    shutil.rmtree(path, ignore_errors=True)
    chroma = Path(sys.executable).with_name("chroma")
    with open(work / "chroma-server.log", "ab") as log:
        server = subprocess.Popen([str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                                  stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", server, timeout=60)
        _log("laws: build into a Chroma server")
        build, wall, rss = timed_child(["_build", "--corpus", str(corpus), "--index", str(index),
                                        "--chroma-port", str(port)])
        _log(f"  {build['seconds']:.0f} s")
        query, _, qrss = timed_child(["_query", "--corpus", str(corpus), "--index", str(index), "--qa", qa,
                                      "--repeat", str(repeat), "--chroma-port", str(port)])
        _log(f"  answer p95 {query['answer_ms']['p95']:.1f} ms")
        return {"build": {**build, "wall_s": wall, "peak_rss_mb": rss}, "query": {**query, "peak_rss_mb": qrss}}
    finally:
        _stop(server)
        shutil.rmtree(index, ignore_errors=True)
        shutil.rmtree(path, ignore_errors=True)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000", help="synthetic corpus sizes in clauses")
    parser.add_argument("--quick", action="store_true", help="one pass, 1k clauses only, one cold start each")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the eval questions")
    parser.add_argument("--qa", type=Path, default=ROOT / "evals" / "qa.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--profile", action="store_true", help="pyinstrument profiles into bench/profiles/")
    parser.add_argument("--no-app", action="store_true", help="skip the app.py cold start")
    parser.add_argument("--laws", choices=["auto", "skip", "only"], default="auto",
                        help="the real-scale point on ../shared/realdocs/laws: auto (when present; not with --quick), "
                             "skip, or only (nothing else)")
    parser.add_argument("--no-server", action="store_true", help="laws point: skip the Chroma server build")
    parser.add_argument("--channels", choices=["auto", "skip", "only"], default="auto",
                        help="the dense channels point (USE + e5 on the multi-document corpus): auto, skip, or only")
    parser.add_argument("--keep-scale-from", type=Path,
                        help="an earlier results.json whose scale points for sizes not measured now are kept")
    args = parser.parse_args(argv)
    sizes = [1000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    repeat = 1 if args.quick else args.repeat
    starts = 1 if args.quick else 3
    profile_dir = ROOT / "bench" / "profiles" if args.profile else None
    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="policy-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": _machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "repeat": repeat,
                     "targets": TARGETS}
    qa_files = [args.qa, ROOT / "evals" / "qa_multi.jsonl"]
    # The last real-scale point, read before anything is written: a run that does not measure it keeps it.
    earlier_laws = json.loads(args.out.read_text(encoding="utf-8")).get("laws") if args.out.exists() else None
    if args.laws != "only" and (args.laws == "skip" or args.quick) and earlier_laws:
        results["laws"] = earlier_laws
    if "only" in (args.channels, args.laws):  # one point measured alone: the others stay as last measured
        if args.out.exists():
            results = {**json.loads(args.out.read_text(encoding="utf-8")), "targets": TARGETS}
        try:
            if args.channels == "only":
                results["channels"] = channels_point(work, repeat)
            else:
                earlier = results.get("laws", {})
                results["laws"] = _laws(work, qa_files, repeat, not args.no_server)
                if args.no_server and earlier.get("server"):  # kept, and marked as measured earlier
                    results["laws"]["server"] = {**earlier["server"], "measured": earlier.get("measured")}
        finally:
            if args.work is None:
                shutil.rmtree(work, ignore_errors=True)
        _write(results, args)
        _log(f"wrote {args.out} and {args.doc}")
        return 0
    try:
        corpus = work / "corpus-real"
        index = work / "index-real"
        shutil.rmtree(corpus, ignore_errors=True)
        shutil.copytree(ROOT / "corpus", corpus)
        _log("real corpus: build")
        prof = ["--profile", str(profile_dir / "build-real.txt")] if profile_dir else []
        build, wall, rss = timed_child(["_build", "--corpus", str(corpus), "--index", str(index), *prof])
        results["real_build"] = {**build, "wall_s": wall, "peak_rss_mb": rss}
        _log("real corpus: latency and baselines")
        prof = ["--profile", str(profile_dir / "query-real.txt")] if profile_dir else []
        query, _, qrss = timed_child(["_query", "--corpus", str(corpus), "--index", str(index), "--qa", str(args.qa),
                                      "--repeat", str(repeat), "--baseline", *prof])
        results["real_query"] = {**query, "peak_rss_mb": qrss}
        question = "创业担保贷款最高额度是多少？"
        _log("cold start: CLI")
        results["cold_start_cli"] = cold_start_cli(corpus, index, question, starts)
        if not args.no_app:
            _log("cold start: app")
            results["cold_start_app"] = cold_start_app(corpus, index, question, starts)
        results["scale"] = []
        if args.keep_scale_from:
            earlier = json.loads(args.keep_scale_from.read_text(encoding="utf-8"))
            results["scale"] = [{**p, "measured_in_run": earlier.get("started")} for p in earlier.get("scale", [])
                                if p["target_clauses"] not in sizes]
        for size in sizes:
            _log(f"scale: {size} clauses")
            results["scale"].append(scale_point(size, work, args.qa, repeat, profile_dir))
            results["scale"].sort(key=lambda p: p["target_clauses"])
            _write(results, args)  # keep what was measured if a later size fails
        if args.channels == "auto" and POLICY.is_dir():
            results["channels"] = channels_point(work, repeat)
            _write(results, args)
        if args.laws == "auto" and not args.quick:
            results["laws"] = _laws(work, qa_files, repeat, not args.no_server)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    _write(results, args)
    _log(f"wrote {args.out} and {args.doc}")
    return 0


def _machine() -> dict:
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_avg_at_start": [round(x, 2) for x in load],
            "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def _write(results: dict, args) -> None:
    from bench.report import render

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(render(results), encoding="utf-8")


def _child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["_build", "_query", "_embed_floor"])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--index", required=True)
    parser.add_argument("--qa")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--profile")
    parser.add_argument("--chroma-port", type=int, default=0)
    parser.add_argument("--incremental", action="store_true", help="_build: refresh, do not rebuild")
    parser.add_argument("--encoder", default=FAST_ENCODER)
    parser.add_argument("--extra-corpus", default="")
    args = parser.parse_args(argv)
    data = {"_build": child_build, "_query": child_query, "_embed_floor": child_embed_floor}[args.command](args)
    print(json.dumps(data, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        sys.exit(_child_main(sys.argv[1:]))
    sys.exit(main())
