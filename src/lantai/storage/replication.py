"""Replication: copy every committed package to every location the storage policy requires.

:func:`copy_package` streams each object from a source store into the target's package writer,
which verifies size, SHA-256 and SM3 as it writes; the replica keeps the source's ``created``, so
its index — and its package digest — is byte-identical, and that equality is checked before the
copy is entered in the ledger. :func:`replicate` does this for one package and every required
location; a location that fails (unreachable, time-out, mismatch) leaves a ``pending`` ledger row,
raises a 副本缺失 alert and makes the job fail so it is retried with back-off.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import update

from lantai import faults
from lantai.audit import EventType
from lantai.errors import IntegrityFailure, LantaiError
from lantai.storage.alerts import AlertKind, Severity, raise_alert, resolve_alerts
from lantai.storage.base import ObjectInfo, ObjectStore, PackageInfo
from lantai.storage.destruction import complete_destruction, destroyed_paths
from lantai.storage.ledger import CopyState, ensure_rows, policy_satisfied, record_copy
from lantai.storage.policy import StoragePolicy
from lantai.storage.system import STORAGE_ACTOR, StorageSystem
from lantai.store import IngestTransfer, StorageCopy, utcnow

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = [
    "DestroyedContent",
    "ReplicaMismatch",
    "ReplicationIncomplete",
    "copy_package",
    "replicate",
]

log = logging.getLogger("lantai.storage")

COPY_THREADS = 4  # objects of one package copied at a time


class ReplicaMismatch(IntegrityFailure):
    """The replica's package digest differs from the source's."""

    code = "replica_mismatch"


class DestroyedContent(LantaiError):
    """A copy would carry content an approved 销毁 removed."""

    status = 409
    code = "destroyed_content"


class ReplicationIncomplete(LantaiError):
    """Some required copies could not be made (the job is retried)."""

    status = 503
    code = "replication_incomplete"


def copy_package(
    src: ObjectStore, dst: ObjectStore, package_id: str, *, destroyed: Collection[str] = ()
) -> PackageInfo:
    """Copy one committed package (verified, streaming); a no-op when ``dst`` already has it.

    The source's ``"destroyed"`` entries go into the replica's index as they are (same digest);
    an object listed in ``destroyed`` (the ``destroyed_objects`` table) is never copied — a
    source that still holds one is refused, its destruction must be completed first.
    """
    info = src.package(package_id)
    if info is None:
        raise LantaiError(f"源存储中没有已提交的信息包 {package_id}")
    existing = dst.package(package_id)
    if existing is not None and existing.digest == info.digest:
        return existing
    objects = list(src.list(f"{package_id}/"))
    stale = [o.key for o in objects if o.key.partition("/")[2] in destroyed]
    if stale:
        raise DestroyedContent(
            f"源存储仍含已销毁的对象（{'、'.join(stale[:3])}），须先完成销毁，不得复制"
        )
    with dst.begin(package_id) as w:
        w.created = info.created
        w.destroyed = src.tombstones(package_id) or None

        def copy(obj: ObjectInfo) -> None:
            with src.open(obj.key) as f:
                w.put_stream(
                    obj.key.partition("/")[2], f, size=obj.size, sha256=obj.sha256, sm3=obj.sm3
                )

        # Hashing (hashlib releases the GIL), reads and writes of several objects overlap.
        with ThreadPoolExecutor(COPY_THREADS, thread_name_prefix="lantai-replicate") as pool:
            try:
                for _ in pool.map(copy, objects):
                    pass
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # the rest would be thrown away
                raise
        copied = w.commit()
    if copied.digest != info.digest:
        raise ReplicaMismatch(
            f"信息包 {package_id} 的副本摘要 {copied.digest} 与源 {info.digest} 不一致"
        )
    return copied


@dataclass
class ReplicationResult:
    package_id: str
    copied: list[str] = field(default_factory=list)  # locations written now
    present: list[str] = field(default_factory=list)  # locations that already had it
    failed: dict[str, str] = field(default_factory=dict)  # location → error


def replicate(
    inst: Instance,
    package_id: str,
    *,
    system: StorageSystem | None = None,
    raise_on_missing: bool = True,
) -> ReplicationResult:
    """Make every required copy of ``package_id``; ReplicationIncomplete if any is still missing."""
    system = system or StorageSystem(inst)
    policy = system.policy
    result = ReplicationResult(package_id)
    primary = system.store(policy.primary.name)
    source = primary.package(package_id)
    if source is None:
        raise LantaiError(f"主存储中没有已提交的信息包 {package_id}")
    # An approved 销毁 that some location missed is completed before anything is copied: the
    # primary first (never copy from a stale source), then every other location.
    with inst.db.read() as s:
        gone = destroyed_paths(s, package_id)
    if gone:
        complete_destruction(inst, system, package_id, policy.primary.name)
        source = primary.package(package_id) or source
        for loc in policy.locations:
            if loc.primary:
                continue
            try:
                complete_destruction(inst, system, package_id, loc.name)
            except (LantaiError, OSError) as exc:
                log.warning("completing destruction of %s at %s: %s", package_id, loc.name, exc)
    with inst.db.write() as s:
        ensure_rows(s, policy, package_id)
        record_copy(s, package_id, policy.primary.name, source)
    for loc in policy.required_locations():
        if loc.primary:
            result.present.append(loc.name)
            continue
        try:
            store = system.store(loc.name)
            before = store.package(package_id)
            info = copy_package(primary, store, package_id, destroyed=gone)
            faults.point("replication.copied")
        except (LantaiError, OSError) as exc:
            message = (
                exc.message if isinstance(exc, LantaiError) else f"{type(exc).__name__}: {exc}"
            )
            result.failed[loc.name] = message
            with inst.db.write() as s:
                row = next(r for r in ensure_rows(s, policy, package_id) if r.location == loc.name)
                row.attempts += 1
                row.last_error = message[:4000]
                if row.state == CopyState.PRESENT:
                    row.state = CopyState.PENDING
                raise_alert(
                    inst,
                    s,
                    actor=STORAGE_ACTOR,
                    kind=AlertKind.REPLICA_MISSING,
                    severity=Severity.WARNING,
                    location=loc.name,
                    package_id=package_id,
                    message=f"信息包 {package_id} 在存储位置「{loc.label}」的副本未能写入：{message}",
                    detail={"attempts": row.attempts},
                )
            log.warning("replicating %s to %s failed: %s", package_id, loc.name, message)
            continue
        if before is not None and before.digest == info.digest:
            result.present.append(loc.name)
        else:
            result.copied.append(loc.name)
        with inst.db.write() as s:
            row = record_copy(s, package_id, loc.name, info)
            row.attempts += 1
            if loc.name in result.copied:
                inst.audit.append(
                    s,
                    actor=STORAGE_ACTOR,
                    action=EventType.STORAGE_PACKAGE_REPLICATED,
                    object_type="package",
                    object_id=package_id,
                    detail={
                        "location": loc.name,
                        "site": loc.site,
                        "medium": loc.medium,
                        "package_digest": info.digest,
                        "objects": info.objects,
                        "bytes": info.bytes,
                    },
                )
            resolve_alerts(
                inst,
                s,
                actor=STORAGE_ACTOR,
                kind=AlertKind.REPLICA_MISSING,
                location=loc.name,
                package_id=package_id,
                resolution="副本已写入并校验",
            )
        faults.point("replication.recorded")
    if not result.failed:
        mark_preserved(inst, package_id, system.policy)
    if result.failed and raise_on_missing:
        raise ReplicationIncomplete(
            f"信息包 {package_id} 尚缺副本："
            + "；".join(f"{k}（{v}）" for k, v in sorted(result.failed.items()))
        )
    return result


def mark_preserved(inst: Instance, package_id: str, policy: StoragePolicy) -> bool:
    """Set ``transfers.preserved_at`` of the transfer whose AIP this is, once the policy is
    satisfied (the transfer is 已按策略保存 from then on; 副本复制中 before). True if set now."""
    if not policy_satisfied(inst, package_id, policy):
        return False
    with inst.db.write() as s:
        done = s.execute(
            update(IngestTransfer)
            .where(IngestTransfer.aip_id == package_id, IngestTransfer.preserved_at.is_(None))
            .values(preserved_at=utcnow())
        )
    return bool(getattr(done, "rowcount", 0))


def pending_packages(inst: Instance, system: StorageSystem) -> list[str]:
    """Committed packages of the primary whose required copies are not all present."""
    from sqlalchemy import select

    required = {loc.name for loc in system.policy.required_locations()}
    with inst.db.read() as s:
        rows = s.execute(select(StorageCopy.package_id, StorageCopy.location, StorageCopy.state))
        present: dict[str, set[str]] = {}
        for pid, loc, state in rows:
            if state == CopyState.PRESENT:
                present.setdefault(pid, set()).add(loc)
    primary = system.store(system.policy.primary.name)
    return [pid for pid in primary.packages() if not required <= present.get(pid, set())]
