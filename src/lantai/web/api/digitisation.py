"""存量数字化 API: scan batches, image QC, 挂接, OCR and its correction.

::

    POST /api/digitisation/batches                       import a folder on the server {path, …}
    GET  /api/digitisation/batches                       batches (newest first)
    GET  /api/digitisation/batches/{uid}                 one batch with QC / 挂接 / OCR summaries
    POST /api/digitisation/batches/{uid}/qc              start the QC job → {job_id}
    GET  /api/digitisation/batches/{uid}/qc              the QC report (JSON, zh-CN messages)
    GET  /api/digitisation/batches/{uid}/report.xlsx     QC + 挂接 report as a workbook
    POST /api/digitisation/batches/{uid}/link            挂接 by 档号 → the 原文挂接记录
    GET  /api/digitisation/batches/{uid}/link            the stored 原文挂接记录
    POST /api/digitisation/batches/{uid}/ocr             start the OCR job {engine, script} → {job_id}
    GET  /api/digitisation/batches/{uid}/low-confidence  pages listed for 校对
    GET  /api/digitisation/pages/{page_id}/text          a page's OCR text, lines and confidence
    PUT  /api/digitisation/pages/{page_id}/text          save the corrected text {text}
    GET  /api/digitisation/stats/linking                 挂接率 per 全宗 / 门类 / 专题库

Batches imported through the API must lie in the instance's scan drop folder ``<home>/scans``.
Jobs are woken through ``app.state.jobs`` when the app runs a job runner; otherwise a worker
(``lantai scan qc|ocr`` or ``lantai serve``) runs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from lantai.digitisation import (
    batch_json,
    correct_page,
    get_batch,
    import_batch,
    link_batch,
    linking_stats,
    list_batches,
    low_confidence_pages,
)
from lantai.digitisation.ocr import ENGINES
from lantai.digitisation.ocr_run import page_text_json
from lantai.digitisation.report_xlsx import batch_report_xlsx
from lantai.digitisation.tasks import enqueue_ocr, enqueue_qc
from lantai.errors import InputError, NotFound
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import ScanPage, ScanPageText
from lantai.web.api.schemas import ErrorOut
from lantai.web.deps import get_instance, require

__all__ = ["router"]

router = APIRouter(
    prefix="/api/digitisation",
    tags=["存量数字化"],
    responses={
        400: {"model": ErrorOut},
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
)

BatchId = Annotated[str, PathParam(min_length=1, max_length=36, description="批次 ID（uid）")]
PageId = Annotated[int, PathParam(ge=1, le=2**62, description="页面 ID")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class BatchIn(BaseModel):
    path: str = Field(min_length=1, max_length=4000, description="服务器上扫描批次目录的路径")
    fonds_code: str | None = Field(None, max_length=16, description="全宗号")
    category: str | None = Field(None, max_length=8, description="门类代码")
    collection: str | None = Field(None, max_length=100, description="专题库")
    profile: str = Field(
        "general", max_length=16, description="扫描用途：general / ocr / facsimile"
    )
    name: str | None = Field(None, max_length=300, description="批次名称")


class OcrIn(BaseModel):
    engine: Literal["rapidocr", "tesseract"] | None = Field(
        None, description=f"识别引擎：{'、'.join(ENGINES)}"
    )
    script: Literal["simplified", "traditional"] = Field(
        "simplified", description="文种：简体 / 繁体"
    )


class CorrectionIn(BaseModel):
    text: str = Field(min_length=1, max_length=200_000, description="校对后的页面文本")


def scan_drop_dir(inst: Instance) -> Path:
    """Where scanning contractors put batches the web API may import (``<home>/scans``).

    The API never reads other server paths; the CLI (an operator at the server) may.
    """
    return (inst.home / "scans").resolve()


def _waker(request: Request) -> Any:
    return getattr(getattr(request.app.state, "jobs", None), "wake", None)


@router.post("/batches", status_code=201, summary="导入扫描批次（母版原样保存为不可变信息包）")
def create_batch(
    body: BatchIn, request: Request, actor: Actor = require(Perm.DIGITISATION_RUN)
) -> Response:
    inst = get_instance(request)
    folder = Path(body.path)
    if not folder.is_absolute():
        raise InputError("扫描批次目录（path）须为服务器上的绝对路径")
    drop = scan_drop_dir(inst)
    if not folder.resolve().is_relative_to(drop):
        raise InputError(f"扫描批次目录（path）须位于服务器的扫描交接目录 {drop} 之下")
    batch = import_batch(
        inst,
        actor,
        folder,
        fonds_code=body.fonds_code,
        category=body.category,
        collection=body.collection,
        profile=body.profile,
        name=body.name,
    )
    with inst.db.read() as s:
        return JSONResponse(batch_json(s, get_batch(s, actor, batch.uid)), status_code=201)


@router.get("/batches", summary="扫描批次列表")
def batches(
    request: Request, actor: Actor = require(Perm.DIGITISATION_READ)
) -> list[dict[str, Any]]:
    with get_instance(request).db.read() as s:
        return [batch_json(s, b) for b in list_batches(s, actor)]


@router.get("/batches/{uid}", summary="扫描批次详情")
def batch(
    uid: BatchId, request: Request, actor: Actor = require(Perm.DIGITISATION_READ)
) -> dict[str, Any]:
    with get_instance(request).db.read() as s:
        return batch_json(s, get_batch(s, actor, uid))


@router.post("/batches/{uid}/qc", status_code=202, summary="启动图像质检作业")
def start_qc(
    uid: BatchId, request: Request, actor: Actor = require(Perm.DIGITISATION_RUN)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        b = get_batch(s, actor, uid)
        job = enqueue_qc(s, b.id, actor.username, force=True, wake=_waker(request))
        return {"job_id": job.id, "kind": job.kind, "state": job.state}


@router.get("/batches/{uid}/qc", summary="质检报告（JSON）")
def qc_report(
    uid: BatchId, request: Request, actor: Actor = require(Perm.DIGITISATION_READ)
) -> dict[str, Any]:
    with get_instance(request).db.read() as s:
        b = get_batch(s, actor, uid)
        if not b.qc:
            raise NotFound(f"扫描批次「{b.name}」尚未质检")
        return dict(b.qc)


@router.get("/batches/{uid}/report.xlsx", summary="质检与挂接报告（XLSX）")
def report_xlsx(
    uid: BatchId, request: Request, actor: Actor = require(Perm.DIGITISATION_READ)
) -> Response:
    with get_instance(request).db.read() as s:
        b = get_batch(s, actor, uid)
        pages = list(
            s.scalars(
                select(ScanPage)
                .where(ScanPage.batch_id == b.id)
                .order_by(ScanPage.archival_code, ScanPage.page_no)
            )
        )
        data = batch_report_xlsx(b, pages)
    name = f"scan-qc-{b.uid[:8]}.xlsx"
    return Response(
        data, media_type=XLSX, headers={"content-disposition": f'attachment; filename="{name}"'}
    )


@router.post("/batches/{uid}/link", summary="按档号挂接（返回原文挂接记录）")
async def link(
    uid: BatchId, request: Request, actor: Actor = require(Perm.DIGITISATION_RUN)
) -> dict[str, Any]:
    inst = get_instance(request)

    def run() -> dict[str, Any]:
        with inst.db.read() as s:
            batch_id = get_batch(s, actor, uid).id
        return link_batch(inst, actor, batch_id)

    return await run_in_threadpool(run)


@router.get("/batches/{uid}/link", summary="原文挂接记录")
def link_report(
    uid: BatchId, request: Request, actor: Actor = require(Perm.DIGITISATION_READ)
) -> dict[str, Any]:
    with get_instance(request).db.read() as s:
        b = get_batch(s, actor, uid)
        if not b.linking:
            raise NotFound(f"扫描批次「{b.name}」尚未挂接")
        return dict(b.linking)


@router.post("/batches/{uid}/ocr", status_code=202, summary="启动文字识别作业")
def start_ocr(
    uid: BatchId, body: OcrIn, request: Request, actor: Actor = require(Perm.DIGITISATION_RUN)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        b = get_batch(s, actor, uid)
        job = enqueue_ocr(
            s, b.id, actor.username, engine=body.engine, script=body.script, wake=_waker(request)
        )
        return {"job_id": job.id, "kind": job.kind, "state": job.state}


@router.get("/batches/{uid}/low-confidence", summary="低置信度页面（待校对）")
def low_confidence(
    uid: BatchId, request: Request, actor: Actor = require(Perm.DIGITISATION_READ)
) -> list[dict[str, Any]]:
    with get_instance(request).db.read() as s:
        return low_confidence_pages(s, actor, get_batch(s, actor, uid).id)


@router.get("/pages/{page_id}/text", summary="页面识别文本")
def page_text(
    page_id: PageId, request: Request, actor: Actor = require(Perm.DIGITISATION_READ)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        page = s.get(ScanPage, page_id)
        if page is None:
            raise NotFound(f"页面 {page_id} 不存在")
        if page.record_id is not None:  # the text is the record's: its 密级 applies
            inst.catalogue.get(s, actor, page.record_id)
        text = s.scalar(select(ScanPageText).where(ScanPageText.page_id == page_id))
        return page_text_json(page, text)


@router.put("/pages/{page_id}/text", summary="保存校对后的页面文本（记录事件）")
async def save_text(
    page_id: PageId, body: CorrectionIn, request: Request, actor: Actor = require(Perm.OCR_CORRECT)
) -> dict[str, Any]:
    return await run_in_threadpool(correct_page, get_instance(request), actor, page_id, body.text)


@router.get("/stats/linking", summary="挂接率（全宗、门类、专题库）")
def stats(request: Request, actor: Actor = require(Perm.DIGITISATION_READ)) -> list[dict[str, Any]]:
    with get_instance(request).db.read() as s:
        return linking_stats(s, actor)
