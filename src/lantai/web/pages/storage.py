"""The 存储 page: locations and their health, the last fixity audit per location, open alerts
(resolve with a reason), the copy ledger of one package, audits started now, format migrations
that could not be carried out.

- ``GET /storage[?package=P]`` (``storage:location:read``)
- ``POST /storage/alerts/{id}/resolve`` (``storage:location:manage``; reason required, audited)
- ``POST /storage/audits`` (``storage:location:manage``; queues a ``storage.fixity`` job)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from lantai.errors import LantaiError
from lantai.jobs import enqueue
from lantai.preservation import list_migrations
from lantai.security import Actor, Perm
from lantai.storage import policy_satisfied
from lantai.storage.alerts import open_alerts, resolve_alert
from lantai.storage.base import check_package_id
from lantai.storage.fixity import run_summary
from lantai.storage.ledger import copies, copy_state_label
from lantai.storage.monitor import check_locations
from lantai.storage.system import StorageSystem
from lantai.storage.tasks import FIXITY_KIND
from lantai.store import FixityRun, after_commit
from lantai.web.api.storage import alert_json
from lantai.web.deps import get_instance, require
from lantai.web.pages.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    actor: Actor,
    *,
    package: str | None = None,
    message: str | None = None,
    error: LantaiError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    inst = get_instance(request)
    system = StorageSystem(inst)
    health = check_locations(inst, system)
    with inst.db.read() as s:
        last_ids = s.execute(
            select(FixityRun.location, func.max(FixityRun.id)).group_by(FixityRun.location)
        ).all()
        runs = {
            loc: run_summary(r) for loc, rid in last_ids if (r := s.get(FixityRun, rid)) is not None
        }
        alerts = [alert_json(a) for a in open_alerts(s)]
        ledger: list[dict[str, Any]] | None = None
        if package:
            try:
                check_package_id(package)
                ledger = [
                    {
                        "location": r.location,
                        "state": r.state,
                        "state_label": copy_state_label(r.state),
                        "digest": r.package_digest,
                        "objects": r.objects,
                        "bytes": r.bytes,
                        "verified_at": r.verified_at.isoformat()[:16] if r.verified_at else None,
                        "verify_result": r.verify_result,
                        "last_error": r.last_error,
                        "superseded": (r.verify_detail or {}).get("superseded_volumes", []),
                    }
                    for r in copies(s, package)
                ]
            except LantaiError as exc:
                error, status_code = exc, exc.status
        migrations = list_migrations(s, state=None, limit=50)
    satisfied = policy_satisfied(inst, package, system.policy) if package and ledger else None
    return render(
        request,
        "storage.html",
        actor,
        status_code=status_code,
        locations=[h.as_dict() for h in health],
        runs=runs,
        alerts=alerts,
        package=package or "",
        ledger=ledger,
        satisfied=satisfied,
        migrations=[m for m in migrations if m["state"] != "done"],
        migrated=sum(1 for m in migrations if m["state"] == "done"),
        can_manage=actor.can(Perm.STORAGE_MANAGE),
        message=message,
        error=error,
    )


@router.get("/storage", response_class=HTMLResponse)
def storage_page(
    request: Request,
    package: Annotated[str | None, Query(max_length=64)] = None,
    done: Annotated[str | None, Query(max_length=32)] = None,
    actor: Actor = require(Perm.STORAGE_READ),
) -> Response:
    messages = {"audit": "已排队固定性检测作业，结果将显示在下方", "resolved": "告警已处理"}
    return _page(request, actor, package=package, message=messages.get(done or ""))


@router.post("/storage/alerts/{alert_id}/resolve", response_class=HTMLResponse)
def resolve_form(
    request: Request,
    alert_id: Annotated[int, Path(ge=1)],
    resolution: Annotated[str, Form(max_length=2000)] = "",
    actor: Actor = require(Perm.STORAGE_MANAGE),
) -> Response:
    inst = get_instance(request)
    try:
        if len(resolution.strip()) < 2:
            from lantai.errors import InputError

            raise InputError("处理说明：必填（至少 2 个字），将记入审计日志")
        with inst.db.write() as s:
            resolve_alert(inst, s, alert_id, actor=actor.username, resolution=resolution.strip())
    except LantaiError as exc:
        return _page(request, actor, error=exc, status_code=exc.status)
    return RedirectResponse("/storage?done=resolved", status_code=303)


@router.post("/storage/audits", response_class=HTMLResponse)
def audit_form(
    request: Request,
    location: Annotated[str, Form(max_length=32)],
    actor: Actor = require(Perm.STORAGE_MANAGE),
) -> Response:
    inst = get_instance(request)
    try:
        StorageSystem(inst).policy.location(location)
        with inst.db.write() as s:
            enqueue(
                s, FIXITY_KIND, {"location": location}, created_by=actor.username, max_attempts=1
            )
            runner = getattr(request.app.state, "jobs", None)
            if runner is not None:
                after_commit(s, runner.wake)
    except LantaiError as exc:
        return _page(request, actor, error=exc, status_code=exc.status)
    return RedirectResponse("/storage?done=audit", status_code=303)
