"""开放审核 pages: the batch list with statistics, and the review workbench of one batch.

- ``GET /appraisal`` — batches (fonds, 年度, 门类, state, current round, progress per round,
  results so far), the due candidates grouped by fonds × 年度 × 门类 with a button to make a
  batch of them, and the statistics (opened this year, 开放率 per fonds).
- ``POST /appraisal`` — make a batch of the current candidates (``create_from_candidates``)
  and open its workbench.
- ``GET /appraisal/batches/{id}`` — the workbench. Everything on it after the first render goes
  through the JSON API (``/api/appraisal/…``) from ``/static/js/appraisal.js``: the item list
  and its filters, the item view (``…/items/{record_id}/source``), keyboard decisions, bulk
  decisions, claim / advance / apply and the unit's opinions.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from lantai.appraisal.candidates import find_candidates, load_policy
from lantai.appraisal.review import (
    batch_json,
    create_from_candidates,
    get_batch,
    review_stats,
    rules_for,
)
from lantai.appraisal.review.batches import records_under_review
from lantai.appraisal.screening.config import load_rules
from lantai.archival import Level
from lantai.errors import LantaiError, Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import Record, ReviewBatch
from lantai.web.deps import get_instance, require
from lantai.web.pages.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
BatchId = Annotated[int, Path(ge=1, le=2**62)]
MAX_BATCHES_SHOWN = 100
MAX_CANDIDATE_GROUPS = 60


def _fonds(inst: Instance) -> list[tuple[int, str, str]]:
    with inst.db.read() as s:
        rows = s.execute(
            select(Record.id, Record.archival_code, Record.title)
            .where(Record.level == Level.FONDS.value)
            .order_by(Record.position, Record.id)
        ).all()
    return [(int(i), code or "", title) for i, code, title in rows]


def _candidate_groups(inst: Instance) -> list[dict[str, Any]]:
    """Due candidates by fonds × 年度 × 门类, less those already in a batch under review."""
    policy = load_policy(config_dir=inst.settings.resolved_config_dir)
    with inst.db.read() as s:
        report = find_candidates(s, policy)
        busy = records_under_review(s, [c.record_id for c in report.candidates])
    groups = []
    for b in report.batches:
        free = sum(1 for rid in b.record_ids if rid not in busy)
        if free:
            groups.append(b.to_dict() | {"free": free})
    return groups[:MAX_CANDIDATE_GROUPS]


def _list_context(inst: Instance, actor: Actor) -> dict[str, Any]:
    fonds = _fonds(inst)
    names = {fid: f"{code} {title}".strip() for fid, code, title in fonds}
    with inst.db.read() as s:
        rows = s.scalars(
            select(ReviewBatch).order_by(ReviewBatch.id.desc()).limit(MAX_BATCHES_SHOWN)
        )
        batches = [batch_json(s, b) for b in rows]
        stats = review_stats(s)
    categories = [(e.code, e.display) for e in inst.domain.table("category").entries]
    can_manage = actor.can(Perm.APPRAISAL_REVIEW_MANAGE)
    return {
        "batches": batches,
        "fonds_names": names,
        "fonds": fonds,
        "categories": categories,
        "category_names": dict(categories),
        "stats": stats,
        "can_manage": can_manage,
        "groups": _candidate_groups(inst) if can_manage else [],
        "results": rules_for(inst).results,
    }


@router.get("/appraisal", response_class=HTMLResponse)
def batches_page(request: Request, actor: Actor = require(Perm.APPRAISAL_REVIEW_READ)) -> Response:
    inst = get_instance(request)
    return render(
        request, "appraisal_batches.html", actor, error=None, **_list_context(inst, actor)
    )


def _int_or_none(value: str, field: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValidationFailed(
            "审核批次未建立", [Problem(field=field, value=value, message="须为数字")]
        )
    return int(value)


@router.post("/appraisal", response_class=HTMLResponse)
async def batches_create(
    request: Request,
    fonds_id: Annotated[str, Form(max_length=20)] = "",
    year: Annotated[str, Form(max_length=4)] = "",
    category: Annotated[str, Form(max_length=8)] = "",
    title: Annotated[str, Form(max_length=300)] = "",
    joint_review: Annotated[str, Form(max_length=4)] = "",
    actor: Actor = require(Perm.APPRAISAL_REVIEW_MANAGE),
) -> Response:
    inst = get_instance(request)

    def go() -> int:
        fid = _int_or_none(fonds_id, "全宗")
        if fid is None:
            raise ValidationFailed("审核批次未建立", [Problem(field="全宗", message="须选择全宗")])
        yr = _int_or_none(year, "年度")
        with inst.db.write() as s:
            batch = create_from_candidates(
                inst,
                s,
                actor,
                fonds_id=fid,
                year=yr,
                category=category.strip() or None,
                today=date.today(),
                title=title.strip() or None,
                joint_review=bool(joint_review),
            )
            return batch.id

    try:
        batch_id = await run_in_threadpool(go)
    except LantaiError as exc:
        ctx = await run_in_threadpool(_list_context, inst, actor)
        return render(
            request, "appraisal_batches.html", actor, status_code=exc.status, error=exc, **ctx
        )
    return RedirectResponse(f"/appraisal/batches/{batch_id}", status_code=303)


@router.get("/appraisal/batches/{batch_id}", response_class=HTMLResponse)
def workbench_page(
    batch_id: BatchId, request: Request, actor: Actor = require(Perm.APPRAISAL_REVIEW_READ)
) -> Response:
    inst = get_instance(request)
    rules = rules_for(inst)
    with inst.db.read() as s:
        batch = batch_json(s, get_batch(s, batch_id))
        fonds = s.get(Record, batch["fonds_id"]) if batch["fonds_id"] else None
    categories = [(e.code, e.display) for e in inst.domain.table("category").entries]
    screening = load_rules(config_dir=inst.settings.resolved_config_dir)
    return render(
        request,
        "appraisal_batch.html",
        actor,
        batch=batch,
        fonds_name=f"{fonds.archival_code} {fonds.title}" if fonds else "",
        categories=categories,
        category_names=dict(categories),
        results=rules.results,
        screening_rules=[(r.id, r.name) for r in screening.rules if r.enabled],
        postpone=rules.postpone,
        reason_required_for=rules.reason_required_for,
        can_decide=actor.can(Perm.APPRAISAL_REVIEW_DECIDE),
        can_manage=actor.can(Perm.APPRAISAL_REVIEW_MANAGE),
    )
