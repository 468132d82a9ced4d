"""Safe extraction of a received ZIP or tar archive into a staging directory.

Public API: :func:`unpack` → :class:`Unpacked`; :func:`sniff` (is this a ZIP, a tar or a
compressed tar?); :class:`UnpackLimits` (from settings ``ingest_max_package_mb``,
``ingest_max_entries``, ``ingest_max_ratio``); errors :class:`UnsafeArchive` and its subclasses.

Every member is checked before a byte of it is written, and the whole archive is refused on the
first violation (DA/T 70 4-3 过程安全: a package that tries any of this is not a transfer but an
attack or a broken tool, and nothing of it is kept):

- **names**: absolute paths (``/x``, ``C:\\x``, ``\\\\server``), ``..`` components, backslashes,
  control characters, empty names, components over 255 bytes; names that collide exactly, after
  Unicode NFC normalisation, or a file that is also a directory. Names are stored NFC. ZIP names
  without the UTF-8 flag are decoded as UTF-8 when valid, else GB 18030 (what Chinese Windows
  tools write), honouring the Info-ZIP Unicode Path field; tar names likewise.
- **links**: never followed and never created. A symbolic link whose target stays inside the
  package is skipped and reported (:attr:`Unpacked.notes`); one pointing outside is refused. A tar
  hard link to an earlier regular member is staged as a hard link to that member's staged copy
  (its digests are re-used); a hard link to anything else is refused. ZIP entries whose mode says
  link or device are treated the same way.
- **special files**: character/block devices and FIFOs are refused; so are sparse members (GNU
  ``S``, PAX 0.0/0.1/1.0: their logical size is unbounded by their stored size), GNU multi-volume
  members and any other member type.
- **bombs**: more than ``max_entries`` entries; a total unpacked size over ``max_bytes`` (checked
  on the ZIP central directory before extraction *and* while writing, since declared sizes can
  lie); a ZIP member whose compression ratio exceeds ``max_ratio`` (members over 1 MiB); a
  compressed tar whose output exceeds ``max_ratio`` × its compressed size.
- **encryption and exotic compression**: encrypted ZIP members and compression methods other
  than stored/deflate/bzip2/LZMA are refused (non-public compression, DA/T 70 3-4).

Each member is hashed (SHA-256 + SM3) while it is written, so the staged bytes are never read
back for hashing; the archive itself is hashed as it is read (tar: one sequential read; ZIP:
member data in offset order, gaps and the central directory filled in), giving the package
digest without a separate pass. On any error the destination directory is removed.

Errors: ``InputError`` → :class:`UnsafeArchive` (code ``unsafe_archive``) → :class:`ArchiveBomb`;
and :class:`UnreadableArchive` for archives that are damaged or not archives at all. Each carries a
Problem naming the archive member and the rule.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Literal

from lantai.errors import InputError, Problem
from lantai.ingest.digests import CHUNK, FileHashes, HashingWriter
from lantai.ingest.transfer import TransferNote
from lantai.settings import Settings

__all__ = [
    "ArchiveBomb",
    "UnpackLimits",
    "Unpacked",
    "UnpackedFile",
    "UnreadableArchive",
    "UnsafeArchive",
    "sniff",
    "unpack",
]

ArchiveFormat = Literal["zip", "tar"]

R_NAME = "压缩包成员路径安全"
R_LINK = "链接文件"
R_SPECIAL = "特殊文件"
R_BOMB = "压缩炸弹防护"
R_ZIP = "压缩格式"
R_DUPLICATE = "成员重名"

_RATIO_MIN_BYTES = 1 << 20
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_REGULAR = {tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE}


class UnsafeArchive(InputError):
    """The archive breaks a safety rule; nothing of it was kept."""

    code = "unsafe_archive"


class ArchiveBomb(UnsafeArchive):
    """The archive would unpack to more entries, bytes or compression than allowed."""

    code = "archive_bomb"


class UnreadableArchive(InputError):
    """The file is not a readable ZIP or tar archive."""

    code = "unreadable_archive"


@dataclass(frozen=True)
class UnpackLimits:
    max_bytes: int = 20 * 1024**3
    max_entries: int = 200_000
    max_ratio: int = 200

    @classmethod
    def from_settings(cls, settings: Settings) -> UnpackLimits:
        return cls(
            max_bytes=settings.ingest_max_package_mb * 1024 * 1024,
            max_entries=settings.ingest_max_entries,
            max_ratio=settings.ingest_max_ratio,
        )


@dataclass(frozen=True)
class UnpackedFile:
    path: str  # POSIX, NFC, relative to the unpack root
    local: Path
    size: int
    sha256: str
    sm3: str
    modified: datetime | None
    extra: dict[str, str] = field(default_factory=dict)  # every digest computed, by algorithm


@dataclass
class Unpacked:
    root: Path
    format: ArchiveFormat
    archive_size: int
    archive_sha256: str
    archive_sm3: str
    files: list[UnpackedFile] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)
    notes: list[TransferNote] = field(default_factory=list)


def sniff(path: Path) -> ArchiveFormat | None:
    """ "zip" or "tar" (plain, gzip, bzip2 or xz) from the first bytes; None otherwise."""
    try:
        with path.open("rb") as f:
            head = f.read(512)
    except OSError:
        return None
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return "tar"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if len(head) == 512 and _v7_checksum_ok(head):
        return "tar"
    return None


def _v7_checksum_ok(block: bytes) -> bool:
    try:
        stored = int(block[148:156].split(b"\x00")[0].strip() or b"-1", 8)
    except ValueError:
        return False
    computed = sum(block[:148]) + 8 * 32 + sum(block[156:])
    return stored == computed and block[0] != 0


def unpack(
    archive: Path,
    dest: Path,
    *,
    limits: UnpackLimits,
    name: str | None = None,
    extra: tuple[str, ...] = (),
    progress: Callable[[int], None] | None = None,
) -> Unpacked:
    """Extract ``archive`` into ``dest`` (created; must not exist or be empty). See module docs.

    ``extra`` are digest algorithms to compute for every member besides SHA-256 and SM3, in the
    same pass (e.g. those of a BagIt manifest found in the ZIP's central directory).
    ``progress`` receives the number of bytes written as members are extracted.
    """
    display = name or archive.name
    fmt = sniff(archive)
    if fmt is None:
        raise UnreadableArchive(
            f"「{display}」不是 ZIP 或 tar 压缩包",
            [
                Problem(
                    file=display,
                    rule=R_ZIP,
                    message="无法识别的压缩包格式（支持 ZIP、tar、tar.gz、tar.bz2、tar.xz）",
                )
            ],
        )
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"unpack destination {dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with archive.open("rb") as raw:
            reader = _HashingReader(raw)
            job = _Job(dest, limits, display, reader, extra, progress)
            if fmt == "zip":
                job.run_zip()
            else:
                job.run_tar()
            reader.finish()
        return Unpacked(
            root=dest,
            format=fmt,
            archive_size=reader.hashes.size,
            archive_sha256=reader.hashes.sha256,
            archive_sm3=reader.hashes.sm3,
            files=job.files,
            directories=sorted(job.dirs),
            notes=job.notes,
        )
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


class _HashingReader(io.RawIOBase):
    """A seekable reader that hashes every byte of the underlying file exactly once.

    Bytes are hashed in file order: a read that starts at the hashed frontier extends it; a read
    after a small gap (a ZIP data descriptor) first fills the gap; reads elsewhere (the ZIP
    central directory read at open) are not hashed until :meth:`finish` reads to the end.
    """

    _GAP = 1 << 16

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self.raw = raw
        self.hashes = FileHashes()
        self.upto = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def read(self, size: int | None = -1) -> bytes:
        pos = self.raw.tell()
        if self.upto < pos <= self.upto + self._GAP:
            self.raw.seek(self.upto)
            self._hash(self.raw.read(pos - self.upto))
        data = self.raw.read(-1 if size is None else size)
        if pos <= self.upto < pos + len(data):
            self._hash(data[self.upto - pos :])
        return data

    def _hash(self, data: bytes) -> None:
        self.hashes.update(data)
        self.upto += len(data)

    def finish(self) -> None:
        self.raw.seek(self.upto)
        while chunk := self.raw.read(CHUNK):
            self._hash(chunk)


class _Job:
    def __init__(
        self,
        dest: Path,
        limits: UnpackLimits,
        display: str,
        reader: _HashingReader,
        extra: tuple[str, ...],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.dest = dest
        self.extra = extra
        self.progress = progress
        self.limits = limits
        self.display = display
        self.reader = reader
        self.files: list[UnpackedFile] = []
        self.by_path: dict[str, UnpackedFile] = {}
        self.dirs: set[str] = set()
        self.seen: dict[str, str] = {}  # NFC path → the member name that claimed it
        self.casefold: dict[str, str] = {}
        self.notes: list[TransferNote] = []
        self.entries = 0
        self.total = 0
        self.budget: int | None = None  # compressed tar: max output bytes by ratio

    # -- errors -----------------------------------------------------------------------------------

    def refuse(
        self, member: str, rule: str, message: str, *, cls: type[InputError] = UnsafeArchive
    ) -> InputError:
        return cls(
            f"压缩包「{self.display}」不安全，已拒收：成员「{_show(member)}」{message}",
            [Problem(file=self.display, field=_show(member), rule=rule, message=message)],
        )

    def bomb(self, member: str, message: str) -> InputError:
        return self.refuse(member, R_BOMB, message, cls=ArchiveBomb)

    # -- names ------------------------------------------------------------------------------------

    def safe_path(self, member: str, *, is_dir: bool) -> str:
        if not member or member.strip("/") == "":
            raise self.refuse(member, R_NAME, "名称为空")
        if any(ord(c) < 32 or ord(c) == 127 for c in member):
            raise self.refuse(member, R_NAME, "名称含控制字符")
        if any(0xD800 <= ord(c) <= 0xDFFF for c in member):
            raise self.refuse(
                member, R_NAME, "名称的字符编码无法识别（既不是 UTF-8 也不是 GB 18030）"
            )
        if "\\" in member:
            raise self.refuse(
                member,
                R_NAME,
                "名称含反斜杠「\\」（压缩包内路径应以「/」分隔；可能是 Windows 绝对路径或路径穿越）",
            )
        if member.startswith("/") or (len(member) > 1 and member[1] == ":" and member[0].isalpha()):
            raise self.refuse(member, R_NAME, "是绝对路径，会写到暂存目录之外")
        parts = [p for p in member.split("/") if p not in ("", ".")]
        if any(p == ".." for p in parts):
            raise self.refuse(member, R_NAME, "含「..」路径穿越，会写到暂存目录之外")
        if not parts:
            raise self.refuse(member, R_NAME, "名称为空")
        for p in parts:
            if len(p.encode("utf-8")) > 255:
                raise self.refuse(member, R_NAME, "某一级名称超过 255 字节")
        path = unicodedata.normalize("NFC", "/".join(parts))
        if len(path.encode("utf-8")) > 4000:
            raise self.refuse(member, R_NAME, "路径过长（超过 4000 字节）")
        return path

    def claim(self, member: str, path: str, *, is_dir: bool) -> None:
        """Register ``path``; refuse duplicates, NFC collisions and file/directory clashes."""
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise self.bomb(member, f"成员数超过上限 {self.limits.max_entries}")
        parents = [str(p) for p in PurePosixPath(path).parents if str(p) != "."]
        for parent in parents:
            if parent in self.by_path:
                raise self.refuse(
                    member, R_DUPLICATE, f"的上级「{parent}」在压缩包中是文件，不能同时是目录"
                )
        if is_dir:
            if path in self.by_path:
                raise self.refuse(member, R_DUPLICATE, "与同名文件冲突")
            self.dirs.add(path)
            self.dirs.update(parents)
            return
        if path in self.dirs:
            raise self.refuse(member, R_DUPLICATE, "与同名目录冲突")
        first = self.seen.get(path)
        if first is not None:
            if first == member:
                raise self.refuse(member, R_DUPLICATE, "在压缩包中出现了两次")
            raise self.refuse(
                member,
                R_DUPLICATE,
                f"与成员「{_show(first)}」经 Unicode 规范化（NFC）后同名，无法区分",
            )
        self.seen[path] = member
        self.dirs.update(parents)
        folded = path.casefold()
        other = self.casefold.get(folded)
        if other is not None:
            self.notes.append(
                TransferNote(
                    code="GD-1-13",
                    message=f"「{path}」与「{other}」仅大小写不同，在不区分大小写的系统上会相互覆盖",
                    file=path,
                )
            )
        else:
            self.casefold[folded] = path

    def target(self, path: str) -> Path:
        local = self.dest.joinpath(*path.split("/"))
        local.parent.mkdir(parents=True, exist_ok=True)
        return local

    def account(self, member: str, n: int) -> None:
        self.total += n
        if self.progress is not None:
            self.progress(n)
        if self.total > self.limits.max_bytes:
            raise self.bomb(member, f"解压后总大小超过上限 {self.limits.max_bytes:,} 字节")
        if self.budget is not None and self.total > self.budget:
            raise self.bomb(member, f"解压后大小超过压缩包大小的 {self.limits.max_ratio} 倍")

    def write(
        self, member: str, path: str, chunks: Iterator[bytes], mtime: datetime | None
    ) -> None:
        local = self.target(path)
        with HashingWriter(local, extra=self.extra) as w:
            for chunk in chunks:
                self.account(member, len(chunk))
                w.write(chunk)
        digests = w.hashes.all()
        f = UnpackedFile(path, local, w.size, w.hashes.sha256, w.hashes.sm3, mtime, digests)
        self.files.append(f)
        self.by_path[path] = f

    # -- ZIP --------------------------------------------------------------------------------------

    def run_zip(self) -> None:
        try:
            zf = zipfile.ZipFile(self.reader)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise UnreadableArchive(
                f"「{self.display}」不是完好的 ZIP 文件：{exc}",
                [Problem(file=self.display, rule=R_ZIP, message=f"ZIP 文件已损坏：{exc}")],
            ) from None
        with zf:
            infos = zf.infolist()
            if len(infos) > self.limits.max_entries:
                raise self.bomb("", f"成员数 {len(infos)} 超过上限 {self.limits.max_entries}")
            declared = sum(i.file_size for i in infos)
            if declared > self.limits.max_bytes:
                raise self.bomb(
                    "", f"声明的解压后总大小 {declared:,} 字节超过上限 {self.limits.max_bytes:,}"
                )
            plan: list[tuple[zipfile.ZipInfo, str, str]] = []
            for info in infos:
                member = _zip_name(info)
                kind = self._zip_kind(info, member)
                if kind == "dir":
                    self.claim(member, self.safe_path(member, is_dir=True), is_dir=True)
                    continue
                path = self.safe_path(member, is_dir=False)
                if kind == "link":
                    with zf.open(info) as link:
                        target = link.read(4096).decode("utf-8", "replace")
                    self._link_note(member, path, target)
                    self.entries += 1
                    continue
                self._zip_checks(info, member)
                self.claim(member, path, is_dir=False)
                plan.append((info, member, path))
            for d in sorted(self.dirs):
                self.dest.joinpath(*d.split("/")).mkdir(parents=True, exist_ok=True)
            for info, member, path in sorted(plan, key=lambda p: p[0].header_offset):
                self.write(member, path, self._zip_chunks(zf, info, member), _zip_time(info))

    def _zip_kind(self, info: zipfile.ZipInfo, member: str) -> str:
        mode = info.external_attr >> 16
        if info.create_system == 3 and mode:
            if stat.S_ISLNK(mode):
                return "link"
            if (
                stat.S_ISCHR(mode)
                or stat.S_ISBLK(mode)
                or stat.S_ISFIFO(mode)
                or stat.S_ISSOCK(mode)
            ):
                raise self.refuse(member, R_SPECIAL, "是设备文件、管道或套接字，不是普通文件")
            if stat.S_ISDIR(mode):
                return "dir"
        return "dir" if info.is_dir() else "file"

    def _zip_checks(self, info: zipfile.ZipInfo, member: str) -> None:
        if info.flag_bits & 0x1:
            raise self.refuse(member, R_ZIP, "已加密，无法检查其内容（DA/T 70：不得含加密内容）")
        if info.compress_type not in _ZIP_METHODS:
            raise self.refuse(
                member,
                R_ZIP,
                f"使用了不支持的压缩算法（编号 {info.compress_type}，非公开或不常用的压缩算法）",
            )
        if info.file_size > _RATIO_MIN_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > self.limits.max_ratio:
                raise self.bomb(member, f"压缩比 {ratio:.0f}:1 超过上限 {self.limits.max_ratio}:1")

    def _zip_chunks(
        self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, member: str
    ) -> Iterator[bytes]:
        try:
            with zf.open(info) as src:
                while chunk := src.read(CHUNK):
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise UnreadableArchive(
                f"压缩包「{self.display}」的成员「{_show(member)}」已损坏：{exc}",
                [
                    Problem(
                        file=self.display,
                        field=_show(member),
                        rule=R_ZIP,
                        message=f"成员已损坏：{exc}",
                    )
                ],
            ) from None

    def _link_note(self, member: str, path: str, target: str) -> None:
        if target.startswith("/") or "\\" in target or (len(target) > 1 and target[1] == ":"):
            raise self.refuse(member, R_LINK, f"是指向包外「{target}」的符号链接")
        resolved = PurePosixPath(path).parent
        for part in target.split("/"):
            if part == "..":
                if resolved == PurePosixPath("."):
                    raise self.refuse(member, R_LINK, f"是指向包外「{target}」的符号链接")
                resolved = resolved.parent
            elif part not in ("", "."):
                resolved = resolved / part
        self.notes.append(
            TransferNote(
                code="GD-1-13",
                message=f"符号链接「{path}」→「{target}」未解压（系统不跟随链接）",
                file=path,
            )
        )

    # -- tar --------------------------------------------------------------------------------------

    def run_tar(self) -> None:
        try:
            tf = tarfile.open(fileobj=self.reader, mode="r|*")  # noqa: SIM115
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise UnreadableArchive(
                f"「{self.display}」不是完好的 tar 文件：{exc}",
                [Problem(file=self.display, rule=R_ZIP, message=f"tar 文件无法读取：{exc}")],
            ) from None
        if getattr(tf.fileobj, "comptype", "tar") != "tar":
            archive_size = os.fstat(self.reader.raw.fileno()).st_size
            self.budget = self.limits.max_ratio * max(archive_size, _RATIO_MIN_BYTES)
        try:
            with tf:
                for m in tf:
                    self._tar_member(tf, m)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise UnreadableArchive(
                f"「{self.display}」不是完好的 tar 文件：{exc}",
                [Problem(file=self.display, rule=R_ZIP, message=f"tar 文件已损坏：{exc}")],
            ) from None

    def _tar_member(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        member = _tar_name(m.name)
        if m.isdir():
            path = self.safe_path(member, is_dir=True)
            self.claim(member, path, is_dir=True)
            self.dest.joinpath(*path.split("/")).mkdir(parents=True, exist_ok=True)
            return
        if m.ischr() or m.isblk() or m.isfifo():
            raise self.refuse(member, R_SPECIAL, "是设备文件或管道，不是普通文件")
        path = self.safe_path(member, is_dir=False)
        if m.sparse is not None or m.type == tarfile.GNUTYPE_SPARSE:
            raise self.refuse(
                member, R_SPECIAL, "是稀疏文件（sparse），其实际大小不受存储大小约束，不予解压"
            )
        if m.issym():
            self._link_note(member, path, _tar_name(m.linkname))
            self.entries += 1
            return
        if m.islnk():
            target_name = _tar_name(m.linkname)
            try:
                target = self.safe_path(target_name, is_dir=False)
            except InputError:
                raise self.refuse(member, R_LINK, f"是指向包外「{target_name}」的硬链接") from None
            source = self.by_path.get(target)
            if source is None:
                raise self.refuse(
                    member,
                    R_LINK,
                    f"是指向「{target_name}」的硬链接，但该文件不在包内此前的普通文件中",
                )
            self.claim(member, path, is_dir=False)
            self.account(member, source.size)
            local = self.target(path)
            os.link(source.local, local)
            f = UnpackedFile(
                path, local, source.size, source.sha256, source.sm3, _tar_time(m), source.extra
            )
            self.files.append(f)
            self.by_path[path] = f
            return
        if m.type not in _REGULAR:
            raise self.refuse(
                member, R_SPECIAL, f"的类型（{m.type!r}）不是普通文件或目录，不予解压"
            )
        self.claim(member, path, is_dir=False)
        src = tf.extractfile(m)
        if src is None:  # pragma: no cover - regular members always have data
            raise self.refuse(member, R_SPECIAL, "无法读取")
        self.write(member, path, _read_all(src), _tar_time(m))


def _read_all(src: IO[bytes]) -> Iterator[bytes]:
    with src:
        while chunk := src.read(CHUNK):
            yield chunk


def _show(name: str) -> str:
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _decode_raw(raw: bytes) -> str | None:
    for codec in ("utf-8", "gb18030"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return None


def _zip_name(info: zipfile.ZipInfo) -> str:
    unicode_path = _unicode_path_extra(info)
    if unicode_path is not None:
        return unicode_path
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.orig_filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    return _decode_raw(raw) or info.filename


def _unicode_path_extra(info: zipfile.ZipInfo) -> str | None:
    """The Info-ZIP Unicode Path extra field (0x7075), when it matches the stored name."""
    extra = info.extra
    i = 0
    while i + 4 <= len(extra):
        kind, size = struct.unpack("<HH", extra[i : i + 4])
        body = extra[i + 4 : i + 4 + size]
        if kind == 0x7075 and len(body) >= 5 and body[0] == 1:
            crc = struct.unpack("<I", body[1:5])[0]
            try:
                stored = info.orig_filename.encode("cp437")
            except UnicodeEncodeError:
                stored = info.orig_filename.encode("utf-8")
            if zlib.crc32(stored) == crc:
                try:
                    return body[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
        i += 4 + size
    return None


def _tar_name(name: str) -> str:
    if any(0xDC80 <= ord(c) <= 0xDCFF for c in name):
        raw = name.encode("utf-8", "surrogateescape")
        decoded = _decode_raw(raw)
        if decoded is not None:
            return decoded
    return name


def _zip_time(info: zipfile.ZipInfo) -> datetime | None:
    try:
        return datetime(*info.date_time)
    except ValueError:
        return None


def _tar_time(m: tarfile.TarInfo) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(m.mtime), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None
