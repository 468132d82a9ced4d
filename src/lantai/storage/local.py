"""The embedded object store: a directory tree on the local filesystem.

Layout under ``root`` (``settings.storage_dir``)::

    packages/<id[:2]>/<id>/<path>     the objects of a committed package (read-only files)
    packages/<id[:2]>/<id>.json       its index: size, SHA-256, SM3 of every object — the commit mark
    incoming/<id>~<token>/<path>      a package being written (invisible to readers)
    locks/<id>.lock                   serialises commits of one package id

Commit = make every written byte durable (``fsync`` per file for small packages, one
``syncfs`` for large ones — 10,000 fsyncs would cost ~30 s on a VM disk), rename the incoming
directory into place, then write the index (temp + fsync + rename). A package without its index
is not committed: readers never see it, the next commit of the same id replaces it, and
:meth:`LocalObjectStore.discard_uncommitted` removes it. Files are stored read-only.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import hashlib
import json
import logging
import os
import secrets
import shutil
import stat as stat_mod
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from lantai import faults
from lantai.atomicfile import fsync_path
from lantai.crypto.digest import CHUNK, digest_bytes, new_sm3
from lantai.storage.base import (
    DestructionOrder,
    DestructionResult,
    InvalidKey,
    LocationUnreachable,
    ObjectInfo,
    ObjectMismatch,
    ObjectNotFound,
    ObjectStore,
    PackageExists,
    PackageInfo,
    PackageWriter,
    StorageFull,
    check_order,
    check_package_id,
    check_path,
    split_key,
)
from lantai.storage.index import apply_destruction, doc_bytes, index_bytes, now_created
from lantai.storage.verified import check_repair, copy_verified

__all__ = ["LocalObjectStore"]

log = logging.getLogger("lantai.storage")

_M = TypeVar("_M", bound=Callable[..., Any])

_FSYNC_EACH_MAX = 32  # up to this many objects, fsync each file; above, one syncfs


def _syncfs(path: Path) -> bool:
    """Flush the whole filesystem holding ``path`` (Linux ``syncfs``); False if unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return bool(fn(fd) == 0)
    finally:
        os.close(fd)


def _no_space(method: _M) -> _M:
    """A full disk (or quota) while writing a package: a clear error; the writer's ``with``
    block then aborts, so nothing of the package stays (it was never visible)."""

    @functools.wraps(method)
    def wrapper(self: _LocalWriter, *args: Any, **kw: Any) -> Any:
        try:
            return method(self, *args, **kw)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise StorageFull(
                f"存储位置 {self.store.root} 空间不足：写入信息包 {self.package_id} 时磁盘已满；"
                "未写完的信息包不可见，释放空间或扩容后重试（如 `lantai ingest resume`）"
            ) from exc

    return wrapper  # type: ignore[return-value]


class _LocalWriter(PackageWriter):
    def __init__(self, store: LocalObjectStore, package_id: str) -> None:
        self.store = store
        self.package_id = check_package_id(package_id)
        self.dir = store.root / "incoming" / f"{package_id}~{secrets.token_hex(6)}"
        self.dir.mkdir(parents=True)
        self.objects: dict[str, ObjectInfo] = {}
        self._dirs: set[Path] = {self.dir}
        self._made: set[str] = set()  # directories (relative) already created
        self._done: PackageInfo | None = None

    def _target(self, path: str) -> Path:
        check_path(path)
        if path in self.objects:
            raise InvalidKey(f"对象「{path}」在包 {self.package_id} 中重复写入")
        parent = path.rpartition("/")[0]
        if parent and parent not in self._made:
            os.makedirs(os.path.join(self.dir, parent), exist_ok=True)
            while parent and parent not in self._made:
                self._made.add(parent)
                self._dirs.add(self.dir / parent)
                parent = parent.rpartition("/")[0]
        return self.dir / path

    def _keep(self, path: str, dest: Path, size: int, sha256: str, sm3: str) -> ObjectInfo:
        faults.point("storage.local.put")
        os.chmod(dest, stat_mod.S_IRUSR | stat_mod.S_IRGRP)
        info = ObjectInfo(key=f"{self.package_id}/{path}", size=size, sha256=sha256, sm3=sm3)
        self.objects[path] = info
        return info

    @_no_space
    def put_file(
        self,
        path: str,
        source: Path,
        *,
        size: int,
        sha256: str,
        sm3: str,
        verified: bool = False,
        link: bool = False,
    ) -> ObjectInfo:
        if not verified:
            with source.open("rb") as f:
                return self.put_stream(path, f, size=size, sha256=sha256, sm3=sm3)
        dest = self._target(path)
        linked = False
        if link:
            try:
                os.link(source, dest)
                linked = True
            except OSError:  # another filesystem, or links not allowed
                linked = False
        if not linked:
            shutil.copyfile(source, dest)  # copy_file_range/sendfile: no userspace read
        actual = os.stat(dest).st_size
        if actual != size:
            dest.unlink()
            raise ObjectMismatch(
                f"对象「{path}」大小不符：应为 {size} 字节，实际 {actual} 字节；未保存"
            )
        return self._keep(path, dest, size, sha256, sm3)

    @_no_space
    def put_stream(
        self, path: str, stream: BinaryIO, *, size: int, sha256: str, sm3: str | None = None
    ) -> ObjectInfo:
        dest = self._target(path)
        sha, sm = hashlib.sha256(), new_sm3()
        written = 0
        with dest.open("xb") as out:
            while chunk := stream.read(CHUNK):
                written += len(chunk)
                if written > size:
                    break
                sha.update(chunk)
                sm.update(chunk)
                out.write(chunk)
        got_sha, got_sm3 = sha.hexdigest(), sm.hexdigest()
        problem = None
        if written != size:
            problem = (
                f"大小不符：应为 {size} 字节，实际{'超过' if written > size else ''} {written} 字节"
            )
        elif got_sha != sha256.lower():
            problem = f"SHA-256 不符：应为 {sha256}，实际 {got_sha}"
        elif sm3 is not None and got_sm3 != sm3.lower():
            problem = f"SM3 不符：应为 {sm3}，实际 {got_sm3}"
        if problem is not None:
            dest.unlink()
            raise ObjectMismatch(f"对象「{path}」{problem}；未保存")
        return self._keep(path, dest, size, got_sha, got_sm3)

    @_no_space
    def put_bytes(self, path: str, data: bytes) -> ObjectInfo:
        dest = self._target(path)
        d = digest_bytes(data)
        with dest.open("xb") as out:
            out.write(data)
        return self._keep(path, dest, d.size, d.sha256, d.sm3)

    @_no_space
    def commit(self) -> PackageInfo:
        if self._done is not None:
            return self._done
        self._make_durable()
        store = self.store
        final, index = store._paths(self.package_id)
        with store._lock(self.package_id):
            existing = store._load_index(self.package_id)
            if existing is not None:
                mine = {p: [o.size, o.sha256] for p, o in self.objects.items()}
                theirs = {p: v[:2] for p, v in existing["objects"].items()}
                shutil.rmtree(self.dir, ignore_errors=True)
                if mine != theirs:
                    raise PackageExists(f"包 {self.package_id} 已存在且内容不同；对象不可改写")
                self._done = store._info(self.package_id, existing, index)
                return self._done
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():  # left by a commit that died before writing its index
                _rmtree(final)
            os.rename(self.dir, final)
            fsync_path(final.parent)
            faults.point("storage.local.renamed")
            data = index_bytes(
                self.package_id, self.created or now_created(), self.objects, self.destroyed
            )
            doc = json.loads(data)
            tmp = index.with_name(f".{index.name}.{secrets.token_hex(4)}")
            with tmp.open("xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, index)
            fsync_path(index.parent)
        self._done = store._info(self.package_id, doc, index)
        return self._done

    def _make_durable(self) -> None:
        files = [self.dir / p for p in self.objects]
        if len(files) > _FSYNC_EACH_MAX and _syncfs(self.dir):
            return
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(fsync_path, files))
        for d in sorted(self._dirs, key=lambda p: len(p.parts), reverse=True):
            fsync_path(d)

    def abort(self) -> None:
        if self._done is None:
            shutil.rmtree(self.dir, ignore_errors=True)


def _rmtree(path: Path) -> None:
    """Remove a package tree (its files are read-only; its directories are not)."""
    shutil.rmtree(path)


class LocalObjectStore(ObjectStore):
    """Packages as directories under ``root``; see the module docstring for the layout."""

    def __init__(self, root: Path, *, create: bool = True) -> None:
        """``create=False`` for a configured location (a mounted disk, a NAS share): a missing
        root then means the location is unreachable, never a fresh empty store on the wrong disk.
        """
        self.root = root
        self._index_cache: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()
        if create or root.is_dir():
            for sub in ("packages", "incoming", "locks"):
                (root / sub).mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalObjectStore({self.root})"

    # -- paths and index -------------------------------------------------------------------------

    def _paths(self, package_id: str) -> tuple[Path, Path]:
        shard = self.root / "packages" / package_id[:2].lower()
        return shard / package_id, shard / f"{package_id}.json"

    @contextmanager
    def _lock(self, package_id: str) -> Iterator[None]:
        with (self.root / "locks" / f"{package_id}.lock").open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _load_index(self, package_id: str) -> dict[str, Any] | None:
        """The parsed index, cached while the file's identity (inode, size, mtime) is unchanged:
        an audit opens every object of a 10,000-object package, each open checks the index."""
        _final, index = self._paths(package_id)
        try:
            st = os.stat(index)
        except FileNotFoundError:
            return None
        ident = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._cache_lock:
            cached = self._index_cache.get(package_id)
        if cached is not None and cached[0] == ident:
            return cached[1]
        try:
            data = index.read_bytes()
        except FileNotFoundError:
            return None
        doc: dict[str, Any] = json.loads(data)
        with self._cache_lock:
            if len(self._index_cache) > 256:
                self._index_cache.clear()
            self._index_cache[package_id] = (ident, doc)
        return doc

    def _info(self, package_id: str, doc: dict[str, Any], index: Path) -> PackageInfo:
        objects = doc["objects"]
        return PackageInfo(
            package_id=package_id,
            objects=len(objects),
            bytes=sum(v[0] for v in objects.values()),
            created=doc["created"],
            digest=hashlib.sha256(index.read_bytes()).hexdigest(),
        )

    # -- interface -------------------------------------------------------------------------------

    def begin(self, package_id: str) -> PackageWriter:
        self.probe()
        return _LocalWriter(self, package_id)

    def probe(self) -> None:
        if not (self.root / "packages").is_dir():
            raise LocationUnreachable(f"存储位置 {self.root} 不可访问（目录不存在或未挂载）")

    def space(self) -> tuple[int, int] | None:
        try:
            usage = shutil.disk_usage(self.root)
        except OSError:
            return None
        return usage.free, usage.total

    def open(self, key: str) -> BinaryIO:
        package_id, path = split_key(key)
        doc = self._load_index(package_id)
        if doc is None or path not in doc["objects"]:
            raise ObjectNotFound(f"对象「{key}」不存在")
        final, _ = self._paths(package_id)
        try:
            return (final / path).open("rb")
        except FileNotFoundError:
            raise ObjectNotFound(f"对象「{key}」已列入包索引，但存储中缺失") from None

    def repair_object(
        self, key: str, stream: BinaryIO, *, size: int, sha256: str, sm3: str
    ) -> ObjectInfo:
        package_id, path = split_key(key)
        final, _ = self._paths(package_id)
        with self._lock(package_id):
            doc = self._load_index(package_id)
            entry = doc["objects"].get(path) if doc is not None else None
            if entry is None:
                raise ObjectNotFound(f"对象「{key}」不在包索引中，不能修复")
            info = check_repair(key, entry, size=size, sha256=sha256, sm3=sm3)
            dest = final / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.repair-{secrets.token_hex(4)}")
            try:
                with tmp.open("xb") as out:
                    copy_verified(stream, out, info)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(tmp, stat_mod.S_IRUSR | stat_mod.S_IRGRP)
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
            fsync_path(dest.parent)
        log.warning("repaired object %s", key)
        return info

    def destroy_objects(
        self, package_id: str, paths: Sequence[str], *, authorisation: DestructionOrder
    ) -> DestructionResult:
        order = check_order(authorisation)
        check_package_id(package_id)
        paths = [check_path(p) for p in paths]
        final, index = self._paths(package_id)
        removed = 0
        with self._lock(package_id):
            doc = self._load_index(package_id)
            if doc is None:
                raise ObjectNotFound(f"信息包 {package_id} 不在此存储位置")
            new, newly, size = apply_destruction(doc, paths, order)
            if newly:  # uncommit first: from here on readers no longer see the objects
                data = doc_bytes(new)
                tmp = index.with_name(f".{index.name}.{secrets.token_hex(4)}")
                with tmp.open("xb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.rename(tmp, index)
                fsync_path(index.parent)
                faults.point("storage.local.destroy.index")
            for p in paths:
                target = final / p
                if target.exists():
                    target.unlink()
                    removed += 1
            if removed:
                fsync_path(final)
            info = self._info(package_id, new, index)
        log.warning("destroyed %s object(s) of %s (batch %s)", removed, package_id, order.batch_uid)
        return DestructionResult(package=info, destroyed=tuple(newly), removed=removed, bytes=size)

    def tombstones(self, package_id: str) -> dict[str, Any]:
        doc = self._load_index(check_package_id(package_id))
        return dict(doc.get("destroyed") or {}) if doc is not None else {}

    def stat(self, key: str) -> ObjectInfo:
        package_id, path = split_key(key)
        doc = self._load_index(package_id)
        entry = doc["objects"].get(path) if doc is not None else None
        if entry is None:
            raise ObjectNotFound(f"对象「{key}」不存在")
        return ObjectInfo(key=key, size=entry[0], sha256=entry[1], sm3=entry[2])

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        package_part, sep, _ = prefix.partition("/")
        ids = [package_part] if sep else [p for p in self.packages() if p.startswith(prefix)]
        for package_id in sorted(ids):
            doc = self._load_index(package_id)
            if doc is None:
                continue
            for path, (size, sha256, sm3) in sorted(doc["objects"].items()):
                key = f"{package_id}/{path}"
                if key.startswith(prefix):
                    yield ObjectInfo(key=key, size=size, sha256=sha256, sm3=sm3)

    def package(self, package_id: str) -> PackageInfo | None:
        check_package_id(package_id)
        doc = self._load_index(package_id)
        if doc is None:
            return None
        return self._info(package_id, doc, self._paths(package_id)[1])

    def packages(self) -> Iterator[str]:
        base = self.root / "packages"
        for shard in sorted(base.iterdir()):
            if shard.is_dir():
                for entry in sorted(shard.glob("*.json")):
                    if not entry.name.startswith("."):
                        yield entry.stem

    def incoming(self) -> Iterator[str]:
        seen: set[str] = set()
        for entry in (self.root / "incoming").iterdir():
            seen.add(entry.name.split("~", 1)[0])
        base = self.root / "packages"
        for shard in base.iterdir():
            if shard.is_dir():
                for entry in shard.iterdir():
                    if entry.is_dir() and not (shard / f"{entry.name}.json").exists():
                        seen.add(entry.name)
        yield from sorted(seen)

    def discard_uncommitted(
        self, package_id: str, *, reason: str, referenced: Callable[[str], bool]
    ) -> bool:
        check_package_id(package_id)
        final, index = self._paths(package_id)
        with self._lock(package_id):
            if referenced(package_id):
                return False
            removed = False
            if index.exists():
                index.unlink()  # uncommit first: from here on readers no longer see it
                fsync_path(index.parent)
                removed = True
            if final.exists():
                _rmtree(final)
                removed = True
            for entry in (self.root / "incoming").glob(f"{package_id}~*"):
                _rmtree(entry)
                removed = True
        if removed:
            log.warning("discarded uncommitted package %s: %s", package_id, reason)
        return removed

    def discard_abandoned_writes(self, package_id: str) -> int:
        check_package_id(package_id)
        final, index = self._paths(package_id)
        removed = 0
        with self._lock(package_id):
            for entry in (self.root / "incoming").glob(f"{package_id}~*"):
                _rmtree(entry)
                removed += 1
            if final.exists() and not index.exists():  # renamed by a commit that then died
                _rmtree(final)
                removed += 1
        if removed:
            log.warning("removed %s abandoned write(s) of package %s", removed, package_id)
        return removed
