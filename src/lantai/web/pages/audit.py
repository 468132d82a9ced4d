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
    EventType.ACCESS_APPOINTMENT_BOOKED: "预约阅览",
    EventType.ACCESS_APPOINTMENT_CANCELLED: "取消阅览预约",
    EventType.ACCESS_CITIZEN_REGISTERED: "公众实名注册",
    EventType.ACCESS_REQUEST_APPROVED: "批准利用申请",
    EventType.ACCESS_REQUEST_REFUSED: "拒绝利用申请",
    EventType.ACCESS_REQUEST_SUBMITTED: "提交利用申请",
    EventType.ACCESS_USE_RECORDED: "登记到馆利用（阅览、复制、出证）",
    EventType.CATALOGUE_FONDS_CREATED: "新建全宗",
    EventType.CATALOGUE_RECORD_CREATED: "新增条目",
    EventType.CATALOGUE_RECORD_UPDATED: "修改著录",
    EventType.CATALOGUE_RECORD_WITHDRAWN: "撤销条目",
    EventType.CATALOGUE_RECORD_RESTORED: "恢复条目",
    EventType.CATALOGUE_RECORDS_GENERATED: "批量生成条目",
    EventType.CATALOGUE_RECORDS_CREATED: "批量新增条目",
    EventType.CATALOGUE_TEXT_ADDED: "保存全文",
    EventType.CATALOGUE_TEXTS_ADDED: "批量保存全文",
    EventType.CATALOGUE_RECORDS_PUBLISHED: "上网公布（准予上网）",
    EventType.CATALOGUE_RECORDS_UNPUBLISHED: "撤下上网公布",
    EventType.PUBLICATION_BATCH_CREATED: "创建上网审查批次",
    EventType.PUBLICATION_ITEMS_REJECTED: "上网审查：不予上网",
    EventType.PUBLICATION_CATALOGUE_EXPORTED: "导出开放档案目录",
    EventType.CATALOGUE_RECORDS_REVIEWED: "写入开放审核结果（开放标识）",
    EventType.APPRAISAL_BATCH_CREATED: "创建开放审核批次",
    EventType.APPRAISAL_TASK_ASSIGNED: "分配或领取审核任务",
    EventType.APPRAISAL_DECISIONS_RECORDED: "作出开放审核结论",
    EventType.APPRAISAL_BATCH_ADVANCED: "开放审核进入下一轮",
    EventType.APPRAISAL_LIST_EXPORTED: "导出单位协同审核清单",
    EventType.APPRAISAL_OPINIONS_RECORDED: "登记形成/移交单位意见",
    EventType.APPRAISAL_BATCH_APPLIED: "开放审核结果生效",
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
    EventType.DIGITISATION_BATCH_IMPORTED: "导入扫描批次",
    EventType.DIGITISATION_BATCH_CHECKED: "图像质检",
    EventType.DIGITISATION_BATCH_LINKED: "原文挂接",
    EventType.DIGITISATION_OCR_COMPLETED: "文字识别",
    EventType.DIGITISATION_OCR_CORRECTED: "校对识别文本",
    EventType.DIGITISATION_ASR_COMPLETED: "语音转写完成",
    EventType.JOB_RETRIED: "重试后台作业",
    EventType.JOB_CANCELLED: "取消后台作业",
    EventType.STORAGE_PACKAGE_DISCARDED: "丢弃信息包",
    EventType.STORAGE_OBJECTS_DESTROYED: "销毁保存对象",
    EventType.STORAGE_DELETE_REFUSED: "拒绝删除保存内容",
    EventType.STORAGE_PACKAGE_REPLICATED: "复制信息包副本",
    EventType.STORAGE_FIXITY_CHECKED: "固定性检测",
    EventType.STORAGE_FIXITY_FAILED: "固定性检测未通过",
    EventType.STORAGE_OBJECT_REPAIRED: "从完好副本修复对象",
    EventType.PRESERVATION_FORMAT_MIGRATED: "格式迁移（生成长期保存格式派生件）",
    EventType.STORAGE_OBJECT_UNRECOVERABLE: "对象不可恢复",
    EventType.STORAGE_ALERT_RAISED: "存储告警",
    EventType.STORAGE_ALERT_RESOLVED: "处理存储告警",
    EventType.BACKUP_SET_CREATED: "创建备份",
    EventType.BACKUP_SET_RESTORED: "从备份恢复",
    EventType.BACKUP_SET_VERIFIED: "备份可恢复性检测",
    EventType.DISPOSAL_BATCH_CREATED: "创建到期鉴定批次",
    EventType.DISPOSAL_BATCH_EXECUTED: "执行鉴定结论（销毁/延期）",
    EventType.DISPOSAL_ITEM_DECIDED: "记录鉴定意见",
    EventType.DISPOSAL_RETENTION_EXTENDED: "延长保管期限",
    EventType.CATALOGUE_RECORD_DESTROYED: "销毁条目（保留目录）",
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
    EventType.CERTIFICATE_ISSUED: "出具档案证明（电子签名）",
    EventType.CERTIFICATE_REVOKED: "撤销档案证明",
    EventType.CERTIFICATE_KEY_CREATED: "生成证明签名密钥",
    EventType.CERTIFICATE_KEY_RETIRED: "停用证明签名密钥（轮换）",
    EventType.CERTIFICATE_KEY_TRUSTED: "导入他馆证明签名公钥",
    EventType.FEDERATION_MESSAGE_REFUSED: "协作馆拒收本馆消息",
    EventType.FEDERATION_MESSAGE_REJECTED: "拒收协作馆消息（未签名、签名错误、重放或过期）",
    EventType.FEDERATION_NODE_CONFIGURED: "设置本馆跨馆协作节点",
    EventType.FEDERATION_PARTNER_ADDED: "登记协作馆",
    EventType.FEDERATION_PARTNER_UPDATED: "修改协作馆（启用、停用、地址）",
    EventType.LIVELIHOOD_REQUEST_COLLECTED: "跨馆查档：申请人已领取证明",
    EventType.LIVELIHOOD_REQUEST_FORWARDED: "跨馆查档：受理馆审核通过并转出证馆",
    EventType.LIVELIHOOD_REQUEST_ISSUED: "跨馆查档：出证馆已出具证明",
    EventType.LIVELIHOOD_REQUEST_NOT_FOUND: "跨馆查档：出证馆查无相关档案",
    EventType.LIVELIHOOD_REQUEST_NOTIFIED: "跨馆查档：受理馆已告知申请人",
    EventType.LIVELIHOOD_REQUEST_RECEIVED: "跨馆查档：出证馆已接收申请",
    EventType.LIVELIHOOD_REQUEST_REFUSED: "跨馆查档：受理馆不予受理",
    EventType.LIVELIHOOD_REQUEST_SUBMITTED: "跨馆查档：申请人提交申请",
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
