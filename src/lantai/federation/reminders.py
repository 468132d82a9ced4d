"""Daily deadline check of 跨馆查档 requests: an alert for every request overdue at this node.

A request is overdue here when the deadline running is this node's (``due_side`` = ``side``:
the 受理馆's 2 days to check, its 2 days to inform the applicant; the 协办馆's 4 days to answer)
and today (Asia/Shanghai) is after ``due_on`` in working days. :func:`check_deadlines` raises one
open alert per overdue request (``livelihood.overdue``, object key ``livelihood:<ref>``; the
storage alert table and :func:`lantai.storage.alerts.raise_alert`, so it is audited and listed
with the other alerts), bumps it while the request stays overdue, and resolves it when the step
is taken or the request is closed. The ``federation.remind`` job runs it and queues itself again
for the next day; :func:`ensure_schedule` queues the first run (``lantai node init`` and
``lantai node remind`` call it), so the schedule lives in the ``jobs`` table and survives
restarts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.federation.livelihood import Side, State, deadline_flag, today
from lantai.instance import Instance
from lantai.jobs import JobContext, JobKind, JobRegistry, JobState, enqueue
from lantai.storage.alerts import AlertKind, Severity, raise_alert, resolve_alerts
from lantai.store import Alert, Job, utcnow
from lantai.store.federation import LivelihoodRequest

__all__ = ["REMIND_KIND", "ReminderReport", "check_deadlines", "ensure_schedule", "register"]

REMIND_KIND = "federation.remind"
ACTOR = "system:federation"
INTERVAL = timedelta(hours=24)
_PREFIX = "livelihood:"


@dataclass
class ReminderReport:
    overdue: list[str] = field(default_factory=list)
    due_soon: list[str] = field(default_factory=list)
    raised: list[str] = field(default_factory=list)  # new alerts (not bumps of open ones)
    resolved: int = 0


def check_deadlines(inst: Instance, on: date | None = None) -> ReminderReport:
    """Raise, bump or resolve the overdue alerts of the open requests (see the module doc)."""
    day = on or today()
    report = ReminderReport()
    with inst.db.write() as s:
        rows = s.scalars(
            select(LivelihoodRequest)
            .where(LivelihoodRequest.closed_at.is_(None))
            .order_by(LivelihoodRequest.id)
        ).all()
        for req in rows:
            if req.due_side != req.side or req.due_on is None:
                continue  # the deadline running is the partner's
            flag = deadline_flag(inst, req, day)
            if flag.due_soon:
                report.due_soon.append(req.ref)
            if not flag.overdue:
                continue
            report.overdue.append(req.ref)
            key = _PREFIX + req.ref
            before = _open(s, key)
            state = State(req.state)
            raise_alert(
                inst,
                s,
                actor=ACTOR,
                kind=AlertKind.LIVELIHOOD_OVERDUE,
                severity=Severity.WARNING,
                object_key=key,
                message=(
                    f"跨馆查档申请 {req.ref}（本馆为{Side(req.side).label}）已逾期："
                    f"应于 {req.due_on:%Y-%m-%d} 前办理，当前「{state.label}」"
                ),
                detail={
                    "ref": req.ref,
                    "side": req.side,
                    "state": req.state,
                    "due_on": req.due_on.isoformat(),
                    "workdays_over": -(flag.workdays_left or 0),
                },
            )
            if before is None:
                report.raised.append(req.ref)
        overdue = {_PREFIX + ref for ref in report.overdue}
        for alert in s.scalars(
            select(Alert).where(
                Alert.kind == AlertKind.LIVELIHOOD_OVERDUE.value, Alert.resolved_at.is_(None)
            )
        ).all():
            if alert.object_key not in overdue:
                report.resolved += resolve_alerts(
                    inst,
                    s,
                    actor=ACTOR,
                    kind=AlertKind.LIVELIHOOD_OVERDUE,
                    object_key=alert.object_key,
                    resolution="已办理或已办结",
                )
    return report


def _open(s: Session, key: str) -> Alert | None:
    return s.scalar(
        select(Alert).where(
            Alert.kind == AlertKind.LIVELIHOOD_OVERDUE.value,
            Alert.object_key == key,
            Alert.resolved_at.is_(None),
        )
    )


def ensure_schedule(s: Session, *, delay: timedelta = timedelta(0)) -> bool:
    """Queue the daily check unless one is queued or running; True when one was added."""
    pending = s.scalar(
        select(Job.id).where(
            Job.kind == REMIND_KIND,
            Job.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]),
        )
    )
    if pending is not None:
        return False
    job = enqueue(s, REMIND_KIND, {"scheduled": True}, created_by=ACTOR, max_attempts=1)
    job.run_after = utcnow() + delay
    return True


def _next(inst: Instance) -> None:
    with inst.db.write() as s:
        queued = select(Job.id).where(Job.kind == REMIND_KIND, Job.state == JobState.QUEUED.value)
        if s.scalar(queued) is not None:
            return  # a run killed after queuing its next day is given up: one daily check only
        job = enqueue(s, REMIND_KIND, {"scheduled": True}, created_by=ACTOR, max_attempts=1)
        job.run_after = utcnow() + INTERVAL


def _run(ctx: JobContext) -> None:
    report = check_deadlines(ctx.inst)
    ctx.progress(
        "remind",
        len(report.overdue),
        len(report.overdue),
        message=f"逾期 {len(report.overdue)} 件（新告警 {len(report.raised)}），"
        f"即将到期 {len(report.due_soon)} 件",
        force=True,
    )
    _next(ctx.inst)


def _give_up(inst: Instance, _job_id: int, _params: Mapping[str, Any], _error: str) -> None:
    _next(inst)  # a failed check must not end the daily schedule


def register(registry: JobRegistry) -> None:
    registry.add(JobKind(name=REMIND_KIND, run=_run, max_attempts=1, on_give_up=_give_up))
