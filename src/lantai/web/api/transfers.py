"""Transfers (移交接收): the online transfer API for agency systems, progress, reports, review.

Resumable upload of a package, then an ingest job (see :mod:`lantai.ingest.uploads`)::

    POST  /api/transfers/uploads                {idempotency_key, filename, size, sha256, …}
    HEAD  /api/transfers/uploads/{id}           → Upload-Offset, Upload-Length
    GET   /api/transfers/uploads/{id}           → {offset, size, state, transfer}
    PUT   /api/transfers/uploads/{id}           Content-Range: bytes a-b/total (PATCH too)
    POST  /api/transfers/uploads/{id}/complete  → the transfer (201), or the same one again (200)

    GET   /api/transfers                        transfers this account may see
    GET   /api/transfers/{uid}                  state, decision, counts, job progress
    GET   /api/transfers/{uid}/report.{json|html|pdf}   the 四性检测报告
    POST  /api/transfers/{uid}/review           confirm flagged items, with a reason

Agency accounts (role ``agency``) see only what they submitted. The ingest job is woken through
``app.state.jobs`` (the in-process runner) when the app runs one; otherwise it waits for a
worker (``lantai ingest resume``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal
from urllib.parse import quote

import anyio.from_thread
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from lantai.errors import NotFound
from lantai.ingest.report import REPORT_NAME
from lantai.ingest.service import get_transfer, list_transfers, review, transfer_json, work_dir
from lantai.ingest.uploads import (
    UploadHashes,
    complete_upload,
    create_upload,
    get_upload,
    parse_content_range,
    upload_json,
    write_chunk,
)
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.storage import ObjectNotFound, open_store
from lantai.store import IngestTransfer, Job
from lantai.web.api.schemas import ErrorOut
from lantai.web.deps import get_instance, require
from lantai.web.uploads import clean_filename

__all__ = ["job_waker", "report_response", "router", "upload_hashes"]

router = APIRouter(
    prefix="/api/transfers",
    tags=["移交接收"],
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},
        413: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
)

UploadId = Annotated[str, Path(min_length=36, max_length=36, description="上传 ID")]
TransferUid = Annotated[str, Path(min_length=36, max_length=36, description="移交 ID")]
REPORT_MEDIA = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
# The report page is self-contained (inline CSS, no scripts): a CSP of its own.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"


class UploadIn(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200, description="发送方生成的幂等键")
    filename: str = Field(
        min_length=1, max_length=255, description="移交包文件名（.zip/.tar/.eep…）"
    )
    size: int = Field(ge=1, le=2**50, description="移交包大小（字节）")
    sha256: str = Field(min_length=64, max_length=64, description="移交包 SHA-256（十六进制）")
    fonds_code: str | None = Field(None, max_length=16, description="接收全宗号")
    category: str | None = Field(None, max_length=16, description="门类代码或名称")
    stage: Literal["YJ", "GD"] = Field("YJ", description="检测环节：YJ 移交接收，GD 归档")


class ReviewIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="复核意见")


def upload_hashes(request: Request) -> UploadHashes:
    """The app's running upload digests (created on first use)."""
    state = request.app.state
    found = getattr(state, "ingest_upload_hashes", None)
    if found is None:
        found = UploadHashes()
        state.ingest_upload_hashes = found
    return found


def job_waker(request: Request) -> Any:
    """``wake`` of the app's job runner, if it runs one (``app.state.jobs``)."""
    runner = getattr(request.app.state, "jobs", None)
    return getattr(runner, "wake", None)


def _transfer_uid(inst: Instance, transfer_id: int | None) -> str | None:
    if transfer_id is None:
        return None
    with inst.db.read() as s:
        return s.scalar(select(IngestTransfer.uid).where(IngestTransfer.id == transfer_id))


# -- uploads ----------------------------------------------------------------------------------------


@router.post(
    "/uploads",
    status_code=201,
    summary="创建可续传上传（幂等：同一幂等键返回同一上传）",
    responses={200: {"description": "同一幂等键的已有上传（不新建）"}},
)
def create(
    body: UploadIn, request: Request, actor: Actor = require(Perm.INGEST_TRANSFER_SUBMIT)
) -> Response:
    inst = get_instance(request)
    upload, created = create_upload(
        inst,
        actor,
        idempotency_key=body.idempotency_key,
        filename=clean_filename(body.filename),
        size=body.size,
        sha256=body.sha256,
        fonds_code=body.fonds_code,
        category=body.category,
        stage=body.stage,
    )
    out = upload_json(upload, _transfer_uid(inst, upload.transfer_id))
    return JSONResponse(
        out,
        status_code=201 if created else 200,
        headers=_offset(upload.received, upload.declared_size),
    )


def _offset(offset: int, size: int) -> dict[str, str]:
    return {"Upload-Offset": str(offset), "Upload-Length": str(size)}


@router.head("/uploads/{upload_id}", summary="查询上传偏移（续传起点）")
def head_upload(
    upload_id: UploadId, request: Request, actor: Actor = require(Perm.INGEST_TRANSFER_SUBMIT)
) -> Response:
    upload = get_upload(get_instance(request), actor, upload_id)
    return Response(status_code=200, headers=_offset(upload.received, upload.declared_size))


@router.get("/uploads/{upload_id}", summary="上传状态与偏移")
def get_upload_status(
    upload_id: UploadId, request: Request, actor: Actor = require(Perm.INGEST_TRANSFER_SUBMIT)
) -> Response:
    inst = get_instance(request)
    upload = get_upload(inst, actor, upload_id)
    return JSONResponse(
        upload_json(upload, _transfer_uid(inst, upload.transfer_id)),
        headers=_offset(upload.received, upload.declared_size),
    )


async def put_chunk(
    upload_id: UploadId, request: Request, actor: Actor = require(Perm.INGEST_TRANSFER_SUBMIT)
) -> Response:
    inst = get_instance(request)
    length_header = request.headers.get("content-length")
    length = int(length_header) if length_header and length_header.isdigit() else None
    start, end, total = parse_content_range(request.headers.get("content-range"), length)
    body = request.stream().__aiter__()

    async def next_piece() -> bytes | None:
        try:
            return await body.__anext__()
        except StopAsyncIteration:
            return None

    def chunks() -> Iterator[bytes]:
        # Runs in a worker thread: pull each piece of the body from the event loop.
        while (chunk := anyio.from_thread.run(next_piece)) is not None:
            if chunk:
                yield chunk

    offset = await run_in_threadpool(
        write_chunk,
        inst,
        actor,
        upload_id,
        start=start,
        end=end,
        total=total,
        chunks=chunks(),
        hashes=upload_hashes(request),
    )
    return JSONResponse(
        {"upload_id": upload_id, "offset": offset, "size": total}, headers=_offset(offset, total)
    )


_CHUNK_SUMMARY = "上传一个数据块（Content-Range: bytes 起始-结束/总长；须从当前偏移开始）"
for _method in ("PUT", "PATCH"):  # PATCH as in tus; one operation id per method for OpenAPI
    router.add_api_route(
        "/uploads/{upload_id}",
        put_chunk,
        methods=[_method],
        summary=_CHUNK_SUMMARY,
        operation_id=f"upload_chunk_{_method.lower()}",
    )


@router.post(
    "/uploads/{upload_id}/complete",
    status_code=201,
    summary="完成上传：校验大小与 SHA-256，登记移交并启动四性检测与接收",
)
def complete(
    upload_id: UploadId, request: Request, actor: Actor = require(Perm.INGEST_TRANSFER_SUBMIT)
) -> Response:
    inst = get_instance(request)
    transfer, created = complete_upload(
        inst, actor, upload_id, hashes=upload_hashes(request), wake=job_waker(request)
    )
    return JSONResponse(transfer_json(transfer), status_code=201 if created else 200)


# -- transfers --------------------------------------------------------------------------------------


def _jobs(inst: Instance, ids: list[int]) -> dict[int, Job]:
    if not ids:
        return {}
    with inst.db.read() as s:
        return {j.id: j for j in s.scalars(select(Job).where(Job.id.in_(ids)))}


@router.get("", summary="移交列表（立档单位只看到本账号提交的）")
def list_all(
    request: Request,
    state: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    actor: Actor = require(Perm.INGEST_TRANSFER_READ),
) -> list[dict[str, Any]]:
    inst = get_instance(request)
    with inst.db.read() as s:
        rows = list(list_transfers(s, actor, limit=limit, state=state))
    jobs = _jobs(inst, [r.job_id for r in rows if r.job_id is not None])
    return [transfer_json(r, jobs.get(r.job_id) if r.job_id else None) for r in rows]


@router.get("/{uid}", summary="一次移交的状态、检测结论与进度")
def get_one(
    uid: TransferUid, request: Request, actor: Actor = require(Perm.INGEST_TRANSFER_READ)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        row = get_transfer(s, actor, uid)
        job = s.get(Job, row.job_id) if row.job_id else None
    return transfer_json(row, job)


def report_response(inst: Instance, row: IngestTransfer, fmt: str) -> Response:
    """The stored (or, while in progress, staged) report of ``row`` in format ``fmt``."""
    media = REPORT_MEDIA[fmt]
    filename = f"{REPORT_NAME}-{row.uid[:8]}.{fmt}"
    headers = {"content-security-policy": REPORT_CSP} if fmt == "html" else {}
    disposition = "inline" if fmt in ("html", "pdf") else "attachment"
    headers["content-disposition"] = f"{disposition}; filename*=UTF-8''{quote(filename)}"
    if row.report_key:
        key = f"{row.report_key.rsplit('.', 1)[0]}.{fmt}"
        store = open_store(inst.settings)
        try:
            stream = store.open(key)
        except ObjectNotFound:
            raise NotFound("检测报告在存储中不存在") from None

        def body() -> Iterator[bytes]:
            with stream:
                while chunk := stream.read(1 << 16):
                    yield chunk

        return StreamingResponse(body(), media_type=media, headers=headers)
    staged = work_dir(inst.settings, row.uid) / "report" / f"{REPORT_NAME}.{fmt}"
    if row.decision and staged.is_file():
        return FileResponse(staged, media_type=media, headers=headers)
    raise NotFound("检测报告尚未生成")


@router.get("/{uid}/report.{fmt}", summary="四性检测报告（JSON、HTML 或 PDF）")
def get_report(
    uid: TransferUid,
    fmt: Annotated[Literal["json", "html", "pdf"], Path()],
    request: Request,
    actor: Actor = require(Perm.INGEST_TRANSFER_READ),
) -> Response:
    inst = get_instance(request)
    with inst.db.read() as s:
        row = get_transfer(s, actor, uid)
    return report_response(inst, row, fmt)


@router.post("/{uid}/review", summary="复核待人工复核的检测项（须填写复核意见，记入审计日志）")
def post_review(
    uid: TransferUid,
    body: ReviewIn,
    request: Request,
    actor: Actor = require(Perm.INGEST_TRANSFER_REVIEW),
) -> dict[str, Any]:
    row = review(get_instance(request), actor, uid, reason=body.reason)
    return transfer_json(row)
