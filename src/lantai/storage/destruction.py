"""An approved 销毁 carried out on every storage location, and completed where it was missed.

:func:`destroy_everywhere` is called by :func:`lantai.disposal.service.execute` inside the
transaction that marks the records destroyed. It writes the authoritative list of destroyed
objects (``destroyed_objects``), then calls :meth:`ObjectStore.destroy_objects` on every location
of the policy that holds the package, and records each location's new package digest in the
ledger. A location that cannot be reached keeps its ledger row ``destroy_pending`` and raises a
销毁未完成 alert.

:func:`complete_destruction` finishes the job on such a location: replication runs it on every
location before copying a package, and fixity audits before reading one, so a stale replica that
still holds a destroyed object is never taken as "good bytes" for a repair and its content is
never copied anywhere — the destruction is completed there instead. The order it replays is
rebuilt from ``destroyed_objects`` and re-checked against the disposal tables (the item executed,
the final round's decision 销毁 by the recorded approver).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai import faults
from lantai.audit import EventType
from lantai.errors import LantaiError
from lantai.storage.alerts import AlertKind, Severity, raise_alert, resolve_alerts
from lantai.storage.base import DestructionOrder, DestructionResult, ObjectStore
from lantai.storage.ledger import CopyState, record_copy
from lantai.storage.system import STORAGE_ACTOR, StorageSystem
from lantai.store import (
    DestroyedObject,
    DisposalBatch,
    DisposalDecision,
    DisposalItem,
    StorageCopy,
)

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = [
    "DestructionReport",
    "complete_destruction",
    "destroy_everywhere",
    "destroyed_packages",
    "destroyed_paths",
]

log = logging.getLogger("lantai.storage")


@dataclass
class DestructionReport:
    files: int = 0
    bytes: int = 0
    # location → {"state": destroyed | pending | absent, "digest", "removed", "superseded", "error"}
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)


def _ledger_row(s: Session, package_id: str, location: str) -> StorageCopy | None:
    return s.scalar(
        select(StorageCopy).where(
            StorageCopy.package_id == package_id, StorageCopy.location == location
        )
    )


def _record_done(
    s: Session, package_id: str, location: str, result: DestructionResult
) -> StorageCopy:
    row = _ledger_row(s, package_id, location)
    if row is None or row.state in (CopyState.PRESENT, CopyState.DESTROY_PENDING):
        row = record_copy(s, package_id, location, result.package)
    else:  # damaged / unrecoverable stay so until an audit says otherwise; the digest moves on
        row.package_digest = result.package.digest
        row.bytes, row.objects = result.package.bytes, result.package.objects
    detail = dict(row.verify_detail or {})
    detail["destroyed"] = sorted(set(detail.get("destroyed", [])) | set(result.destroyed))[:500]
    if result.superseded:
        detail["superseded_volumes"] = sorted(
            set(detail.get("superseded_volumes", [])) | set(result.superseded)
        )
    row.verify_detail = detail
    return row


def destroy_everywhere(
    inst: Instance,
    s: Session,
    order: DestructionOrder,
    keys: Sequence[tuple[str, str]],
    *,
    actor: str,
    system: StorageSystem | None = None,
) -> DestructionReport:
    """Destroy ``keys`` ((package id, path)) of one authorised item on every location."""
    system = system or StorageSystem(inst)
    by_package: dict[str, list[str]] = {}
    for package_id, path in keys:
        by_package.setdefault(package_id, []).append(path)
    report = DestructionReport()
    entries: dict[tuple[str, str], list[Any]] = {}
    for loc in system.policy.locations:
        for package_id, paths in sorted(by_package.items()):
            where = f"{loc.name}:{package_id}" if len(by_package) > 1 else loc.name
            try:
                store = system.store(loc.name)
                store.probe()
                if store.package(package_id) is None:
                    report.locations[where] = {"state": "absent"}
                    continue
                for p in paths:
                    if (package_id, p) not in entries:
                        entries[(package_id, p)] = _entry(store, package_id, p)
                result = store.destroy_objects(package_id, paths, authorisation=order)
            except (LantaiError, OSError) as exc:
                message = exc.message if isinstance(exc, LantaiError) else str(exc)
                report.locations[where] = {"state": "pending", "error": message[:500]}
                _pending(inst, s, package_id, loc.name, loc.label, message, actor)
                continue
            _record_done(s, package_id, loc.name, result)
            faults.point("disposal.location.destroyed")
            report.locations[where] = {
                "state": "destroyed",
                "digest": result.package.digest,
                "removed": result.removed,
                "superseded": list(result.superseded),
            }
    for (package_id, path), entry in sorted(entries.items()):
        exists = s.scalar(
            select(DestroyedObject.id).where(
                DestroyedObject.package_id == package_id, DestroyedObject.path == path
            )
        )
        if exists is None:
            s.add(
                DestroyedObject(
                    package_id=package_id,
                    path=path,
                    size=int(entry[0]),
                    sha256=str(entry[1]),
                    sm3=str(entry[2]),
                    batch_uid=order.batch_uid,
                    item_id=order.item_id,
                    record_id=order.record_id,
                    approved_by=order.approved_by,
                    approved_at=order.approved_at,
                    destroyed_at=order.destroyed_at,
                )
            )
        report.files += 1
        report.bytes += int(entry[0])
    s.flush()
    return report


def _entry(store: ObjectStore, package_id: str, path: str) -> list[Any]:
    """[size, sha256, sm3] of an object, live or already destroyed at this location."""
    tomb = store.tombstones(package_id).get(path)
    if tomb is not None:
        return [tomb["size"], tomb["sha256"], tomb["sm3"]]
    info = store.stat(f"{package_id}/{path}")
    return [info.size, info.sha256, info.sm3]


def _pending(
    inst: Instance,
    s: Session,
    package_id: str,
    location: str,
    label: str,
    message: str,
    actor: str,
) -> None:
    row = _ledger_row(s, package_id, location)
    if row is not None:
        row.state = CopyState.DESTROY_PENDING.value
        row.last_error = message[:4000]
    raise_alert(
        inst,
        s,
        actor=actor,
        kind=AlertKind.DESTRUCTION_PENDING,
        severity=Severity.CRITICAL,
        location=location,
        package_id=package_id,
        message=(
            f"信息包 {package_id} 在存储位置「{label}」的销毁未能执行：{message}；"
            "复制与固定性检测将在该位置可访问时完成销毁"
        ),
    )
    log.warning("destruction of %s at %s pending: %s", package_id, location, message)


def destroyed_packages(inst: Instance) -> set[str]:
    with inst.db.read() as s:
        return set(s.scalars(select(DestroyedObject.package_id).distinct()))


def destroyed_paths(s: Session, package_id: str) -> set[str]:
    return set(
        s.scalars(select(DestroyedObject.path).where(DestroyedObject.package_id == package_id))
    )


def _orders(s: Session, package_id: str) -> list[tuple[DestructionOrder, list[str]]]:
    """The executed, still-authorised destructions of a package, as orders to replay."""
    rows = list(
        s.scalars(
            select(DestroyedObject)
            .where(DestroyedObject.package_id == package_id)
            .order_by(DestroyedObject.id)
        )
    )
    grouped: dict[DestructionOrder, list[str]] = {}
    for r in rows:
        order = DestructionOrder(
            batch_uid=r.batch_uid,
            item_id=r.item_id,
            record_id=r.record_id,
            approved_by=r.approved_by,
            approved_at=r.approved_at,
            destroyed_at=r.destroyed_at,
        )
        grouped.setdefault(order, []).append(r.path)
    out = []
    for order, paths in grouped.items():
        if _executed(s, order):
            out.append((order, paths))
        else:
            log.error("destroyed_objects rows of %s not backed by an executed decision", order)
    return out


def _executed(s: Session, order: DestructionOrder) -> bool:
    row = s.execute(
        select(DisposalItem, DisposalBatch)
        .join(DisposalBatch, DisposalBatch.id == DisposalItem.batch_id)
        .where(DisposalItem.id == order.item_id, DisposalBatch.uid == order.batch_uid)
    ).first()
    if row is None:
        return False
    item, batch = row
    if item.state != "destroyed" or item.record_id != order.record_id:
        return False
    decision = s.scalar(
        select(DisposalDecision).where(
            DisposalDecision.item_id == item.id, DisposalDecision.round == len(batch.rounds)
        )
    )
    return (
        decision is not None
        and decision.decision == "destroy"
        and decision.reviewer == order.approved_by
    )


def complete_destruction(
    inst: Instance,
    system: StorageSystem,
    package_id: str,
    location: str,
    *,
    actor: str = STORAGE_ACTOR,
) -> list[str]:
    """Carry out every executed destruction of ``package_id`` that ``location`` still lacks.

    Returns the paths newly destroyed there (empty when it was complete). Raises what the store
    raises (unreachable …): the caller leaves the copy as it is and tries again later.
    """
    with inst.db.read() as s:
        orders = _orders(s, package_id)
    if not orders:
        return []
    store = system.store(location)
    if store.package(package_id) is None:
        return []
    newly: list[str] = []
    removed = 0
    superseded: list[str] = []
    result: DestructionResult | None = None
    for order, paths in orders:
        result = store.destroy_objects(package_id, paths, authorisation=order)
        newly.extend(result.destroyed)
        removed += result.removed
        superseded.extend(result.superseded)
    if result is None:
        return []
    if not newly and not removed:
        with inst.db.write() as s:  # complete already (a ledger update that was lost)
            row = _ledger_row(s, package_id, location)
            if row is not None and row.state == CopyState.DESTROY_PENDING:
                _record_done(s, package_id, location, result)
        return []
    loc = system.policy.location(location)
    with inst.db.write() as s:
        _record_done(
            s,
            package_id,
            location,
            DestructionResult(
                package=result.package,
                destroyed=tuple(newly),
                removed=removed,
                bytes=0,
                superseded=tuple(superseded),
            ),
        )
        inst.audit.append(
            s,
            actor=actor,
            action=EventType.STORAGE_OBJECTS_DESTROYED,
            object_type="package",
            object_id=package_id,
            detail={
                "completion": True,
                "location": location,
                "site": loc.site,
                "medium": loc.medium,
                "objects": [f"{package_id}/{p}" for p in newly],
                "removed": removed,
                "superseded_volumes": superseded,
                "package_digest": result.package.digest,
                "batches": sorted({o.batch_uid for o, _ in orders}),
            },
        )
        resolve_alerts(
            inst,
            s,
            actor=actor,
            kind=AlertKind.DESTRUCTION_PENDING,
            location=location,
            package_id=package_id,
            resolution="销毁已在该存储位置完成",
        )
    log.warning("completed destruction of %s at %s: %s", package_id, location, newly)
    return newly
