"""Small files written safely when several threads or processes may write them at once.

- :func:`write_atomic` — replace a file's content so a reader sees the old or the new bytes,
  never a mix; each writer uses its own temporary name, so two writers of the same path never
  trip over each other's temporary file (the last rename wins, and both renames succeed).
- :func:`fsync_path` — make a file's bytes, or a directory's entries, durable.
- :func:`create_once` — a file that is made once and never changed afterwards (a secret key):
  the first writer's content wins, every other writer (thread or process) reads and returns it.
  Two racing first users of a key must never end up holding different keys.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = ["create_once", "fsync_path", "write_atomic"]


def _temporary(path: Path) -> Path:
    # Unique per call: a per-process or per-path name is shared by the threads of one process.
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")


def _write_new(tmp: Path, data: bytes, mode: int, durable: bool) -> None:
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (a directory: the names created or renamed in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (the parent directory is created if needed).

    ``durable`` fsyncs the file and its directory (state that must survive a crash); a cache
    entry that can be made again passes ``durable=False``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    _write_new(tmp, data, mode, durable)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_path(path.parent)


def create_once(path: Path, make: Callable[[], bytes], *, mode: int = 0o600) -> bytes:
    """The content of ``path``, created with ``make()`` (and ``mode``) if it does not exist yet.

    The new file is linked into place with ``link(2)``, which fails when the name exists: of
    several concurrent creators exactly one wins, and all of them return the winner's bytes.
    """
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    _write_new(tmp, make(), mode, durable=True)
    try:
        os.link(tmp, path)
        fsync_path(path.parent)
    except FileExistsError:
        pass  # another writer was first: its content is the file's
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()
