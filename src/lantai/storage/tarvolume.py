"""Self-describing tar volumes: the other-medium (异质) copy for tape or optical-disc images.

Layout under ``root``::

    volumes/<id>/<id>.vol0001.tar   the package as POSIX tar volumes of at most volume_bytes each
    placement/<id>.json             path → [volume, byte offset of the data, size]
    index/<id>.json                 the package index (:mod:`lantai.storage.index`) — commit mark
    incoming/<id>~<token>/          a package being written

Every volume is readable and verifiable **without Lantai**, with ``tar`` and ``sha256sum``::

    README.txt            what the volume is, which package, volume n of N, how to verify
    MANIFEST-sha256.txt   "<sha256>  <id>/<path>" for the objects in this volume (sha256sum -c)
    MANIFEST-sm3.txt      the same with SM3 (GB/T 32905; ``openssl dgst -sm3``)
    INDEX.json            the whole package index (size, SHA-256, SM3 of every object)
    <id>/<path>           the objects

An object larger than ``volume_bytes`` gets a volume of its own (tar multi-volume is GNU-only and
not restorable with every tar). Objects are staged on the local disk while they are verified
(those up to ``SPOOL_MAX`` bytes together in one spool file, larger ones in a file each), then
the volumes are written at commit from the staged bytes, without hashing them again. A repair
rewrites one object's bytes in place (same size, offset from ``placement``), so the volume stays
a valid tar.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import stat as stat_mod
import tarfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

from lantai import faults
from lantai.atomicfile import fsync_path, write_atomic
from lantai.crypto.digest import CHUNK, digest_bytes, new_sm3
from lantai.storage.base import (
    DestructionOrder,
    DestructionResult,
    InvalidKey,
    LocationUnreachable,
    ObjectInfo,
    ObjectMismatch,
    ObjectNotFound,
    PackageExists,
    PackageInfo,
    PackageWriter,
    check_order,
    check_package_id,
    check_path,
    split_key,
)
from lantai.storage.index import (
    IndexedObjectStore,
    apply_destruction,
    doc_bytes,
    index_bytes,
    now_created,
    package_info,
)
from lantai.storage.verified import check_received, check_repair, copy_verified, hash_chunks

__all__ = ["TarVolumeStore"]

README = """兰台（Lantai）长期保存信息包 · 异质备份卷 / Lantai preservation package, tar volume
============================================================================

信息包 Package: {package}
卷 Volume: {number} / {count}
创建时间 Created: {created}
本卷对象 Objects in this volume: {objects}（{bytes} 字节 bytes）

本卷是标准 POSIX tar 文件，不依赖兰台系统即可校验与恢复：
This volume is a plain POSIX tar file; verify and restore it without Lantai:

  mkdir restore && tar -xf {volume} -C restore
  cd restore && sha256sum -c MANIFEST-sha256.txt
  # SM3 (GB/T 32905), OpenSSL 1.1.1+:
  while read -r h f; do [ "$(openssl dgst -sm3 -r "$f" | cut -d' ' -f1)" = "$h" ] \\
      || echo "FAILED $f"; done < MANIFEST-sm3.txt

INDEX.json 记录整个信息包所有对象的大小、SHA-256 与 SM3（跨卷）；其 SHA-256 即信息包摘要。
INDEX.json lists size, SHA-256 and SM3 of every object of the whole package (all volumes).
"""


class _Slice(io.RawIOBase):
    """``size`` bytes of ``f`` starting at ``offset``."""

    def __init__(self, f: BinaryIO, offset: int, size: int) -> None:
        self._f = f
        self._left = size
        f.seek(offset)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._left <= 0:
            return 0
        data = self._f.read(min(len(b), self._left))
        n = len(data)
        b[:n] = data
        self._left -= n
        return n

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()


# Objects up to this size are staged in one spool file per package (one file creation per
# object was most of the time of a copy of many small objects); larger ones in a file each.
SPOOL_MAX = 1 << 20


def _pwrite_all(fd: int, data: bytes | bytearray, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        if n <= 0:
            raise OSError(f"staging write made no progress at offset {offset}")
        view, offset = view[n:], offset + n


class _TarWriter(PackageWriter):
    def __init__(self, store: TarVolumeStore, package_id: str) -> None:
        self.store = store
        self.package_id = check_package_id(package_id)
        self.dir = store.root / "incoming" / f"{package_id}~{secrets.token_hex(6)}"
        (self.dir / "objects").mkdir(parents=True)
        self.objects: dict[str, ObjectInfo] = {}
        # where each object is staged: (file, offset, size); small objects share one spool file
        self._files: dict[str, tuple[Path, int, int]] = {}
        self._done: PackageInfo | None = None
        # puts may come from several threads: staged names and the spool are taken under _lock
        self._lock = threading.Lock()
        self._staged = 0
        self._spool: int | None = None  # file descriptor; each object written at its own offset
        self._spool_path = self.dir / "objects" / "spool"
        self._spool_end = 0

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
        with source.open("rb") as f:
            return self.put_stream(path, f, size=size, sha256=sha256, sm3=sm3)

    def put_stream(
        self, path: str, stream: BinaryIO, *, size: int, sha256: str, sm3: str | None = None
    ) -> ObjectInfo:
        check_path(path)
        if path in self.objects:
            raise InvalidKey(f"对象「{path}」在包 {self.package_id} 中重复写入")
        key = f"{self.package_id}/{path}"
        if size <= SPOOL_MAX:
            data = bytearray()
            got = hash_chunks(stream, data.extend, limit=size)
            info = check_received(path, key, got, size, sha256, sm3)
            with self._lock:  # reserve the object's place; it is written outside the lock
                if self._spool is None:
                    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                    self._spool = os.open(self._spool_path, flags, 0o600)
                spool, offset = self._spool, self._spool_end
                self._spool_end += len(data)
            _pwrite_all(spool, data, offset)
            self._files[path] = (self._spool_path, offset, len(data))
        else:
            with self._lock:
                staged = self.dir / "objects" / f"{self._staged:08d}"
                self._staged += 1
            with staged.open("xb") as out:
                got = hash_chunks(stream, out.write, limit=size)
            try:
                info = check_received(path, key, got, size, sha256, sm3)
            except Exception:
                staged.unlink()
                raise
            self._files[path] = (staged, 0, info.size)
        self.objects[path] = info
        return info

    def _open_staged(self, path: str) -> BinaryIO:
        file, offset, size = self._files[path]
        if file == self._spool_path:
            return cast(BinaryIO, io.BufferedReader(_Slice(file.open("rb"), offset, size), CHUNK))
        return file.open("rb")

    def _close_spool(self) -> None:
        with self._lock:
            if self._spool is not None:
                os.close(self._spool)
                self._spool = None

    def put_bytes(self, path: str, data: bytes) -> ObjectInfo:
        d = digest_bytes(data)
        return self.put_stream(path, io.BytesIO(data), size=d.size, sha256=d.sha256, sm3=d.sm3)

    def commit(self) -> PackageInfo:
        if self._done is not None:
            return self._done
        store = self.store
        self._close_spool()
        existing = store._load_index(self.package_id)
        if existing is not None:
            doc, raw = existing
            shutil.rmtree(self.dir, ignore_errors=True)
            mine = {p: [o.size, o.sha256] for p, o in self.objects.items()}
            if mine != {p: v[:2] for p, v in doc["objects"].items()}:
                raise PackageExists(f"包 {self.package_id} 已存在且内容不同；对象不可改写")
            self._done = package_info(self.package_id, doc, raw)
            return self._done
        created = self.created or now_created()
        index = index_bytes(self.package_id, created, self.objects, self.destroyed)
        groups = _group(sorted(self.objects.items()), store.volume_bytes)
        built = self.dir / "volumes"
        built.mkdir()
        placement: dict[str, list[Any]] = {}
        for number, group in enumerate(groups, 1):
            name = f"{self.package_id}.vol{number:04d}.tar"
            self._write_volume(built / name, group, index, created, number, len(groups))
            placement.update(_members(built / name, self.package_id))
        final = store.root / "volumes" / self.package_id
        if final.exists():  # left by a commit that died before writing its index
            shutil.rmtree(final)
        for vol in built.iterdir():
            fsync_path(vol)
            os.chmod(vol, stat_mod.S_IRUSR | stat_mod.S_IRGRP)
        os.rename(built, final)
        faults.point("storage.tar.volumes")
        _write_atomic(store.root / "placement" / f"{self.package_id}.json", placement)
        write_atomic(store.root / "index" / f"{self.package_id}.json", index)
        shutil.rmtree(self.dir, ignore_errors=True)
        self._done = package_info(self.package_id, json.loads(index), index)
        return self._done

    def _write_volume(
        self,
        target: Path,
        group: list[tuple[str, ObjectInfo]],
        index: bytes,
        created: str,
        number: int,
        count: int,
    ) -> None:
        _write_volume(
            target,
            self.package_id,
            group,
            index,
            created,
            number,
            count,
            self._open_staged,
            # put_stream hashed each staged file as it wrote it and checked it against the
            # index: hashing it again here would only read back our own page cache
            verify=False,
        )

    def abort(self) -> None:
        self._close_spool()
        if self._done is None:
            shutil.rmtree(self.dir, ignore_errors=True)


class _Hashing(io.RawIOBase):
    """Passes reads through while hashing them (SHA-256 + SM3) — verifies copied tar members."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.sha = hashlib.sha256()
        self.sm = new_sm3()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._f.read(len(b))
        n = len(data)
        b[:n] = data
        self.sha.update(data)
        self.sm.update(data)
        self.size += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()


def _write_volume(
    target: Path,
    pid: str,
    group: list[tuple[str, ObjectInfo]],
    index: bytes,
    created: str,
    number: int,
    count: int,
    opener: Callable[[str], BinaryIO],
    *,
    verify: bool = True,
) -> None:
    """One self-describing volume. With ``verify`` (objects taken from an existing volume),
    each object's bytes are checked against ``group``'s digests as they are copied; without it
    (objects staged by this writer, already checked as they were written) they are copied as
    they are."""
    sha_lines = "".join(f"{o.sha256}  {pid}/{p}\n" for p, o in group)
    sm3_lines = "".join(f"{o.sm3}  {pid}/{p}\n" for p, o in group)
    readme = README.format(
        package=pid,
        number=number,
        count=count,
        created=created,
        objects=len(group),
        bytes=sum(o.size for _, o in group),
        volume=target.name,
    )
    with tarfile.TarFile(target, "x", format=tarfile.PAX_FORMAT, copybufsize=CHUNK) as tar:
        for name, data in (
            ("README.txt", readme.encode("utf-8")),
            ("MANIFEST-sha256.txt", sha_lines.encode("utf-8")),
            ("MANIFEST-sm3.txt", sm3_lines.encode("utf-8")),
            ("INDEX.json", index),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o444
            tar.addfile(info, io.BytesIO(data))
        for path, obj in group:
            info = tarfile.TarInfo(f"{pid}/{path}")
            info.size = obj.size
            info.mode = 0o444
            if not verify:
                with opener(path) as raw:
                    tar.addfile(info, raw)
                continue
            with _Hashing(opener(path)) as f:
                tar.addfile(info, cast(BinaryIO, f))
                if (f.size, f.sha.hexdigest(), f.sm.hexdigest()) != (obj.size, obj.sha256, obj.sm3):
                    raise ObjectMismatch(
                        f"对象「{pid}/{path}」写入存储卷时摘要与包索引不一致；卷未写成"
                    )


def _members(volume: Path, pid: str) -> dict[str, list[Any]]:
    """path → [volume name, data offset, size] of the objects in one volume."""
    out: dict[str, list[Any]] = {}
    prefix = f"{pid}/"
    with tarfile.open(volume, "r") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith(prefix):
                out[member.name[len(prefix) :]] = [volume.name, member.offset_data, member.size]
    return out


_VOLUME_NAME = re.compile(r"\.vol(\d{4})(?:\.r(\d+))?\.tar$")


def _revised(name: str) -> tuple[int, str]:
    """(volume number, the name of its next revision): x.vol0001.tar → x.vol0001.r2.tar."""
    m = _VOLUME_NAME.search(name)
    if m is None:
        raise ValueError(f"not a volume name: {name}")
    revision = int(m.group(2) or 1) + 1
    return int(m.group(1)), f"{name[: m.start()]}.vol{m.group(1)}.r{revision}.tar"


def _group(items: list[tuple[str, ObjectInfo]], limit: int) -> list[list[tuple[str, ObjectInfo]]]:
    groups: list[list[tuple[str, ObjectInfo]]] = [[]]
    used = 0
    for path, obj in items:
        cost = obj.size + 1024  # data + header, roughly
        if groups[-1] and used + cost > limit:
            groups.append([])
            used = 0
        groups[-1].append((path, obj))
        used += cost
    return groups


def _write_atomic(path: Path, doc: Any) -> None:
    write_atomic(path, json.dumps(doc, ensure_ascii=False).encode("utf-8"))


class TarVolumeStore(IndexedObjectStore):
    """Packages as tar volumes under ``root`` (see the module docstring)."""

    def __init__(self, root: Path, *, volume_bytes: int = 4 << 30, create: bool = True) -> None:
        self.root = root
        self.volume_bytes = volume_bytes
        self._cache: dict[Path, tuple[tuple[int, int, int], Any, bytes]] = {}
        self._cache_lock = threading.Lock()
        if create or root.is_dir():
            for sub in ("volumes", "placement", "index", "incoming"):
                (root / sub).mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"TarVolumeStore({self.root})"

    def _read_json(self, path: Path) -> tuple[Any, bytes] | None:
        """(parsed, raw) of a JSON file, cached while its inode/size/mtime are unchanged."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        ident = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._cache_lock:
            cached = self._cache.get(path)
        if cached is not None and cached[0] == ident:
            return cached[1], cached[2]
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        doc = json.loads(raw)
        with self._cache_lock:
            if len(self._cache) > 512:
                self._cache.clear()
            self._cache[path] = (ident, doc, raw)
        return doc, raw

    def _load_index(self, package_id: str) -> tuple[dict[str, Any], bytes] | None:
        found = self._read_json(self.root / "index" / f"{package_id}.json")
        return (cast(dict[str, Any], found[0]), found[1]) if found is not None else None

    def _placement(self, package_id: str) -> dict[str, list[Any]]:
        found = self._read_json(self.root / "placement" / f"{package_id}.json")
        return cast(dict[str, list[Any]], found[0]) if found is not None else {}

    def volumes(self, package_id: str) -> list[Path]:
        """The tar volumes of a committed package (for restore drills and the docs' commands)."""
        d = self.root / "volumes" / check_package_id(package_id)
        return sorted(d.glob("*.tar")) if d.is_dir() else []

    # -- interface -------------------------------------------------------------------------------

    def begin(self, package_id: str) -> PackageWriter:
        self.probe()
        return _TarWriter(self, package_id)

    def probe(self) -> None:
        if not (self.root / "index").is_dir():
            raise LocationUnreachable(f"存储位置 {self.root} 不可访问（目录不存在或未挂载）")

    def space(self) -> tuple[int, int] | None:
        try:
            usage = shutil.disk_usage(self.root)
        except OSError:
            return None
        return usage.free, usage.total

    def open(self, key: str) -> BinaryIO:
        package_id, path = split_key(key)
        loaded = self._load_index(package_id)
        if loaded is None or path not in loaded[0]["objects"]:
            raise ObjectNotFound(f"对象「{key}」不存在")
        place = self._placement(package_id).get(path)
        volume = self.root / "volumes" / package_id / str(place[0]) if place else None
        if place is None or volume is None or not volume.is_file():
            raise ObjectNotFound(f"对象「{key}」已列入包索引，但存储卷中缺失")
        f = volume.open("rb")
        end = f.seek(0, os.SEEK_END)
        size = max(0, min(int(place[2]), end - int(place[1])))  # a truncated volume reads short
        return cast(BinaryIO, io.BufferedReader(_Slice(f, int(place[1]), size), CHUNK))

    def packages(self) -> Iterator[str]:
        for entry in sorted((self.root / "index").glob("*.json")):
            if not entry.name.startswith("."):
                yield entry.stem

    def repair_object(
        self, key: str, stream: BinaryIO, *, size: int, sha256: str, sm3: str
    ) -> ObjectInfo:
        package_id, path = split_key(key)
        loaded = self._load_index(package_id)
        entry = loaded[0]["objects"].get(path) if loaded is not None else None
        place = self._placement(package_id).get(path)
        if entry is None or place is None:
            raise ObjectNotFound(f"对象「{key}」不在包索引中，不能修复")
        info = check_repair(key, entry, size=size, sha256=sha256, sm3=sm3)
        volume = self.root / "volumes" / package_id / str(place[0])
        if not volume.is_file():
            raise ObjectNotFound(f"对象「{key}」所在的存储卷 {place[0]} 缺失，须整包重新复制")
        tmp = self.root / "incoming" / f"repair~{secrets.token_hex(6)}"
        try:
            with tmp.open("xb") as out:
                copy_verified(stream, out, info)
            os.chmod(volume, stat_mod.S_IRUSR | stat_mod.S_IWUSR | stat_mod.S_IRGRP)
            try:
                with volume.open("r+b") as vol, tmp.open("rb") as src:
                    vol.seek(int(place[1]))
                    shutil.copyfileobj(src, vol, CHUNK)
                    vol.flush()
                    os.fsync(vol.fileno())
            finally:
                os.chmod(volume, stat_mod.S_IRUSR | stat_mod.S_IRGRP)
        finally:
            tmp.unlink(missing_ok=True)
        return info

    @contextmanager
    def _lock(self, package_id: str) -> Iterator[None]:
        locks = self.root / "locks"
        locks.mkdir(exist_ok=True)
        with (locks / f"{package_id}.lock").open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def destroy_objects(
        self, package_id: str, paths: Sequence[str], *, authorisation: DestructionOrder
    ) -> DestructionResult:
        """Rewrite every volume that holds a destroyed object without it (a new revision of the
        volume: ``…vol0001.r2.tar`` with its own manifests and the new INDEX.json), commit the
        new index and placement, then remove the superseded volumes. On write-once media the
        operator must also destroy the old medium: the result names the superseded volumes."""
        order = check_order(authorisation)
        check_package_id(package_id)
        paths = [check_path(p) for p in paths]
        with self._lock(package_id):
            loaded = self._load_index(package_id)
            if loaded is None:
                raise ObjectNotFound(f"信息包 {package_id} 不在此存储位置")
            new, newly, size = apply_destruction(loaded[0], paths, order)
            index = doc_bytes(new) if newly else loaded[1]
            placement = dict(self._placement(package_id))
            gone = set(new.get("destroyed") or {})
            affected = sorted({str(v[0]) for p, v in placement.items() if p in gone})
            vol_dir = self.root / "volumes" / package_id
            count = len(self.volumes(package_id))
            live = {str(v[0]) for p, v in placement.items() if p not in gone}
            if not newly and not affected and all(v.name in live for v in self.volumes(package_id)):
                return DestructionResult(
                    package=package_info(package_id, new, index), destroyed=(), removed=0, bytes=0
                )
            staging = self.root / "incoming" / f"{package_id}~{secrets.token_hex(6)}"
            staging.mkdir(parents=True)
            removed = sum(1 for p, v in placement.items() if p in gone)
            kept = {p: v for p, v in placement.items() if p not in gone}
            written: list[Path] = []
            try:
                for vol in affected:
                    group = [
                        (p, ObjectInfo(key=f"{package_id}/{p}", size=e[0], sha256=e[1], sm3=e[2]))
                        for p, e in sorted(new["objects"].items())
                        if p in kept and kept[p][0] == vol
                    ]
                    if not group:
                        continue
                    number, name = _revised(vol)
                    old = vol_dir / vol

                    def opener(path: str, old: Path = old) -> BinaryIO:
                        place = placement[path]
                        return cast(BinaryIO, _Slice(old.open("rb"), int(place[1]), int(place[2])))

                    _write_volume(
                        staging / name,
                        package_id,
                        group,
                        index,
                        new["created"],
                        number,
                        count,
                        opener,
                    )
                    fsync_path(staging / name)
                    os.chmod(staging / name, stat_mod.S_IRUSR | stat_mod.S_IRGRP)
                    kept.update(_members(staging / name, package_id))
                    written.append(staging / name)
                for f in written:
                    os.rename(f, vol_dir / f.name)
                write_atomic(self.root / "index" / f"{package_id}.json", index)
                _write_atomic(self.root / "placement" / f"{package_id}.json", kept)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            # Superseded volumes, and any a run that died here left: no live object in them.
            referenced = {str(v[0]) for v in kept.values()}
            superseded = [v for v in self.volumes(package_id) if v.name not in referenced]
            for vol_path in superseded:
                vol_path.unlink()
            affected = sorted(set(affected) | {v.name for v in superseded})
        return DestructionResult(
            package=package_info(package_id, new, index),
            destroyed=tuple(newly),
            removed=removed,
            bytes=size,
            superseded=tuple(affected),
        )

    def tombstones(self, package_id: str) -> dict[str, Any]:
        loaded = self._load_index(check_package_id(package_id))
        return dict(loaded[0].get("destroyed") or {}) if loaded is not None else {}

    def incoming(self) -> Iterator[str]:
        seen = {e.name.split("~", 1)[0] for e in (self.root / "incoming").iterdir()}
        seen.discard("repair")
        for entry in (self.root / "volumes").iterdir():
            if not (self.root / "index" / f"{entry.name}.json").exists():
                seen.add(entry.name)
        yield from sorted(seen)

    def discard_uncommitted(
        self, package_id: str, *, reason: str, referenced: Callable[[str], bool]
    ) -> bool:
        check_package_id(package_id)
        if referenced(package_id):
            return False
        removed = False
        for f in (
            self.root / "index" / f"{package_id}.json",
            self.root / "placement" / f"{package_id}.json",
        ):
            if f.exists():
                f.unlink()
                removed = True
        removed = self.discard_abandoned_writes(package_id) > 0 or removed
        return removed

    def discard_abandoned_writes(self, package_id: str) -> int:
        check_package_id(package_id)
        removed = 0
        for entry in (self.root / "incoming").glob(f"{package_id}~*"):
            shutil.rmtree(entry)
            removed += 1
        vols = self.root / "volumes" / package_id
        if vols.exists() and not (self.root / "index" / f"{package_id}.json").exists():
            shutil.rmtree(vols)
            removed += 1
        return removed
