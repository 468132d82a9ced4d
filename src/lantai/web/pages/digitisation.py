"""校对 (OCR correction) pages: low-confidence pages of a batch; one page's image beside its lines.

::

    GET  /digitisation/correction                 batches with pages waiting for 校对
    GET  /digitisation/batches/{uid}/correction   the batch's low-confidence pages
    GET  /digitisation/pages/{page_id}/correct    image (access JPEG) beside editable lines
    GET  /digitisation/pages/{page_id}/image.jpg  the access JPEG (never the master)
    POST /digitisation/pages/{page_id}/correct    form fallback without JavaScript

With JavaScript (``/static/js/ocr_correct.js``) saving goes to ``PUT /api/digitisation/pages/
{page_id}/text``; both end in :func:`lantai.digitisation.ocr_run.correct_page` (event
``digitisation:ocr:corrected``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from lantai.digitisation import get_batch
from lantai.digitisation.access_image import page_access_jpeg
from lantai.digitisation.ocr_run import correct_page, low_confidence_pages, page_text_json
from lantai.errors import LantaiError, NotFound
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import ScanBatch, ScanPage, ScanPageText
from lantai.web.deps import get_instance, require
from lantai.web.pages.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

BatchId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{1,36}$")]
PageId = Annotated[int, Path(ge=1)]


@router.get("/digitisation/correction", response_class=HTMLResponse)
def batches_page(request: Request, actor: Actor = require(Perm.DIGITISATION_READ)) -> Response:
    inst = get_instance(request)
    with inst.db.read() as s:
        rows = [
            (b, len(low_confidence_pages(s, actor, b.id)))
            for b in s.scalars(select(ScanBatch).order_by(ScanBatch.id.desc()).limit(200))
        ]
    return render(request, "ocr_batches.html", actor, rows=rows)


@router.get("/digitisation/batches/{uid}/correction", response_class=HTMLResponse)
def batch_page(
    uid: BatchId, request: Request, actor: Actor = require(Perm.DIGITISATION_READ)
) -> Response:
    inst = get_instance(request)
    with inst.db.read() as s:
        batch = get_batch(s, actor, uid)
        pages = low_confidence_pages(s, actor, batch.id)
    return render(request, "ocr_batch.html", actor, batch=batch, pages=pages)


def _page(inst: Instance, actor: Actor, page_id: int) -> tuple[ScanPage, dict[str, Any]]:
    with inst.db.read() as s:
        page = s.get(ScanPage, page_id)
        if page is None:
            raise NotFound(f"页面 {page_id} 不存在")
        if page.record_id is not None:  # the text and image are the record's: its 密级 applies
            inst.catalogue.get(s, actor, page.record_id)
        text = s.scalar(select(ScanPageText).where(ScanPageText.page_id == page_id))
        if text is None:
            raise NotFound(f"页面 {page_id} 尚未识别")
        batch = s.get(ScanBatch, page.batch_id)
        data = page_text_json(page, text)
        data["batch_uid"] = batch.uid if batch else ""
        s.expunge(page)
        return page, data


def _lines(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Editable lines: the corrected text's lines, else the OCR lines with their confidence."""
    if data["corrected"]:
        return [{"text": t, "confidence": None} for t in (data["text"] or "").split("\n")]
    return [{"text": ln["text"], "confidence": ln["confidence"]} for ln in data["lines"]]


@router.get("/digitisation/pages/{page_id}/correct", response_class=HTMLResponse)
def correct_view(
    page_id: PageId, request: Request, actor: Actor = require(Perm.DIGITISATION_READ)
) -> Response:
    _, data = _page(get_instance(request), actor, page_id)
    return render(
        request,
        "ocr_correct.html",
        actor,
        page=data,
        lines=_lines(data),
        can_correct=actor.can(Perm.OCR_CORRECT),
        saved=request.query_params.get("saved") == "1",
    )


@router.get("/digitisation/pages/{page_id}/image.jpg")
async def page_image(
    page_id: PageId, request: Request, actor: Actor = require(Perm.DIGITISATION_READ)
) -> Response:
    inst = get_instance(request)
    page, _ = await run_in_threadpool(_page, inst, actor, page_id)
    data = await run_in_threadpool(page_access_jpeg, inst, page)
    return Response(
        data, media_type="image/jpeg", headers={"cache-control": "private, max-age=3600"}
    )


@router.post("/digitisation/pages/{page_id}/correct", response_class=HTMLResponse)
async def correct_form(
    page_id: PageId, request: Request, actor: Actor = require(Perm.OCR_CORRECT)
) -> Response:
    inst = get_instance(request)
    form = await request.form()
    lines = [v for v in form.getlist("line") if isinstance(v, str)]
    try:
        await run_in_threadpool(correct_page, inst, actor, page_id, "\n".join(lines))
    except LantaiError as exc:
        _, data = _page(inst, actor, page_id)
        return render(
            request,
            "ocr_correct.html",
            actor,
            status_code=exc.status,
            page=data,
            lines=[{"text": t, "confidence": None} for t in lines],
            can_correct=True,
            saved=False,
            error=exc,
        )
    return RedirectResponse(f"/digitisation/pages/{page_id}/correct?saved=1", status_code=303)
