"""SHA-256 + SM3 of every staged file, each byte read once; files hashed in parallel.

Public API:

- :func:`hash_files` — fill ``TransferFile.sha256`` / ``.sm3`` (and ``.size``) for every file that
  has no digests yet, ``workers`` files at a time (``settings.ingest_workers``). Files that a
  reader already hashed while writing them (unpacking, base64 decoding) are skipped, so no byte
  is hashed twice. Extra algorithms the sender declared (a BagIt ``manifest-md5.txt``…) are
  computed in the same read and returned, so declared digests can be verified without a second
  read. ``copy_to`` copies a file while it is hashed (the readers do it for the files of a
  sender's folder read in place), so the AIP links that copy — exactly the bytes hashed. Large
  copies are written with ``O_DIRECT`` on a writer thread (:mod:`lantai.ingest.directcopy`), so
  the disk writes while the CPU hashes. Inside :func:`observe_hashed` each file is handed to an
  observer once hashed (the pipeline starts identifying it while the rest is read).
- :class:`HashingWriter` — a file writer that hashes what it writes (SHA-256 + SM3 + extras):
  how unpacking and the EEP reader stage bytes without reading them back.
- :class:`BackgroundHashes` — SHA-256 + SM3 of a second byte stream on a worker thread.
- :func:`new_hash` — a hash object for an algorithm name as senders write it ("sha256", "sm3",
  "md5", "sha1", "sha512" …).

Threads are enough for parallelism: ``hashlib`` releases the GIL while it hashes more than 2 KiB,
so two workers keep two cores busy. Each worker reads with ``readinto`` into its own 1 MiB buffer
(from a small pool: no per-chunk allocation). SM3 (~0.4 GB/s per core) is the bottleneck, not the disk.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from lantai.crypto import new_sm3
from lantai.errors import InputError, Problem
from lantai.ingest.directcopy import DirectCopy
from lantai.ingest.transfer import TransferFile

__all__ = [
    "CHUNK",
    "DIRECT_COPY_MIN",
    "BackgroundHashes",
    "FileHashes",
    "HashingWriter",
    "UnknownAlgorithm",
    "hash_file",
    "hash_files",
    "new_hash",
    "normalize_algorithm",
    "observe_hashed",
]

CHUNK = 1 << 20
DIRECT_COPY_MIN = 8 << 20  # copies of files this large are written by DirectCopy

Progress = Callable[[int], None]  # called with the number of bytes just hashed


class _Hash(Protocol):
    def update(self, data: Any, /) -> None: ...
    def hexdigest(self) -> str: ...


class UnknownAlgorithm(InputError):
    """A digest algorithm name this system cannot compute."""


_ALIASES = {
    "sha-256": "sha256",
    "sha-1": "sha1",
    "sha-512": "sha512",
    "sha-224": "sha224",
    "sha-384": "sha384",
    "sm-3": "sm3",
}


def normalize_algorithm(name: str) -> str:
    """The canonical lower-case name of a digest algorithm ("SHA-256" → "sha256")."""
    n = name.strip().lower()
    return _ALIASES.get(n, n)


def new_hash(name: str) -> _Hash:
    """A new hash object for ``name`` (any hashlib algorithm, plus SM3)."""
    n = normalize_algorithm(name)
    if n == "sm3":
        return new_sm3()
    try:
        return hashlib.new(n)
    except ValueError:
        raise UnknownAlgorithm(
            f"不支持的摘要算法「{name}」",
            [
                Problem(
                    field="摘要算法", value=name, rule="摘要算法", message="无法计算此算法的摘要"
                )
            ],
        ) from None


class FileHashes:
    """The digests of one file: SHA-256, SM3 and any extra algorithms, computed together."""

    __slots__ = ("_extra", "_sha256", "_sm3", "size")

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self._sha256 = hashlib.sha256()
        self._sm3: _Hash = new_sm3()
        self._extra = {
            normalize_algorithm(a): new_hash(a)
            for a in extra
            if normalize_algorithm(a) not in ("sha256", "sm3")
        }
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        self._sha256.update(data)
        self._sm3.update(data)
        for h in self._extra.values():
            h.update(data)
        self.size += len(data)

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    @property
    def sm3(self) -> str:
        return self._sm3.hexdigest()

    def all(self) -> dict[str, str]:
        """algorithm → hex digest, SHA-256 and SM3 included."""
        out = {"sha256": self.sha256, "sm3": self.sm3}
        out.update({a: h.hexdigest() for a, h in self._extra.items()})
        return out


class BackgroundHashes:
    """SHA-256 + SM3 computed on a worker thread: :meth:`update` only queues the bytes.

    For a second stream of bytes that must be hashed while the calling thread is busy with
    another (the EEP reader hashes the package, its canonical 被签名对象 and the decoded files in
    one pass): ``hashlib`` releases the GIL, so the streams use two cores. At most ``depth``
    chunks wait in the queue. Call :meth:`close` (also on errors) to get the result.
    """

    def __init__(self, depth: int = 2) -> None:
        self.hashes = FileHashes()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._thread = threading.Thread(target=self._run, name="lantai-hash-bg", daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            self.hashes.update(item)

    def update(self, data: bytes | memoryview) -> None:
        # Small pieces (element tags) are batched so the queue sees ~1 MiB items.
        self._pending.append(bytes(data))
        self._pending_size += len(data)
        if self._pending_size >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._queue.put(b"".join(self._pending))
            self._pending.clear()
            self._pending_size = 0

    def close(self) -> FileHashes:
        if not self._closed:
            self._closed = True
            self._flush()
            self._queue.put(None)
            self._thread.join()
        return self.hashes


class HashingWriter:
    """Write a new file while hashing its bytes (use as a context manager).

    The file is created exclusively (an existing file is never overwritten) and flushed and
    closed on exit; on an exception it is removed, so nothing half-written stays behind.
    """

    def __init__(self, path: Path, *, extra: Iterable[str] = (), max_bytes: int | None = None):
        self.path = path
        self.hashes = FileHashes(extra)
        self.max_bytes = max_bytes
        self._fh = path.open("xb")

    def write(self, data: bytes | memoryview) -> None:
        if self.max_bytes is not None and self.hashes.size + len(data) > self.max_bytes:
            raise OverflowError(self.max_bytes)
        self._fh.write(data)
        self.hashes.update(data)

    @property
    def size(self) -> int:
        return self.hashes.size

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> HashingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        if exc_type is not None:
            self.path.unlink(missing_ok=True)


Observer = Callable[[TransferFile], None]
_observer: contextvars.ContextVar[Observer | None] = contextvars.ContextVar(
    "lantai_hashed_observer", default=None
)


@contextlib.contextmanager
def observe_hashed(observer: Observer) -> Iterator[None]:
    """Within the block, :func:`hash_files` hands every file it hashed to ``observer`` (called
    from worker threads, at once): how the pipeline starts identifying a file while the rest of
    the transfer is still being read. The file's ``local`` is then final (the copy, if any)."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)


def hash_file(
    path: Path,
    *,
    extra: Iterable[str] = (),
    buffer: bytearray | None = None,
    progress: Progress | None = None,
    copy_to: Path | None = None,
) -> FileHashes:
    """SHA-256 + SM3 (+ ``extra``) of one file, in one read.

    With ``copy_to`` the bytes read are also written to that new file (created exclusively,
    removed again on any error): a copy whose digests are exactly the ones returned. A file of
    :data:`DIRECT_COPY_MIN` bytes or more is written by a ``DirectCopy`` (``O_DIRECT`` on a
    writer thread: the disk writes while this thread hashes); smaller ones from this loop.
    """
    hashes = FileHashes(extra)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb", buffering=0, closefd=True) as f:
        if copy_to is not None:
            copy_to.parent.mkdir(parents=True, exist_ok=True)
            if os.fstat(f.fileno()).st_size >= DIRECT_COPY_MIN:
                with DirectCopy(copy_to) as out:
                    while n := f.readinto(view := out.buffer()):
                        hashes.update(view[:n])
                        out.write(n)
                        if progress is not None:
                            progress(n)
                return hashes
        buf = buffer if buffer is not None else bytearray(CHUNK)
        view = memoryview(buf)
        out_file = None
        try:
            if copy_to is not None:
                out_file = copy_to.open("xb", buffering=0)
            while n := f.readinto(view):
                chunk = view[:n]
                if out_file is not None:
                    out_file.write(chunk)
                hashes.update(chunk)
                if progress is not None:
                    progress(n)
            if out_file is not None:
                out_file.close()
        except BaseException:
            if out_file is not None:
                out_file.close()
                assert copy_to is not None
                copy_to.unlink(missing_ok=True)
            raise
        finally:
            view.release()
    return hashes


def hash_files(
    files: Sequence[TransferFile],
    *,
    workers: int,
    extra: Callable[[TransferFile], Iterable[str]] | None = None,
    progress: Progress | None = None,
    force: bool = False,
    copy_to: Callable[[TransferFile], Path | None] | None = None,
) -> list[dict[str, str] | None]:
    """Fill SHA-256 and SM3 of every file lacking them; return every digest computed.

    The result is aligned with ``files``: for each file hashed here ``{algorithm: hex}`` (SHA-256,
    SM3 and the further algorithms ``extra(file)`` asked for, computed in the same read), None
    for a file skipped because it already carried both digests (unless ``force``).
    ``progress`` receives byte counts (called from worker threads, serialised by a lock).
    ``copy_to(file)`` names a new file to copy it to while it is hashed (None: no copy); the
    file's ``local`` then becomes the copy, so later steps use exactly the bytes hashed.
    Inside :func:`observe_hashed` every file is passed to the observer as soon as it is hashed.
    """
    todo = [i for i, f in enumerate(files) if force or f.sha256 is None or f.sm3 is None]
    algorithms = extra or (lambda f: ())
    lock = threading.Lock()
    report: Progress | None = None
    if progress is not None:
        user = progress

        def report(n: int) -> None:
            with lock:
                user(n)

    buffers: queue.SimpleQueue[bytearray] = queue.SimpleQueue()  # reused read buffers
    for _ in range(max(1, min(workers, len(todo)))):
        buffers.put(bytearray(CHUNK))
    out: list[dict[str, str] | None] = [None] * len(files)
    observer = _observer.get()

    def one(i: int) -> None:
        tf = files[i]
        buf = buffers.get()
        target = copy_to(tf) if copy_to is not None else None
        try:
            h = hash_file(
                tf.local, extra=algorithms(tf), buffer=buf, progress=report, copy_to=target
            )
        finally:
            buffers.put(buf)
        tf.sha256, tf.sm3, tf.size = h.sha256, h.sm3, h.size
        if target is not None:
            tf.local = target
        out[i] = h.all()
        if observer is not None:
            observer(tf)

    if workers <= 1 or len(todo) <= 1:
        for i in todo:
            one(i)
        return out
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lantai-hash") as pool:
        # Largest first, so one big file does not start last and hold up the whole batch.
        ordered = sorted(todo, key=lambda i: files[i].size, reverse=True)
        for _ in pool.map(one, ordered):
            pass
    return out
