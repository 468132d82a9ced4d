"""The 到期鉴定 workbench: expiry candidates → batch, review rounds with a decision per item (or
one decision for all), execution with confirmation, 销毁清册 downloads.

- ``GET /disposal`` (``disposal:batch:read``): candidates and batches
- ``POST /disposal/batches`` (``disposal:item:review``): a batch of the ticked candidates
- ``GET /disposal/{uid}`` (``disposal:batch:read``): items, decisions per round, forms
- ``POST /disposal/{uid}/rounds/{n}`` (any signed-in user; :func:`lantai.disposal.decide` checks
  the round's configured permission and 鉴定与审批分离)
- ``POST /disposal/{uid}/execute`` (``disposal:batch:execute``; the confirmation box must be
  ticked)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from lantai.disposal import Decision, batch_json, create_batch, decide, execute, find_expired
from lantai.disposal.service import DECISION_LABELS, get_batch
from lantai.errors import InputError, LantaiError
from lantai.security import Actor, Perm
from lantai.store import DisposalBatch
from lantai.web.deps import get_instance, require
from lantai.web.pages.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
BatchUid = Annotated[str, Path(min_length=8, max_length=36)]


def _index(
    request: Request, actor: Actor, *, error: LantaiError | None = None, status_code: int = 200
) -> HTMLResponse:
    inst = get_instance(request)
    retention = inst.domain.table("retention")
    with inst.db.read() as s:
        candidates = find_expired(s, retention)
        batches = list(s.scalars(select(DisposalBatch).order_by(DisposalBatch.id.desc())))
        rows = [
            {
                "uid": b.uid,
                "title": b.title,
                "state": b.state,
                "created_at": b.created_at.isoformat()[:16].replace("T", " "),
                "summary": b.summary,
            }
            for b in batches
        ]
    return render(
        request,
        "disposal.html",
        actor,
        status_code=status_code,
        candidates=[
            {**c.to_dict(), "retention_label": retention.label(c.retention)} for c in candidates
        ],
        batches=rows,
        can_review=actor.can(Perm.DISPOSAL_REVIEW),
        error=error,
    )


@router.get("/disposal", response_class=HTMLResponse)
def disposal_page(request: Request, actor: Actor = require(Perm.DISPOSAL_READ)) -> Response:
    return _index(request, actor)


@router.post("/disposal/batches", response_class=HTMLResponse)
async def batch_form(request: Request, actor: Actor = require(Perm.DISPOSAL_REVIEW)) -> Response:
    form = await request.form()
    inst = get_instance(request)
    try:
        title = str(form.get("title") or "").strip()
        if not title:
            raise InputError("批次名称：必填")
        ids = [int(str(v)) for v in form.getlist("record_id")]
        if not ids:
            raise InputError("到期条目：请至少勾选一条")
        with inst.db.write() as s:
            uid = create_batch(inst, s, actor, title=title, record_ids=ids).uid
    except (LantaiError, ValueError) as exc:
        err = exc if isinstance(exc, LantaiError) else InputError(f"条目编号不合规：{exc}")
        return _index(request, actor, error=err, status_code=err.status)
    return RedirectResponse(f"/disposal/{uid}", status_code=303)


def _batch(
    request: Request,
    actor: Actor,
    uid: str,
    *,
    error: LantaiError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    inst = get_instance(request)
    retention = inst.domain.table("retention")
    with inst.db.read() as s:
        data = batch_json(s, get_batch(s, uid))
    rounds = data["rounds"]
    current = None
    if data["state"] == "open":
        for n in range(1, len(rounds) + 1):
            if any(not any(d["round"] == n for d in i["decisions"]) for i in data["items"]):
                current = n
                break
    longer = [(e.code, e.display) for e in retention.entries if not e.legacy]
    return render(
        request,
        "disposal_batch.html",
        actor,
        status_code=status_code,
        b=data,
        current=current,
        round_label=rounds[current - 1]["label"] if current else None,
        retention_choices=longer,
        retention_label=retention.label,
        decision_labels=DECISION_LABELS,
        can_execute=actor.can(Perm.DISPOSAL_EXECUTE) and data["state"] == "open" and not current,
        error=error,
    )


@router.get("/disposal/{uid}", response_class=HTMLResponse)
def batch_page(
    request: Request, uid: BatchUid, actor: Actor = require(Perm.DISPOSAL_READ)
) -> Response:
    return _batch(request, actor, uid)


@router.post("/disposal/{uid}/rounds/{round_no}", response_class=HTMLResponse)
async def decide_form(
    request: Request,
    uid: BatchUid,
    round_no: Annotated[int, Path(ge=1, le=20)],
    actor: Actor = require(Perm.AUTHENTICATED),
) -> Response:
    form = await request.form()
    inst = get_instance(request)
    try:
        bulk = str(form.get("bulk") or "")
        common = str(form.get("reason") or "").strip()
        decisions: list[Decision] = []
        for raw in form.getlist("record_id"):
            rid = int(str(raw))
            choice = bulk or str(form.get(f"decision_{rid}") or "")
            if not choice:
                continue
            if choice not in ("destroy", "extend"):
                raise InputError(f"条目 {rid} 的鉴定结论不合规")
            reason = str(form.get(f"reason_{rid}") or "").strip() or common
            if not reason:
                raise InputError(f"条目 {rid} 的鉴定理由：必填（可填写统一理由）")
            new = str(form.get(f"retention_{rid}") or form.get("retention") or "") or None
            kind: Literal["destroy", "extend"] = "destroy" if choice == "destroy" else "extend"
            decisions.append(Decision(rid, kind, reason, new if kind == "extend" else None))
        if not decisions:
            raise InputError("鉴定结论：请至少为一条选择「销毁」或「延长保管期限」")
        with inst.db.write() as s:
            decide(inst, s, actor, uid, round_no, decisions)
    except (LantaiError, ValueError) as exc:
        err = exc if isinstance(exc, LantaiError) else InputError(f"表单不合规：{exc}")
        return _batch(request, actor, uid, error=err, status_code=err.status)
    return RedirectResponse(f"/disposal/{uid}", status_code=303)


@router.post("/disposal/{uid}/execute", response_class=HTMLResponse)
async def execute_form(
    request: Request,
    uid: BatchUid,
    confirm: Annotated[str, Form(max_length=8)] = "",
    actor: Actor = require(Perm.DISPOSAL_EXECUTE),
) -> Response:
    inst = get_instance(request)
    try:
        if confirm != "yes":
            raise InputError("确认执行：请勾选确认框（销毁不可撤销）")
        summary: dict[str, Any] = await run_in_threadpool(execute, inst, actor, uid)
    except LantaiError as exc:
        return _batch(request, actor, uid, error=exc, status_code=exc.status)
    del summary
    return RedirectResponse(f"/disposal/{uid}", status_code=303)
