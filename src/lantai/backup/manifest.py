"""The manifest of a backup set: every file with its size, SHA-256 and SM3, plus the facts.

``manifest.json`` at the root of a backup set::

    {"format": "lantai-backup", "version": 1, "uid", "created", "lantai_version",
     "database": "sqlite" | "postgresql", "server_version", "with_content",
     "files": {"<relative path>": [size, sha256, sm3], …},
     "facts": {counts, audit_head, records_digest, files_digest}}   (see lantai.backup.facts)

:func:`check_files` re-hashes every file (SHA-256 and SM3 in one read) and names each file that is
missing, changed or not listed; restore refuses a set with any such problem.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from lantai.crypto.digest import digest_file
from lantai.errors import IntegrityFailure, NotFound, Problem

__all__ = [
    "FORMAT",
    "MANIFEST_NAME",
    "BackupDamaged",
    "check_files",
    "hash_tree",
    "manifest_sha256",
    "read_manifest",
    "write_manifest",
]

FORMAT = "lantai-backup"
MANIFEST_NAME = "manifest.json"


class BackupDamaged(IntegrityFailure):
    """A backup set whose files do not match its manifest: it is not restored."""

    code = "backup_damaged"


def _files(root: Path) -> list[str]:
    out = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            rel = (Path(dirpath) / name).relative_to(root).as_posix()
            if rel != MANIFEST_NAME:
                out.append(rel)
    return sorted(out)


def hash_tree(root: Path) -> dict[str, list[Any]]:
    """``{relative path: [size, sha256, sm3]}`` of every file under ``root`` but the manifest."""
    out: dict[str, list[Any]] = {}
    for rel in _files(root):
        d = digest_file(root / rel)
        out[rel] = [d.size, d.sha256, d.sm3]
    return out


def write_manifest(root: Path, doc: dict[str, Any]) -> str:
    """Write ``manifest.json`` (fsynced); returns its SHA-256 (kept in the backup ledger)."""
    data = json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
    path = root / MANIFEST_NAME
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return hashlib.sha256(data).hexdigest()


def manifest_sha256(root: Path) -> str:
    return hashlib.sha256((root / MANIFEST_NAME).read_bytes()).hexdigest()


def read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise NotFound(f"「{root}」不是兰台备份：找不到 {MANIFEST_NAME}")
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupDamaged(f"备份清单 {path} 无法读取：{exc}") from None
    if doc.get("format") != FORMAT or doc.get("version") != 1:
        raise BackupDamaged(f"备份清单 {path} 不是兰台备份格式（format={doc.get('format')}）")
    return doc


def check_files(root: Path, doc: dict[str, Any]) -> list[Problem]:
    """Every problem with the files of the set: missing, size/SHA-256/SM3 mismatch, unlisted."""
    listed: dict[str, list[Any]] = doc.get("files", {})
    problems = []
    for rel, (size, sha256, sm3) in sorted(listed.items()):
        path = root / rel
        if not path.is_file():
            problems.append(Problem(file=rel, rule="完整性", message="备份文件缺失"))
            continue
        d = digest_file(path)
        if d.size != size:
            msg = f"大小不符：清单 {size} 字节，实际 {d.size} 字节"
        elif d.sha256 != sha256:
            msg = "SHA-256 与清单不符"
        elif d.sm3 != sm3:
            msg = "SM3 与清单不符"
        else:
            continue
        problems.append(Problem(file=rel, rule="完整性", message=f"备份文件已被改动：{msg}"))
    for rel in _files(root):
        if rel not in listed:
            problems.append(Problem(file=rel, rule="完整性", message="文件不在备份清单中"))
    return problems
