"""跨馆出证 staff pages: the 跨馆查档 queue of both sides, one request with its timeline and the
actions of its current step; and the citizen's application form and status on the portal.

* 受理馆 side: 审核转办 (forward) or 不予受理 (refuse, reason required); once the 出证馆's result
  is in, 告知申请人 (notify); when the applicant collects at the counter, 到馆领取 (collect).
* 出证馆 side: the candidates (records about the applicant or already open), 确认并出证 (issue
  with the confirmed record ids), 查无档案 (not found, the search described).

Deadlines are shown in working days with 逾期 / 即将到期 flags (lantai.federation.livelihood).
The pages call the same functions as the API (lantai.web.api.federation); errors are shown on
the page in zh-CN, naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from lantai.errors import LantaiError
from lantai.federation import livelihood as lh
from lantai.federation.config import federation_config
from lantai.federation.registry import list_partners
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store.federation import LivelihoodRequest
from lantai.web.api.federation import _steps, request_json
from lantai.web.deps import get_instance, require
from lantai.web.pages.portal import _portal
from lantai.web.pages.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
SIDES = {"accepting": "受理（本馆受理的申请）", "holding": "协办出证（他馆转来的申请）"}


def _queue(inst: Instance, side: str, open_only: bool) -> dict[str, Any]:
    with inst.db.read() as s:
        q = select(LivelihoodRequest).order_by(
            LivelihoodRequest.due_on.is_(None), LivelihoodRequest.due_on, LivelihoodRequest.id
        )
        if side in SIDES:
            q = q.where(LivelihoodRequest.side == side)
        if open_only:
            q = q.where(LivelihoodRequest.closed_at.is_(None))
        return {
            "summary": lh.deadline_summary(inst, s),
            "requests": [request_json(inst, r) for r in s.scalars(q.limit(500))],
        }


@router.get("/livelihood", response_class=HTMLResponse)
def queue_page(
    request: Request,
    side: str = "",
    closed: bool = False,
    actor: Actor = require(Perm.LIVELIHOOD_PROCESS),
) -> Response:
    data = _queue(get_instance(request), side[:12], not closed)
    return render(
        request,
        "livelihood_queue.html",
        actor,
        side=side if side in SIDES else "",
        sides=SIDES,
        closed=closed,
        **data,
    )


def _detail(request: Request, actor: Actor, ref: str, error: LantaiError | None = None) -> Response:
    inst = get_instance(request)
    with inst.db.read() as s:
        req = lh.get_request(s, ref)
        item = request_json(inst, req, _steps(s, req))
        cands: list[lh.Candidate] = []
        if req.side == lh.Side.HOLDING.value and req.state == lh.State.RECEIVED.value:
            cands = lh.candidates(inst, s, actor, ref)
        partners = {p.archive_code: p.name for p in list_partners(s)}
    return render(
        request,
        "livelihood_request.html",
        actor,
        status_code=error.status if error else 200,
        r=item,
        candidates=cands,
        partners=partners,
        error=error,
    )


@router.get("/livelihood/{ref}", response_class=HTMLResponse)
def request_page(
    request: Request, ref: str, actor: Actor = require(Perm.LIVELIHOOD_PROCESS)
) -> Response:
    return _detail(request, actor, ref[:64])


def _act(request: Request, actor: Actor, ref: str, step: Any) -> Response:
    inst = get_instance(request)
    try:
        with inst.db.write() as s:
            step(inst, s)
    except LantaiError as exc:
        return _detail(request, actor, ref, exc)
    return RedirectResponse(f"/livelihood/{ref}", status_code=303)


@router.post("/livelihood/{ref}/forward", response_class=HTMLResponse)
def forward_page(
    request: Request,
    ref: str,
    note: Annotated[str, Form(max_length=2000)] = "",
    actor: Actor = require(Perm.LIVELIHOOD_PROCESS),
) -> Response:
    return _act(request, actor, ref, lambda i, s: lh.forward(i, s, actor, ref, note))


@router.post("/livelihood/{ref}/refuse", response_class=HTMLResponse)
def refuse_page(
    request: Request,
    ref: str,
    reason: Annotated[str, Form(max_length=2000)] = "",
    actor: Actor = require(Perm.LIVELIHOOD_PROCESS),
) -> Response:
    return _act(request, actor, ref, lambda i, s: lh.refuse(i, s, actor, ref, reason))


@router.post("/livelihood/{ref}/notify", response_class=HTMLResponse)
def notify_page(
    request: Request,
    ref: str,
    note: Annotated[str, Form(max_length=2000)] = "",
    actor: Actor = require(Perm.LIVELIHOOD_PROCESS),
) -> Response:
    return _act(request, actor, ref, lambda i, s: lh.notify(i, s, actor, ref, note))


@router.post("/livelihood/{ref}/collect", response_class=HTMLResponse)
def collect_page(
    request: Request, ref: str, actor: Actor = require(Perm.LIVELIHOOD_PROCESS)
) -> Response:
    return _act(request, actor, ref, lambda i, s: lh.collect(i, s, actor, ref, channel="到馆"))


@router.post("/livelihood/{ref}/issue", response_class=HTMLResponse)
def issue_page(
    request: Request,
    ref: str,
    record_id: Annotated[list[int] | None, Form(max_length=50)] = None,
    note: Annotated[str, Form(max_length=2000)] = "",
    actor: Actor = require(Perm.LIVELIHOOD_PROCESS),
) -> Response:
    ids = list(record_id or [])
    return _act(request, actor, ref, lambda i, s: lh.issue(i, s, actor, ref, ids, note))


@router.post("/livelihood/{ref}/not-found", response_class=HTMLResponse)
def not_found_page(
    request: Request,
    ref: str,
    note: Annotated[str, Form(max_length=2000)] = "",
    actor: Actor = require(Perm.LIVELIHOOD_PROCESS),
) -> Response:
    return _act(request, actor, ref, lambda i, s: lh.not_found(i, s, actor, ref, note))


# -- the citizen: application form and status on the portal -----------------------------------


def _mine(inst: Instance, actor: Actor) -> dict[str, Any]:
    with inst.db.read() as s:
        rows = s.scalars(
            select(LivelihoodRequest)
            .where(LivelihoodRequest.citizen_user_id == actor.user_id)
            .order_by(LivelihoodRequest.id.desc())
        ).all()
        items = [request_json(inst, r, _steps(s, r), staff=False) for r in rows]
        partners = [(p.archive_code, p.name) for p in list_partners(s, enabled_only=True)]
    return {
        "items": items,
        "partners": partners,
        "record_types": federation_config(inst).record_types,
    }


@router.get("/portal/livelihood", response_class=HTMLResponse)
def portal_page(request: Request, actor: Actor = require(Perm.ACCESS_PORTAL_SELF)) -> Response:
    return _portal(
        request,
        "portal_livelihood.html",
        actor,
        error=None,
        form={},
        **_mine(get_instance(request), actor),
    )


@router.post("/portal/livelihood", response_class=HTMLResponse)
def portal_apply(
    request: Request,
    holding_code: Annotated[str, Form(max_length=16)],
    record_type: Annotated[str, Form(max_length=32)],
    id_number: Annotated[str, Form(max_length=20)],
    purpose: Annotated[str, Form(max_length=200)],
    description: Annotated[str, Form(max_length=2000)] = "",
    actor: Actor = require(Perm.ACCESS_PORTAL_SELF),
) -> Response:
    inst = get_instance(request)
    app = lh.Application(holding_code, record_type, id_number, purpose, description)
    try:
        with inst.db.write() as s:
            lh.submit(inst, s, actor, app)
    except LantaiError as exc:
        form = {
            "holding_code": holding_code,
            "record_type": record_type,
            "purpose": purpose,
            "description": description,
        }
        return _portal(
            request,
            "portal_livelihood.html",
            actor,
            status=exc.status,
            error=exc,
            form=form,
            **_mine(inst, actor),
        )
    return RedirectResponse("/portal/livelihood#mine", status_code=303)
