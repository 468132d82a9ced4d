"""Catalogue import (spreadsheets, EAD 2002) and export (归档文件目录, EAD3)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy import select
from starlette.background import BackgroundTask

from lantai.catalogue.directory import export_directory
from lantai.catalogue.ead3 import export_ead3
from lantai.catalogue.ead2002 import import_ead2002
from lantai.catalogue.importer import ImportRejected, import_spreadsheet, report_to_xlsx
from lantai.errors import NotFound, Problem
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import ImportBatch
from lantai.web.api.schemas import ErrorOut
from lantai.web.deps import get_instance, require
from lantai.web.uploads import received_file

__all__ = ["batch_json", "router", "run_spreadsheet_import"]

router = APIRouter(
    prefix="/api",
    tags=["导入导出"],
    responses={
        400: {"model": ErrorOut},  # an unreadable file (InputError: bad XML, bad spreadsheet)
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        413: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
)
RecordId = Annotated[int, PathParam(ge=1, le=2**62)]


def _scratch(inst: Instance) -> Path:
    return inst.home / "tmp"


def run_spreadsheet_import(
    inst: Instance, actor: Actor, upload: UploadFile, *, fonds_id: int, category: str | None
) -> dict[str, Any]:
    """Import an uploaded spreadsheet; returns the result, or raises ImportRejected with the report."""
    with received_file(upload, _scratch(inst), max_bytes=inst.settings.max_upload_mb << 20) as (
        path,
        name,
    ):
        result = import_spreadsheet(
            inst, actor, path, fonds_id=fonds_id, category=category or None, filename=name
        )
    return {
        "batch_id": result.batch_id,
        "filename": result.filename,
        "rows": result.rows,
        "imported": result.imported,
        "codes_assigned": result.codes_assigned,
        "codes_kept": result.codes_kept,
        "series": [{"id": sid, "title": title} for sid, title in result.series],
        "skipped_rows": result.skipped_rows,
        "seconds": round(result.seconds, 2),
    }


def batch_json(batch: ImportBatch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "filename": batch.filename,
        "status": batch.status,
        "format": batch.file_format,
        "encoding": batch.encoding,
        "sha256": batch.sha256,
        "size": batch.size,
        "rows": batch.row_count,
        "imported": batch.imported_count,
        "created_by": batch.created_by,
        "created_at": batch.created_at.isoformat(),
        "problems": batch.problems,
    }


@router.post("/imports", status_code=201, summary="导入目录电子表格（XLSX/CSV，全部通过才写入）")
def import_table(
    request: Request,
    file: Annotated[UploadFile, File(description="XLSX 或 CSV（UTF-8、UTF-8-BOM、GBK/GB18030）")],
    fonds_id: Annotated[int, Form(ge=1, le=2**62)],
    category: Annotated[str | None, Form(max_length=8)] = None,
    actor: Actor = require(Perm.CATALOGUE_IMPORT),
) -> Response:
    inst = get_instance(request)
    try:
        body = run_spreadsheet_import(inst, actor, file, fonds_id=fonds_id, category=category)
    except ImportRejected as exc:
        out = exc.to_dict() | {"batch_id": exc.batch_id, "total_problems": exc.total_problems}
        return JSONResponse(out, status_code=exc.status)
    return JSONResponse(body, status_code=201)


@router.get("/imports", summary="导入记录（新到旧）")
def list_imports(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    actor: Actor = require(Perm.CATALOGUE_IMPORT),
) -> list[dict[str, Any]]:
    inst = get_instance(request)
    with inst.db.read() as s:
        rows = s.scalars(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit)).all()
        return [batch_json(b) | {"problems": len(b.problems)} for b in rows]


def _batch(inst: Instance, batch_id: int) -> ImportBatch:
    with inst.db.read() as s:
        batch = s.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound(f"导入记录 {batch_id} 不存在")
    return batch


@router.get("/imports/{batch_id}", summary="一次导入的结果与逐行问题清单")
def get_import(
    batch_id: RecordId, request: Request, actor: Actor = require(Perm.CATALOGUE_IMPORT)
) -> dict[str, Any]:
    return batch_json(_batch(get_instance(request), batch_id))


@router.get(
    "/imports/{batch_id}/report.xlsx", summary="逐行问题清单（XLSX）", response_class=FileResponse
)
def import_report(
    batch_id: RecordId, request: Request, actor: Actor = require(Perm.CATALOGUE_IMPORT)
) -> Response:
    inst = get_instance(request)
    batch = _batch(inst, batch_id)
    problems = [Problem(**p) for p in batch.problems]
    out = _temp(inst, ".xlsx")
    report_to_xlsx(problems, out)
    return _download(
        out,
        f"导入问题清单-{batch.filename}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@router.post(
    "/imports/ead", status_code=201, summary="导入 EAD 2002（须通过 XSD 校验；全部通过才写入）"
)
def import_ead(
    request: Request,
    file: Annotated[UploadFile, File()],
    fonds_code: Annotated[str | None, Form(max_length=8)] = None,
    category: Annotated[str, Form(max_length=8)] = "WS",
    actor: Actor = require(Perm.CATALOGUE_IMPORT),
) -> dict[str, Any]:
    inst = get_instance(request)
    with received_file(file, _scratch(inst), max_bytes=inst.settings.max_upload_mb << 20) as (
        path,
        _name,
    ):
        result = import_ead2002(inst, actor, path, fonds_code=fonds_code or None, category=category)
    return {
        "fonds_id": result.fonds_id,
        "fonds_code": result.fonds_code,
        "components": result.components,
        "records": result.records,
        "levels": result.levels,
        "notes": [n.to_dict() for n in result.notes],
    }


def _temp(inst: Instance, suffix: str) -> Path:
    directory = _scratch(inst)
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(suffix=suffix, dir=directory)
    os.close(fd)
    return Path(name)


def _download(path: Path, filename: str, media_type: str) -> Response:
    return FileResponse(
        path,
        media_type=media_type,
        filename=filename,
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get(
    "/exports/directory/{record_id}",
    summary="导出归档文件目录（DA/T 22）",
    response_class=FileResponse,
)
def export_directory_file(
    record_id: RecordId,
    request: Request,
    format: Annotated[Literal["xlsx", "pdf"], Query()] = "xlsx",
    actor: Actor = require(Perm.CATALOGUE_EXPORT),
) -> Response:
    inst = get_instance(request)
    out = _temp(inst, f".{format}")
    try:
        result = export_directory(inst, actor, record_id, out, format)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    label = (result.cover.fonds_name if result.cover else "") or str(record_id)
    media = (
        "application/pdf"
        if format == "pdf"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return _download(out, f"归档文件目录-{label}.{format}", media)


@router.get("/exports/ead3/{record_id}", summary="导出 EAD3 XML", response_class=FileResponse)
def export_ead3_file(
    record_id: RecordId, request: Request, actor: Actor = require(Perm.CATALOGUE_EXPORT)
) -> Response:
    inst = get_instance(request)
    out = _temp(inst, ".xml")
    try:
        export_ead3(inst, actor, record_id, out)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return _download(out, f"EAD3-{record_id}.xml", "application/xml")
