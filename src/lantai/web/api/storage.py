"""Storage (长期保存): locations and their health, the copy ledger, fixity audits, alerts.

::

    GET   /api/storage/locations                 policy locations with live health
    GET   /api/storage/packages/{package_id}     ledger rows of a package, policy satisfied?
    POST  /api/storage/packages/{package_id}/replicate   queue its replication (202)
    GET   /api/storage/audits                    fixity audit runs (newest first)
    GET   /api/storage/audits/{run_id}           one run with its findings
    POST  /api/storage/audits                    queue an audit of a location (202)
    GET   /api/storage/alerts                    open alerts (?all=true: resolved too)
    POST  /api/storage/alerts/{alert_id}/resolve close an alert, with the reason (audited)

Audits and replication run as jobs (the app's in-process runner is woken); their results appear
under ``/audits`` and in the ledger.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from lantai.errors import NotFound
from lantai.jobs import enqueue
from lantai.security import Actor, Perm
from lantai.storage import policy_satisfied
from lantai.storage.alerts import AlertKind, Severity, open_alerts, resolve_alert
from lantai.storage.fixity import run_summary
from lantai.storage.ledger import copies, copy_state_label
from lantai.storage.monitor import health
from lantai.storage.system import StorageSystem
from lantai.storage.tasks import FIXITY_KIND, REPLICATE_KIND
from lantai.store import Alert, FixityRun, StorageCopy, after_commit
from lantai.web.api.schemas import ErrorOut
from lantai.web.deps import get_instance, require

__all__ = ["alert_json", "router"]

router = APIRouter(
    prefix="/api/storage",
    tags=["长期保存存储"],
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)

PackageId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


def alert_json(a: Alert) -> dict[str, Any]:
    kind = AlertKind(a.kind).label if a.kind in AlertKind._value2member_map_ else a.kind
    severity = (
        Severity(a.severity).label if a.severity in Severity._value2member_map_ else a.severity
    )
    return {
        "id": a.id,
        "kind": a.kind,
        "kind_label": kind,
        "severity": a.severity,
        "severity_label": severity,
        "location": a.location,
        "package": a.package_id,
        "object": a.object_key,
        "message": a.message,
        "count": a.count,
        "created_at": a.created_at.isoformat(),
        "last_seen_at": a.last_seen_at.isoformat(),
        "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
        "resolved_by": a.resolved_by,
        "resolution": a.resolution,
    }


def _copy_json(r: StorageCopy) -> dict[str, Any]:
    return {
        "location": r.location,
        "state": r.state,
        "state_label": copy_state_label(r.state),
        "package_digest": r.package_digest,
        "bytes": r.bytes,
        "objects": r.objects,
        "attempts": r.attempts,
        "last_error": r.last_error,
        "created_at": r.created_at.isoformat(),
        "copied_at": r.copied_at.isoformat() if r.copied_at else None,
        "verified_at": r.verified_at.isoformat() if r.verified_at else None,
        "verify_result": r.verify_result,
    }


def _wake(request: Request, s: Any) -> None:
    runner = getattr(request.app.state, "jobs", None)
    if runner is not None:
        after_commit(s, runner.wake)


@router.get("/locations", summary="存储位置及其状态（可访问性、响应时间、可用空间）")
def locations(request: Request, _: Actor = require(Perm.STORAGE_READ)) -> dict[str, Any]:
    system = StorageSystem(get_instance(request))
    return {
        "required": list(system.policy.required),
        "locations": [health(system, loc).as_dict() for loc in system.policy.locations],
    }


@router.get("/packages/{package_id}", summary="信息包的副本台账")
def package_copies(
    package_id: PackageId, request: Request, _: Actor = require(Perm.STORAGE_READ)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        rows = [_copy_json(r) for r in copies(s, package_id)]
    if not rows:
        raise NotFound(f"副本台账中没有信息包 {package_id}")
    return {
        "package": package_id,
        "policy_satisfied": policy_satisfied(inst, package_id),
        "copies": rows,
    }


@router.post(
    "/packages/{package_id}/replicate", status_code=202, summary="按存储策略补齐信息包副本"
)
def replicate_package(
    package_id: PackageId, request: Request, actor: Actor = require(Perm.STORAGE_MANAGE)
) -> JSONResponse:
    inst = get_instance(request)
    with inst.db.write() as s:
        job = enqueue(s, REPLICATE_KIND, {"package_id": package_id}, created_by=actor.username)
        _wake(request, s)
        job_id = job.id
    return JSONResponse({"job": job_id, "package": package_id}, status_code=202)


@router.get("/audits", summary="固定性检测记录")
def audits(
    request: Request,
    location: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    _: Actor = require(Perm.STORAGE_READ),
) -> dict[str, Any]:
    q = select(FixityRun)
    if location:
        q = q.where(FixityRun.location == location)
    with get_instance(request).db.read() as s:
        runs = list(s.scalars(q.order_by(FixityRun.id.desc()).limit(limit)))
        items = [{**run_summary(r), "findings": len(r.findings)} for r in runs]
    return {"items": items}


@router.get("/audits/{run_id}", summary="一次固定性检测的结果与发现的问题")
def audit_run(
    run_id: Annotated[int, Path(ge=1, le=2**62)],
    request: Request,
    _: Actor = require(Perm.STORAGE_READ),
) -> dict[str, Any]:
    with get_instance(request).db.read() as s:
        run = s.get(FixityRun, run_id)
        if run is None:
            raise NotFound(f"固定性检测记录 {run_id} 不存在")
        return run_summary(run)


class AuditIn(BaseModel):
    location: str = Field(min_length=1, max_length=32, description="存储位置名称")
    package_id: str | None = Field(None, max_length=64, description="只检测此信息包")


@router.post("/audits", status_code=202, summary="对存储位置发起固定性检测（后台作业）")
def start_audit(
    body: AuditIn, request: Request, actor: Actor = require(Perm.STORAGE_MANAGE)
) -> JSONResponse:
    inst = get_instance(request)
    StorageSystem(inst).policy.location(body.location)  # 404 for an unknown location
    params: dict[str, Any] = {"location": body.location}
    if body.package_id:
        params["package_id"] = body.package_id
    with inst.db.write() as s:
        job = enqueue(s, FIXITY_KIND, params, created_by=actor.username, max_attempts=1)
        _wake(request, s)
        job_id = job.id
    return JSONResponse({"job": job_id, **params}, status_code=202)


@router.get("/alerts", summary="存储告警")
def alerts(
    request: Request,
    all: Annotated[bool, Query(description="包括已处理的告警")] = False,
    _: Actor = require(Perm.STORAGE_READ),
) -> dict[str, Any]:
    with get_instance(request).db.read() as s:
        return {"items": [alert_json(a) for a in open_alerts(s, include_resolved=all)]}


class ResolveIn(BaseModel):
    resolution: str = Field(min_length=2, max_length=2000, description="处理说明")


@router.post("/alerts/{alert_id}/resolve", summary="处理告警（须填写处理说明，记入审计日志）")
def resolve(
    alert_id: Annotated[int, Path(ge=1, le=2**62)],
    body: ResolveIn,
    request: Request,
    actor: Actor = require(Perm.STORAGE_MANAGE),
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        alert = resolve_alert(inst, s, alert_id, actor=actor.username, resolution=body.resolution)
        return alert_json(alert)
