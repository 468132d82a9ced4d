"""Engine and session handling for SQLite (WAL, the embedded default) and PostgreSQL.

Use :meth:`Database.read` for read-only work and :meth:`Database.write` for anything that
writes. On SQLite a write transaction starts with ``BEGIN IMMEDIATE`` so that concurrent writers
queue on the busy timeout instead of failing half-way with "database is locked"; reads never block.
Callbacks registered with :func:`after_commit` run only once the transaction has committed (the
audit witness file and queued jobs use this).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from lantai.store import checkpoint

__all__ = ["Database", "after_commit"]

_AFTER_COMMIT = "lantai_after_commit"


class _NoResultRows(logging.Filter):
    """SQL logging never shows values (session tokens, CSRF tokens, ID numbers live in rows):
    engines hide statement parameters (``hide_parameters``) and result rows are not logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "Row %r"


logging.getLogger("sqlalchemy.engine.Engine").addFilter(_NoResultRows())


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Run ``fn`` after ``session``'s transaction commits (never if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(fn)


def _json_dumps(value: object) -> str:
    """JSON columns keep Chinese readable in SQL (no \\uXXXX escapes)."""
    return json.dumps(value, ensure_ascii=False)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        # Checkpoints run on a background thread (lantai.store.checkpoint); a writer does one
        # itself only if that thread falls far behind.
        cur.execute(f"PRAGMA wal_autocheckpoint={checkpoint.SAFETY_NET_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One database: an engine, a read session factory and a write session factory."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        # The database file whose WAL the background thread checkpoints (None: not SQLite, or
        # an in-memory database).
        self._wal_path: str | None = None
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                self._wal_path = os.path.abspath(parsed.database)
            self.engine = create_engine(
                url,
                echo=echo,
                hide_parameters=True,
                json_serializer=_json_dumps,
                connect_args={"check_same_thread": False, "timeout": 60},
                pool_size=8,
                max_overflow=8,
            )
            _sqlite_setup(self.engine)
            write_engine: Engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            self.engine = create_engine(
                url,
                echo=echo,
                hide_parameters=True,
                json_serializer=_json_dumps,
                pool_pre_ping=True,
                pool_size=10,
            )
            write_engine = self.engine
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(write_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Session]:
        session = self._read()
        try:
            yield session
        finally:
            # close() ends the transaction without expiring what was loaded, so objects read
            # here stay usable (detached) after the block.
            session.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits when the block ends and rolls back on any exception."""
        session = self._write()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            session.info.pop(_AFTER_COMMIT, None)
            raise
        finally:
            session.close()
        if self._wal_path is not None:
            checkpoint.nudge(self._wal_path)
        for fn in session.info.pop(_AFTER_COMMIT, []):
            fn()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._wal_path is not None:
            checkpoint.forget(self._wal_path)
