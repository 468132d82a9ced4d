"""Storage alerts: raised once per condition, bumped while it persists, resolved when it clears.

Every new alert and every resolution is an audit event (``storage:alert:raised`` /
``storage:alert:resolved``); the dashboard and ``lantai storage alerts`` list the open ones.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.audit import EventType
from lantai.errors import NotFound
from lantai.store import Alert, utcnow

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = ["AlertKind", "Severity", "open_alerts", "raise_alert", "resolve_alert", "resolve_alerts"]


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def label(self) -> str:
        return {"warning": "警告", "critical": "严重"}[self.value]


class AlertKind(StrEnum):
    LOCATION_UNREACHABLE = "storage.location_unreachable"
    SPACE_LOW = "storage.space_low"
    REPLICA_MISSING = "storage.replica_missing"
    FIXITY_FAILED = "storage.fixity_failed"
    UNRECOVERABLE = "storage.unrecoverable"
    DESTRUCTION_PENDING = "storage.destruction_pending"
    LIVELIHOOD_OVERDUE = "livelihood.overdue"  # 跨馆查档: lantai.federation.reminders

    @property
    def label(self) -> str:
        return {
            "storage.location_unreachable": "存储位置不可访问",
            "storage.space_low": "存储空间不足",
            "storage.replica_missing": "副本缺失",
            "storage.fixity_failed": "固定性检测未通过",
            "storage.unrecoverable": "不可恢复",
            "storage.destruction_pending": "销毁未完成",
            "livelihood.overdue": "跨馆查档逾期",
        }[self.value]


def _same(kind: str, location: str | None, package_id: str | None, object_key: str | None) -> Any:
    return select(Alert).where(
        Alert.kind == kind,
        Alert.location.is_(None) if location is None else Alert.location == location,
        Alert.package_id.is_(None) if package_id is None else Alert.package_id == package_id,
        Alert.object_key.is_(None) if object_key is None else Alert.object_key == object_key,
        Alert.resolved_at.is_(None),
    )


def raise_alert(
    inst: Instance,
    s: Session,
    *,
    actor: str,
    kind: AlertKind,
    severity: Severity,
    message: str,
    location: str | None = None,
    package_id: str | None = None,
    object_key: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Alert:
    """The open alert for this condition (count bumped), or a new one (audited)."""
    existing: Alert | None = s.scalar(_same(kind.value, location, package_id, object_key))
    now = utcnow()
    if existing is not None:
        existing.count += 1
        existing.last_seen_at = now
        existing.message = message
        if severity is Severity.CRITICAL:
            existing.severity = severity.value
        if detail:
            existing.detail = detail
        return existing
    alert = Alert(
        kind=kind.value,
        severity=severity.value,
        location=location,
        package_id=package_id,
        object_key=object_key,
        message=message,
        detail=detail or {},
        count=1,
        created_at=now,
        last_seen_at=now,
    )
    s.add(alert)
    s.flush()
    inst.audit.append(
        s,
        actor=actor,
        action=EventType.STORAGE_ALERT_RAISED,
        object_type="alert",
        object_id=alert.id,
        detail={
            "kind": kind.value,
            "severity": severity.value,
            "location": location,
            "package": package_id,
            "object": object_key,
            "message": message,
        },
    )
    return alert


def _resolve(inst: Instance, s: Session, alert: Alert, actor: str, resolution: str) -> None:
    alert.resolved_at = utcnow()
    alert.resolved_by = actor
    alert.resolution = resolution
    inst.audit.append(
        s,
        actor=actor,
        action=EventType.STORAGE_ALERT_RESOLVED,
        object_type="alert",
        object_id=alert.id,
        detail={"kind": alert.kind, "resolution": resolution},
    )


def resolve_alerts(
    inst: Instance,
    s: Session,
    *,
    actor: str,
    kind: AlertKind,
    resolution: str,
    location: str | None = None,
    package_id: str | None = None,
    object_key: str | None = None,
) -> int:
    """Resolve the open alerts of a condition that cleared; returns how many."""
    rows = list(s.scalars(_same(kind.value, location, package_id, object_key)))
    for alert in rows:
        _resolve(inst, s, alert, actor, resolution)
    return len(rows)


def resolve_alert(
    inst: Instance, s: Session, alert_id: int, *, actor: str, resolution: str
) -> Alert:
    alert = s.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"告警 {alert_id} 不存在")
    if alert.resolved_at is None:
        _resolve(inst, s, alert, actor, resolution)
    return alert


def open_alerts(s: Session, *, include_resolved: bool = False, limit: int = 500) -> list[Alert]:
    q = select(Alert)
    if not include_resolved:
        q = q.where(Alert.resolved_at.is_(None))
    return list(s.scalars(q.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)))
