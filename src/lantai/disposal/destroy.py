"""Removing the preserved content of a record after an approved 销毁 — the only deletion path.

The object store deliberately has no delete (:mod:`lantai.storage.base`). This module is the one
place that removes preserved objects, and only with a :class:`DisposalAuthorisation` that is
re-checked against the database in the same transaction: the item belongs to an open batch and
the decision of the batch's final (approval) round is 销毁.

It works on the documented layout of :class:`lantai.storage.local.LocalObjectStore` (package
directory + ``<id>.json`` index, serialised by ``locks/<id>.lock``): under the package lock the
index is rewritten without the objects — recording them under ``"destroyed"`` (size, digests,
batch, time) — and then the files are unlinked. Other files of the package (the sender's metadata,
METS, the 四性检测报告, other records' files) stay. A second run finds the objects already listed
as destroyed and does nothing, so an interrupted execution can be repeated.

TODO(storage ledger): once replicated locations exist this must move behind the ObjectStore
interface, per location, so every copy is removed and the ledger records it.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.errors import Conflict, PermissionDenied
from lantai.storage import LocalObjectStore, ObjectStore
from lantai.storage.base import check_package_id, check_path
from lantai.store import DisposalBatch, DisposalDecision, DisposalItem

__all__ = ["DestroyedObjects", "DisposalAuthorisation", "authorise", "destroy_objects"]


@dataclass(frozen=True, kw_only=True)
class DisposalAuthorisation:
    """An approved 销毁 of one item: the final round's decision, who took it and when."""

    batch_uid: str
    item_id: int
    record_id: int
    approved_by: str
    approved_at: str


@dataclass(frozen=True)
class DestroyedObjects:
    files: int
    bytes: int
    keys: tuple[str, ...]


def authorise(session: Session, item_id: int) -> DisposalAuthorisation:
    """The authorisation for ``item_id``, or PermissionDenied naming what is missing."""
    row = session.execute(
        select(DisposalItem, DisposalBatch)
        .join(DisposalBatch, DisposalBatch.id == DisposalItem.batch_id)
        .where(DisposalItem.id == item_id)
    ).first()
    if row is None:
        raise PermissionDenied(f"销毁被拒绝：鉴定条目 {item_id} 不存在")
    item, batch = row
    if batch.state != "open" or item.state not in ("pending", "destroyed"):
        raise PermissionDenied(f"销毁被拒绝：批次 {batch.uid} 的条目 {item.id} 不在待执行状态")
    final_round = len(batch.rounds)
    decision = session.scalar(
        select(DisposalDecision).where(
            DisposalDecision.item_id == item.id, DisposalDecision.round == final_round
        )
    )
    if decision is None or decision.decision != "destroy":
        raise PermissionDenied(
            f"销毁被拒绝：条目「{item.archival_code or item.record_id}」没有经最后一轮审批的销毁结论"
        )
    return DisposalAuthorisation(
        batch_uid=batch.uid,
        item_id=item.id,
        record_id=item.record_id,
        approved_by=decision.reviewer,
        approved_at=decision.decided_at.isoformat(),
    )


@contextmanager
def _package_lock(root: Path, package_id: str) -> Iterator[None]:
    with (root / "locks" / f"{package_id}.lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_index(index: Path, doc: dict[str, Any]) -> None:
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    tmp = index.with_name(f".{index.name}.{secrets.token_hex(4)}")
    with tmp.open("xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, index)
    _fsync_dir(index.parent)


def destroy_objects(
    session: Session,
    store: ObjectStore,
    auth: DisposalAuthorisation,
    keys: Sequence[tuple[str, str]],
) -> DestroyedObjects:
    """Remove the objects ``(package id, path)`` of the authorised item; idempotent."""
    if authorise(session, auth.item_id) != auth:
        raise PermissionDenied("销毁被拒绝：授权与数据库中的审批结论不一致")
    if not isinstance(store, LocalObjectStore):
        raise Conflict(f"销毁尚不支持此存储：{store!r}（仅本地存储）")
    root = store.root
    now = datetime.now(UTC).isoformat(timespec="seconds")
    by_package: dict[str, list[str]] = {}
    for package_id, path in keys:
        by_package.setdefault(check_package_id(package_id), []).append(check_path(path))
    files = size = 0
    done: list[str] = []
    for package_id, paths in sorted(by_package.items()):
        shard = root / "packages" / package_id[:2].lower()
        index, folder = shard / f"{package_id}.json", shard / package_id
        with _package_lock(root, package_id):
            doc: dict[str, Any] = json.loads(index.read_bytes())
            destroyed: dict[str, Any] = doc.setdefault("destroyed", {})
            gone = [p for p in paths if p in doc["objects"]]
            for p in gone:
                entry = doc["objects"].pop(p)
                destroyed[p] = {
                    "size": entry[0],
                    "sha256": entry[1],
                    "sm3": entry[2],
                    "batch": auth.batch_uid,
                    "item": auth.item_id,
                    "approved_by": auth.approved_by,
                    "at": now,
                }
                files += 1
                size += int(entry[0])
            missing = [p for p in paths if p not in doc["objects"] and p not in destroyed]
            if missing:
                raise Conflict(f"包 {package_id} 中没有对象：{'、'.join(missing[:5])}")
            if gone:
                _write_index(index, doc)  # uncommit first: readers no longer see the objects
            for p in paths:
                target = folder / p
                if target.exists():
                    target.unlink()
                    done.append(f"{package_id}/{p}")
            if gone:
                _fsync_dir(folder)
    return DestroyedObjects(files, size, tuple(done))
