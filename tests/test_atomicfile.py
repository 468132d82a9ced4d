"""lantai.atomicfile: concurrent writers of one path never fail and never see a mix.

``bench/soak.py`` found the bug these guard against: two citizens registering at the same
moment on a new instance both created the ID-hash key through one shared temporary name; one
request failed with a 500 (the other's rename had taken the file away), and had both renames
succeeded the two would have hashed ID numbers with different keys.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

from concurrency_support import failures, race
from lantai.atomicfile import create_once, write_atomic

THREADS = 16


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_create_once_gives_every_racing_thread_the_same_content(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "id.key"
    results = race(THREADS, lambda i: create_once(path, lambda: os.urandom(32)))
    assert failures(results) == []
    assert len(set(results)) == 1  # one key, whoever made it
    assert results[0] == path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _leftovers(path.parent) == []


def test_create_once_keeps_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_bytes(b"first")
    assert create_once(path, lambda: b"second") == b"first"
    assert path.read_bytes() == b"first"


def _create_in_process(path: str, queue: multiprocessing.Queue[bytes]) -> None:
    queue.put(create_once(Path(path), lambda: os.urandom(32)))


def test_create_once_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "k"
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[bytes] = ctx.Queue()
    procs = [ctx.Process(target=_create_in_process, args=(str(path), queue)) for _ in range(6)]
    for p in procs:
        p.start()
    got = {queue.get(timeout=30) for _ in procs}
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert got == {path.read_bytes()}


def test_write_atomic_racing_writers_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "page.jpg"
    contents = [bytes([i]) * (64 << 10) for i in range(THREADS)]

    def write(i: int) -> None:
        write_atomic(path, contents[i], durable=i % 2 == 0)

    assert failures(race(THREADS, write)) == []
    assert path.read_bytes() in contents  # one writer's bytes, whole
    assert _leftovers(path.parent) == []


def test_write_atomic_replaces_and_sets_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b"old")
    write_atomic(path, b"new", mode=0o600)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
