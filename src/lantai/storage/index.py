"""The package index every backend writes as its commit mark, byte-identical across backends.

``{"package", "created", "objects": {path: [size, sha256, sm3]}}`` as compact UTF-8 JSON with
sorted paths. Its SHA-256 is the **package digest**: one value naming the whole package. A
replica written with the same ``created`` has the same index bytes, so the same digest in every
location — the ledger compares them without reading a single object.
"""

from __future__ import annotations

import hashlib
import json
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lantai.storage.base import (
    DestructionOrder,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    PackageInfo,
    check_package_id,
    split_key,
)

__all__ = [
    "IndexedObjectStore",
    "apply_destruction",
    "doc_bytes",
    "index_bytes",
    "now_created",
    "package_info",
]


def now_created() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def index_bytes(
    package_id: str,
    created: str,
    objects: Mapping[str, ObjectInfo],
    destroyed: Mapping[str, Any] | None = None,
) -> bytes:
    doc: dict[str, Any] = {
        "package": package_id,
        "created": created,
        "objects": {p: [o.size, o.sha256, o.sm3] for p, o in sorted(objects.items())},
    }
    if destroyed:
        doc["destroyed"] = dict(sorted(destroyed.items()))
    return doc_bytes(doc)


def doc_bytes(doc: Mapping[str, Any]) -> bytes:
    """The canonical bytes of an index document (objects and destroyed entries sorted)."""
    out: dict[str, Any] = {
        "package": doc["package"],
        "created": doc["created"],
        "objects": dict(sorted(doc["objects"].items())),
    }
    if doc.get("destroyed"):
        out["destroyed"] = {p: dict(sorted(v.items())) for p, v in sorted(doc["destroyed"].items())}
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def apply_destruction(
    doc: Mapping[str, Any], paths: Sequence[str], order: DestructionOrder
) -> tuple[dict[str, Any], list[str], int]:
    """(new index document, paths newly destroyed, their bytes); Conflict for unknown paths."""
    from lantai.errors import Conflict

    objects = dict(doc["objects"])
    destroyed = dict(doc.get("destroyed") or {})
    newly: list[str] = []
    size = 0
    for p in paths:
        if p in objects:
            entry = objects.pop(p)
            destroyed[p] = order.tombstone(entry)
            newly.append(p)
            size += int(entry[0])
        elif p not in destroyed:
            raise Conflict(f"包 {doc['package']} 中没有对象：{p}")
    new = {"package": doc["package"], "created": doc["created"], "objects": objects}
    if destroyed:
        new["destroyed"] = destroyed
    return new, newly, size


def package_info(package_id: str, doc: Mapping[str, Any], raw: bytes) -> PackageInfo:
    objects = doc["objects"]
    return PackageInfo(
        package_id=package_id,
        objects=len(objects),
        bytes=sum(v[0] for v in objects.values()),
        created=doc["created"],
        digest=hashlib.sha256(raw).hexdigest(),
    )


class IndexedObjectStore(ObjectStore):
    """A store whose reads of sizes and digests come from the package index alone (S3, tar
    volumes): ``stat``, ``list`` and ``package`` are answered from :meth:`_load_index`."""

    @abstractmethod
    def _load_index(self, package_id: str) -> tuple[dict[str, Any], bytes] | None:
        """The committed index of ``package_id`` (parsed, raw bytes), or None."""

    def stat(self, key: str) -> ObjectInfo:
        package_id, path = split_key(key)
        loaded = self._load_index(package_id)
        entry = loaded[0]["objects"].get(path) if loaded is not None else None
        if entry is None:
            raise ObjectNotFound(f"对象「{key}」不存在")
        return ObjectInfo(key=key, size=entry[0], sha256=entry[1], sm3=entry[2])

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        package_part, sep, _ = prefix.partition("/")
        ids = [package_part] if sep else [p for p in self.packages() if p.startswith(prefix)]
        for package_id in sorted(ids):
            loaded = self._load_index(package_id)
            if loaded is None:
                continue
            for path, (size, sha256, sm3) in sorted(loaded[0]["objects"].items()):
                key = f"{package_id}/{path}"
                if key.startswith(prefix):
                    yield ObjectInfo(key=key, size=size, sha256=sha256, sm3=sm3)

    def package(self, package_id: str) -> PackageInfo | None:
        check_package_id(package_id)
        loaded = self._load_index(package_id)
        return package_info(package_id, *loaded) if loaded is not None else None
