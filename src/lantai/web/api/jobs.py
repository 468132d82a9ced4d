"""Background jobs (后台作业): list with counts, rate and ETA; retry and cancel (audited).

::

    GET   /api/jobs?state=&kind=&limit=     jobs (newest first) and counts per kind and state
    GET   /api/jobs/{job_id}                one job
    POST  /api/jobs/{job_id}/retry          queue a failed or cancelled job again
    POST  /api/jobs/{job_id}/cancel         cancel a queued or running job

The same for both backends: everything comes from the ``jobs`` table. With the Redis backend
``queue`` adds what Redis holds (waiting and unacknowledged messages, dead letters, consumers).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from lantai.errors import NotFound
from lantai.jobs.admin import cancel_job, job_counts, job_view, list_jobs, retry_job
from lantai.security import Actor, Perm
from lantai.store import Job, after_commit
from lantai.web.api.schemas import ErrorOut
from lantai.web.deps import get_instance, require

__all__ = ["jobs_payload", "router"]

router = APIRouter(
    prefix="/api/jobs",
    tags=["后台作业"],
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)

JobId = Annotated[int, Path(ge=1, le=2**62)]


def _queue(request: Request) -> dict[str, Any] | None:
    """Redis-side counts when the app dispatches to Redis (None for the in-process pool)."""
    background = getattr(request.app.state, "jobs", None)
    queue = getattr(background, "queue", None)
    if queue is None:
        return None
    from lantai.jobs.redisqueue import queue_stats

    try:
        st = queue_stats(queue)
    except Exception as exc:  # Redis away: the page still shows the database view
        return {"error": f"Redis 不可用：{exc}"}
    return {
        "waiting": st.waiting,
        "unacked": st.unacked,
        "dead_letters": st.dead_letters,
        "consumers": st.consumers,
    }


def jobs_payload(
    request: Request, *, state: str | None, kind: str | None, limit: int
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        views = list_jobs(s, state=state, kind=kind, limit=limit)
        counts = job_counts(s)
    return {
        "backend": inst.settings.jobs_backend,
        "counts": counts,
        "jobs": [v.as_json() for v in views],
        "queue": _queue(request),
    }


@router.get("", summary="后台作业列表（进度、速率、预计剩余时间、错误）与各状态计数")
def jobs(
    request: Request,
    state: Annotated[str | None, Query(max_length=12)] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    _: Actor = require(Perm.JOBS_READ),
) -> dict[str, Any]:
    return jobs_payload(request, state=state, kind=kind, limit=limit)


@router.get("/{job_id}", summary="一个后台作业")
def job(job_id: JobId, request: Request, _: Actor = require(Perm.JOBS_READ)) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        row = s.get(Job, job_id)
        if row is None:
            raise NotFound(f"后台作业 {job_id} 不存在")
        return job_view(row).as_json()


def _wake(request: Request, s: Any) -> None:
    background = getattr(request.app.state, "jobs", None)
    if background is not None:
        after_commit(s, background.wake)


@router.post("/{job_id}/retry", summary="重试失败或已取消的作业（记入审计日志）")
def retry(
    job_id: JobId, request: Request, actor: Actor = require(Perm.JOBS_MANAGE)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        row = retry_job(inst, s, actor, job_id)
        _wake(request, s)
        return job_view(row).as_json()


@router.post("/{job_id}/cancel", summary="取消排队中或运行中的作业（记入审计日志）")
def cancel(
    job_id: JobId, request: Request, actor: Actor = require(Perm.JOBS_MANAGE)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        return job_view(cancel_job(inst, s, actor, job_id)).as_json()
