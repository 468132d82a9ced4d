"""Write a copy of a large file on a writer thread, bypassing the page cache (``O_DIRECT``).

Public API::

    with DirectCopy(target) as out:        # target is created exclusively
        while n := f.readinto(view := out.buffer()):   # an aligned 1 MiB buffer
            hashes.update(view[:n])
            out.write(n)                    # queued; the writer thread writes it
    # on exit: every byte written (or, on an exception, the target removed)

Why: copying a large file while it is hashed must not cost the hashing thread the page-cache
copy (buffered writes of 2 GiB cost more CPU here than the kernel copy the AIP made after
hashing), and the disk write should run while the CPU hashes, not after it. With ``O_DIRECT``
the device reads the bytes straight from the (page-aligned, ``mmap``) buffers, so the writer
thread only waits for the disk; at most :data:`DEPTH` buffers are in flight. Durability is
still the object store's commit (``fsync``), which then finds nothing left to write back.

``O_DIRECT`` needs block-aligned offsets and lengths: a short chunk (the file's tail) is
written after clearing the flag, and from then on the file is written through the page cache.
Where the filesystem refuses ``O_DIRECT`` (tmpfs, some network filesystems) the copy is an
ordinary buffered one. Linux-only flags are looked up with ``getattr``; elsewhere the copy is
buffered.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import queue
import threading
from pathlib import Path
from types import TracebackType

__all__ = ["ALIGN", "CHUNK", "DEPTH", "DirectCopy"]

CHUNK = 1 << 20
DEPTH = 4  # buffers per copy: one being filled and hashed, up to three being written
ALIGN = 4096  # O_DIRECT offset/length alignment (a multiple of every usual logical block size)
_O_DIRECT = getattr(os, "O_DIRECT", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class DirectCopy:
    """A new file written from aligned buffers on a writer thread (see the module docstring)."""

    def __init__(self, target: Path, *, chunk: int = CHUNK, depth: int = DEPTH) -> None:
        self.target = target
        self.direct = False
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW
        fd = -1
        if _O_DIRECT:
            try:
                fd = os.open(target, flags | _O_DIRECT, 0o644)
                self.direct = True
            except OSError as exc:
                if exc.errno != 22:  # EINVAL: the filesystem has no O_DIRECT
                    raise
        if fd < 0:
            fd = os.open(target, flags, 0o644)
        self._fd = fd
        self._free: queue.SimpleQueue[mmap.mmap] = queue.SimpleQueue()
        self._buffers = [mmap.mmap(-1, chunk) for _ in range(max(2, depth))]
        for b in self._buffers:
            self._free.put(b)
        self._todo: queue.SimpleQueue[tuple[mmap.mmap, int] | None] = queue.SimpleQueue()
        self._current: mmap.mmap | None = None
        self._view: memoryview | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="lantai-copy", daemon=True)
        self._thread.start()

    # -- the hashing thread ----------------------------------------------------------------------

    def buffer(self) -> memoryview:
        """A free buffer to read the next chunk into (waits while all are being written)."""
        self._raise()
        self._release_view()
        self._current = self._free.get()
        self._raise()
        self._view = memoryview(self._current)
        return self._view

    def write(self, n: int) -> None:
        """Queue the first ``n`` bytes of the buffer last returned by :meth:`buffer`."""
        assert self._current is not None, "write() without buffer()"
        self._release_view()
        buf, self._current = self._current, None
        self._todo.put((buf, n))

    def close(self) -> None:
        """Wait until every queued chunk is written; raise the writer's error, if any."""
        if self._closed:
            return
        self._closed = True
        self._release_view()
        if self._current is not None:
            self._free.put(self._current)
            self._current = None
        self._todo.put(None)
        self._thread.join()
        os.close(self._fd)
        self._buffers.clear()  # unmapped when the last view of them is gone
        self._raise()

    def __enter__(self) -> DirectCopy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.close()
        except BaseException:
            self.target.unlink(missing_ok=True)
            raise
        if exc_type is not None:
            self.target.unlink(missing_ok=True)

    # -- the writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            buf, n = item
            try:
                if self._error is None:
                    self._write(buf, n)
            except BaseException as exc:  # reported to the hashing thread
                self._error = exc
            finally:
                self._free.put(buf)

    def _write(self, buf: mmap.mmap, n: int) -> None:
        with memoryview(buf) as view:
            start = 0
            if self.direct:
                aligned = n - n % ALIGN
                if aligned:
                    start = self._write_all(view, 0, aligned)
                if start < n:  # an unaligned tail: the rest of the file goes through the cache
                    self._buffered()
            if start < n:
                self._write_all(view, start, n)

    def _write_all(self, view: memoryview, start: int, end: int) -> int:
        while start < end:
            try:
                start += os.write(self._fd, view[start:end])
            except OSError as exc:
                if not self.direct or exc.errno != 22:
                    raise
                self._buffered()  # EINVAL: a device with larger blocks; write it buffered
        return end

    def _buffered(self) -> None:
        fl = fcntl.fcntl(self._fd, fcntl.F_GETFL)
        fcntl.fcntl(self._fd, fcntl.F_SETFL, fl & ~_O_DIRECT)
        self.direct = False

    # -- both ------------------------------------------------------------------------------------

    def _release_view(self) -> None:
        if self._view is not None:
            with contextlib.suppress(BufferError):
                self._view.release()
            self._view = None

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error
