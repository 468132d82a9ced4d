"""Rendering a page with what every page needs: the actor, its CSRF token and the navigation."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from lantai.security import Actor, Perm

__all__ = ["NAV", "landing", "render", "safe_next"]

# (label, href, permission): shown only to actors holding the permission.
NAV: tuple[tuple[str, str, Perm], ...] = (
    ("目录浏览", "/browse", Perm.CATALOGUE_RECORD_READ),
    ("一屏掌控", "/dashboard", Perm.DASHBOARD_READ),
    ("检索", "/search", Perm.SEARCH_CATALOGUE),
    ("目录导入", "/import", Perm.CATALOGUE_IMPORT),
    ("移交接收", "/transfers", Perm.INGEST_TRANSFER_READ),
    ("开放审核", "/appraisal", Perm.APPRAISAL_REVIEW_READ),
    ("上网审查", "/publication", Perm.PUBLICATION_READ),
    ("档案利用", "/access", Perm.ACCESS_REQUEST_REVIEW),
    ("跨馆出证", "/livelihood", Perm.LIVELIHOOD_PROCESS),
    ("存储", "/storage", Perm.STORAGE_READ),
    ("到期鉴定", "/disposal", Perm.DISPOSAL_READ),
    ("备份", "/backups", Perm.SYSTEM_BACKUP),
    ("后台作业", "/jobs", Perm.JOBS_READ),
    ("档案证明", "/certificates", Perm.CERTIFICATE_READ),
    ("审计日志", "/audit", Perm.AUDIT_LOG_READ),
    ("用户与权限", "/users", Perm.SYSTEM_USER_READ),
    ("接口文档", "/api/docs", Perm.AUTHENTICATED),
)


def render(
    request: Request, template: str, actor: Actor, status_code: int = 200, **context: Any
) -> HTMLResponse:
    templates = request.app.state.templates
    nav = [
        (label, href) for label, href, perm in NAV if actor.user_id is not None and actor.can(perm)
    ]
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request,
        template,
        {
            "actor": actor,
            "csrf_token": actor.csrf_token,
            "nav": nav,
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
    )


def landing(actor: Actor) -> str:
    """The first page this actor may open (the auditor lands on the audit log, not the catalogue)."""
    for _label, href, perm in NAV:
        if actor.can(perm):
            return href
    return "/api/docs"


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site relative paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
