"""What every transfer reader shares: errors, note codes, directory scanning, the 登记表.

**Contract of a reader** (BagIt, EEP, offline folder): given a received package, produce a
:class:`~lantai.ingest.transfer.Transfer` whose files are staged (unpacked safely into the
staging directory, or — for a folder on local disk — read in place, never modified), each hashed
once (SHA-256 + SM3, ``lantai.ingest.digests``), with the sender's records, declarations and
register. A reader raises :class:`TransferUnreadable` (or an ``InputError`` from unpacking or
XML parsing) only when no meaningful transfer can be built; everything else it notices becomes a
:class:`~lantai.ingest.transfer.TransferNote` whose ``code`` names the DA/T 70 item it is
evidence for (``GD-1-1`` …; the checks match on the ``1-1`` part so YJ runs use them too) and
whose ``severity`` is ``"error"`` (the item fails) or ``"warning"`` (人工复核).

Note codes used by the readers:

- ``GD-1-1`` — a declared digest in an algorithm other than SHA-256/SM3 (BagIt MD5/SHA-1/
  SHA-512 manifests, tag manifests) does not match; SHA-256/SM3 declarations are compared by
  the check itself from ``TransferFile.declared``.
- ``GD-1-11`` — a payload file no manifest lists; a record pointing at a file not in the package.
- ``GD-1-12`` — 说明文件 / 目录文件 malformed: ``bagit.txt`` (version, encoding, BOM,
  whitespace), ``bag-info.txt``, manifest lines, the catalogue spreadsheet, the 登记表.
- ``GD-1-13`` — package structure: paths out of scope, remote ``fetch.txt`` entries, links and
  case collisions met while unpacking, special system files.
- ``GD-2-2`` — BagIt ``Payload-Oxum`` does not match the payload.
- ``GD-2-7`` — a file the package lists (manifest, EEP 编码) is absent or has no data.
- ``GD-2-10`` — EEP package metadata missing; ``GD-3-1`` — EEP XML not schema-valid, bad base64.

Public API: :class:`TransferUnreadable`, :func:`note`, :func:`scan_directory`,
:func:`read_register`, :func:`register_from_fields`, :func:`hash_and_verify`, :func:`new_uid`,
:class:`ReadContext`.
"""

from __future__ import annotations

import os
import stat
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from lantai.errors import InputError, Problem
from lantai.ingest.digests import UnknownAlgorithm, hash_files, new_hash, normalize_algorithm
from lantai.ingest.transfer import FileRole, Register, TransferFile, TransferNote

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = [
    "REGISTER_LABELS",
    "ReadContext",
    "ScannedFile",
    "TransferUnreadable",
    "hash_and_verify",
    "new_uid",
    "note",
    "read_register",
    "register_from_fields",
    "scan_directory",
]

# Files read in place (a sender's folder) up to this size (None: all) are copied into staging
# while they are hashed; the AIP links the copies. Small ones are written from the hashing loop,
# large ones with O_DIRECT on a writer thread (lantai.ingest.directcopy), so the disk writes
# while the CPU hashes — measured faster than the kernel copy the AIP made after hashing, which
# is kept for files above a limit set here.
COPY_WHILE_HASHING_MAX: int | None = None


class TransferUnreadable(InputError):
    """No transfer could be read from what was received; nothing was staged."""

    code = "transfer_unreadable"


def new_uid() -> str:
    return str(uuid.uuid4())


def note(code: str, message: str, *, file: str = "", error: bool = True) -> TransferNote:
    return TransferNote(
        code=code, message=message, file=file, severity="error" if error else "warning"
    )


@dataclass
class ReadContext:
    """What a reader needs besides the package: the instance, staging, options, progress."""

    inst: Instance
    staging: Path
    fonds_code: str | None = None
    category: str | None = None
    notes: list[TransferNote] = field(default_factory=list)
    progress: Callable[[int], None] | None = None  # bytes hashed, for progress bars

    @property
    def workers(self) -> int:
        return self.inst.settings.ingest_workers


@dataclass(frozen=True)
class ScannedFile:
    path: str  # POSIX, NFC, relative to the scanned root
    local: Path
    size: int
    modified: datetime


def scan_directory(
    root: Path, *, notes: list[TransferNote], skip_dirs: frozenset[str] = frozenset()
) -> Iterator[ScannedFile]:
    """Every regular file under ``root`` (files of a directory, then its subdirectories, each in
    name order), never following links.

    Symbolic links are skipped and reported (GD-1-13); device files, FIFOs and sockets make the
    package unreadable; names that are not valid Unicode or collide after NFC are refused.
    ``skip_dirs`` are top-level directory names not to descend into.
    """
    seen: dict[str, str] = {}
    stack = [(root, "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise TransferUnreadable(
                f"无法读取目录「{prefix or root.name}」：{exc.strerror or exc}",
                [Problem(file=prefix or root.name, rule="读取信息包", message="目录无法读取")],
            ) from None
        subdirs: list[tuple[Path, str]] = []
        for entry in entries:
            name = entry.name
            if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
                raise TransferUnreadable(
                    f"文件名「{name.encode('utf-8', 'backslashreplace').decode()}」不是有效的 UTF-8",
                    [Problem(file=prefix + name, rule="文件名编码", message="文件名编码无法识别")],
                )
            rel = unicodedata.normalize("NFC", prefix + name)
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                notes.append(
                    note(
                        "GD-1-13",
                        f"符号链接「{rel}」未读取（系统不跟随链接）",
                        file=rel,
                        error=False,
                    )
                )
                continue
            if stat.S_ISDIR(st.st_mode):
                if not prefix and name in skip_dirs:
                    continue
                subdirs.append((Path(entry.path), rel + "/"))
                continue
            if not stat.S_ISREG(st.st_mode):
                raise TransferUnreadable(
                    f"信息包中「{rel}」是设备文件、管道或套接字，已拒收",
                    [Problem(file=rel, rule="特殊文件", message="不是普通文件")],
                )
            other = seen.get(rel)
            if other is not None:
                raise TransferUnreadable(
                    f"信息包中「{rel}」与「{other}」经 Unicode 规范化后同名",
                    [Problem(file=rel, rule="文件重名", message="经 NFC 规范化后同名")],
                )
            seen[rel] = prefix + name
            yield ScannedFile(
                rel, Path(entry.path), st.st_size, datetime.fromtimestamp(st.st_mtime, tz=UTC)
            )
        stack.extend(reversed(subdirs))


# -- 移交接收登记表 ---------------------------------------------------------------------------------

# field → accepted labels (档发〔2012〕7号 附件3; GB/T 18894 表A.1; bag-info equivalents)
REGISTER_LABELS: Mapping[str, tuple[str, ...]] = {
    "unit": ("单位名称", "单位", "移交单位", "立档单位", "Source-Organization"),
    "time": ("移交时间", "时间", "归档时间", "日期", "Bagging-Date"),
    "category": ("门类", "档案门类", "门类代码"),
    "items": ("件数", "数量", "数量（件）"),
    "bytes": ("字节数", "数量（字节）", "容量（字节）"),
    "method": ("方式", "移交方式", "归档方式"),
    "carrier": ("载体", "载体类型与编号", "载体编号", "载体类型"),
}
R_REGISTER = "移交接收登记表（档发〔2012〕7号 附件3）"


def _fold(label: str) -> str:
    return unicodedata.normalize("NFKC", label).strip().strip(":：").replace(" ", "").lower()


_BY_LABEL = {_fold(label): key for key, labels in REGISTER_LABELS.items() for label in labels}


def register_from_fields(
    fields: Mapping[str, Any], *, source: str, notes: list[TransferNote], required: bool = True
) -> Register | None:
    """A Register from ``label → value`` pairs (YAML, a two-row sheet, bag-info lines).

    Returns None when no register field is present (and ``required`` is False). Non-numeric 件数
    or 字节数 are reported (GD-1-12) and left empty.
    """
    found: dict[str, str] = {}
    for label, value in fields.items():
        key = _BY_LABEL.get(_fold(str(label)))
        if key is None or key in found or value is None:
            continue
        text = value.isoformat() if isinstance(value, date | datetime) else str(value).strip()
        if text:
            found[key] = text
    if not found or (not required and not ({"items", "bytes", "method"} & found.keys())):
        return None
    numbers: dict[str, int | None] = {}
    for key, label in (("items", "件数"), ("bytes", "字节数")):
        raw = found.get(key)
        numbers[key] = None
        if raw is None:
            continue
        text = unicodedata.normalize("NFKC", raw).replace(",", "").strip()
        if text.isdigit():
            numbers[key] = int(text)
        else:
            notes.append(note("GD-1-12", f"登记表「{label}」不是整数：{raw}", file=source))
    return Register(
        unit=found.get("unit", ""),
        time=found.get("time", ""),
        category=found.get("category"),
        items=numbers["items"],
        bytes=numbers["bytes"],
        method=found.get("method", ""),
        carrier=found.get("carrier"),
    )


def read_register(
    path: Path, *, display: str, notes: list[TransferNote], inst: Instance
) -> Register | None:
    """The 登记表 in ``path``: YAML (``label: value``) or a spreadsheet (labels in the first
    row and values in the second, or label/value pairs in two columns)."""
    suffix = path.suffix.lower()
    fields: dict[str, Any] = {}
    if suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            notes.append(note("GD-1-12", f"登记表无法读取：{exc}", file=display))
            return None
        if not isinstance(data, dict):
            notes.append(note("GD-1-12", "登记表不是「项目: 值」形式的 YAML", file=display))
            return None
        fields = data
    else:
        from lantai.catalogue.tabular import TableError, TableLimits, open_table

        try:
            with open_table(
                path, limits=TableLimits.from_settings(inst.settings), name=display
            ) as t:
                rows = [cells for _, cells in t.rows()]
                headers = list(t.headers)
        except TableError as exc:
            notes.append(note("GD-1-12", f"登记表无法读取：{exc.message}", file=display))
            return None
        if rows and any(_fold(h) in _BY_LABEL for h in headers):
            fields = dict(rows[0])
        else:  # two columns: label, value
            pairs = [(headers[0], headers[1])] if len(headers) >= 2 else []
            for r in rows:
                values = list(r.values())
                if len(values) >= 2:
                    pairs.append((values[0], values[1]))
            fields = {str(k): v for k, v in pairs if k is not None}
    register = register_from_fields(fields, source=display, notes=notes)
    if register is None:
        notes.append(
            note(
                "GD-1-12",
                "登记表中没有可识别的项目（单位、时间、门类、件数、字节数、方式）",
                file=display,
            )
        )
    return register


# -- hashing with verification of declared digests ------------------------------------------------


def hash_and_verify(
    files: list[TransferFile],
    *,
    workers: int,
    notes: list[TransferNote],
    progress: Callable[[int], None] | None = None,
    precomputed: Mapping[int, Mapping[str, str]] | None = None,
    staging: Path | None = None,
) -> list[dict[str, str]]:
    """Hash every file once (SHA-256 + SM3 + every other algorithm it declares) and record a
    GD-1-1 error note for each declared digest that does not match; return every digest.

    For content and metadata files the SHA-256/SM3 declarations are left to the GD-1-1 check,
    which compares them itself; for TAG files (which the check skips) every algorithm is noted.
    ``precomputed`` (index in ``files`` → algorithm → hex) are digests computed while staging
    (unpacking): a file is read again only when it declares an algorithm not among them. The
    result is aligned with ``files``.

    With ``staging``, a file outside it (a sender's folder read in place; up to
    :data:`COPY_WHILE_HASHING_MAX` bytes, by default any size) is copied to
    ``staging/copies/<role>/<path>`` in the same read and its ``local`` becomes the copy: every
    later step — checks, texts, the AIP (which links staged files) — then sees exactly the bytes
    that were hashed. For small files this is cheaper than the AIP copying them later (per-file
    costs dominate); large ones are written with ``O_DIRECT`` while they are hashed, so the disk
    works during the hashing instead of after it.
    """
    precomputed = precomputed or {}
    extra: dict[int, list[str]] = {}
    for i, f in enumerate(files):
        algs = [normalize_algorithm(a) for a in f.declared]
        algs = [a for a in algs if a not in ("sha256", "sm3")]
        if algs:
            extra[i] = algs
            have = precomputed.get(i, {})
            if any(a not in have for a in algs):
                f.sha256 = f.sm3 = None  # read once more, computing everything together
    unknown: set[str] = set()
    for path, algs in list(extra.items()):  # path: the file's index
        usable = []
        for a in algs:
            try:
                new_hash(a)
            except UnknownAlgorithm:
                unknown.add(a)
                continue
            usable.append(a)
        extra[path] = usable
    for a in sorted(unknown):
        notes.append(note("GD-1-1", f"发送方声明了无法计算的摘要算法「{a}」，未核验", error=False))
    index = {id(f): i for i, f in enumerate(files)}
    copy_to = None
    if staging is not None:
        root = staging

        def copy_to(f: TransferFile) -> Path | None:
            limit = COPY_WHILE_HASHING_MAX
            if (limit is not None and f.size > limit) or f.local.is_relative_to(root):
                return None
            return root / "copies" / f.role.value / f.path

    fresh = hash_files(
        files,
        workers=workers,
        extra=lambda f: extra.get(index[id(f)], ()),
        progress=progress,
        copy_to=copy_to,
    )
    computed: list[dict[str, str]] = [
        dict(new) if new is not None else dict(precomputed.get(i, {}))
        for i, new in enumerate(fresh)
    ]
    for f, got in zip(files, computed, strict=True):
        if f.sha256 is not None and f.sm3 is not None:
            got.setdefault("sha256", f.sha256)
            got.setdefault("sm3", f.sm3)
        for alg, want in f.declared.items():
            a = normalize_algorithm(alg)
            if a not in got or (a in ("sha256", "sm3") and f.role is not FileRole.TAG):
                continue
            if got[a] != want.strip().lower():
                notes.append(
                    note(
                        "GD-1-1",
                        f"{alg.upper()} 摘要与发送方声明的不一致（声明 {want.strip().lower()}，"
                        f"实际 {got[a]}），文件可能已被改动",
                        file=f.path,
                    )
                )
    return computed
