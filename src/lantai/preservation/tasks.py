"""``preservation.migrate`` {transfer?, record?, all?, actor} — format migration as a job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lantai.jobs import JobContext, JobKind, JobRegistry, enqueue
from lantai.preservation.migrate import migrate

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lantai.store import Job

__all__ = ["MIGRATE_KIND", "enqueue_migration", "register"]

MIGRATE_KIND = "preservation.migrate"


def enqueue_migration(
    s: Session,
    *,
    actor: str,
    transfer_uid: str | None = None,
    record_id: int | None = None,
    everything: bool = False,
) -> Job:
    params = {"transfer": transfer_uid, "record": record_id, "all": everything, "actor": actor}
    return enqueue(s, MIGRATE_KIND, params, created_by=actor, max_attempts=1)


def _run(ctx: JobContext) -> None:
    p = ctx.params
    summary = migrate(
        ctx.inst,
        str(p.get("actor") or "system:preservation"),
        transfer_uid=p.get("transfer"),
        record_id=p.get("record"),
        everything=bool(p.get("all")),
        progress=lambda done, total: ctx.progress("migrate", done, total),
    )
    ctx.progress(
        "migrate",
        summary.converted,
        summary.converted + summary.skipped + summary.failed,
        message=f"已迁移 {summary.converted}，未转换 {summary.skipped}，失败 {summary.failed}",
    )


def register(registry: JobRegistry) -> None:
    registry.add(JobKind(name=MIGRATE_KIND, run=_run, max_attempts=1))
