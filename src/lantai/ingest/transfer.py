"""The internal Transfer: what every reader (BagIt, EEP, offline folder, upload) produces.

A reader unpacks the received package safely into a staging directory it owns, reads the sender's
metadata and declarations, and computes SHA-256 + SM3 of every file **once** (one read per
byte). Everything after that — the DA/T 70 checks, the AIP builder, the catalogue rows — works on
this object and the staged bytes, never on the sender's original file again.

Nothing here does I/O; readers fill it in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from lantai.archival import Level

__all__ = [
    "DeclaredTotals",
    "FileRole",
    "FormatInfo",
    "ProcessStep",
    "Register",
    "SourceKind",
    "Transfer",
    "TransferFile",
    "TransferNote",
    "TransferRecord",
]


class SourceKind(StrEnum):
    BAGIT = "bagit"  # BagIt 0.97 / 1.0, directory, zip or tar
    EEP = "eep"  # DA/T 48-2009 XML 电子文件封装包 (原始型 / 修改型)
    OFFLINE = "offline"  # a folder of files plus the agency's catalogue spreadsheet
    EEP_SET = "eep_set"  # a folder or archive of several .eep files (one per 件)


class FileRole(StrEnum):
    CONTENT = "content"  # 正文 / 附件: preserved as the record's content
    METADATA = "metadata"  # the sender's metadata files (catalogue spreadsheet, EEP XML…)
    TAG = "tag"  # packaging files (bagit.txt, manifests, 说明文件, 目录文件…)


@dataclass(frozen=True, kw_only=True)
class FormatInfo:
    """Format identification of one file (filled by ``lantai.formats.identify``)."""

    puid: str | None  # PRONOM id, or "lantai/ofd" style ids for formats PRONOM lacks
    name: str
    mime: str | None
    version: str | None = None
    basis: str = ""  # what the identification rests on (signature, container, extension)
    warning: str | None = None


@dataclass(kw_only=True)
class TransferFile:
    """One file of the package, staged."""

    path: str  # POSIX path relative to the payload root, NFC, as the sender named it
    local: Path  # where its bytes are in staging
    size: int
    role: FileRole = FileRole.CONTENT
    sha256: str | None = None  # computed at receipt, one pass together with SM3
    sm3: str | None = None
    declared: dict[str, str] = field(default_factory=dict)  # algorithm → digest the sender declared
    record_key: str | None = None  # the TransferRecord this file belongs to, if any
    modified: datetime | None = None  # mtime from the archive entry or the file system
    format: FormatInfo | None = None


@dataclass(frozen=True, kw_only=True)
class ProcessStep:
    """A process-metadata step (业务实体): who did what when (GB/T 18894: 拟制/办理 steps)."""

    action: str  # 业务行为: 起草, 审核, 签发 …
    time: str  # 行为时间 as given
    agent: str  # 机构人员名称
    basis: str = ""  # 行为依据
    description: str = ""  # 行为描述


@dataclass(kw_only=True)
class TransferRecord:
    """One unit of description the sender declared (normally a 件), with its files."""

    key: str  # the sender's identifier: 电子文件号, EEP 文件标识符, spreadsheet row…
    level: Level = Level.ITEM
    values: dict[str, Any] = field(default_factory=dict)  # element key → value as sent
    source_names: dict[str, str] = field(default_factory=dict)  # element key → sender's name for it
    files: list[str] = field(default_factory=list)  # payload paths of its content, 正文 first
    electronic: dict[str, dict[str, Any]] = field(default_factory=dict)  # path → declared 电子属性
    process: list[ProcessStep] = field(default_factory=list)
    signatures: list[dict[str, Any]] = field(default_factory=list)  # declared 电子签名 blocks
    location: str = ""  # where in the package the description is (for evidence)
    open_review_opinion: str | None = None  # 开放审核意见 sent with the transfer (档案法 30)


@dataclass(frozen=True, kw_only=True)
class DeclaredTotals:
    """What the sender declared about the whole transfer (登记表, bag-info, EEP counts)."""

    items: int | None = None  # 件数
    files: int | None = None
    bytes: int | None = None  # 字节数
    package_sha256: str | None = None  # digest of the package as sent (交接单据), if declared
    package_sm3: str | None = None
    source: str = ""  # where the declaration was read (file name)


@dataclass(frozen=True, kw_only=True)
class Register:
    """移交接收登记表 (档发〔2012〕7号 附件3) / 电子文件归档登记表 (GB/T 18894 表A.1)."""

    unit: str  # 单位名称
    time: str  # 移交时间
    category: str | None  # 门类
    items: int | None  # 件数
    bytes: int | None  # 字节数
    method: str  # 方式: 在线 / 离线（载体）
    carrier: str | None = None  # 载体类型与编号, for offline transfers


@dataclass(frozen=True, kw_only=True)
class TransferNote:
    """Something a reader noticed while reading (e.g. a BagIt warning), kept as evidence."""

    code: str  # the DA/T 70 check code it belongs to, or "reader"
    message: str
    file: str = ""
    severity: str = "warning"  # "warning" | "error"


@dataclass(kw_only=True)
class Transfer:
    """A received transfer, staged and described. Filled by a reader; read by checks and builders."""

    uid: str
    kind: SourceKind
    source_name: str  # the name of what was received (file or folder name)
    staging: Path  # the directory this transfer owns; removed when the transfer is finished
    payload_root: Path  # root of the payload inside staging
    files: list[TransferFile] = field(default_factory=list)
    records: list[TransferRecord] = field(default_factory=list)
    declared: DeclaredTotals = DeclaredTotals()
    register: Register | None = None
    fonds_code: str | None = None  # target 全宗, when the sender or the operator said so
    category: str | None = None  # target 门类
    package_sha256: str | None = None  # digests of the package as received (before unpacking)
    package_sm3: str | None = None
    package_size: int | None = None
    structure: dict[str, Any] = field(
        default_factory=dict
    )  # reader facts (BagIt version, EEP type…)
    notes: list[TransferNote] = field(default_factory=list)

    def content_files(self) -> list[TransferFile]:
        return [f for f in self.files if f.role is FileRole.CONTENT]

    def file(self, path: str) -> TransferFile | None:
        for f in self.files:
            if f.path == path:
                return f
        return None

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.content_files())
