"""The 一屏掌控 page: one screen of charts drawn by the vendored ECharts from /api/dashboard."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from lantai.security import Actor, Perm
from lantai.web.deps import get_instance, require
from lantai.web.pages.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, actor: Actor = require(Perm.DASHBOARD_READ)) -> Response:
    inst = get_instance(request)
    return render(
        request,
        "dashboard.html",
        actor,
        year=inst.catalogue.today().year,
        can_annual=actor.can(Perm.STATISTICS_ANNUAL_READ),
    )
