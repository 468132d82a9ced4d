"""The import page: upload an agency spreadsheet (or an EAD 2002 file), read the report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from lantai.archival import Level
from lantai.catalogue.ead2002 import import_ead2002
from lantai.catalogue.importer import ImportRejected
from lantai.errors import LantaiError
from lantai.security import Actor, Perm
from lantai.store import ImportBatch, Record
from lantai.web.api.catalogue_io import run_spreadsheet_import
from lantai.web.deps import get_instance, require
from lantai.web.pages.render import render
from lantai.web.uploads import received_file

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _context(request: Request, actor: Actor) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        fonds = s.scalars(
            select(Record)
            .where(Record.level == Level.FONDS.value, inst.catalogue.visible(actor))
            .order_by(Record.position)
        ).all()
        batches = s.scalars(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(20)).all()
    categories = [
        (e.code, f"{e.display}（{e.code}）") for e in inst.domain.table("category").entries
    ]
    return {"fonds": fonds, "batches": batches, "categories": categories}


def _page(request: Request, actor: Actor, *, status_code: int = 200, **outcome: Any) -> Response:
    """The import page with at most one outcome shown: result, rejected, ead or error."""
    shown = {"result": None, "rejected": None, "ead": None, "error": None, **outcome}
    return render(
        request, "import.html", actor, status_code=status_code, **shown, **_context(request, actor)
    )


@router.get("/import", response_class=HTMLResponse)
def import_page(request: Request, actor: Actor = require(Perm.CATALOGUE_IMPORT)) -> Response:
    return _page(request, actor)


@router.post("/import", response_class=HTMLResponse)
async def import_submit(
    request: Request,
    file: Annotated[UploadFile, File()],
    fonds_id: Annotated[int, Form(ge=1, le=2**62)],
    category: Annotated[str, Form(max_length=8)] = "",
    actor: Actor = require(Perm.CATALOGUE_IMPORT),
) -> Response:
    inst = get_instance(request)
    try:
        result = await run_in_threadpool(
            run_spreadsheet_import, inst, actor, file, fonds_id=fonds_id, category=category or None
        )
    except ImportRejected as exc:
        return _page(request, actor, status_code=422, rejected=exc)
    except LantaiError as exc:
        return _page(request, actor, status_code=exc.status, error=exc)
    return _page(request, actor, result=result)


@router.post("/import/ead", response_class=HTMLResponse)
async def import_ead_submit(
    request: Request,
    file: Annotated[UploadFile, File()],
    fonds_code: Annotated[str, Form(max_length=8)] = "",
    category: Annotated[str, Form(max_length=8)] = "WS",
    actor: Actor = require(Perm.CATALOGUE_IMPORT),
) -> Response:
    inst = get_instance(request)

    def run() -> Any:
        with received_file(
            file, inst.home / "tmp", max_bytes=inst.settings.max_upload_mb << 20
        ) as (path, _):
            return import_ead2002(
                inst, actor, path, fonds_code=fonds_code or None, category=category
            )

    try:
        ead = await run_in_threadpool(run)
    except LantaiError as exc:
        return _page(request, actor, status_code=exc.status, error=exc)
    return _page(request, actor, ead=ead)
