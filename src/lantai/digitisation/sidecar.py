"""The optional batch sidecar (``batch.yaml`` or ``batch.csv``): process metadata of the scans.

DA/T 31 process metadata: 数字化时间, 设备类型/制造商/型号/序列号, 软件名称/版本, 操作人, 质检人.
``batch.yaml`` is one mapping for the whole batch; ``batch.csv`` (UTF-8, header row) has one row
per file (column ``文件`` or ``file``, a path inside the batch folder) and may have a row with an
empty file column that applies to every file. Keys may be given in Chinese or in English.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from lantai.datafiles import YAML_LOADER
from lantai.errors import InputError

__all__ = ["PROCESS_KEYS", "Sidecar", "read_sidecar"]

# Canonical (Chinese) key for each accepted spelling.
PROCESS_KEYS = {
    "数字化时间": "数字化时间",
    "scanned_at": "数字化时间",
    "设备类型": "设备类型",
    "device": "设备类型",
    "设备制造商": "设备制造商",
    "manufacturer": "设备制造商",
    "设备型号": "设备型号",
    "model": "设备型号",
    "设备序列号": "设备序列号",
    "serial": "设备序列号",
    "软件名称": "软件名称",
    "software": "软件名称",
    "软件版本": "软件版本",
    "software_version": "软件版本",
    "操作人": "操作人",
    "operator": "操作人",
    "质检人": "质检人",
    "inspector": "质检人",
    "数字化对象形态": "数字化对象形态",
    "carrier": "数字化对象形态",
}
_FILE_KEYS = ("文件", "file")


class Sidecar:
    """Process metadata for the whole batch and per file."""

    def __init__(self, batch: Mapping[str, str], files: Mapping[str, Mapping[str, str]]) -> None:
        self.batch = dict(batch)
        self.files = {k: dict(v) for k, v in files.items()}

    def for_file(self, rel: str) -> dict[str, str]:
        return {**self.batch, **self.files.get(rel, {})}


def _canonical(raw: Mapping[Any, Any], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in raw.items():
        name = PROCESS_KEYS.get(str(key).strip())
        if name is None:
            if str(key).strip() in _FILE_KEYS:
                continue
            allowed = "、".join(sorted({v for v in PROCESS_KEYS.values()}))
            raise InputError(f"{where}：未知的字段「{key}」，可用字段：{allowed}")
        if value is not None and str(value).strip():
            out[name] = str(value).strip()
    return out


def read_sidecar(root: Path) -> Sidecar:
    """The sidecar of the batch folder ``root`` (empty when there is none)."""
    for name in ("batch.yaml", "batch.yml"):
        path = root / name
        if path.is_file():
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)
            if data is None:
                return Sidecar({}, {})
            if not isinstance(data, Mapping):
                raise InputError(f"{name}：应为「字段: 值」的映射")
            return Sidecar(_canonical(data, name), {})
    path = root / "batch.csv"
    if not path.is_file():
        return Sidecar({}, {})
    text = path.read_bytes().decode("utf-8-sig")
    batch: dict[str, str] = {}
    files: dict[str, dict[str, str]] = {}
    for n, row in enumerate(csv.DictReader(io.StringIO(text)), 2):
        values = _canonical(row, f"batch.csv 第 {n} 行")
        file = next((row[k].strip() for k in _FILE_KEYS if row.get(k)), "")
        if file:
            files[file] = values
        else:
            batch.update(values)
    return Sidecar(batch, files)
