"""The package index every backend writes as its commit mark, byte-identical across backends.

``{"package", "created", "objects": {path: [size, sha256, sm3]}}`` as compact UTF-8 JSON with
sorted paths. Its SHA-256 is the **package digest**: one value naming the whole package. A
replica written with the same ``created`` has the same index bytes, so the same digest in every
location — the ledger compares them without reading a single object.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lantai.storage.base import ObjectInfo, PackageInfo

__all__ = ["index_bytes", "now_created", "package_info"]


def now_created() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def index_bytes(package_id: str, created: str, objects: Mapping[str, ObjectInfo]) -> bytes:
    doc = {
        "package": package_id,
        "created": created,
        "objects": {p: [o.size, o.sha256, o.sm3] for p, o in sorted(objects.items())},
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def package_info(package_id: str, doc: Mapping[str, Any], raw: bytes) -> PackageInfo:
    objects = doc["objects"]
    return PackageInfo(
        package_id=package_id,
        objects=len(objects),
        bytes=sum(v[0] for v in objects.values()),
        created=doc["created"],
        digest=hashlib.sha256(raw).hexdigest(),
    )
