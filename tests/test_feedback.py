"""The feedback store on a real SQLite file: roundtrip, WAL, writers in several processes, a killed writer, CLI."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import __version__
from assistant.cli import build_parser
from assistant.errors import FeedbackError, PolicyError
from assistant.models import Citation
from assistant.web import feedback
from assistant.web.feedback import COLUMNS, MAX_COMMENT_CHARS, SCHEMA_VERSION, FeedbackStore, rater_key
from tests.support import ROOT, SEED_ID, policy_free_env

FEE_HEADING = "临州办发〔2022〕84号 第（四）条 加大融资担保支持力度"
CITATION = Citation(clause_id=f"{SEED_ID}#4", title="加大融资担保支持力度", heading=FEE_HEADING,
                    quote="单户1000万元(含)以下的融资担保费率不高于1%", start=100, end=125, units=("州政府金融办",))


def test_record_rows_and_csv_roundtrip_with_chinese_text(tmp_path):
    store = FeedbackStore(tmp_path / "sub" / "feedback.sqlite3")
    first = store.record(1, "融资担保费率是多少？", "根据现行政策文件：“……不高于1%”", [CITATION],
                         comment="很有用，谢谢！", route="search")
    second = store.record(-1, "深圳的创业补贴标准是多少？", "现有政策文件中没有找到……", [f"{SEED_ID}#6"],
                          comment="=HYPERLINK(\"http://evil\")", route="search", refused=True)
    assert (first, second) == (1, 2) and store.count() == 2

    rows = store.rows()
    assert rows[0]["question"] == "融资担保费率是多少？" and rows[0]["comment"] == "很有用，谢谢！"
    assert rows[0]["citations"] == [{"clause_id": f"{SEED_ID}#4", "heading": FEE_HEADING}]
    assert rows[0]["rating"] == 1 and rows[0]["refused"] is False and rows[0]["app_version"] == __version__
    assert rows[0]["created_at"].endswith("+00:00") and rows[0]["created_at"] <= rows[1]["created_at"]
    assert rows[1]["rating"] == -1 and rows[1]["refused"] is True
    assert rows[1]["citations"] == [{"clause_id": f"{SEED_ID}#6", "heading": ""}]

    out = io.StringIO()
    assert store.export_csv(out) == 2
    parsed = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(parsed[0]) == COLUMNS
    assert parsed[0]["question"] == "融资担保费率是多少？" and parsed[0]["rating"] == "1"
    assert json.loads(parsed[0]["citations"])[0]["heading"] == FEE_HEADING
    assert parsed[1]["rating"] == "-1" and parsed[1]["refused"] == "1"
    assert parsed[1]["comment"] == "'=HYPERLINK(\"http://evil\")", "Excel must not run a user's text as a formula"

    assert FeedbackStore(tmp_path / "sub" / "feedback.sqlite3").count() == 2, "reopening keeps the rows"
    assert store.stats() == {"total": 2, "up": 1, "down": 1, "with_comment": 2,
                             "first": rows[0]["created_at"], "last": rows[1]["created_at"]}


@pytest.mark.parametrize("rating", [0, 2, -2, True, "1", None, 1.0])
def test_invalid_rating_is_rejected(tmp_path, rating):
    store = FeedbackStore(tmp_path / "f.sqlite3")
    with pytest.raises(FeedbackError, match="评价只能是") as caught:
        store.record(rating, "问题", "回答", [])
    assert isinstance(caught.value, PolicyError) and isinstance(caught.value, ValueError)
    assert store.count() == 0


def test_comment_is_truncated(tmp_path):
    store = FeedbackStore(tmp_path / "f.sqlite3")
    store.record(-1, "问题", "回答", [], comment="长" * (MAX_COMMENT_CHARS + 500))
    assert store.rows()[0]["comment"] == "长" * MAX_COMMENT_CHARS


def test_wal_mode_and_schema_version(tmp_path):
    path = tmp_path / "f.sqlite3"
    FeedbackStore(path).record(1, "问题", "回答", [])
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = [r[1] for r in conn.execute("PRAGMA table_info(feedback)")]
    assert tuple(columns) == (*COLUMNS, "rater")  # the rater key is not exported


def test_newer_schema_and_foreign_files_are_refused(tmp_path):
    newer = tmp_path / "newer.sqlite3"
    FeedbackStore(newer)
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(FeedbackError, match="更新版本"):
        FeedbackStore(newer)
    foreign = tmp_path / "notes.txt"
    foreign.write_text("这不是数据库" * 200, encoding="utf-8")
    with pytest.raises(FeedbackError, match="不是有效的反馈库"):
        FeedbackStore(foreign)
    with pytest.raises(FeedbackError, match="反馈库不存在"):
        FeedbackStore(tmp_path / "missing.sqlite3", create=False)
    assert not (tmp_path / "missing.sqlite3").exists()


def _write_many(path: str, writer: int, count: int) -> None:
    store = FeedbackStore(Path(path))  # every process opens (and may create) the file itself
    for i in range(count):
        store.record(1 if i % 2 else -1, f"进程{writer}的第{i}个问题", "回答", [f"{SEED_ID}#{i % 28 + 1}"],
                     comment=f"w{writer}-{i}")


@pytest.mark.integration  # separate processes
def test_concurrent_writers_in_four_processes_lose_nothing(tmp_path):
    path = tmp_path / "shared.sqlite3"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write_many, args=(str(path), w, 50)) for w in range(4)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    store = FeedbackStore(path)
    assert store.count() == 200
    comments = {r["comment"] for r in store.rows()}
    assert comments == {f"w{w}-{i}" for w in range(4) for i in range(50)}
    assert store.stats()["up"] == 100 and store.stats()["down"] == 100


KILLED_WRITER = """
import os, sys, time
from pathlib import Path
from assistant.web.feedback import FeedbackStore
store = FeedbackStore(Path(sys.argv[1]))
row = store.record(-1, "贷款还不上能缓缓吗？", "回答", [], comment="提交后立即被杀")
print(row, flush=True)
time.sleep(600)
"""


@pytest.mark.integration  # separate processes
def test_a_writer_killed_right_after_a_commit_loses_nothing(tmp_path):
    path = tmp_path / "killed.sqlite3"
    FeedbackStore(path).record(1, "先有的一条", "回答", [])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        assert writer.stdout.readline().strip() == "2"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    rows = FeedbackStore(path).rows()
    assert [r["comment"] for r in rows] == ["", "提交后立即被杀"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = policy_free_env()
    env.update(env_extra or {}, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


@pytest.mark.integration  # separate processes
def test_cli_export_to_a_file_and_stats(tmp_path):
    db = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(db)
    store.record(1, "融资担保费率是多少？", "不高于1%", [CITATION], comment="清楚")
    store.record(1, "创业担保贷款最高额度是多少？", "300万元", [f"{SEED_ID}#6"])
    store.record(-1, "深圳的创业补贴标准是多少？", "没有找到", [], refused=True)
    env = {"POLICY_FEEDBACK_DB": str(db)}

    out = tmp_path / "exports" / "feedback.csv"
    done = _cli("feedback", "export", "--csv", "--out", str(out), env_extra=env)
    assert done.returncode == 0, done.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "a BOM, so Excel reads UTF-8"
    with open(out, encoding="utf-8-sig", newline="") as f:
        parsed = list(csv.DictReader(f))
    assert [r["question"] for r in parsed] == ["融资担保费率是多少？", "创业担保贷款最高额度是多少？", "深圳的创业补贴标准是多少？"]
    assert "3" in done.stderr

    to_stdout = _cli("feedback", "export", "--db", str(db))
    assert to_stdout.returncode == 0 and not to_stdout.stdout.startswith("\ufeff")
    assert len(list(csv.DictReader(io.StringIO(to_stdout.stdout)))) == 3

    stats = _cli("feedback", "stats", env_extra=env)
    assert stats.returncode == 0, stats.stderr
    assert "反馈共 3 条" in stats.stdout and "👍 2" in stats.stdout and "👎 1" in stats.stdout
    data = json.loads(_cli("feedback", "stats", "--json", env_extra=env).stdout)
    assert (data["total"], data["up"], data["down"], data["with_comment"]) == (3, 2, 1, 1)

    missing = _cli("feedback", "stats", env_extra={"POLICY_FEEDBACK_DB": str(tmp_path / "none.sqlite3")})
    assert missing.returncode == 1 and missing.stderr.startswith("错误：反馈库不存在") and "Traceback" not in missing.stderr
    assert not (tmp_path / "none.sqlite3").exists()


def test_feedback_subcommands_have_help_text():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    feedback = commands.choices["feedback"]
    actions = next(a for a in feedback._actions if a.__class__.__name__ == "_SubParsersAction")
    assert set(actions.choices) == {"export", "stats"} and actions.help
    for name, sub in actions.choices.items():
        assert sub.description, name
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"feedback {name} {action.dest} lacks help"


STREAMING_WRITER = """
import sys
from pathlib import Path
from assistant.web.feedback import FeedbackStore
store = FeedbackStore(Path(sys.argv[1]))
i = 0
while True:
    row = store.record(1 if i % 2 else -1, f"问题{i}", "回答" * 200, [], comment=f"{sys.argv[2]}-{i}")
    print(row, flush=True)  # printed only after the commit returned
    i += 1
"""


@pytest.mark.integration  # separate processes
def test_writers_killed_at_random_points_lose_no_committed_row(tmp_path):
    """Five runs: two writers each, both SIGKILLed mid-stream; every id they reported is on disk."""
    import random
    import time

    path = tmp_path / "killed-loop.sqlite3"
    FeedbackStore(path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(7)
    reported: set[int] = set()
    for run in range(5):
        writers = [subprocess.Popen([sys.executable, "-c", STREAMING_WRITER, str(path), f"r{run}w{w}"],
                                    stdout=subprocess.PIPE, text=True, env=env) for w in range(2)]
        time.sleep(0.8 + rng.random())  # start-up is ~0.3 s; then they write as fast as they can
        for writer in writers:
            writer.send_signal(signal.SIGKILL)
        for writer in writers:
            out, _ = writer.communicate(timeout=30)
            assert writer.returncode == -signal.SIGKILL
            reported |= {int(x) for x in out.split()}
    assert len(reported) > 20, "the writers really wrote before being killed"
    stored = {r["id"] for r in FeedbackStore(path).rows()}
    assert reported <= stored, f"committed rows lost: {sorted(reported - stored)[:10]}"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_lone_surrogates_from_a_form_field_are_stored(tmp_path):
    store = FeedbackStore(tmp_path / "f.sqlite3")
    store.record(1, "问题\ud800", "回答\udfff", [], comment="好\ud83d")
    row = store.rows()[0]
    assert (row["question"], row["answer"], row["comment"]) == ("问题\ufffd", "回答\ufffd", "好\ufffd")


def test_one_rater_rating_one_answer_again_updates_their_rating(tmp_path):
    """50 👎 from one browser on one answer were 50 rows: now one row, the last rating, the last comment given."""
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    me = rater_key("session-a", "问题", "回答")
    for _ in range(50):
        store.record(-1, "问题", "回答", rater=me)
    store.record(1, "问题", "回答", comment="其实有用", rater=me)
    store.record(-1, "问题", "回答", rater=me)  # no comment this time: the earlier one stays
    other = rater_key("session-b", "问题", "回答")
    store.record(1, "问题", "回答", rater=other)
    store.record(1, "问题", "回答")  # no rater (the CLI, a script): never merged
    store.record(1, "问题", "回答")
    rows = store.rows()
    assert [(r["rating"], r["comment"]) for r in rows] == [(-1, "其实有用"), (1, ""), (1, ""), (1, "")]


def test_a_version_1_database_gains_the_rater_column_and_keeps_its_rows(tmp_path):
    path = tmp_path / "fb.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(feedback._SCHEMA + "PRAGMA user_version = 1;")
        conn.execute("INSERT INTO feedback (created_at, rating, question, answer, app_version) "
                     "VALUES ('2026-01-01T00:00:00+00:00', 1, '旧问题', '旧回答', '0.1')")
    store = FeedbackStore(path)
    key = rater_key("s", "问题", "回答")
    store.record(-1, "问题", "回答", rater=key)
    store.record(1, "问题", "回答", rater=key)
    assert [(r["question"], r["rating"]) for r in store.rows()] == [("旧问题", 1), ("问题", 1)]


def test_a_database_deleted_while_serving_is_created_again(tmp_path):
    """Deleting the feedback file while the app ran broke every rating until a restart."""
    path = tmp_path / "fb.sqlite3"
    store = FeedbackStore(path)
    store.record(1, "问题", "回答")
    for leftover in tmp_path.glob("fb.sqlite3*"):
        leftover.unlink()
    store.record(-1, "问题二", "回答二")
    assert [r["question"] for r in FeedbackStore(path).rows()] == ["问题二"]
