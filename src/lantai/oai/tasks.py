"""The ``oai.harvest`` job kind: harvest every enabled partner (or one), optionally rescheduled.

Params: ``{"partner": <name>?, "scheduled": bool, "interval_hours": float}``. A scheduled run
queues the next one ``interval_hours`` later (default 24), so the schedule lives in the jobs table
and survives restarts, like the storage schedules. ``lantai oai schedule`` queues the first run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.jobs import JobContext, JobKind, JobRegistry, JobState, enqueue
from lantai.oai.harvester import Harvester
from lantai.store import Job, OaiPartner, utcnow

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = ["HARVEST_KIND", "register", "schedule_harvests"]

HARVEST_KIND = "oai.harvest"


def _queue(s: Session, interval_hours: float, delay_hours: float) -> None:
    job = enqueue(
        s,
        HARVEST_KIND,
        {"scheduled": True, "interval_hours": interval_hours},
        created_by="system:oai",
        max_attempts=1,
    )
    job.run_after = utcnow() + timedelta(hours=delay_hours)


def schedule_harvests(inst: Instance, interval_hours: float = 24.0) -> bool:
    """Queue a scheduled harvest (due now) unless one is queued; True when one was added."""
    with inst.db.write() as s:
        queued = s.scalars(
            select(Job).where(
                Job.kind == HARVEST_KIND,
                Job.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]),
            )
        )
        if any(j.params.get("scheduled") for j in queued):
            return False
        _queue(s, interval_hours, 0)
    return True


def _run(ctx: JobContext) -> None:
    inst = ctx.inst
    with inst.db.read() as s:
        q = select(OaiPartner.name, OaiPartner.base_url, OaiPartner.set_spec).where(
            OaiPartner.enabled.is_(True)
        )
        if ctx.params.get("partner"):
            q = q.where(OaiPartner.name == ctx.params["partner"])
        partners = s.execute(q.order_by(OaiPartner.name)).all()
    try:
        for i, (name, url, set_spec) in enumerate(partners):
            ctx.progress("harvest", i, len(partners), message=f"收割 {name}")
            Harvester(inst).harvest(name, url, set_spec=set_spec)
    finally:
        if ctx.params.get("scheduled"):
            hours = float(ctx.params.get("interval_hours", 24.0))
            with inst.db.write() as s:
                _queue(s, hours, hours)


def register(registry: JobRegistry) -> None:
    registry.add(JobKind(name=HARVEST_KIND, run=_run, max_attempts=1))
