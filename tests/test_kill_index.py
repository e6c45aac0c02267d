"""Kill -9 during ``policy-assistant index`` at random points: the previous index keeps answering.

The corpus is the seed plus a few generated documents, so a build takes several seconds (encoder
load, embedding, Chroma writes, BM25, manifest, pointer switch, clean-up). Kill delays are spread
over the whole build (stratified random fractions of a measured build time), so some kills land in
every phase. After each kill the live index must open and answer; at the end a normal build must
complete and clean up the half-written generations.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.answer.assistant import Assistant
from assistant.search.index import Index
from assistant.search.layout import current_generation, read_manifest
from tests.support import ROOT, SEED_ID, copy_corpus, make_settings, policy_free_env

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

KILLS = 10
NUMBERS = "一二三四五六七八九十"


def write_generated_corpus(folder: Path, documents: int) -> Path:
    copy_corpus(folder)
    topics = ["贷款贴息", "融资担保", "首贷续贷", "知识产权质押", "应收账款融资", "供应链金融", "绿色信贷"]
    for i in range(documents):
        lines = [f"关于做好第{i + 1}批中小企业融资支持工作的通知", f"测试办发〔2024〕{i + 1}号", "一、支持措施"]
        for j in range(1, 11):
            topic = topics[(i + j) % len(topics)]
            lines.append(f"（{NUMBERS[j - 1]}）加强{topic}支持。对符合条件的小微企业{topic}给予不超过{i + j}0万元支持，"
                         f"期限不超过{j}年。各地要建立工作台账，按季度报送进展情况，确保政策落地见效。"
                         f"（责任单位：县财政局、测试金融办{i}）")
        (folder / f"generated-{i:02d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def index_command(settings) -> list[str]:
    return [sys.executable, "-m", "assistant.cli", "--corpus", str(settings.corpus_dir), "--index-dir",
            str(settings.index_dir), "index", "--rebuild", "--quiet"]


def clean_env() -> dict[str, str]:
    env = policy_free_env()
    env["PYTHONPATH"] = str(ROOT)
    return env


def answers(settings) -> str:
    """Open the live index as a fresh process would, and answer a question from it."""
    index = Index.open(settings)
    manifest = read_manifest(index.dir)
    assert len(index.clauses) == manifest.clause_count
    assert index.vectors.collection.count() == manifest.part_count, "every part of the live generation is in Chroma"
    answer = Assistant.from_settings(settings, index=index).ask("创业担保贷款最高额度是多少？")
    assert not answer.refused and answer.citations[0].clause_id == f"{SEED_ID}#6", answer.text
    assert "300万元" in answer.text
    return index.dir.name


def test_kill_9_during_index_build_keeps_the_previous_index(tmp_path):
    settings = make_settings(write_generated_corpus(tmp_path / "corpus", 4), tmp_path / "index")
    env = clean_env()
    started = time.monotonic()
    first = subprocess.run(index_command(settings), env=env, capture_output=True, text=True, timeout=300, check=False)
    build_seconds = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    live = answers(settings)

    rng = random.Random(20261128)
    # Stratified: kill i lands in the i-th tenth of the build (later builds may run a little faster, so
    # the last ones can finish: that is allowed, the point is to hit every phase).
    delays = [build_seconds * (i + rng.random()) / KILLS for i in range(KILLS)]
    rng.shuffle(delays)
    killed, finished, switched = 0, 0, 0
    for delay in delays:
        proc = subprocess.Popen(index_command(settings), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        if proc.returncode == -signal.SIGKILL:
            killed += 1
        else:
            assert proc.returncode == 0
            finished += 1
        # The live generation is the previous one, or (killed after the pointer switch) the new one.
        now = answers(settings)
        switched += now != live
        live = now
    print(f"\n{KILLS} runs over a {build_seconds:.1f} s build: {killed} killed with SIGKILL, {finished} finished, "
          f"the live generation changed {switched} times; delays {sorted(round(d, 1) for d in delays)}")
    assert killed >= KILLS // 2, "most runs must really be interrupted"

    final = subprocess.run(index_command(settings)[:-2] + ["--quiet"], env=env, capture_output=True, text=True,
                           timeout=300, check=False)
    assert final.returncode == 0, final.stderr
    assert "索引" in final.stdout
    answers(settings)
    generations = sorted(p.name for p in settings.index_dir.glob("gen-*"))
    assert current_generation(settings.index_dir).name in generations
    assert len(generations) <= 2, f"half-written generations are cleaned up: {generations}"
