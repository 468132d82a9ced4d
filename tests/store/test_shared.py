"""``lantai.store.shared.built_once``: shared SQL constructs are set up by one thread only."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

from sqlalchemy import select

from lantai.store import Record
from lantai.store.shared import built_once

# In a fresh process (nothing set up yet), 16 threads released at once build and compile the
# record page's statement and the public's hit rows, the two the portal shares between request
# threads; a tiny switch interval makes the threads interleave inside SQLAlchemy's lazy set-up.
# Before built_once, most runs failed with "Can't determine which FROM clause to join from".
PROBE = textwrap.dedent(
    """
    import sys, threading, warnings
    from sqlalchemy.dialects import sqlite
    from lantai.access.portal import _statement
    from lantai.search.permissions import Visibility
    from lantai.search.service import _hit_rows
    warnings.simplefilter("error")
    failures = []
    barrier = threading.Barrier(16)
    def record_page(with_texts):
        barrier.wait()
        try:
            str(_statement(with_texts, True).compile(dialect=sqlite.dialect()))
        except Exception as exc:
            failures.append(repr(exc)[:200])
    def hits():
        barrier.wait()
        try:
            str(_hit_rows(Visibility(public=True, max_rank=0)).compile(dialect=sqlite.dialect()))
        except Exception as exc:
            failures.append(repr(exc)[:200])
    sys.setswitchinterval(1e-6)
    threads = [
        threading.Thread(target=hits if i % 2 else record_page, args=() if i % 2 else (i % 4 == 0,))
        for i in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(len(failures), failures[:1])
    """
)


def test_concurrent_first_use_of_the_portal_statements_is_safe() -> None:
    for _ in range(4):  # the race it guards against showed in ~3 of 4 such processes
        done = subprocess.run(
            [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip() == "0 []", done.stdout + done.stderr[-2000:]


def test_each_construct_is_built_once_per_arguments() -> None:
    calls: list[int] = []

    @built_once
    def by_id(n: int):  # type: ignore[no-untyped-def]
        calls.append(n)
        return select(Record.id).where(Record.id == n)

    barrier = threading.Barrier(8)
    got: list[object] = []

    def use(n: int) -> None:
        barrier.wait()
        got.append(by_id(n))

    threads = [threading.Thread(target=use, args=(i % 2,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(calls) == [0, 1]
    assert len({id(g) for g in got}) == 2
