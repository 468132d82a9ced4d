"""一屏掌控 and the annual statistics: figures, drill-downs, live updates, the 年报 form."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from lantai.dashboard import DashboardService, aggregates, annual_form, write_xlsx
from lantai.security import Actor, Perm
from lantai.web.api.schemas import ErrorOut
from lantai.web.deps import get_instance, require

__all__ = ["dashboard_service", "router"]

router = APIRouter(
    prefix="/api",
    tags=["一屏掌控"],
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)
_DRILL_PARAMS = ("category", "year", "carrier", "state")


def dashboard_service(request: Request) -> DashboardService:
    """One service per app (providers and targets are read once)."""
    svc: DashboardService | None = getattr(request.app.state, "dashboard", None)
    if svc is None:
        svc = DashboardService(get_instance(request))
        request.app.state.dashboard = svc
    return svc


@router.get("/dashboard", summary="一屏掌控：全部统计项")
def figures(request: Request, _: Actor = require(Perm.DASHBOARD_READ)) -> dict[str, Any]:
    """Every figure with its value, unit, target, breakdown and drill-down URL. Pending events are
    applied to the summary first (within about 150 ms; the rest on the next call)."""
    return dashboard_service(request).figures()


@router.get("/dashboard/drill/{figure}", summary="一屏掌控：统计项明细")
def drill(
    request: Request,
    figure: str,
    category: Annotated[str | None, Query(max_length=8)] = None,
    year: Annotated[int | None, Query(ge=0, le=9999)] = None,
    carrier: Annotated[str | None, Query(max_length=32)] = None,
    state: Annotated[str | None, Query(max_length=20)] = None,
    collection: Annotated[str | None, Query(max_length=100)] = None,
    review_round: Annotated[str | None, Query(alias="round", max_length=32)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    channel: Annotated[str | None, Query(max_length=8)] = None,
    purpose: Annotated[str | None, Query(max_length=40)] = None,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    actor: Actor = require(Perm.DASHBOARD_READ),
) -> dict[str, Any]:
    """The rows a figure (or one point of its breakdown) counts — records, transfers, scan pages,
    review batches, backups or 利用登记 rows — paged; ``total`` equals the figure. Titles of
    records above the reader's 密级授权 are masked."""
    given = {
        "category": category,
        "year": year,
        "carrier": carrier,
        "state": state,
        "collection": collection,
        "round": review_round,
        "kind": kind,
        "channel": channel,
        "purpose": purpose,
    }
    params = {k: str(v) for k, v in given.items() if v is not None}
    return dashboard_service(request).drill_page(
        figure, params, offset=offset, limit=limit, clearance=actor.clearance_rank
    )


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\nid: {data.get('seq', '')}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get(
    "/dashboard/stream",
    summary="一屏掌控：实时更新（Server-Sent Events）",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request,
    interval: Annotated[float, Query(ge=0.2, le=60)] = 2.0,
    max_messages: Annotated[int | None, Query(ge=1)] = None,
    _: Actor = require(Perm.DASHBOARD_READ),
) -> StreamingResponse:
    """``text/event-stream``: a ``figures`` event at once, then one whenever the event log moves
    (checked every ``interval`` seconds), and a comment line as heartbeat. ``max_messages`` ends
    the stream after that many ``figures`` events."""
    svc = dashboard_service(request)
    inst = svc.inst

    def current_head() -> int:
        with inst.db.read() as s:
            return aggregates.head(s)

    async def events() -> AsyncIterator[str]:
        sent = 0
        last = -1
        idle = 0.0
        while max_messages is None or sent < max_messages:
            top = await run_in_threadpool(current_head)
            if top != last:
                data = await run_in_threadpool(svc.figures)
                last = top
                sent += 1
                idle = 0.0
                yield _sse("figures", data)
                continue
            if await request.is_disconnected():
                return
            await asyncio.sleep(interval)
            idle += interval
            if idle >= 15:
                idle = 0.0
                yield ": heartbeat\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


@router.get("/statistics/annual", summary="档案馆基本情况表（按年度）")
def annual(
    request: Request,
    year: Annotated[int | None, Query(ge=1900, le=9998)] = None,  # the year after must exist
    verify: bool = False,
    _: Actor = require(Perm.STATISTICS_ANNUAL_READ),
) -> dict[str, Any]:
    """Every coded indicator for ``year`` (default: this year); ``verify`` recounts each from its
    records (slow at scale) and lists any difference in ``problems``."""
    inst = get_instance(request)
    y = year or inst.catalogue.today().year
    return annual_form(inst, y, verify=verify).as_json()


@router.get(
    "/statistics/annual.xlsx", summary="档案馆基本情况表（XLSX 下载）", response_class=FileResponse
)
def annual_xlsx(
    request: Request,
    year: Annotated[int | None, Query(ge=1900, le=9998)] = None,  # the year after must exist
    _: Actor = require(Perm.STATISTICS_ANNUAL_READ),
) -> FileResponse:
    inst = get_instance(request)
    y = year or inst.catalogue.today().year
    form = annual_form(inst, y)
    tmp = Path(tempfile.mkdtemp(prefix="lantai-annual-"))
    out = write_xlsx(form, tmp / f"{y}.xlsx", archive_name=inst.settings.archive_name or "")
    return FileResponse(
        out,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename=f"档案馆基本情况表_{y}.xlsx",
        background=BackgroundTask(_remove, tmp),
    )


def _remove(path: Path) -> None:
    for p in path.iterdir():
        p.unlink()
    path.rmdir()
