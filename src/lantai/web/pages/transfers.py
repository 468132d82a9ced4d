"""Transfer pages (移交接收): upload and start a transfer, watch progress, read the report, review.

- ``GET /transfers`` — recent transfers (an agency account sees its own) with live progress,
  and the upload form (one request; large packages go through the resumable API or the CLI).
- ``POST /transfers`` — receive the uploaded package and start its ingest job. The form carries
  an idempotency key made when the page was rendered, so sending it twice starts one transfer.
- ``GET /transfers/{uid}`` — state, progress, decision, counts, problem list and report links.
- ``POST /transfers/{uid}/review`` — confirm the flagged items with a reason (recorded as an
  ``ingest:transfer:reviewed`` event).

Progress is polled by ``/static/js/transfers.js`` from ``GET /api/transfers/{uid}``.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from lantai.archival import Level
from lantai.errors import LantaiError
from lantai.ingest.pipeline import STEP_LABELS
from lantai.ingest.report import REPORT_NAME
from lantai.ingest.service import get_transfer, list_transfers, review, transfer_json, work_dir
from lantai.ingest.uploads import receive_file
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.storage import ObjectNotFound, open_store
from lantai.store import IngestTransfer, Job, Record
from lantai.web.api.transfers import job_waker
from lantai.web.deps import get_instance, require
from lantai.web.pages.render import render
from lantai.web.uploads import clean_filename

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
TransferUid = Annotated[str, Path(min_length=36, max_length=36)]
MAX_PROBLEMS_SHOWN = 200


def _form_context(inst: Instance, actor: Actor) -> dict[str, Any]:
    with inst.db.read() as s:
        fonds = s.scalars(
            select(Record).where(Record.level == Level.FONDS.value).order_by(Record.position)
        ).all()
        rows = list(list_transfers(s, actor, limit=50))
        job_ids = [r.job_id for r in rows if r.job_id is not None]
        jobs = (
            {j.id: j for j in s.scalars(select(Job).where(Job.id.in_(job_ids)))} if job_ids else {}
        )
    categories = [
        (e.code, f"{e.display}（{e.code}）") for e in inst.domain.table("category").entries
    ]
    return {
        "fonds": [(f.archival_code, f.title) for f in fonds],
        "categories": categories,
        "transfers": [transfer_json(r, jobs.get(r.job_id) if r.job_id else None) for r in rows],
        "idempotency_key": str(uuid.uuid4()),
        "steps": STEP_LABELS,
    }


@router.get("/transfers", response_class=HTMLResponse)
def transfers_page(request: Request, actor: Actor = require(Perm.INGEST_TRANSFER_READ)) -> Response:
    inst = get_instance(request)
    return render(request, "transfers.html", actor, error=None, **_form_context(inst, actor))


@router.post("/transfers", response_class=HTMLResponse)
async def transfers_submit(
    request: Request,
    file: Annotated[UploadFile, File()],
    idempotency_key: Annotated[str, Form(min_length=1, max_length=200)],
    fonds_code: Annotated[str, Form(max_length=16)] = "",
    category: Annotated[str, Form(max_length=16)] = "",
    stage: Annotated[str, Form(max_length=2)] = "YJ",
    quick: Annotated[str, Form(max_length=4)] = "",
    actor: Actor = require(Perm.INGEST_TRANSFER_SUBMIT),
) -> Response:
    inst = get_instance(request)
    wake = job_waker(request)

    def go() -> IngestTransfer:
        transfer, _created = receive_file(
            inst,
            actor,
            file.file,
            filename=clean_filename(file.filename),
            idempotency_key=idempotency_key,
            max_bytes=inst.settings.max_upload_mb << 20,
            fonds_code=fonds_code or None,
            category=category or None,
            stage="GD" if stage == "GD" else "YJ",
            mode="quick" if quick else "full",
            wake=wake,
        )
        return transfer

    try:
        transfer = await run_in_threadpool(go)
    except LantaiError as exc:
        ctx = await run_in_threadpool(_form_context, inst, actor)
        return render(request, "transfers.html", actor, status_code=exc.status, error=exc, **ctx)
    return RedirectResponse(f"/transfers/{transfer.uid}", status_code=303)


def _report_data(inst: Instance, row: IngestTransfer) -> dict[str, Any] | None:
    """The report JSON (stored, or staged while the transfer is in progress), if there is one."""
    if row.report_key:
        try:
            with open_store(inst.settings).open(row.report_key) as f:
                data: dict[str, Any] = json.load(f)
                return data
        except ObjectNotFound:
            return None
    staged = work_dir(inst.settings, row.uid) / "report" / f"{REPORT_NAME}.json"
    if row.decision and staged.is_file():
        loaded: dict[str, Any] = json.loads(staged.read_text(encoding="utf-8"))
        return loaded
    return None


@router.get("/transfers/{uid}", response_class=HTMLResponse)
def transfer_page(
    uid: TransferUid, request: Request, actor: Actor = require(Perm.INGEST_TRANSFER_READ)
) -> Response:
    inst = get_instance(request)
    with inst.db.read() as s:
        row = get_transfer(s, actor, uid)
        job = s.get(Job, row.job_id) if row.job_id else None
    data = _report_data(inst, row)
    problems = (data or {}).get("problems", [])
    return render(
        request,
        "transfer.html",
        actor,
        t=transfer_json(row, job),
        report=data,
        problems=problems[:MAX_PROBLEMS_SHOWN],
        more_problems=max(0, len(problems) - MAX_PROBLEMS_SHOWN),
        steps=STEP_LABELS,
        can_review=actor.can(Perm.INGEST_TRANSFER_REVIEW),
        error=None,
    )


@router.post("/transfers/{uid}/review", response_class=HTMLResponse)
async def transfer_review(
    uid: TransferUid,
    request: Request,
    reason: Annotated[str, Form(max_length=2000)] = "",
    actor: Actor = require(Perm.INGEST_TRANSFER_REVIEW),
) -> Response:
    inst = get_instance(request)
    await run_in_threadpool(lambda: review(inst, actor, uid, reason=reason))
    return RedirectResponse(f"/transfers/{uid}", status_code=303)
