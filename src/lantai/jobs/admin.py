"""Watching and steering jobs: views with rate and ETA, counts, retry and cancel (audited).

Shared by ``lantai jobs …`` and the 作业 page / ``/api/jobs``; it reads only the ``jobs`` table, so
it shows the same for the in-process and the Redis backend.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lantai.audit import EventType
from lantai.errors import NotFound, ValidationFailed
from lantai.jobs.base import JobState
from lantai.store import Job, utcnow

if TYPE_CHECKING:
    from lantai.instance import Instance
    from lantai.security import Actor

__all__ = [
    "KIND_LABELS",
    "JobView",
    "cancel_job",
    "job_counts",
    "job_view",
    "list_jobs",
    "retry_job",
]

KIND_LABELS = {
    "ingest.transfer": "一键归档（移交接收）",
    "storage.replicate": "复制到存储位置",
    "storage.fixity": "固定性检测",
    "storage.monitor": "存储空间监测",
    "backup.verify": "备份校验",
    "digitisation.qc": "图像质检",
    "digitisation.ocr": "文字识别（OCR）",
    "digitisation.asr": "语音转写（ASR）",
    "preservation.migrate": "格式迁移（转换为 PDF/A）",
}


@dataclass(frozen=True)
class JobView:
    id: int
    kind: str
    kind_label: str
    state: str
    state_label: str
    attempts: int
    max_attempts: int
    step: str
    done: int | None
    total: int | None
    percent: float | None
    rate: float | None  # units (pages, files …) per second in the current step
    eta_seconds: float | None
    message: str
    error: str | None
    owner: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        for k in ("created_at", "started_at", "finished_at"):
            out[k] = out[k].isoformat() if out[k] else None
        return out


def job_view(job: Job, *, now: float | None = None) -> JobView:
    p = job.progress or {}
    done, total = p.get("done"), p.get("total")
    percent = round(100.0 * done / total, 1) if done is not None and total else None
    rate = eta = None
    since, at = p.get("since"), p.get("at")
    if done is not None and since and at:
        state = JobState(job.state)
        # a running job's rate counts up to now (a stalled worker shows a falling rate)
        end = (now or time.time()) if state is JobState.RUNNING else at
        elapsed = max(end - since, 1e-6)
        moved = done - int(p.get("done_at_since") or 0)
        if moved > 0:
            rate = moved / elapsed
            if total is not None and state is JobState.RUNNING:
                eta = max(0, total - done) / rate
    return JobView(
        id=job.id,
        kind=job.kind,
        kind_label=KIND_LABELS.get(job.kind, job.kind),
        state=job.state,
        state_label=JobState(job.state).label,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        step=str(p.get("step") or ""),
        done=done,
        total=total,
        percent=percent,
        rate=round(rate, 3) if rate is not None else None,
        eta_seconds=round(eta, 1) if eta is not None else None,
        message=str(p.get("message") or ""),
        error=job.error,
        owner=job.lease_owner,
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def list_jobs(
    session: Session,
    *,
    state: str | None = None,
    kind: str | None = None,
    limit: int = 100,
) -> list[JobView]:
    """Newest first; running and queued jobs before finished ones."""
    q = select(Job)
    if state:
        try:
            q = q.where(Job.state == JobState(state).value)
        except ValueError:
            raise ValidationFailed(
                f"作业状态「{state}」无效，可选：{'、'.join(s.value for s in JobState)}"
            ) from None
    if kind:
        q = q.where(Job.kind == kind)
    q = q.order_by(Job.id.desc()).limit(max(1, min(limit, 1000)))
    now = time.time()
    return [job_view(j, now=now) for j in session.scalars(q)]


def job_counts(session: Session) -> dict[str, dict[str, int]]:
    """{kind: {state: n}} plus ``"*"`` for all kinds."""
    out: dict[str, dict[str, int]] = {"*": {s.value: 0 for s in JobState}}
    rows = session.execute(select(Job.kind, Job.state, func.count()).group_by(Job.kind, Job.state))
    for kind, state, n in rows:
        out.setdefault(kind, {s.value: 0 for s in JobState})[state] = n
        out["*"][state] = out["*"].get(state, 0) + n
    return out


def _get(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"后台作业 {job_id} 不存在")
    return job


def retry_job(inst: Instance, session: Session, actor: Actor, job_id: int) -> Job:
    """Queue a failed or cancelled job again with fresh attempts."""
    job = _get(session, job_id)
    if job.state not in (JobState.FAILED.value, JobState.CANCELLED.value):
        raise ValidationFailed(
            f"作业 {job_id} 当前为「{JobState(job.state).label}」，只有失败或已取消的作业可以重试"
        )
    previous = job.state
    job.state = JobState.QUEUED.value
    job.attempts = 0
    job.run_after = utcnow()
    job.finished_at = None
    job.updated_at = utcnow()
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.JOB_RETRIED,
        object_type="job",
        object_id=job.id,
        detail={"kind": job.kind, "previous_state": previous, "error": job.error},
    )
    return job


def cancel_job(inst: Instance, session: Session, actor: Actor, job_id: int) -> Job:
    """Cancel a queued job, or revoke a running job's lease so it stops at its next report."""
    job = _get(session, job_id)
    if job.state not in (JobState.QUEUED.value, JobState.RUNNING.value):
        raise ValidationFailed(
            f"作业 {job_id} 当前为「{JobState(job.state).label}」，只有排队中或运行中的作业可以取消"
        )
    previous, owner = job.state, job.lease_owner
    job.state = JobState.CANCELLED.value
    job.lease_owner = None
    job.lease_expires = None
    job.finished_at = utcnow()
    job.updated_at = utcnow()
    job.error = f"由 {actor.username} 取消"
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.JOB_CANCELLED,
        object_type="job",
        object_id=job.id,
        detail={"kind": job.kind, "previous_state": previous, "owner": owner},
    )
    return job
