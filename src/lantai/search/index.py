"""Where the index lives: generation directories, the swapped pointer, the writer lock, readers.

Layout under ``<LANTAI_HOME>/search/``::

    CURRENT            name of the live generation ("gen-000003"), replaced atomically
    writer.lock        flock held by the one indexing process (its pid is written inside)
    rebuild.request    present when a rebuild was asked for while another process held the lock
    gen-000003/        a tantivy index + state.json {seq, schema_version, complete, …}

A rebuild fills ``gen-N+1`` from the database while ``gen-N`` keeps serving, catches it up from
the event log and only then points ``CURRENT`` at it (write a temporary file, fsync, ``os.replace``),
so a reader always opens a complete, caught-up generation. ``state.json`` is written (atomically)
after each tantivy commit; a crash between the two only makes the indexer apply some events again,
which is harmless because applying an event is idempotent (delete by id, then add).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tantivy

from lantai.atomicfile import write_atomic
from lantai.search.schema import SCHEMA_VERSION, build_schema

__all__ = [
    "Generation",
    "IndexState",
    "SearchHome",
    "SearchReader",
    "Snapshot",
    "WriterLock",
    "write_atomic",
]

_PREFIX = "gen-"


@dataclass(frozen=True)
class IndexState:
    """What a generation holds: every event up to ``seq`` is applied."""

    seq: int = 0
    schema_version: int = SCHEMA_VERSION
    complete: bool = False
    records: int = 0
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexState:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass(frozen=True)
class Generation:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def number(self) -> int:
        return int(self.name.removeprefix(_PREFIX))

    @property
    def state_path(self) -> Path:
        return self.path / "state.json"

    def read_state(self) -> IndexState | None:
        try:
            return IndexState.from_dict(json.loads(self.state_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def write_state(self, state: IndexState) -> None:
        write_atomic(self.state_path, json.dumps(asdict(state)).encode())

    def create_index(self) -> tantivy.Index:
        self.path.mkdir(parents=True, exist_ok=True)
        return tantivy.Index(build_schema(), path=str(self.path), reuse=True)

    def open_index(self) -> tantivy.Index:
        return tantivy.Index.open(str(self.path))

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())


class SearchHome:
    """The ``search`` directory of one instance."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def pointer(self) -> Path:
        return self.root / "CURRENT"

    @property
    def lock_path(self) -> Path:
        return self.root / "writer.lock"

    @property
    def request_path(self) -> Path:
        return self.root / "rebuild.request"

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def current(self) -> Generation | None:
        try:
            name = self.pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        if not name.startswith(_PREFIX) or not (self.root / name).is_dir():
            return None
        return Generation(self.root / name)

    def generations(self) -> list[Generation]:
        if not self.root.is_dir():
            return []
        found = [
            Generation(p)
            for p in self.root.iterdir()
            if p.is_dir() and p.name.startswith(_PREFIX) and p.name[len(_PREFIX) :].isdigit()
        ]
        return sorted(found, key=lambda g: g.number)

    def new_generation(self) -> Generation:
        self.ensure()
        existing = self.generations()
        number = existing[-1].number + 1 if existing else 1
        gen = Generation(self.root / f"{_PREFIX}{number:06d}")
        gen.path.mkdir()
        return gen

    def swap(self, gen: Generation) -> None:
        """Point CURRENT at ``gen`` (atomic for every reader)."""
        write_atomic(self.pointer, gen.name.encode())

    def remove_stale(self) -> list[str]:
        """Delete generations other than the current one and the one before it (writer only).

        The previous generation is kept so that readers in other processes that have not yet
        noticed the swap can finish; anything older, and any unfinished build, is removed.
        """
        current = self.current()
        if current is None:
            return []
        keep = {current.name}
        older = [g for g in self.generations() if g.number < current.number]
        complete = [g for g in older if (s := g.read_state()) is not None and s.complete]
        if complete:
            keep.add(complete[-1].name)
        removed = []
        for g in self.generations():
            if g.name not in keep and g.number < current.number:
                shutil.rmtree(g.path, ignore_errors=True)
                removed.append(g.name)
        return removed

    def request_rebuild(self) -> None:
        self.ensure()
        write_atomic(self.request_path, str(time.time()).encode())

    def take_rebuild_request(self) -> bool:
        try:
            self.request_path.unlink()
            return True
        except FileNotFoundError:
            return False


class WriterLock:
    """An exclusive, non-blocking ``flock`` on ``writer.lock``: one indexing process per index.

    The lock belongs to the open file, so it is released when the holder exits or crashes.
    """

    def __init__(self, home: SearchHome) -> None:
        self.home = home
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.home.ensure()
        fd = os.open(self.home.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def holder(self) -> str:
        """The pid recorded by the current holder (informational)."""
        try:
            return self.home.lock_path.read_text().strip()
        except OSError:
            return ""


@dataclass(frozen=True)
class Snapshot:
    """One consistent view for one query: a searcher of one generation.

    ``version`` names the generation and its last commit seen before the searcher was taken (the
    searcher holds that commit or a later one): results cached under it are never older than it.
    """

    searcher: tantivy.Searcher
    schema: tantivy.Schema
    generation: str
    version: str = ""


class SearchReader:
    """Opens the current generation and follows swaps and commits. Thread-safe; one per process."""

    def __init__(self, home: SearchHome) -> None:
        self.home = home
        self._lock = threading.Lock()
        self._index: tantivy.Index | None = None
        self._gen: Generation | None = None
        self._pointer_id: tuple[int, int] | None = None
        self._commit_id: tuple[int, int] | None = None

    @staticmethod
    def _stat(path: Path) -> tuple[int, int] | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _pointer_stat(self) -> tuple[int, int] | None:
        return self._stat(self.home.pointer)

    def snapshot(self) -> Snapshot | None:
        """A searcher over the live generation, or None while no generation is complete.

        Each tantivy commit replaces the generation's ``meta.json``; when its stat changed since
        the last snapshot the index is reloaded first, so the searcher holds at least the commit
        named by ``Snapshot.version`` (tantivy's own reload follows commits with a delay)."""
        stat = self._pointer_stat()
        if stat != self._pointer_id or self._index is None:
            with self._lock:
                if stat != self._pointer_id or self._index is None:
                    self._open(stat)
        index, gen = self._index, self._gen
        if index is None or gen is None:
            return None
        commit = self._stat(gen.path / "meta.json")
        if commit != self._commit_id:
            with self._lock:
                if commit != self._commit_id and index is self._index:
                    index.reload()
                    self._commit_id = commit
        version = f"{gen.name}:{commit[0]}:{commit[1]}" if commit else gen.name
        return Snapshot(index.searcher(), index.schema, gen.name, version)

    def _open(self, stat: tuple[int, int] | None) -> None:
        gen = self.home.current()
        if gen is None:
            self._index, self._gen, self._pointer_id = None, None, stat
            return
        if self._gen is None or gen.name != self._gen.name or self._index is None:
            state = gen.read_state()
            if state is None or state.schema_version != SCHEMA_VERSION:
                self._index, self._gen, self._pointer_id = None, None, stat
                return
            self._index = gen.open_index()
            self._gen = gen
        self._pointer_id = stat

    def refresh(self) -> None:
        """See the latest commit now (the indexer calls this after committing in this process)."""
        with self._lock:
            self._open(self._pointer_stat())
            if self._index is not None:
                self._index.reload()

    @property
    def generation(self) -> Generation | None:
        return self._gen
