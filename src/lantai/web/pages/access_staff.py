"""Staff back office of 档案利用: the requests queue (approve / refuse), bookings and use totals.

Approving a 出具证明 / 复制 request issues its certificate (lantai.access.certify); the queue
shows its code with links to the PDF and to the certificate register (/certificates: revoke).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lantai.access.requests import STATUS_LABELS, approve, refuse
from lantai.access.uselog import totals
from lantai.errors import LantaiError
from lantai.security import Actor, Perm
from lantai.web.api.access import appointments, queue
from lantai.web.deps import get_instance, require
from lantai.web.pages.portal import access_config
from lantai.web.pages.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _view(
    request: Request, actor: Actor, status: str, error: LantaiError | None = None
) -> Response:
    inst = get_instance(request)
    today = datetime.now(UTC).date()
    with inst.db.read() as s:
        stats = (
            totals(s, date(today.year, 1, 1), today) if actor.can(Perm.ACCESS_USE_READ) else None
        )
    return render(
        request,
        "access_queue.html",
        actor,
        status_code=error.status if error else 200,
        requests=queue(request, status=status, kind="", purpose="", limit_=200, _=actor),
        bookings=appointments(request, day=None, _=actor)["slots"],
        stats=stats,
        status=status,
        status_labels=STATUS_LABELS,
        grant_days=access_config(inst).grant_days,
        error=error,
    )


@router.get("/access", response_class=HTMLResponse)
def access_page(
    request: Request, status: str = "submitted", actor: Actor = require(Perm.ACCESS_REQUEST_REVIEW)
) -> Response:
    return _view(request, actor, status[:12])


@router.post("/access/requests/{request_id}/decide", response_class=HTMLResponse)
def decide_page(
    request: Request,
    request_id: int,
    decision: Annotated[str, Form(max_length=10)],
    record_ids: Annotated[str, Form(max_length=4000)] = "",
    days: Annotated[int, Form(ge=1, le=365)] = 30,
    reason: Annotated[str, Form(max_length=2000)] = "",
    pages: Annotated[str | None, Form(max_length=200)] = None,
    actor: Actor = require(Perm.ACCESS_REQUEST_REVIEW),
) -> Response:
    inst = get_instance(request)
    ids = [int(x) for x in record_ids.replace("，", ",").split(",") if x.strip().isdigit()]
    try:
        with inst.db.write() as s:
            if decision == "approve":
                approve(inst, s, actor, request_id, ids, days=days, reason=reason, pages=pages)
            else:
                refuse(inst, s, actor, request_id, reason)
    except LantaiError as exc:
        return _view(request, actor, "submitted", exc)
    return RedirectResponse("/access", status_code=303)
