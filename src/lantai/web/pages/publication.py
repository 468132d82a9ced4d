"""上网审查 pages: publication batches, decisions per item or for all, the published catalogue.

- ``GET /publication`` — batches with counts per decision, the form to make a batch of the
  unpublished 开放 案卷/件 of a 全宗 (optionally one 年度 / level), how many records are
  published, and the public 开放档案目录 downloads.
- ``POST /publication`` — make a batch (``PublicationService.create_batch``) and open it.
- ``GET /publication/batches/{id}`` — the items with their decision, reviewer, time, reason and
  masked spans; approve or reject the ticked items or every pending one (reject needs a reason);
  take published items off the portal again (reason required).
- ``POST /publication/batches/{id}/decisions`` and ``POST /publication/batches/{id}/unpublish``
  — the forms above; the service records the events and re-checks that every record is 开放.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from lantai.appraisal.publication import LEVEL_TITLES
from lantai.archival import Level
from lantai.errors import LantaiError, Problem, ValidationFailed
from lantai.security import Actor, Perm
from lantai.store import (
    PublicationBatch,
    PublicationDecision,
    PublicationItem,
    PublicationState,
    PublishedRecord,
    Record,
)
from lantai.web.api.publication import publication_service
from lantai.web.deps import require
from lantai.web.pages.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
BatchId = Annotated[int, Path(ge=1, le=2**62)]
LEVELS = {"": "案卷与件", "file": "只取案卷", "item": "只取件"}
DONE = {
    "approve": "准予上网",
    "reject": "不予上网",
    "unpublish": "撤下公布",
}


def _list_context(request: Request, actor: Actor) -> dict[str, Any]:
    svc = publication_service(request)
    with svc.inst.db.read() as s:
        batches = svc.batches(s, actor)
        counts: dict[int, dict[str, int]] = {}
        for bid, decision, n in s.execute(
            select(PublicationItem.batch_id, PublicationItem.decision, func.count()).group_by(
                PublicationItem.batch_id, PublicationItem.decision
            )
        ):
            counts.setdefault(int(bid), {})[decision] = int(n)
        published = int(
            s.scalar(
                select(func.count())
                .select_from(PublishedRecord)
                .where(PublishedRecord.state == PublicationState.PUBLISHED.value)
            )
            or 0
        )
        fonds = s.execute(
            select(Record.archival_code, Record.title)
            .where(Record.level == Level.FONDS.value)
            .order_by(Record.position, Record.id)
        ).all()
        rows = [
            {
                "id": b.id,
                "title": b.title,
                "note": b.note,
                "created_by": b.created_by,
                "created_at": b.created_at.isoformat(),
                "counts": {
                    d.value: counts.get(b.id, {}).get(d.value, 0) for d in PublicationDecision
                },
            }
            for b in batches
        ]
    return {
        "batches": rows,
        "published": published,
        "fonds": [(code or "", title) for code, title in fonds],
        "levels": LEVELS,
        "level_titles": LEVEL_TITLES,
        "labels": {d.value: d.label for d in PublicationDecision},
        "can_review": actor.can(Perm.PUBLICATION_REVIEW),
    }


@router.get("/publication", response_class=HTMLResponse)
def publication_page(request: Request, actor: Actor = require(Perm.PUBLICATION_READ)) -> Response:
    return render(request, "publication.html", actor, error=None, **_list_context(request, actor))


@router.post("/publication", response_class=HTMLResponse)
async def publication_create(
    request: Request,
    title: Annotated[str, Form(max_length=200)] = "",
    fonds: Annotated[str, Form(max_length=32)] = "",
    year: Annotated[str, Form(max_length=4)] = "",
    level: Annotated[str, Form(max_length=4)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    actor: Actor = require(Perm.PUBLICATION_REVIEW),
) -> Response:
    svc = publication_service(request)

    def go() -> int:
        if not fonds.strip():
            raise ValidationFailed(
                "上网审查批次未建立", [Problem(field="全宗", message="须选择全宗", rule="必填")]
            )
        yr = year.strip()
        if yr and not yr.isdigit():
            raise ValidationFailed(
                "上网审查批次未建立", [Problem(field="年度", value=yr, message="须为四位数字")]
            )
        lv: Literal["file", "item"] | None = (
            "file" if level == "file" else "item" if level == "item" else None
        )
        with svc.inst.db.write() as s:
            batch = svc.create_batch(
                s,
                actor,
                title=title,
                fonds=fonds.strip(),
                year=int(yr) if yr else None,
                level=lv,
                note=note.strip(),
            )
            return batch.id

    try:
        batch_id = await run_in_threadpool(go)
    except LantaiError as exc:
        ctx = await run_in_threadpool(_list_context, request, actor)
        return render(request, "publication.html", actor, status_code=exc.status, error=exc, **ctx)
    return RedirectResponse(f"/publication/batches/{batch_id}", status_code=303)


def _batch_context(request: Request, actor: Actor, batch_id: int) -> dict[str, Any]:
    svc = publication_service(request)
    with svc.inst.db.read() as s:
        batch: PublicationBatch = svc.batch(s, actor, batch_id)
        pairs = svc.items(s, actor, batch_id)
        ids = [r.id for _, r in pairs]
        published = (
            set(
                s.scalars(
                    select(PublishedRecord.record_id).where(
                        PublishedRecord.record_id.in_(ids),
                        PublishedRecord.state == PublicationState.PUBLISHED.value,
                    )
                )
            )
            if ids
            else set()
        )
        items = [
            {
                "record_id": r.id,
                "archival_code": r.archival_code,
                "title": r.title,
                "level": r.level,
                "year": r.year,
                "open_status": r.open_status,
                "decision": i.decision,
                "decision_label": PublicationDecision(i.decision).label,
                "reviewer": i.reviewer,
                "decided_at": i.decided_at.isoformat() if i.decided_at else "",
                "reason": i.reason,
                "masked_spans": i.masked_spans,
                "published": r.id in published,
            }
            for i, r in pairs
        ]
        info = {
            "id": batch.id,
            "title": batch.title,
            "note": batch.note,
            "created_by": batch.created_by,
            "created_at": batch.created_at.isoformat(),
        }
    counts = {d.value: 0 for d in PublicationDecision}
    for it in items:
        counts[str(it["decision"])] += 1
    return {
        "batch": info,
        "items": items,
        "counts": counts,
        "labels": {d.value: d.label for d in PublicationDecision},
        "can_review": actor.can(Perm.PUBLICATION_REVIEW),
        "done": DONE.get(request.query_params.get("done", "")),
        "done_count": request.query_params.get("n", ""),
    }


@router.get("/publication/batches/{batch_id}", response_class=HTMLResponse)
def publication_batch_page(
    batch_id: BatchId, request: Request, actor: Actor = require(Perm.PUBLICATION_READ)
) -> Response:
    ctx = _batch_context(request, actor, batch_id)
    return render(request, "publication_batch.html", actor, error=None, **ctx)


async def _run(request: Request, actor: Actor, batch_id: int, what: str, fn: Any) -> Response:
    try:
        count = await run_in_threadpool(fn)
    except LantaiError as exc:
        ctx = await run_in_threadpool(_batch_context, request, actor, batch_id)
        return render(
            request, "publication_batch.html", actor, status_code=exc.status, error=exc, **ctx
        )
    return RedirectResponse(
        f"/publication/batches/{batch_id}?done={what}&n={count}", status_code=303
    )


@router.post("/publication/batches/{batch_id}/decisions", response_class=HTMLResponse)
async def publication_decide(
    batch_id: BatchId,
    request: Request,
    decision: Annotated[Literal["approve", "reject"], Form()],
    scope: Annotated[Literal["selected", "all"], Form()] = "selected",
    reason: Annotated[str, Form(max_length=2000)] = "",
    record_id: Annotated[list[int] | None, Form()] = None,
    actor: Actor = require(Perm.PUBLICATION_REVIEW),
) -> Response:
    svc = publication_service(request)

    def go() -> int:
        ids = None if scope == "all" else list(record_id or [])
        if ids is not None and not ids:
            raise ValidationFailed(
                "没有选择条目",
                [Problem(field="条目", message="请勾选要审查的条目，或选择「全部待审条目」")],
            )
        with svc.inst.db.write() as s:
            rep = svc.decide(s, actor, batch_id, decision, reason=reason, record_ids=ids)
            return len(rep.record_ids)

    return await _run(request, actor, batch_id, decision, go)


@router.post("/publication/batches/{batch_id}/unpublish", response_class=HTMLResponse)
async def publication_unpublish(
    batch_id: BatchId,
    request: Request,
    reason: Annotated[str, Form(max_length=2000)] = "",
    record_id: Annotated[list[int] | None, Form()] = None,
    actor: Actor = require(Perm.PUBLICATION_REVIEW),
) -> Response:
    svc = publication_service(request)

    def go() -> int:
        ids = list(record_id or [])
        if not ids:
            raise ValidationFailed(
                "没有选择条目", [Problem(field="条目", message="请勾选要撤下的已公布条目")]
            )
        with svc.inst.db.write() as s:
            svc.batch(s, actor, batch_id)
            return len(svc.unpublish(s, actor, ids, reason=reason))

    return await _run(request, actor, batch_id, "unpublish", go)
