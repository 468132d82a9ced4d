"""WAL checkpoints run on a background thread (lantai.store.checkpoint), never in the writer.

The database file only grows when a checkpoint copies pages out of the WAL, so its size tells
whether one has run.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from lantai.store import checkpoint
from lantai.store.db import Database

BLOB = 64 << 10
ROWS = 320  # 20 MiB: ~5,000 pages, five times SQLite's default checkpoint threshold


def _fill(db: Database) -> None:
    with db.write() as s:
        s.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, b BLOB)"))
    with db.write() as s:
        s.execute(
            text("INSERT INTO t (b) VALUES (:b)"),
            [{"b": os.urandom(BLOB)} for _ in range(ROWS)],
        )


def _mb(path: Path) -> float:
    return path.stat().st_size / 2**20 if path.exists() else 0.0


def test_a_large_commit_leaves_its_pages_in_the_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nudged: list[str] = []
    monkeypatch.setattr(checkpoint, "nudge", nudged.append)  # the thread never runs
    path = tmp_path / "a.db"
    db = Database(f"sqlite:///{path}")
    _fill(db)
    assert nudged == [str(path)] * 2  # one nudge per write commit
    assert _mb(path) < 1  # the writer did not checkpoint
    assert _mb(Path(f"{path}-wal")) > 19
    db.engine.dispose()


def test_sqlite_default_would_checkpoint_in_the_writer(tmp_path: Path) -> None:
    """The control: with SQLite's own threshold the same commit copies its pages itself."""
    path = tmp_path / "b.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t (b) VALUES (?)", [(os.urandom(BLOB),) for _ in range(ROWS)])
    conn.execute("COMMIT")
    assert _mb(path) > 19
    conn.close()


def test_the_background_thread_copies_the_pages(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    db = Database(f"sqlite:///{path}")
    _fill(db)
    assert checkpoint.wait_idle(str(path), timeout=60)
    assert _mb(path) > 19  # copied into the database file, by the thread
    busy, frames, copied = checkpoint.checkpoint_now(str(path))
    assert busy == 0 and frames == copied  # nothing left behind
    with db.read() as s:
        assert s.execute(text("SELECT count(*) FROM t")).scalar_one() == ROWS
    db.dispose()
    assert not Path(f"{path}-wal").exists()  # the last connection closed: WAL folded in


def test_commits_in_a_burst_share_rounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rounds: list[str] = []
    real = checkpoint.checkpoint_now

    def counted(p: str) -> tuple[int, int, int]:
        rounds.append(p)
        return real(p)

    monkeypatch.setattr(checkpoint, "checkpoint_now", counted)
    path = tmp_path / "d.db"
    db = Database(f"sqlite:///{path}")
    with db.write() as s:
        s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    for _ in range(50):
        with db.write() as s:
            s.execute(text("INSERT INTO t DEFAULT VALUES"))
    assert checkpoint.wait_idle(str(path), timeout=60)
    assert 1 <= len(rounds) < 50  # debounced (MIN_INTERVAL), yet at least one round ran
    db.dispose()


def test_postgres_is_left_alone() -> None:
    db = Database("postgresql+psycopg://u@127.0.0.1/x")  # no connection is made
    assert db._wal_path is None
    db.dispose()


def _child_fills(path: str, queue: multiprocessing.Queue[float]) -> None:
    db = Database(f"sqlite:///{path}")
    _fill(db)
    checkpoint.wait_idle(path, timeout=60)
    queue.put(_mb(Path(path)))
    db.dispose()


def test_a_forked_child_runs_its_own_thread(tmp_path: Path) -> None:
    parent = Database(f"sqlite:///{tmp_path / 'parent.db'}")
    _fill(parent)  # the parent's thread is running when the child is forked
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[float] = ctx.Queue()
    child = ctx.Process(target=_child_fills, args=(str(tmp_path / "child.db"), queue))
    child.start()
    assert queue.get(timeout=60) > 19  # checkpointed in the child, by the child's thread
    child.join(timeout=30)
    assert child.exitcode == 0
    parent.dispose()
