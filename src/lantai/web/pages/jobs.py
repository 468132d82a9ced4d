"""The 后台作业 page: jobs by state and kind with progress, rate, ETA and errors; retry/cancel.

The table is rendered on the server; ``/static/js/jobs.js`` polls ``/api/jobs`` and updates it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lantai.errors import LantaiError
from lantai.jobs import JobState
from lantai.jobs.admin import KIND_LABELS, cancel_job, retry_job
from lantai.security import Actor, Perm
from lantai.store import after_commit
from lantai.web.api.jobs import jobs_payload
from lantai.web.deps import get_instance, require
from lantai.web.pages.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    actor: Actor,
    *,
    state: str | None = None,
    kind: str | None = None,
    error: LantaiError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        data = jobs_payload(request, state=state or None, kind=kind or None, limit=200)
    except LantaiError as exc:
        error, status_code = exc, exc.status
        data = jobs_payload(request, state=None, kind=None, limit=200)
        state = None
    kinds = sorted(k for k in data["counts"] if k != "*")
    return render(
        request,
        "jobs.html",
        actor,
        status_code=status_code,
        data=data,
        states=[(s.value, s.label) for s in JobState],
        kinds=[(k, KIND_LABELS.get(k, k)) for k in kinds],
        state=state or "",
        kind=kind or "",
        error=error,
        can_manage=actor.can(Perm.JOBS_MANAGE),
    )


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(
    request: Request,
    state: Annotated[str | None, Query(max_length=12)] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    actor: Actor = require(Perm.JOBS_READ),
) -> Response:
    return _page(request, actor, state=state, kind=kind)


@router.post("/jobs/{job_id}/retry", response_class=HTMLResponse)
def retry_form(job_id: int, request: Request, actor: Actor = require(Perm.JOBS_MANAGE)) -> Response:
    return _act(request, actor, job_id, retry=True)


@router.post("/jobs/{job_id}/cancel", response_class=HTMLResponse)
def cancel_form(
    job_id: int, request: Request, actor: Actor = require(Perm.JOBS_MANAGE)
) -> Response:
    return _act(request, actor, job_id, retry=False)


def _act(request: Request, actor: Actor, job_id: int, *, retry: bool) -> Response:
    inst = get_instance(request)
    try:
        with inst.db.write() as s:
            if retry:
                retry_job(inst, s, actor, job_id)
                background = getattr(request.app.state, "jobs", None)
                if background is not None:
                    after_commit(s, background.wake)
            else:
                cancel_job(inst, s, actor, job_id)
    except LantaiError as exc:
        return _page(request, actor, error=exc, status_code=exc.status)
    return RedirectResponse("/jobs", status_code=303)
