"""The copy ledger: which locations hold which package, with digests and last verification.

:func:`policy_satisfied` is the answer to "is this package preserved as the policy demands":
every required location holds a copy whose package digest equals the primary copy's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.storage.base import PackageInfo
from lantai.storage.policy import StoragePolicy, load_policy
from lantai.store import StorageCopy, utcnow

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = [
    "CopyState",
    "copies",
    "copy_state_label",
    "ensure_rows",
    "policy_satisfied",
    "record_copy",
]


class CopyState(StrEnum):
    PENDING = "pending"
    PRESENT = "present"
    DAMAGED = "damaged"
    UNRECOVERABLE = "unrecoverable"
    # an approved 销毁 could not be carried out here yet (unreachable); replication and fixity
    # audits complete it from ``destroyed_objects`` — the copy still holds destroyed content
    DESTROY_PENDING = "destroy_pending"

    @property
    def label(self) -> str:
        return {
            "pending": "待复制",
            "present": "完好",
            "damaged": "受损待修复",
            "unrecoverable": "不可恢复",
            "destroy_pending": "待完成销毁",
        }[self.value]


def copy_state_label(state: str) -> str:
    return CopyState(state).label if state in CopyState._value2member_map_ else state


def copies(s: Session, package_id: str) -> list[StorageCopy]:
    return list(
        s.scalars(
            select(StorageCopy)
            .where(StorageCopy.package_id == package_id)
            .order_by(StorageCopy.location)
        )
    )


def _row(s: Session, package_id: str, location: str) -> StorageCopy:
    row = s.scalar(
        select(StorageCopy).where(
            StorageCopy.package_id == package_id, StorageCopy.location == location
        )
    )
    if row is None:
        row = StorageCopy(
            package_id=package_id,
            location=location,
            state=CopyState.PENDING.value,
            bytes=0,
            objects=0,
            attempts=0,
            verify_detail={},
            created_at=utcnow(),
        )
        s.add(row)
        s.flush()
    return row


def ensure_rows(s: Session, policy: StoragePolicy, package_id: str) -> list[StorageCopy]:
    """A ledger row for every required location of ``package_id`` (pending when new)."""
    return [_row(s, package_id, loc.name) for loc in policy.required_locations()]


def record_copy(s: Session, package_id: str, location: str, info: PackageInfo) -> StorageCopy:
    row = _row(s, package_id, location)
    row.state = CopyState.PRESENT.value
    row.package_digest = info.digest
    row.bytes = info.bytes
    row.objects = info.objects
    row.copied_at = row.copied_at or utcnow()
    row.last_error = None
    return row


def policy_satisfied(inst: Instance, package_id: str, policy: StoragePolicy | None = None) -> bool:
    """True when every required location holds an intact copy with the primary's digest."""
    policy = policy or load_policy(inst.settings.resolved_config_dir)
    with inst.db.read() as s:
        rows = {r.location: r for r in copies(s, package_id)}
    primary = rows.get(policy.primary.name)
    if primary is None or primary.state != CopyState.PRESENT or not primary.package_digest:
        return False
    for loc in policy.required_locations():
        row = rows.get(loc.name)
        if row is None or row.state != CopyState.PRESENT:
            return False
        if row.package_digest != primary.package_digest:
            return False
    return True
