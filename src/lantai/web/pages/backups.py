"""The 备份 page (系统管理员): backup sets, their restorability tests, create and verify.

- ``GET /backups`` (``system:backup:run``)
- ``POST /backups`` (``system:backup:run``): a backup set into a directory on the server
- ``POST /backups/{uid}/verify`` (``system:backup:run``): restore into a scratch instance and
  compare counts and digests (DA/T 70 BC-3-4)
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from lantai.backup import create_backup, verify_backup
from lantai.errors import InputError, LantaiError
from lantai.security import Actor, Perm
from lantai.store import Backup, BackupVerification
from lantai.web.deps import get_instance, require
from lantai.web.pages.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    actor: Actor,
    *,
    message: str | None = None,
    error: LantaiError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    inst = get_instance(request)
    with inst.db.read() as s:
        rows = list(s.scalars(select(Backup).order_by(Backup.id.desc()).limit(100)))
        checks: dict[int, list[BackupVerification]] = {}
        for v in s.scalars(
            select(BackupVerification).order_by(BackupVerification.id.desc()).limit(500)
        ):
            checks.setdefault(v.backup_id, []).append(v)
        items: list[dict[str, Any]] = [
            {
                "uid": b.uid,
                "database": b.database,
                "path": b.path,
                "with_content": b.with_content,
                "files": b.files,
                "bytes": b.bytes,
                "manifest": b.manifest_sha256,
                "created_by": b.created_by,
                "created_at": b.created_at.isoformat()[:16].replace("T", " "),
                "verifications": [
                    {
                        "ok": v.ok,
                        "by": v.verified_by,
                        "at": v.finished_at.isoformat()[:16].replace("T", " "),
                        "problems": list(v.detail.get("problems", []))[:5],
                    }
                    for v in checks.get(b.id, [])[:3]
                ],
            }
            for b in rows
        ]
    default_dest = str(inst.settings.resolved_home.parent / "lantai-backups")
    return render(
        request,
        "backups.html",
        actor,
        status_code=status_code,
        backups=items,
        default_dest=default_dest,
        message=message,
        error=error,
    )


@router.get("/backups", response_class=HTMLResponse)
def backups_page(
    request: Request,
    done: Annotated[str | None, Query(max_length=16)] = None,
    actor: Actor = require(Perm.SYSTEM_BACKUP),
) -> Response:
    messages = {"created": "备份已创建", "verified": "可恢复性检测已完成，结果见下表"}
    return _page(request, actor, message=messages.get(done or ""))


@router.post("/backups", response_class=HTMLResponse)
async def create_form(
    request: Request,
    dest: Annotated[str, Form(max_length=1000)] = "",
    content: Annotated[str, Form(max_length=8)] = "",
    actor: Actor = require(Perm.SYSTEM_BACKUP),
) -> Response:
    inst = get_instance(request)
    try:
        if not dest.strip() or not FsPath(dest.strip()).is_absolute():
            raise InputError("备份目录：须为服务器上的绝对路径")
        await run_in_threadpool(
            create_backup, inst, FsPath(dest.strip()), actor, content=content == "yes"
        )
    except LantaiError as exc:
        return _page(request, actor, error=exc, status_code=exc.status)
    return RedirectResponse("/backups?done=created", status_code=303)


@router.post("/backups/{uid}/verify", response_class=HTMLResponse)
async def verify_form(
    request: Request,
    uid: Annotated[str, Path(min_length=6, max_length=36)],
    actor: Actor = require(Perm.SYSTEM_BACKUP),
) -> Response:
    inst = get_instance(request)
    try:
        await run_in_threadpool(verify_backup, inst, uid, actor)
    except LantaiError as exc:
        return _page(request, actor, error=exc, status_code=exc.status)
    return RedirectResponse("/backups?done=verified", status_code=303)
