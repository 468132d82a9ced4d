"""WAL checkpoints on a background thread, so no SQLite writer waits for one.

In WAL mode SQLite appends committed pages to the ``-wal`` file and, by default, the connection
whose commit takes the WAL past 1,000 pages copies them back into the database file (a
checkpoint) before its commit returns. A large transaction pays for all of its own pages again
there: an ingest of 10,000 plain-text files commits ~350 MB of full text, and its checkpoint took
2–3 s of the catalogue step's time on this machine (docs/ingest.md). Small writers (a portal
request) pay at random for the pages of others.

Here every connection raises ``wal_autocheckpoint`` to :data:`SAFETY_NET_PAGES` (so a writer
checkpoints only if this thread falls far behind), and :func:`nudge` — called after each write
commit — wakes one daemon thread per process that runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its
own connection. PASSIVE never waits for readers or writers and never blocks them; what it cannot
copy yet (pages a reader still needs) it copies on a later round. Durability is unchanged: a
commit is in the WAL either way, and the checkpoint only moves pages into the database file.
A connection closing last still checkpoints as SQLite always does.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time

__all__ = ["MIN_INTERVAL", "SAFETY_NET_PAGES", "checkpoint_now", "forget", "nudge", "wait_idle"]

log = logging.getLogger(__name__)

SAFETY_NET_PAGES = 262_144  # ~1 GiB of 4 KiB pages: a writer checkpoints only beyond this
MIN_INTERVAL = 0.5  # seconds between two rounds on one database, however many commits come

_lock = threading.Condition()
_pending: set[str] = set()
_busy: set[str] = set()
_last: dict[str, float] = {}
_thread: threading.Thread | None = None


def checkpoint_now(path: str) -> tuple[int, int, int]:
    """One PASSIVE checkpoint of the database at ``path``: (busy, WAL frames, frames copied).

    A connection of its own, opened for the round and closed after it (at most two rounds a
    second): nothing stays open on a database that is later deleted or disposed of.
    """
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        conn.close()
    return int(busy), int(frames), int(copied)


def _run() -> None:
    while True:
        with _lock:
            while not _pending:
                _lock.wait()
            now = time.monotonic()
            due = [p for p in _pending if now - _last.get(p, 0.0) >= MIN_INTERVAL]
            if not due:
                wait = min(MIN_INTERVAL - (now - _last.get(p, 0.0)) for p in _pending)
                _lock.wait(timeout=max(wait, 0.01))
                continue
            for p in due:
                _pending.discard(p)
                _busy.add(p)
        for path in due:
            try:
                if os.path.exists(path):
                    checkpoint_now(path)
            except sqlite3.Error as exc:  # busy, or the file went away: a later commit nudges
                log.info("WAL checkpoint of %s skipped: %s", path, exc)
            except Exception:  # never let the thread die: writers would checkpoint again
                log.exception("WAL checkpoint of %s failed", path)
            finally:
                with _lock:
                    _last[path] = time.monotonic()
                    _busy.discard(path)
                    _lock.notify_all()


def _after_fork_in_child() -> None:
    # The thread does not exist in a forked child, and the lock may have been held at the fork.
    global _lock, _thread
    _lock = threading.Condition()
    _thread = None
    _pending.clear()
    _busy.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def nudge(path: str) -> None:
    """Ask for a checkpoint of the database at ``path`` soon (after a write commit)."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_run, name="lantai-wal-checkpoint", daemon=True)
            _thread.start()
        _pending.add(path)
        _lock.notify_all()


def wait_idle(path: str, timeout: float = 30.0) -> bool:
    """Wait until no checkpoint of ``path`` is pending or running; False on timeout."""
    deadline = time.monotonic() + timeout
    with _lock:
        while path in _pending or path in _busy:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            _lock.wait(timeout=left)
    return True


def forget(path: str) -> None:
    """Drop what is pending for ``path`` and wait for a running round (the database is being
    disposed of)."""
    with _lock:
        _pending.discard(path)
    wait_idle(path)
    with _lock:
        _last.pop(path, None)
