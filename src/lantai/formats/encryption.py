"""Encryption, password protection and non-public compression in content files (DA/T 70 3-4).

Public API::

    detect_protection(path) -> list[Protection]     # [] when nothing was found

What is recognised, by the file's leading bytes (not its name):

* **ZIP containers** (ZIP, OFD, OOXML, ODF, EPUB …): any member with the encryption flag
  (traditional PKWARE or WinZip AES, method 99); any member compressed with a method the PKWARE
  APPNOTE does not document (a non-public algorithm); an OFD carrying ``Encryptions.xml`` at its
  root (OFD encryption, GM/T 0099) [I]; an ODF package whose manifest has ``encryption-data``.
* **PDF**: a user password (cannot be opened) or any encryption dictionary (owner-password
  restrictions), via pikepdf.
* **OLE2 / CFB** files: an encrypted OOXML document (streams ``EncryptionInfo`` +
  ``EncryptedPackage``, what Office writes when a .docx/.xlsx/.pptx gets a password).
* **RAR** archives: the RAR compression algorithm is proprietary (非公开压缩算法).

Not recognised (no finding, not a pass either): RC4 encryption inside legacy binary
.doc/.xls/.ppt files, encrypted 7z archives, application-level encryption of other formats.
Nothing here raises for a bad file.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import olefile
import pikepdf

from lantai.formats.pdf import encryption_method

__all__ = ["Protection", "ProtectionKind", "detect_protection"]

ZIP_MAGICS: Final = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
CFB_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
RAR_MAGIC: Final = b"Rar!\x1a\x07"
# Compression methods documented in the PKWARE APPNOTE (6.3.10 §4.4.5); 99 marks WinZip AES.
ZIP_DOCUMENTED_METHODS: Final = frozenset(
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 19, 20, 93, 94, 95, 96, 97, 98}
)
ZIP_AES_METHOD: Final = 99
MAX_MANIFEST: Final = 1024 * 1024


class ProtectionKind(StrEnum):
    PASSWORD = "password"  # 需要口令才能打开
    ENCRYPTED = "encrypted"  # 内容已加密（含权限口令限制）
    NON_PUBLIC_COMPRESSION = "non_public_compression"  # 非公开压缩算法

    @property
    def label(self) -> str:
        return {
            "password": "设有打开口令",
            "encrypted": "内容加密",
            "non_public_compression": "非公开压缩算法",
        }[self.value]


@dataclass(frozen=True, kw_only=True)
class Protection:
    """One reason the file cannot be preserved as it is."""

    kind: ProtectionKind
    message: str  # zh-CN, for the check report
    member: str | None = None  # the container member concerned, if any
    detail: str = ""  # method, algorithm …


def detect_protection(path: Path) -> list[Protection]:
    """Every protection found in ``path`` (see the module docstring for what is recognised)."""
    try:
        with path.open("rb") as f:
            head = f.read(1024)
    except OSError:
        return []
    if head.startswith(ZIP_MAGICS):
        return _zip(path)
    if b"%PDF-" in head:
        return _pdf(path)
    if head.startswith(CFB_MAGIC):
        return _cfb(path)
    if head.startswith(RAR_MAGIC):
        return [
            Protection(
                kind=ProtectionKind.NON_PUBLIC_COMPRESSION,
                message="RAR 压缩包使用非公开的压缩算法",
                detail="RAR",
            )
        ]
    return []


def _zip(path: Path) -> list[Protection]:
    out: list[Protection] = []
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            for info in infos:
                if info.filename.endswith("/"):
                    continue
                method = info.compress_type
                if info.flag_bits & 0x1 or method == ZIP_AES_METHOD:
                    kind = "AES" if method == ZIP_AES_METHOD else "PKWARE 传统加密"
                    out.append(
                        Protection(
                            kind=ProtectionKind.ENCRYPTED,
                            message=f"包内文件已加密（{kind}）",
                            member=info.filename,
                            detail=kind,
                        )
                    )
                elif method not in ZIP_DOCUMENTED_METHODS:
                    out.append(
                        Protection(
                            kind=ProtectionKind.NON_PUBLIC_COMPRESSION,
                            message=f"包内文件使用未公开的压缩方法（编号 {method}）",
                            member=info.filename,
                            detail=f"ZIP method {method}",
                        )
                    )
            if "Encryptions.xml" in names and "OFD.xml" in names:
                out.append(
                    Protection(
                        kind=ProtectionKind.ENCRYPTED,
                        message="OFD 文档已加密（根目录含 Encryptions.xml，GM/T 0099）",
                        member="Encryptions.xml",
                        detail="OFD 加密",
                    )
                )
            if "META-INF/manifest.xml" in names:
                out.extend(_odf_manifest(zf))
    except (OSError, zipfile.BadZipFile, ValueError, RuntimeError):
        return out
    return out


def _odf_manifest(zf: zipfile.ZipFile) -> list[Protection]:
    info = zf.getinfo("META-INF/manifest.xml")
    if info.file_size > MAX_MANIFEST or info.flag_bits & 0x1:
        return []
    with zf.open(info) as f:
        manifest = f.read(MAX_MANIFEST)
    if b"encryption-data" not in manifest:
        return []
    return [
        Protection(
            kind=ProtectionKind.PASSWORD,
            message="OpenDocument 文档设有口令（manifest 含 encryption-data）",
            member="META-INF/manifest.xml",
            detail="ODF 加密",
        )
    ]


def _pdf(path: Path) -> list[Protection]:
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PasswordError:
        return [
            Protection(kind=ProtectionKind.PASSWORD, message="PDF 设有打开口令", detail="用户口令")
        ]
    except (pikepdf.PdfError, OSError, ValueError):
        return []
    with pdf:
        if not pdf.is_encrypted:
            return []
        method = encryption_method(pdf)
    return [
        Protection(
            kind=ProtectionKind.ENCRYPTED,
            message="PDF 已加密（设有权限口令或加密字典）",
            detail=method,
        )
    ]


def _cfb(path: Path) -> list[Protection]:
    try:
        ole = olefile.OleFileIO(str(path))
    except (OSError, ValueError, NotImplementedError):
        return []
    try:
        if ole.exists("EncryptionInfo") and ole.exists("EncryptedPackage"):
            return [
                Protection(
                    kind=ProtectionKind.PASSWORD,
                    message="Office 文档设有打开口令（加密的 OOXML 包：EncryptedPackage）",
                    detail="ECMA-376 加密",
                )
            ]
        return []
    finally:
        ole.close()
