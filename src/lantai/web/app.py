"""The FastAPI application: JSON API under /api (OpenAPI at /api/docs) and zh-CN pages.

The whole URL map is the fixed list of routers in :data:`ROUTERS`; each route declares its
permission with ``require(Perm.X)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from lantai import __version__
from lantai.archival import Level
from lantai.instance import Instance
from lantai.jobs import default_registry
from lantai.jobs.backend import make_background
from lantai.search import SearchRuntime
from lantai.security import Actor, Perm
from lantai.storage.tasks import ensure_schedules
from lantai.web.api import access as access_api
from lantai.web.api import appraisal as appraisal_api
from lantai.web.api import appraisal_source as appraisal_source_api
from lantai.web.api import audit as audit_api
from lantai.web.api import auth as auth_api
from lantai.web.api import catalogue_io as catalogue_io_api
from lantai.web.api import certificates as certificates_api
from lantai.web.api import config as config_api
from lantai.web.api import dashboard as dashboard_api
from lantai.web.api import digitisation as digitisation_api
from lantai.web.api import disposal as disposal_api
from lantai.web.api import federation as federation_api
from lantai.web.api import jobs as jobs_api
from lantai.web.api import oai as oai_api
from lantai.web.api import publication as publication_api
from lantai.web.api import records as records_api
from lantai.web.api import search as search_api
from lantai.web.api import storage as storage_api
from lantai.web.api import transfers as transfers_api
from lantai.web.api import users as users_api
from lantai.web.deps import require
from lantai.web.errors import install_error_handlers
from lantai.web.headers import SecurityHeaders
from lantai.web.openapi import install_openapi
from lantai.web.pages import access_staff as access_pages
from lantai.web.pages import appraisal as appraisal_pages
from lantai.web.pages import audit as audit_pages
from lantai.web.pages import auth as auth_pages
from lantai.web.pages import backups as backup_pages
from lantai.web.pages import catalogue as catalogue_pages
from lantai.web.pages import certificates as certificate_pages
from lantai.web.pages import dashboard as dashboard_pages
from lantai.web.pages import digitisation as digitisation_pages
from lantai.web.pages import disposal as disposal_pages
from lantai.web.pages import imports as import_pages
from lantai.web.pages import jobs as jobs_pages
from lantai.web.pages import livelihood as livelihood_pages
from lantai.web.pages import portal as portal_pages
from lantai.web.pages import publication as publication_pages
from lantai.web.pages import search as search_pages
from lantai.web.pages import storage as storage_pages
from lantai.web.pages import transfers as transfer_pages
from lantai.web.pages import users as users_pages

__all__ = ["ROUTERS", "create_app"]

health = APIRouter(tags=["系统"])


@health.get("/api/health", summary="健康检查")
def health_check(request: Request, _: Actor = require(Perm.PUBLIC)) -> dict[str, Any]:
    inst: Instance = request.app.state.instance
    with inst.db.read() as s:
        s.connection().exec_driver_sql("SELECT 1")
    return {"ok": True, "version": __version__, "database": inst.db.dialect}


_DOCS_HTML = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>兰台 API 文档</title>
<link rel="stylesheet" href="/api/docs-assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs-assets/swagger-ui-bundle.js"></script>
<script src="/static/js/swagger-init.js"></script></body></html>"""


@health.get("/api/docs", include_in_schema=False)
def api_docs(_: Actor = require(Perm.PUBLIC)) -> HTMLResponse:
    """Swagger UI served from the package (no CDN); Swagger styles need inline style attributes."""
    csp = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; frame-ancestors 'none'"
    return HTMLResponse(_DOCS_HTML, headers={"content-security-policy": csp})


# Routes are matched in this order, one by one: the public portal's pages and search, the busiest
# routes, come first (at the end of the list, matching a portal path cost 0.5 ms per request).
ROUTERS: tuple[APIRouter, ...] = (
    health,
    portal_pages.router,
    search_api.public_router,
    auth_api.router,
    records_api.router,
    catalogue_io_api.router,
    search_api.router,
    appraisal_api.router,
    appraisal_source_api.router,
    publication_api.router,
    publication_api.public_router,
    oai_api.router,
    oai_api.union_router,
    transfers_api.router,
    digitisation_api.router,
    storage_api.router,
    disposal_api.router,
    disposal_api.backups_router,
    disposal_api.refusals_router,
    config_api.router,
    audit_api.router,
    dashboard_api.router,
    jobs_api.router,
    users_api.router,
    auth_pages.router,
    catalogue_pages.router,
    import_pages.router,
    search_pages.router,
    transfer_pages.router,
    appraisal_pages.router,
    publication_pages.router,
    audit_pages.router,
    dashboard_pages.router,
    users_pages.router,
    access_api.router,
    access_api.public_router,
    access_pages.router,
    jobs_pages.router,
    digitisation_pages.router,
    storage_pages.router,
    disposal_pages.router,
    backup_pages.router,
    certificates_api.router,
    certificates_api.public_router,
    certificate_pages.router,
    federation_api.router,
    federation_api.node_router,
    federation_api.public_router,
    federation_api.livelihood_router,
    livelihood_pages.router,
)


def _web_dir() -> Path:
    return Path(str(resources.files("lantai.web")))


def create_app(
    instance: Instance,
    *,
    extra_routers: tuple[APIRouter, ...] = (),
    background: bool = False,
) -> FastAPI:
    """The application over ``instance``.

    The lifespan always opens the search index for reading. ``background=True`` (what ``lantai
    serve`` uses) also runs the in-process background work for the lifetime of the app: the job
    runner (ingest and other jobs) and the search indexing thread. Tests leave it off so that
    requests and background work do not race; they run jobs and indexing explicitly.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner = None
        search = await run_in_threadpool(lambda: SearchRuntime.start(instance, index=background))
        app.state.search = search
        if background:
            # scheduled storage work (fixity audits per location, space monitoring) is queued
            # once here; each run queues the next
            await run_in_threadpool(lambda: ensure_schedules(instance))
            runner = make_background(instance, default_registry())  # LANTAI_JOBS_BACKEND
            await run_in_threadpool(runner.start)
            app.state.jobs = runner  # the transfers API wakes the runner through this
        try:
            yield
        finally:
            if runner is not None:
                await run_in_threadpool(runner.stop)
            await run_in_threadpool(search.stop)

    app = FastAPI(
        lifespan=lifespan,
        title="兰台 Lantai 数字档案馆系统 API",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        swagger_ui_parameters={"defaultModelsExpandDepth": 0},
    )
    app.state.instance = instance
    templates = Jinja2Templates(directory=str(_web_dir() / "templates"))
    # templates ship with the package: no stat() of every template file on every render
    templates.env.auto_reload = False
    templates.env.globals["archive_name"] = instance.settings.archive_name
    templates.env.globals["version"] = __version__
    templates.env.globals["Perm"] = Perm
    templates.env.filters["level_label"] = lambda value: Level(value).label
    templates.env.filters["marked"] = search_pages.marked
    app.state.templates = templates
    app.state.ratelimiter = portal_pages.portal_limiter(instance)
    install_error_handlers(app)
    install_openapi(app)
    for router in (*ROUTERS, *extra_routers):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(_web_dir() / "static")), name="static")
    app.mount(
        "/api/docs-assets",
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="docs-assets",
    )
    app.add_middleware(SecurityHeaders)
    return app
