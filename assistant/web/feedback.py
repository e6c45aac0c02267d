"""Answer feedback (👍/👎 with an optional comment) in a SQLite file, and its CSV export.

Written from web worker threads and possibly several server processes at once, so every call opens its
own connection (no connection is shared between threads), the database runs in WAL mode (readers never
block the writer) with a busy timeout (writers wait for each other instead of failing), and each
record is committed with ``synchronous=FULL`` before :meth:`FeedbackStore.record` returns: a process
killed right after a write loses nothing.

The schema version is SQLite's ``PRAGMA user_version``; a database written by a newer version of the
app is refused rather than misread. A database deleted while the app runs is created again at the next
record. One rater (a browser session) rating one answer again updates their row: 50 clicks are one vote.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, TextIO

from .. import __version__
from ..errors import FeedbackError
from ..search.text import clean_text

# 2: ``rater`` (who rated which answer, unique): a repeated rating updates its row.
SCHEMA_VERSION = 2
MAX_COMMENT_CHARS = 2000
# Questions and answers are stored whole up to this size; anything beyond is cut (a bound on what a
# single web request can write into the file).
MAX_TEXT_CHARS = 20000
BUSY_TIMEOUT_MS = 10000
COLUMNS = ("id", "created_at", "rating", "comment", "question", "answer", "citations", "app_version",
           "route", "refused")
# Text cells starting with these are formulas to Excel; the export prefixes them with an apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  TEXT    NOT NULL,               -- ISO 8601, UTC
    rating      INTEGER NOT NULL CHECK (rating IN (1, -1)),
    comment     TEXT    NOT NULL DEFAULT '',
    question    TEXT    NOT NULL,
    answer      TEXT    NOT NULL,
    citations   TEXT    NOT NULL DEFAULT '[]',  -- JSON: [{"clause_id", "heading"}]
    app_version TEXT    NOT NULL,
    route       TEXT    NOT NULL DEFAULT '',
    refused     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS feedback_created_at ON feedback (created_at);
"""
# From version 1 to 2 (a new database gets both). A NULL rater (the CLI, a script) never conflicts.
_RATER = """
ALTER TABLE feedback ADD COLUMN rater TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS feedback_rater ON feedback (rater);
"""


class FeedbackStore:
    """A feedback database at ``path`` (created with its folder when missing, unless ``create=False``).

    Raises:
        FeedbackError: ``create=False`` and the file does not exist; the file is not a SQLite
            database; or it was written by a newer schema version.
    """

    def __init__(self, path: Path | str, *, create: bool = True):
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise FeedbackError(f"反馈库不存在：{self.path}（还没有人提交过反馈，或 POLICY_FEEDBACK_DB 指向了别处）")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    # ------------------------------------------------------------------ writing

    def record(self, rating: int, question: str, answer_text: str, citations: Iterable[Any] = (), *,
               comment: str = "", route: str = "", refused: bool = False, rater: str = "") -> int:
        """Store one piece of feedback and return its id; committed to disk when this returns.

        Args:
            rating: ``1`` (👍) or ``-1`` (👎).
            citations: the answer's citations: :class:`~assistant.models.Citation` objects, dicts with
                ``clause_id`` (and ``heading``), or clause ids; stored as ``[{"clause_id", "heading"}]``.
            comment: free text, cut to :data:`MAX_COMMENT_CHARS`.
            rater: who rates which answer (:func:`rater_key`); a second rating with the same key replaces
                the first one's rating (and its comment, when the new one has one) instead of adding a row.

        Raises:
            FeedbackError: ``rating`` is not 1 or -1.
        """
        if not isinstance(rating, int) or isinstance(rating, bool) or rating not in (1, -1):
            raise FeedbackError(f"评价只能是 1（有用）或 -1（没用），收到的是 {rating!r}")
        # Text from form fields may hold lone surrogates, which SQLite's UTF-8 cannot store.
        row = (_now(), int(rating), clean_text(comment or "")[:MAX_COMMENT_CHARS],
               clean_text(question or "")[:MAX_TEXT_CHARS], clean_text(answer_text or "")[:MAX_TEXT_CHARS],
               json.dumps(_citation_refs(citations), ensure_ascii=False),
               __version__, route or "", int(bool(refused)), rater or None)
        if not self.path.exists():  # deleted while the app runs: start a new one rather than fail every rating
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._migrate()
        with self._connect() as conn:  # autocommit: durable when execute() returns
            return int(conn.execute(
                "INSERT INTO feedback (created_at, rating, comment, question, answer, citations, app_version,"
                " route, refused, rater) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (rater) DO UPDATE SET created_at = excluded.created_at, rating = excluded.rating,"
                " comment = CASE WHEN excluded.comment != '' THEN excluded.comment ELSE feedback.comment END"
                " RETURNING id", row).fetchone()[0])

    # ------------------------------------------------------------------ reading

    def count(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

    def stats(self) -> dict[str, Any]:
        """``{"total", "up", "down", "with_comment", "first", "last"}`` (first/last: ISO times or "")."""
        with self._connect() as conn:
            total, up, down, commented, first, last = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(rating = 1), 0), COALESCE(SUM(rating = -1), 0),"
                " COALESCE(SUM(comment != ''), 0), MIN(created_at), MAX(created_at) FROM feedback").fetchone()
        return {"total": total, "up": up, "down": down, "with_comment": commented,
                "first": first or "", "last": last or ""}

    def rows(self) -> list[dict[str, Any]]:
        """Every record, oldest first, with ``citations`` decoded and ``refused`` as a bool."""
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            records = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id").fetchall()
        rows = []
        for record in records:
            row = dict(record)
            row["citations"] = json.loads(row["citations"] or "[]")
            row["refused"] = bool(row["refused"])
            rows.append(row)
        return rows

    def export_csv(self, out: TextIO) -> int:
        """Write every record to ``out`` as CSV with an English header row; returns the number of rows.

        ``citations`` is the stored JSON. Text cells that Excel would run as a formula (``=``, ``+``,
        ``-``, ``@``) get a leading apostrophe. The caller chooses the encoding: open files with
        ``encoding="utf-8-sig", newline=""`` so Excel reads the Chinese text correctly.
        """
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        rows = self.rows()
        for row in rows:
            row["citations"] = json.dumps(row["citations"], ensure_ascii=False)
            row["refused"] = int(row["refused"])
            writer.writerow([_cell(row[c]) for c in COLUMNS])
        return len(rows)

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection for one call (threads and processes never share one)."""
        try:
            # Autocommit: each statement is its own transaction unless a BEGIN says otherwise.
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise FeedbackError(f"无法打开反馈库 {self.path}：{exc}") from None
        with closing(conn):
            try:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA synchronous = FULL")
                yield conn
            except sqlite3.Error as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise FeedbackError(f"反馈库 {self.path} 正忙，请稍后再试") from exc
                if "not a database" in str(exc):
                    raise FeedbackError(f"{self.path} 不是有效的反馈库（SQLite 文件）") from exc
                raise FeedbackError(f"反馈库 {self.path} 读写失败：{exc}") from exc

    def _migrate(self) -> None:
        """Create the schema (once, even when several processes open a new file at the same time)."""
        with self._connect() as conn:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")  # persistent: stored in the database file
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version > SCHEMA_VERSION:
                raise FeedbackError(f"反馈库 {self.path} 来自更新版本的程序（结构版本 {version}），"
                                    f"当前程序只支持到 {SCHEMA_VERSION}，请升级后再使用")
            conn.execute("BEGIN IMMEDIATE")  # one process creates; the others wait, then see the version
            try:
                found = conn.execute("PRAGMA user_version").fetchone()[0]
                if found < SCHEMA_VERSION:
                    steps = (_SCHEMA if found < 1 else "") + _RATER
                    for statement in steps.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise


def rater_key(who: str, question: str, answer_text: str) -> str:
    """The key of one rater's rating of one answer: ``who`` (a browser session) and what was answered."""
    return hashlib.sha256("\x1f".join((who, question, answer_text)).encode("utf-8", "replace")).hexdigest()[:32]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _citation_refs(citations: Iterable[Any]) -> list[dict[str, str]]:
    refs = []
    for c in citations or ():
        if isinstance(c, str):
            refs.append({"clause_id": c, "heading": ""})
            continue
        data = asdict(c) if is_dataclass(c) and not isinstance(c, type) else dict(c)
        refs.append({"clause_id": str(data.get("clause_id", "")), "heading": str(data.get("heading", ""))})
    return refs


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
