"""The audit log page (安全审计员)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from lantai.audit import EventType
from lantai.security import Actor, Perm
from lantai.web.api.audit import list_events, verify_chain
from lantai.web.deps import require
from lantai.web.pages.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

ACTION_LABELS = {
    EventType.CATALOGUE_FONDS_CREATED: "新建全宗",
    EventType.CATALOGUE_RECORD_CREATED: "新增条目",
    EventType.CATALOGUE_RECORD_UPDATED: "修改著录",
    EventType.CATALOGUE_RECORD_WITHDRAWN: "撤销条目",
    EventType.CATALOGUE_RECORD_RESTORED: "恢复条目",
    EventType.CATALOGUE_RECORDS_GENERATED: "批量生成条目",
    EventType.CATALOGUE_RECORDS_CREATED: "批量新增条目",
    EventType.CATALOGUE_TEXT_ADDED: "保存全文",
    EventType.CATALOGUE_TEXTS_ADDED: "批量保存全文",
    EventType.CATALOGUE_IMPORT_COMPLETED: "目录导入完成",
    EventType.CATALOGUE_IMPORT_REJECTED: "目录导入被拒绝",
    EventType.CATALOGUE_EXPORT_CREATED: "导出目录",
    EventType.INGEST_TRANSFER_RECEIVED: "收到移交",
    EventType.INGEST_TRANSFER_UNPACKED: "移交包解包",
    EventType.INGEST_DIGESTS_CALCULATED: "计算固定值",
    EventType.INGEST_FORMATS_IDENTIFIED: "格式识别",
    EventType.INGEST_TRANSFER_CHECKED: "四性检测",
    EventType.INGEST_TRANSFER_REJECTED: "拒收移交",
    EventType.INGEST_AIP_STORED: "保存信息包",
    EventType.INGEST_TRANSFER_ACCEPTED: "接收移交",
    EventType.INGEST_TRANSFER_REVIEWED: "人工复核移交",
    EventType.INGEST_TRANSFER_FAILED: "接收失败",
    EventType.STORAGE_PACKAGE_DISCARDED: "丢弃信息包",
    EventType.SECURITY_LOGIN_SUCCEEDED: "登录成功",
    EventType.SECURITY_LOGIN_FAILED: "登录失败",
    EventType.SECURITY_LOGOUT: "退出登录",
    EventType.SECURITY_USER_CREATED: "创建用户",
    EventType.SECURITY_USER_DISABLED: "停用用户",
    EventType.SECURITY_USER_ENABLED: "启用用户",
    EventType.SECURITY_PASSWORD_CHANGED: "修改口令",
    EventType.SECURITY_ROLE_GRANTED: "授予角色",
    EventType.SECURITY_ROLE_REVOKED: "撤销角色",
    EventType.SECURITY_CLEARANCE_CHANGED: "变更密级授权",
    EventType.SECURITY_ACCESS_DENIED: "越权访问被拒绝",
    EventType.AUDIT_CHAIN_VERIFIED: "校验审计日志",
    EventType.SYSTEM_INSTANCE_INITIALISED: "系统初始化",
}


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    actor_name: Annotated[str | None, Query(alias="actor", max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Actor = require(Perm.AUDIT_LOG_READ),
) -> Response:
    data = list_events(
        request,
        before=before,
        limit=100,
        actor_name=actor_name or None,
        action=action or None,
        object_id=object_id or None,
    )
    return render(
        request,
        "audit.html",
        actor,
        events=data["items"],
        next_before=data["next_before"],
        labels={k.value: v for k, v in ACTION_LABELS.items()},
        actions=[(k.value, v) for k, v in ACTION_LABELS.items()],
        filters={"actor": actor_name or "", "action": action or "", "object_id": object_id or ""},
        report=None,
    )


@router.post("/audit/verify", response_class=HTMLResponse)
def audit_verify(request: Request, actor: Actor = require(Perm.AUDIT_LOG_VERIFY)) -> Response:
    report = verify_chain(request, actor)
    data = list_events(
        request, before=None, limit=100, actor_name=None, action=None, object_id=None
    )
    return render(
        request,
        "audit.html",
        actor,
        events=data["items"],
        next_before=data["next_before"],
        labels={k.value: v for k, v in ACTION_LABELS.items()},
        actions=[(k.value, v) for k, v in ACTION_LABELS.items()],
        filters={"actor": "", "action": "", "object_id": ""},
        report=report,
    )
