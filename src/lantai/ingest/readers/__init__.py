"""Transfer readers: whatever was received → one :class:`~lantai.ingest.transfer.Transfer`.

    transfer = read_transfer(inst, Path("移交.zip"), staging=settings.staging_dir / uid)

:func:`read_transfer` detects what ``path`` is, unless ``kind`` says so:

- a **ZIP or tar** archive (plain, gz, bz2, xz) → unpacked safely into ``staging/unpacked``
  (``lantai.ingest.unpack``; hashed while written, the archive's own digest taken in the same
  read), then read as the directory it contains (a single top-level folder is descended into);
- a **directory** with ``bagit.txt`` → BagIt (:mod:`.bagit`); with ``.eep`` files → a set of
  EEP packages (``SourceKind.EEP_SET``, with an optional 登记表); with a catalogue spreadsheet
  (目录.xlsx/.csv) → an offline transfer (:mod:`.offline`). Directories are read in place and
  never modified;
- a file whose root element is ``电子文件封装包`` → one EEP (:mod:`.eep`).

``staging`` is the directory this transfer owns (created; it must be empty): unpacked members,
decoded EEP data and a copy of a received ``.eep`` go there. On any error everything the reader
put there is removed before the error propagates. ``fonds_code`` and ``category`` are the
operator's target 全宗 and 门类 (they also select the metadata scheme used to map column
headers). ``uid`` defaults to a new UUID. ``progress`` receives byte counts as the package is
read: members unpacked, EEP bytes parsed, files hashed (each byte counted once per step).

Errors: ``InputError`` subclasses with Chinese messages — :class:`TransferUnreadable`,
``lantai.ingest.unpack.UnsafeArchive`` / ``ArchiveBomb`` / ``UnreadableArchive``,
``lantai.formats.xmlsafe.XmlRefused`` (a malformed or unsafe EEP).
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lantai.errors import Problem
from lantai.ingest.digests import normalize_algorithm
from lantai.ingest.readers.bagit import bag_verdict, is_bag, read_bag
from lantai.ingest.readers.base import (
    ReadContext,
    TransferUnreadable,
    hash_and_verify,
    note,
    read_register,
    scan_directory,
)
from lantai.ingest.readers.eep import EepRead, eep_transfer, is_eep, read_eep, read_eep_file
from lantai.ingest.readers.offline import find_metadata_files, read_offline
from lantai.ingest.transfer import FileRole, SourceKind, Transfer, TransferFile
from lantai.ingest.unpack import Unpacked, UnpackLimits, sniff, unpack

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = ["TransferUnreadable", "bag_verdict", "detect_kind", "read_transfer"]

_MANIFEST = re.compile(r"(?:^|/)(?:tag)?manifest-([A-Za-z0-9]+)\.txt$")


def read_transfer(
    inst: Instance,
    path: Path,
    *,
    staging: Path,
    kind: SourceKind | None = None,
    fonds_code: str | None = None,
    category: str | None = None,
    uid: str | None = None,
    source_name: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Transfer:
    """Read the transfer at ``path`` (see the module docs)."""
    if staging.exists() and any(staging.iterdir()):
        raise FileExistsError(f"staging directory {staging} is not empty")
    staging.mkdir(parents=True, exist_ok=True)
    ctx = ReadContext(inst, staging, fonds_code, category, progress=progress)
    name = source_name or path.name
    try:
        if path.is_dir():
            return _read_directory(ctx, path, kind, uid=uid, name=name)
        if not path.is_file():
            raise TransferUnreadable(
                f"「{name}」不存在或不是普通文件",
                [Problem(file=name, rule="读取信息包", message="不存在")],
            )
        if sniff(path) is not None:
            return _read_archive(ctx, path, kind, uid=uid, name=name)
        # a file named .eep is read as one even when its head does not show the root element
        # (e.g. a long DOCTYPE before it): the EEP reader then says what is wrong with it
        if kind is SourceKind.EEP or (kind is None and (is_eep(path) or path.suffix == ".eep")):
            return read_eep(ctx, path, uid=uid, source_name=name)
        raise TransferUnreadable(
            f"无法识别「{name}」：既不是 ZIP/tar 压缩包，也不是电子文件封装包（EEP）或文件夹",
            [Problem(file=name, rule="读取信息包", message="无法识别的信息包格式")],
        )
    except BaseException:
        for child in staging.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
        raise


def detect_kind(directory: Path) -> SourceKind | None:
    """What a directory holds: a bag, EEP files, an offline transfer; None if none of these."""
    if is_bag(directory):
        return SourceKind.BAGIT
    if find_metadata_files(directory).catalogue is not None:
        return SourceKind.OFFLINE
    if any(p.suffix.lower() == ".eep" and p.is_file() for p in directory.iterdir()):
        return SourceKind.EEP_SET
    return None


def _read_directory(
    ctx: ReadContext,
    directory: Path,
    kind: SourceKind | None,
    *,
    uid: str | None,
    name: str,
    unpacked: Unpacked | None = None,
    prefix: str = "",
) -> Transfer:
    found = kind or detect_kind(directory)
    staged: dict[str, TransferFile] = {}
    precomputed: dict[str, dict[str, str]] = {}
    if unpacked is not None:
        for f in unpacked.files:
            if not f.path.startswith(prefix):
                continue
            rel = f.path[len(prefix) :]
            staged[rel] = TransferFile(
                path=rel,
                local=f.local,
                size=f.size,
                sha256=f.sha256,
                sm3=f.sm3,
                modified=f.modified,
            )
            precomputed[rel] = dict(f.extra)
    if found is SourceKind.BAGIT:
        return read_bag(
            ctx, directory, uid=uid, source_name=name, staged=staged, precomputed=precomputed
        )
    if found is SourceKind.OFFLINE:
        transfer = read_offline(ctx, directory, uid=uid, source_name=name)
    elif found is SourceKind.EEP_SET:
        transfer = _read_eep_set(ctx, directory, uid=uid, name=name, staged=staged)
    elif found is SourceKind.EEP:
        eeps = sorted(p for p in directory.iterdir() if p.is_file() and is_eep(p))
        if len(eeps) != 1:
            raise TransferUnreadable(
                f"「{name}」中应恰好有一个电子文件封装包，实际 {len(eeps)} 个",
                [Problem(file=name, rule="DA/T 48-2009", message="封装包数量不对")],
            )
        return read_eep(ctx, eeps[0], uid=uid, source_name=eeps[0].name)
    else:
        raise TransferUnreadable(
            f"无法识别「{name}」的信息包类型：没有 bagit.txt、目录文件（目录.xlsx/.csv）或 .eep 文件",
            [Problem(file=name, rule="读取信息包", message="无法识别的信息包类型")],
        )
    return transfer


def _read_archive(
    ctx: ReadContext, path: Path, kind: SourceKind | None, *, uid: str | None, name: str
) -> Transfer:
    limits = UnpackLimits.from_settings(ctx.inst.settings)
    extra = _zip_manifest_algorithms(path, limits) if sniff(path) == "zip" else ()
    unpacked = unpack(
        path, ctx.staging / "unpacked", limits=limits, name=name, extra=extra, progress=ctx.progress
    )
    root, prefix = unpacked.root, ""
    entries = [p for p in root.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and detect_kind(root) is None:
        root, prefix = entries[0], entries[0].name + "/"
    ctx.notes.extend(unpacked.notes)
    transfer = _read_directory(
        ctx, root, kind, uid=uid, name=name, unpacked=unpacked, prefix=prefix
    )
    transfer.package_sha256 = unpacked.archive_sha256
    transfer.package_sm3 = unpacked.archive_sm3
    transfer.package_size = unpacked.archive_size
    transfer.structure["archive"] = {
        "format": unpacked.format,
        "name": name,
        "root": prefix.rstrip("/"),
    }
    return transfer


def _zip_manifest_algorithms(path: Path, limits: UnpackLimits) -> tuple[str, ...]:
    """Digest algorithms of the BagIt manifests inside a ZIP (central directory only)."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if len(infos) > limits.max_entries:
                return ()
            algs = {
                normalize_algorithm(m.group(1))
                for i in infos
                if (m := _MANIFEST.search(i.filename))
            }
    except (zipfile.BadZipFile, OSError, ValueError):
        return ()
    return tuple(sorted(a for a in algs if a not in ("sha256", "sm3")))


def _read_eep_set(
    ctx: ReadContext,
    directory: Path,
    *,
    uid: str | None,
    name: str,
    staged: dict[str, TransferFile],
) -> Transfer:
    out_dir = ctx.staging / "payload"
    out_dir.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    results: list[EepRead] = []
    sources: list[Path] = []
    others: list[TransferFile] = []
    meta = find_metadata_files(directory)
    for sf in scan_directory(directory, notes=ctx.notes):
        if sf.path.lower().endswith(".eep") or (
            sf.path.lower().endswith(".xml") and is_eep(sf.local)
        ):
            results.append(
                read_eep_file(ctx, sf.local, display=sf.path, out_dir=out_dir, used_paths=used)
            )
            sources.append(sf.local)
            continue
        known = staged.get(sf.path)
        role = FileRole.METADATA if sf.local == meta.register else FileRole.CONTENT
        if role is FileRole.CONTENT:
            ctx.notes.append(
                note(
                    "GD-1-13",
                    f"「{sf.path}」不是电子文件封装包，也不属于任何封装包",
                    file=sf.path,
                    error=False,
                )
            )
        others.append(
            TransferFile(
                path=sf.path,
                local=sf.local,
                size=sf.size,
                role=role,
                sha256=known.sha256 if known else None,
                sm3=known.sm3 if known else None,
                modified=sf.modified,
            )
        )
    hash_and_verify(
        others, workers=ctx.workers, notes=ctx.notes, progress=ctx.progress, staging=ctx.staging
    )
    transfer = eep_transfer(
        ctx,
        results,
        sources,
        uid=uid,
        source_name=name,
        kind=SourceKind.EEP_SET,
        extra_files=others,
    )
    if meta.register is not None:
        transfer.register = read_register(
            meta.register, display=meta.register.name, notes=ctx.notes, inst=ctx.inst
        )
    return transfer
