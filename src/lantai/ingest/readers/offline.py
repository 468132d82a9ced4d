"""Offline transfer (离线移交): a folder of files plus the agency's catalogue spreadsheet.

Layout recognised at the folder's top level (names compared without extension, NFKC, any case):

- the catalogue (目录文件): ``目录``, ``移交目录``, ``归档文件目录``, ``文件目录``, ``catalogue``
  (``.xlsx`` or ``.csv``) — one row per 件, read with :func:`lantai.catalogue.tabular.open_table`;
  columns are matched to the 门类's metadata scheme by Chinese name or alias exactly as the
  catalogue importer does (``MetadataScheme.element_by_name``);
- the register (移交接收登记表): ``登记表``, ``移交接收登记表``, ``归档登记表``, ``register``
  (``.yaml``, ``.xlsx`` or ``.csv``) with 单位, 时间, 门类, 件数, 字节数, 方式;
- process metadata (optional): ``过程信息`` / ``业务过程`` — rows of 电子文件号, 业务行为,
  行为时间, 机构人员名称 [, 行为依据, 行为描述].

Catalogue columns that are not description elements:

- 文件名 / 电子文件名 / 计算机文件名 / 文件路径 — the files of the 件, relative to the folder,
  several separated by ``;`` (正文 first). A bare file name that matches exactly one file in
  the folder is resolved to it;
- 电子文件号 / 文件标识符 — the sender's key of the 件 (default: the row number);
- per-file 电子属性 and digests, ``;``-separated in the same order as the files:
  计算机文件大小, 计算机文件格式 / 格式信息, 文档创建程序, SHA256, SM3, MD5, SHA1 (digests →
  ``TransferFile.declared``);
- 门类 (→ ``values["category"]``), 全宗号 (→ ``values["fonds_code"]``), 开放审核意见, 序号.

Anything else unknown is reported (GD-1-12, warning) and not imported. The folder is read in
place (never modified); every file is hashed once.

Public API: :func:`read_offline`, :func:`read_catalogue` (also used by the BagIt reader for a
catalogue in a bag's tag directory), :func:`find_metadata_files`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from lantai.archival import Level, MetadataScheme
from lantai.catalogue.tabular import TableError, TableLimits, open_table
from lantai.errors import Problem
from lantai.ingest.readers.base import (
    ReadContext,
    TransferUnreadable,
    hash_and_verify,
    new_uid,
    note,
    read_register,
    scan_directory,
)
from lantai.ingest.transfer import (
    DeclaredTotals,
    FileRole,
    ProcessStep,
    SourceKind,
    Transfer,
    TransferFile,
    TransferNote,
    TransferRecord,
)

__all__ = ["MetadataFiles", "find_metadata_files", "read_catalogue", "read_offline"]

CATALOGUE_STEMS = (
    "目录",
    "移交目录",
    "归档文件目录",
    "文件目录",
    "目录文件",
    "catalogue",
    "catalog",
)
REGISTER_STEMS = ("登记表", "移交接收登记表", "归档登记表", "电子文件归档登记表", "register")
PROCESS_STEMS = ("过程信息", "业务过程", "过程元数据", "process")
_TABLE_SUFFIXES = (".xlsx", ".xlsm", ".csv")
_REGISTER_SUFFIXES = (".yaml", ".yml", ".xlsx", ".csv")


def _fold(text: str) -> str:
    return re.sub(r"[\s()（）\[\]【】:：*＊_-]", "", unicodedata.normalize("NFKC", text)).lower()


FILE_HEADERS = frozenset(
    map(_fold, ("文件名", "电子文件名", "计算机文件名", "文件路径", "原文文件名", "文件"))
)
KEY_HEADERS = frozenset(map(_fold, ("电子文件号", "文件标识符", "标识符", "电子文件标识")))
SIZE_HEADERS = frozenset(map(_fold, ("计算机文件大小", "文件大小", "字节数")))
FORMAT_HEADERS = frozenset(map(_fold, ("计算机文件格式", "格式信息", "文件格式")))
CREATOR_HEADERS = frozenset(map(_fold, ("文档创建程序", "创建程序")))
DIGEST_HEADERS = {
    _fold(h): alg
    for alg, names in {
        "sha256": ("SHA256", "SHA-256", "SHA256摘要"),
        "sm3": ("SM3", "SM3摘要", "数字摘要"),
        "md5": ("MD5",),
        "sha1": ("SHA1", "SHA-1"),
    }.items()
    for h in names
}
CATEGORY_HEADERS = frozenset(map(_fold, ("门类", "门类代码", "档案门类")))
FONDS_HEADERS = frozenset(map(_fold, ("全宗号", "全宗代码")))
OPINION_HEADERS = frozenset(map(_fold, ("开放审核意见", "开放意见")))
IGNORED_HEADERS = frozenset(map(_fold, ("序号", "顺序号")))
_SPLIT = re.compile(r"[;；|\n]")


@dataclass(frozen=True)
class MetadataFiles:
    catalogue: Path | None
    register: Path | None
    process: Path | None


def find_metadata_files(directory: Path) -> MetadataFiles:
    """The catalogue, register and process files directly inside ``directory`` (or None)."""

    def pick(stems: Sequence[str], suffixes: Sequence[str]) -> Path | None:
        wanted = {_fold(s) for s in stems}
        found = sorted(
            p
            for p in directory.iterdir()
            if p.is_file()
            and not p.is_symlink()
            and p.suffix.lower() in suffixes
            and _fold(p.stem) in wanted
        )
        return found[0] if found else None

    if not directory.is_dir():
        return MetadataFiles(None, None, None)
    return MetadataFiles(
        catalogue=pick(CATALOGUE_STEMS, _TABLE_SUFFIXES),
        register=pick(REGISTER_STEMS, _REGISTER_SUFFIXES),
        process=pick(PROCESS_STEMS, _TABLE_SUFFIXES),
    )


# -- catalogue ------------------------------------------------------------------------------------


class _Columns:
    """How each catalogue header is used."""

    def __init__(self, headers: Sequence[str], schemes: Sequence[MetadataScheme]) -> None:
        self.elements: dict[str, str] = {}  # header → element key
        self.special: dict[str, str] = {}  # header → role
        self.unknown: list[str] = []
        for h in headers:
            if not h:
                continue
            f = _fold(h)
            role = (
                "files"
                if f in FILE_HEADERS
                else "key"
                if f in KEY_HEADERS
                else "size"
                if f in SIZE_HEADERS
                else "format"
                if f in FORMAT_HEADERS
                else "creator"
                if f in CREATOR_HEADERS
                else f"digest:{DIGEST_HEADERS[f]}"
                if f in DIGEST_HEADERS
                else "category"
                if f in CATEGORY_HEADERS
                else "fonds"
                if f in FONDS_HEADERS
                else "opinion"
                if f in OPINION_HEADERS
                else "ignored"
                if f in IGNORED_HEADERS
                else None
            )
            if role is not None:
                self.special[h] = role
                continue
            element = next(
                (
                    e
                    for s in schemes
                    if (e := s.element_by_name(h)) is not None
                    and e.obligation_at(Level.ITEM) is not None
                ),
                None,
            )
            if element is None:
                self.unknown.append(h)
            else:
                self.elements[h] = element.key

    def looks_like_header(self) -> bool:
        return len(self.elements) + len(self.special) >= 2


def _schemes(ctx: ReadContext, category: str | None) -> list[MetadataScheme]:
    domain = ctx.inst.domain
    if category:
        code = domain.table("category").normalize(category)
        if code is not None:
            return [domain.scheme_for(code)]
    return [s for k, s in domain.schemes.items() if k != "__base__"]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value).strip()


def _norm_path(raw: str) -> str:
    p = unicodedata.normalize("NFC", raw.strip().replace("\\", "/"))
    while p.startswith("./"):
        p = p[2:]
    return p.lstrip("/")


def read_catalogue(
    ctx: ReadContext,
    path: Path,
    *,
    display: str,
    files: Mapping[str, TransferFile],
    category: str | None,
    notes: list[TransferNote],
) -> list[TransferRecord]:
    """The records of a catalogue spreadsheet, linked to ``files`` (payload path → file).

    Sets ``record_key`` and ``declared`` on the linked files. A file the catalogue names that is
    not in ``files`` stays in the record's ``files`` list (the checks report it as missing).
    """
    schemes = _schemes(ctx, category)
    by_name: dict[str, list[str]] = {}
    for p in files:
        by_name.setdefault(PurePosixPath(p).name, []).append(p)

    def predicate(texts: Sequence[str]) -> bool:
        return _Columns(texts, schemes).looks_like_header()

    try:
        table = open_table(
            path,
            limits=TableLimits.from_settings(ctx.inst.settings),
            name=display,
            header_predicate=predicate,
        )
    except TableError as exc:
        notes.append(note("GD-1-12", f"目录文件无法读取：{exc}", file=display))
        return []
    records: list[TransferRecord] = []
    with table:
        cols = _Columns(table.headers, schemes)
        for h in cols.unknown:
            notes.append(
                note("GD-1-12", f"目录文件的列「{h}」不是著录项，未读取", file=display, error=False)
            )
        if "files" not in cols.special.values():
            notes.append(
                note("GD-1-11", "目录文件没有「文件名」列，无法把条目与电子文件关联", file=display)
            )
        try:
            for row_no, cells in table.rows():
                records.append(_record(cells, row_no, cols, display, files, by_name))
        except TableError as exc:
            notes.append(note("GD-1-12", f"目录文件读取中断：{exc}", file=display))
    return records


def _record(
    cells: Mapping[str, Any],
    row_no: int,
    cols: _Columns,
    display: str,
    files: Mapping[str, TransferFile],
    by_name: Mapping[str, list[str]],
) -> TransferRecord:
    special: dict[str, str] = {}
    for h, role in cols.special.items():
        text = _text(cells.get(h))
        if text:
            special[role] = text
    key = special.get("key") or f"{display}#{row_no}"
    rec = TransferRecord(key=key, location=f"{display} 第{row_no}行")
    for h, k in cols.elements.items():
        value = cells.get(h)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        rec.values[k] = value.strip() if isinstance(value, str) else value
        rec.source_names[k] = h
    if "category" in special:
        rec.values["category"] = special["category"]
    if "fonds" in special:
        rec.values["fonds_code"] = special["fonds"]
    if "opinion" in special:
        rec.open_review_opinion = special["opinion"]
    names = [n for n in (_norm_path(x) for x in _SPLIT.split(special.get("files", ""))) if n]
    per_file: dict[str, list[str]] = {
        role: [x.strip() for x in _SPLIT.split(special[role])]
        for role in special
        if role in ("size", "format", "creator") or role.startswith("digest:")
    }
    for i, name in enumerate(names):
        resolved = name
        if name not in files:
            candidates = by_name.get(PurePosixPath(name).name, [])
            if len(candidates) == 1 and "/" not in name:
                resolved = candidates[0]
        rec.files.append(resolved)
        electronic: dict[str, Any] = {"计算机文件名": PurePosixPath(name).name}
        for role, values in per_file.items():
            value = values[i] if i < len(values) else ""
            if not value:
                continue
            if role == "size":
                electronic["计算机文件大小"] = value
            elif role == "format":
                electronic["格式信息"] = value
            elif role == "creator":
                electronic["文档创建程序"] = value
            else:
                tf = files.get(resolved)
                if tf is not None:
                    tf.declared[role.split(":", 1)[1]] = value.lower()
        rec.electronic[resolved] = electronic
        tf = files.get(resolved)
        if tf is not None and tf.record_key is None:
            tf.record_key = key
    return rec


def read_process(
    ctx: ReadContext,
    path: Path,
    *,
    display: str,
    records: Sequence[TransferRecord],
    notes: list[TransferNote],
) -> None:
    """Attach the process steps of a 过程信息 table to the records, by 电子文件号."""
    by_key = {r.key: r for r in records}
    columns = {
        "key": KEY_HEADERS,
        "action": frozenset({_fold("业务行为")}),
        "time": frozenset({_fold("行为时间")}),
        "agent": frozenset(map(_fold, ("机构人员名称", "机构人员", "责任人"))),
        "basis": frozenset({_fold("行为依据")}),
        "description": frozenset({_fold("行为描述")}),
    }
    try:
        table = open_table(path, limits=TableLimits.from_settings(ctx.inst.settings), name=display)
    except TableError as exc:
        notes.append(note("GD-2-5", f"过程信息文件无法读取：{exc}", file=display))
        return
    with table:
        mapping = {
            field: next((h for h in table.headers if h and _fold(h) in names), None)
            for field, names in columns.items()
        }
        if not (mapping["key"] and mapping["action"] and mapping["time"] and mapping["agent"]):
            notes.append(
                note(
                    "GD-2-5",
                    "过程信息文件缺少列：电子文件号、业务行为、行为时间、机构人员名称",
                    file=display,
                )
            )
            return
        try:
            for row_no, cells in table.rows():
                get = {f: _text(cells.get(h)) if h else "" for f, h in mapping.items()}
                rec = by_key.get(get["key"])
                if rec is None:
                    notes.append(
                        note(
                            "GD-2-5",
                            f"过程信息第{row_no}行的电子文件号「{get['key']}」在目录中不存在",
                            file=display,
                            error=False,
                        )
                    )
                    continue
                rec.process.append(
                    ProcessStep(
                        action=get["action"],
                        time=get["time"],
                        agent=get["agent"],
                        basis=get["basis"],
                        description=get["description"],
                    )
                )
        except TableError as exc:
            notes.append(note("GD-2-5", f"过程信息文件读取中断：{exc}", file=display))


# -- the reader -----------------------------------------------------------------------------------


def read_offline(
    ctx: ReadContext, root: Path, *, uid: str | None = None, source_name: str = ""
) -> Transfer:
    """Read the offline transfer folder ``root`` (in place). Raises TransferUnreadable when the
    folder has no catalogue spreadsheet."""
    meta = find_metadata_files(root)
    if meta.catalogue is None:
        raise TransferUnreadable(
            f"「{root.name}」中没有目录文件（目录.xlsx 或 目录.csv），无法作为离线移交读取",
            [Problem(file=root.name, rule="离线移交", message="缺少目录文件")],
        )
    notes = ctx.notes
    metadata_paths = {p for p in (meta.catalogue, meta.register, meta.process) if p is not None}
    files: list[TransferFile] = []
    for sf in scan_directory(root, notes=notes):
        role = FileRole.METADATA if sf.local in metadata_paths else FileRole.CONTENT
        files.append(
            TransferFile(
                path=sf.path, local=sf.local, size=sf.size, role=role, modified=sf.modified
            )
        )
    content = {f.path: f for f in files if f.role is FileRole.CONTENT}
    register = None
    if meta.register is not None:
        register = read_register(
            meta.register, display=meta.register.name, notes=notes, inst=ctx.inst
        )
    category = ctx.category or (register.category if register is not None else None)
    records = read_catalogue(
        ctx,
        meta.catalogue,
        display=meta.catalogue.name,
        files=content,
        category=category,
        notes=notes,
    )
    if meta.process is not None:
        read_process(ctx, meta.process, display=meta.process.name, records=records, notes=notes)
    hash_and_verify(
        files, workers=ctx.workers, notes=notes, progress=ctx.progress, staging=ctx.staging
    )
    return Transfer(
        uid=uid or new_uid(),
        kind=SourceKind.OFFLINE,
        source_name=source_name or root.name,
        staging=ctx.staging,
        payload_root=root,
        files=files,
        records=records,
        declared=DeclaredTotals(source=meta.register.name if meta.register else ""),
        register=register,
        fonds_code=ctx.fonds_code,
        category=ctx.category,
        structure={
            "offline": {
                "catalogue": meta.catalogue.name,
                "register": meta.register.name if meta.register else None,
                "process": meta.process.name if meta.process else None,
            }
        },
        notes=notes,
    )
