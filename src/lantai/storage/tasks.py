"""Storage job kinds, registered by :func:`lantai.jobs.default_registry`.

* ``storage.replicate`` {package_id} — make every required copy; fails (and is retried with
  back-off: attempt n waits n × 30 s) while a location is missing; gives up with a critical alert.
* ``storage.fixity`` {location, package_id?, scheduled?} — audit one location; a scheduled run
  enqueues the next one ``fixity.interval_hours`` later.
* ``storage.monitor`` {scheduled?} — health of every location; scheduled every
  ``monitor.interval_minutes``.

:func:`ensure_schedules` queues the first scheduled fixity and monitor jobs when none is queued
(``lantai storage schedule``; the replication job calls it too), so the schedule survives
restarts: it lives in the ``jobs`` table.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.jobs import JobContext, JobKind, JobRegistry, JobState, enqueue
from lantai.storage.alerts import AlertKind, Severity, raise_alert
from lantai.storage.fixity import audit_location
from lantai.storage.monitor import check_locations
from lantai.storage.policy import load_policy
from lantai.storage.replication import replicate
from lantai.storage.system import STORAGE_ACTOR, StorageSystem
from lantai.store import Job, utcnow

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = [
    "FIXITY_KIND",
    "MONITOR_KIND",
    "REPLICATE_KIND",
    "enqueue_replication",
    "ensure_schedules",
    "register",
]

REPLICATE_KIND = "storage.replicate"
FIXITY_KIND = "storage.fixity"
MONITOR_KIND = "storage.monitor"


def enqueue_replication(
    inst: Instance, s: Session, package_id: str, *, created_by: str = ""
) -> Job:
    """Queue the replication of a committed package in ``s``'s transaction (idempotent)."""
    policy = load_policy(inst.settings.resolved_config_dir)
    return enqueue(
        s,
        REPLICATE_KIND,
        {"package_id": package_id},
        key=f"{REPLICATE_KIND}:{package_id}",
        created_by=created_by or STORAGE_ACTOR,
        max_attempts=policy.replication.max_attempts,
    )


def _queued(s: Session, kind: str, location: str | None = None) -> bool:
    rows = s.scalars(
        select(Job).where(
            Job.kind == kind, Job.state.in_([JobState.QUEUED.value, JobState.RUNNING.value])
        )
    )
    return any(
        r.params.get("scheduled") and (location is None or r.params.get("location") == location)
        for r in rows
    )


def _schedule(s: Session, kind: str, params: dict[str, Any], delay: timedelta) -> None:
    job = enqueue(s, kind, {**params, "scheduled": True}, created_by=STORAGE_ACTOR, max_attempts=1)
    job.run_after = utcnow() + delay


def ensure_schedules(inst: Instance) -> int:
    """Queue the scheduled fixity audits (per location) and monitor run if none is queued."""
    policy = load_policy(inst.settings.resolved_config_dir)
    added = 0
    with inst.db.write() as s:
        for loc in policy.locations:
            if not _queued(s, FIXITY_KIND, loc.name):
                _schedule(
                    s,
                    FIXITY_KIND,
                    {"location": loc.name},
                    timedelta(hours=policy.fixity.interval_hours),
                )
                added += 1
        if not _queued(s, MONITOR_KIND):
            _schedule(s, MONITOR_KIND, {}, timedelta(minutes=policy.monitor.interval_minutes))
            added += 1
    return added


def _run_replicate(ctx: JobContext) -> None:
    package_id = str(ctx.params["package_id"])
    ctx.progress("replicate", message=f"复制信息包 {package_id}")
    replicate(ctx.inst, package_id)
    ensure_schedules(ctx.inst)


def _replicate_given_up(inst: Instance, job_id: int, params: Mapping[str, Any], error: str) -> None:
    with inst.db.write() as s:
        raise_alert(
            inst,
            s,
            actor=STORAGE_ACTOR,
            kind=AlertKind.REPLICA_MISSING,
            severity=Severity.CRITICAL,
            package_id=str(params.get("package_id")),
            message=f"信息包 {params.get('package_id')} 的副本复制多次失败，已停止重试：{error}",
            detail={"job": job_id},
        )


def _run_fixity(ctx: JobContext) -> None:
    location = str(ctx.params["location"])
    system = StorageSystem(ctx.inst)
    try:
        audit_location(
            ctx.inst,
            location,
            package_id=ctx.params.get("package_id"),
            trigger="scheduled" if ctx.params.get("scheduled") else "manual",
            system=system,
            progress=lambda done, total: ctx.progress("fixity", done, total),
        )
    finally:
        if ctx.params.get("scheduled"):
            with ctx.inst.db.write() as s:
                _schedule(
                    s,
                    FIXITY_KIND,
                    {"location": location},
                    timedelta(hours=system.policy.fixity.interval_hours),
                )


def _run_monitor(ctx: JobContext) -> None:
    system = StorageSystem(ctx.inst)
    try:
        check_locations(ctx.inst, system)
    finally:
        if ctx.params.get("scheduled"):
            with ctx.inst.db.write() as s:
                _schedule(
                    s, MONITOR_KIND, {}, timedelta(minutes=system.policy.monitor.interval_minutes)
                )


def register(registry: JobRegistry) -> None:
    registry.add(
        JobKind(
            name=REPLICATE_KIND,
            run=_run_replicate,
            max_attempts=8,
            retry_seconds=30.0,
            on_give_up=_replicate_given_up,
        )
    )
    registry.add(JobKind(name=FIXITY_KIND, run=_run_fixity, max_attempts=1))
    registry.add(JobKind(name=MONITOR_KIND, run=_run_monitor, max_attempts=1))
