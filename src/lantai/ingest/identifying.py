"""Format identification of a transfer's files, spread over the cores, overlapping the reading.

:func:`lantai.formats.identify.identify_many` runs siegfried in ONE process (its Go workers do
not make one scan faster: about 0.5–1 ms per small file whatever their number, since siegfried
scans the whole of a small file for signatures), so a transfer of many files is cut into one
share per worker, each identified by its own siegfried child process at the same time.

:class:`IdentifyStream` does the same while the transfer is still being read: the pipeline hands
it each file as soon as it is hashed (:func:`lantai.ingest.digests.observe_hashed`), and from
:data:`STREAM_MIN_FILES` files on it starts one long-lived siegfried child per worker and feeds
them batches of :data:`STREAM_BATCH` files round-robin, so identification runs beside the
reading instead of after it. A large file (:data:`STREAM_LARGE_BYTES` or more) is sent at once,
however few files the transfer has: 20 files of 100 MB took 0.4 s to identify after the last
one was hashed, 5 % of that transfer's time (in this process siegfried would hold the GIL and
stall the hashing threads instead). :meth:`IdentifyStream.finish` sends what is left (files
nobody handed in, such as files unpacked from an archive) and waits. Smaller transfers are identified
in this process at the end, as before (a child costs about 0.15 s to start). The results are
those of ``identify_many``: the same siegfried, the same refinement (``from_siegfried``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from lantai.ingest.transfer import FormatInfo

__all__ = [
    "SHARE_MIN_FILES",
    "STREAM_BATCH",
    "STREAM_LARGE_BYTES",
    "STREAM_MIN_FILES",
    "IdentifyStream",
    "identify_files",
]

SHARE_MIN_FILES = 1000  # per share: a child costs ~0.15 s to start, ~0.6 ms per file to scan
STREAM_MIN_FILES = 500  # from this many files on, children identify while the transfer is read
STREAM_BATCH = 250  # files per request to a child
STREAM_LARGE_BYTES = 64 << 20  # a file this large goes to a child as soon as it is handed in


def identify_files(paths: Sequence[Path], *, workers: int) -> dict[Path, FormatInfo]:
    """The format of every file (as ``identify_many``), in ``workers`` shares when worthwhile."""
    from lantai.formats.identify import identify_many

    unique = list(dict.fromkeys(paths))
    shares = max(1, min(workers, len(unique) // SHARE_MIN_FILES))
    if shares == 1:
        return identify_many(unique, workers=workers)
    parts = [unique[i::shares] for i in range(shares)]
    out: dict[Path, FormatInfo] = {}
    with ThreadPoolExecutor(shares, thread_name_prefix="identify-share") as pool:
        for found in pool.map(lambda part: identify_many(part, workers=1, in_process=False), parts):
            out.update(found)
    return {p: out[p] for p in unique}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # identified at finish(), where siegfried reports what is wrong with it


class IdentifyStream:
    """Identify files as they are handed in (see the module docstring). Use as a context
    manager: leaving the block without :meth:`finish` (an error) stops the children."""

    def __init__(
        self,
        *,
        workers: int,
        min_files: int = STREAM_MIN_FILES,
        batch: int = STREAM_BATCH,
    ) -> None:
        self.workers = max(1, workers)
        self.min_files = min_files
        self.batch = batch
        self.streamed = 0  # files sent to a child before finish()
        self._lock = threading.Lock()
        self._seen: set[Path] = set()
        self._pending: list[Path] = []
        self._children: list[Any] = []  # _siegfried.SiegfriedProcess
        self._turn = 0
        self._found: dict[Path, FormatInfo] = {}
        self.errors: list[BaseException] = []  # of children that died (their files were redone)
        self._finished = False

    def add(self, path: Path) -> None:
        """Hand in a file whose bytes are final (thread-safe, does not wait for siegfried)."""
        large = _size(path) >= STREAM_LARGE_BYTES
        with self._lock:
            if self._finished or path in self._seen:
                return
            self._seen.add(path)
            self._pending.append(path)
            many = len(self._seen) >= self.min_files and len(self._pending) >= self.batch
            if large or many:
                batch, self._pending = self._pending, []
                self.streamed += len(batch)
                self._send(batch)

    def finish(self, paths: Sequence[Path]) -> dict[Path, FormatInfo]:
        """The format of every file in ``paths`` (handed in before or not), once all are done."""
        unique = list(dict.fromkeys(paths))
        with self._lock:
            self._finished = True
            rest = self._pending + [p for p in unique if p not in self._seen]
            self._pending = []
            if not self._children:
                return identify_files(unique, workers=self.workers)
            for i in range(0, len(rest), self.batch):
                self._send(rest[i : i + self.batch])
            children, self._children = self._children, []
        for child in children:
            child.close()  # batches left unanswered (a child died) are identified below
            if child.error is not None:
                self.errors.append(child.error)
        missing = [p for p in unique if p not in self._found]
        if missing:
            self._found.update(identify_files(missing, workers=self.workers))
        return {p: self._found[p] for p in unique}

    def _send(self, batch: list[Path]) -> None:
        from lantai.formats._siegfried import SiegfriedProcess

        if len(self._children) < self.workers:
            self._children.append(SiegfriedProcess(self._reply, workers=1))
            child = self._children[-1]
        else:
            child = self._children[self._turn % len(self._children)]
            self._turn += 1
        child.submit([str(p) for p in batch])

    def _reply(self, batch: list[str], raw: list[dict[str, Any]]) -> None:
        from lantai.formats.identify import from_siegfried

        found = from_siegfried([Path(p) for p in batch], raw)
        with self._lock:
            self._found.update(found)

    def close(self) -> None:
        with self._lock:
            self._finished = True
            children, self._children = self._children, []
        for child in children:
            child.kill()
            child.close(timeout=10)

    def __enter__(self) -> IdentifyStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
