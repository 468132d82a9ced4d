"""Every permission, named ``scope:resource:action``. Every endpoint declares exactly one.

Keep members alphabetical by value. ``PUBLIC`` marks the few endpoints anyone may call (the
login page, static assets, health); ``AUTHENTICATED`` those any logged-in user may call.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Perm"]


class Perm(StrEnum):
    ACCESS_PORTAL_SELF = "access:portal:self"
    ACCESS_REQUEST_REVIEW = "access:request:review"
    ACCESS_USE_READ = "access:use:read"
    APPRAISAL_REVIEW_DECIDE = "appraisal:review:decide"
    APPRAISAL_REVIEW_MANAGE = "appraisal:review:manage"
    APPRAISAL_REVIEW_READ = "appraisal:review:read"
    AUDIT_LOG_READ = "audit:log:read"
    AUDIT_LOG_VERIFY = "audit:log:verify"
    AUTHENTICATED = "auth:session:self"
    CATALOGUE_EXPORT = "catalogue:export:run"
    CERTIFICATE_ISSUE = "certificate:document:issue"
    CERTIFICATE_KEY_MANAGE = "certificate:key:manage"
    CERTIFICATE_READ = "certificate:document:read"
    CERTIFICATE_REVOKE = "certificate:document:revoke"
    CATALOGUE_FONDS_MANAGE = "catalogue:fonds:manage"
    CATALOGUE_IMPORT = "catalogue:import:run"
    CATALOGUE_RECORD_CREATE = "catalogue:record:create"
    CATALOGUE_RECORD_EDIT = "catalogue:record:edit"
    CATALOGUE_RECORD_READ = "catalogue:record:read"
    CATALOGUE_RECORD_WITHDRAW = "catalogue:record:withdraw"
    CONFIG_DOMAIN_READ = "config:domain:read"
    DASHBOARD_READ = "dashboard:figures:read"
    DIGITISATION_READ = "digitisation:batch:read"
    JOBS_READ = "system:jobs:read"
    JOBS_MANAGE = "system:jobs:manage"
    DIGITISATION_RUN = "digitisation:batch:run"
    DISPOSAL_APPROVE = "disposal:batch:approve"
    DISPOSAL_EXECUTE = "disposal:batch:execute"
    DISPOSAL_READ = "disposal:batch:read"
    DISPOSAL_REVIEW = "disposal:item:review"
    FEDERATION_NODE_MANAGE = "federation:node:manage"
    FEDERATION_SEARCH = "federation:search:query"
    INGEST_TRANSFER_READ = "ingest:transfer:read"
    INGEST_TRANSFER_REVIEW = "ingest:transfer:review"
    INGEST_TRANSFER_SUBMIT = "ingest:transfer:submit"
    LIVELIHOOD_PROCESS = "livelihood:request:process"
    PUBLIC = "public:anonymous:any"
    PUBLICATION_READ = "publication:batch:read"
    PUBLICATION_REVIEW = "publication:batch:review"
    OCR_CORRECT = "digitisation:ocr:correct"
    SEARCH_CATALOGUE = "search:catalogue:query"
    SECURITY_CLEARANCE_ASSIGN = "security:clearance:assign"
    SECURITY_ROLE_ASSIGN = "security:role:assign"
    STATISTICS_ANNUAL_READ = "statistics:annual:read"
    STORAGE_MANAGE = "storage:location:manage"
    STORAGE_READ = "storage:location:read"
    SYSTEM_BACKUP = "system:backup:run"
    SYSTEM_USER_MANAGE = "system:user:manage"
    SYSTEM_USER_READ = "system:user:read"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS: dict[Perm, str] = {
    Perm.ACCESS_PORTAL_SELF: "公众利用：本人的利用申请、阅览预约与已批准档案的查阅（公众账号）",
    Perm.ACCESS_REQUEST_REVIEW: "档案利用：受理、批准或拒绝利用申请，管理阅览预约，登记到馆利用",
    Perm.ACCESS_USE_READ: "档案利用：查看利用登记与人次、卷（件）次统计",
    Perm.APPRAISAL_REVIEW_DECIDE: "开放审核：对审核批次中的条目作出审核结论",
    Perm.APPRAISAL_REVIEW_MANAGE: "开放审核：建立批次、分配任务、推进轮次、导入单位意见、写入审核结果",
    Perm.APPRAISAL_REVIEW_READ: "开放审核：查看审核批次、机器预筛结果、结论与单位意见",
    Perm.AUDIT_LOG_READ: "查看审计日志",
    Perm.AUDIT_LOG_VERIFY: "校验审计日志完整性",
    Perm.AUTHENTICATED: "已登录用户的自身操作",
    Perm.CATALOGUE_EXPORT: "导出目录（归档文件目录、EAD）",
    Perm.FEDERATION_NODE_MANAGE: "跨馆协作：设置本馆节点、登记与停用协作馆（地址与公钥）",
    Perm.FEDERATION_SEARCH: "跨馆协作：在各协作馆的开放目录中联合检索",
    Perm.LIVELIHOOD_PROCESS: "民生档案跨馆查档：受理、转办、协办查档、出证与送达",
    Perm.CERTIFICATE_ISSUE: "出具档案证明与档案复制件证明（电子签名）",
    Perm.CERTIFICATE_KEY_MANAGE: "管理证明签名密钥（轮换本馆密钥、导入他馆受信任公钥）",
    Perm.CERTIFICATE_READ: "查看已出具的证明登记，重新下载证明文件",
    Perm.CERTIFICATE_REVOKE: "撤销已出具的证明（须填写理由）",
    Perm.CATALOGUE_FONDS_MANAGE: "管理全宗",
    Perm.CATALOGUE_IMPORT: "导入目录数据",
    Perm.CATALOGUE_RECORD_CREATE: "新增条目",
    Perm.CATALOGUE_RECORD_EDIT: "修改著录",
    Perm.CATALOGUE_RECORD_READ: "浏览目录",
    Perm.CATALOGUE_RECORD_WITHDRAW: "撤销条目（不物理删除）",
    Perm.DASHBOARD_READ: "查看一屏掌控（馆藏、接收、开放等统计图表及明细）",
    Perm.CONFIG_DOMAIN_READ: "查看业务配置（代码表、档号规则、著录方案、三合一）",
    Perm.INGEST_TRANSFER_READ: "查看移交与检测报告（立档单位只能查看本单位提交的）",
    Perm.INGEST_TRANSFER_REVIEW: "查看全部移交并复核待人工复核的检测项",
    Perm.INGEST_TRANSFER_SUBMIT: "提交移交（上传并启动四性检测与接收）",
    Perm.DIGITISATION_READ: "查看数字化批次、质检报告、挂接结果与识别文本",
    Perm.JOBS_READ: "查看后台作业（进度、速率、预计剩余时间、错误）",
    Perm.JOBS_MANAGE: "重试或取消后台作业",
    Perm.DIGITISATION_RUN: "导入扫描批次，运行图像质检、挂接与文字识别",
    Perm.OCR_CORRECT: "校对文字识别结果（保存更正后的页面文本）",
    Perm.DISPOSAL_APPROVE: "审批到期鉴定（馆领导）",
    Perm.DISPOSAL_EXECUTE: "执行经批准的销毁与延期",
    Perm.DISPOSAL_READ: "查看到期鉴定批次与销毁清册",
    Perm.DISPOSAL_REVIEW: "到期鉴定（鉴定小组意见）",
    Perm.PUBLIC: "公开访问",
    Perm.PUBLICATION_READ: "查看上网审查批次与已公布目录",
    Perm.PUBLICATION_REVIEW: "上网审查：创建批次、准予或不予上网、撤下公布",
    Perm.SEARCH_CATALOGUE: "检索目录与全文（受密级授权限制）",
    Perm.STORAGE_MANAGE: "管理长期保存存储（复制、固定性检测、处理告警）",
    Perm.STORAGE_READ: "查看存储位置、副本台账、检测结果与告警",
    Perm.SECURITY_CLEARANCE_ASSIGN: "设置用户密级授权",
    Perm.SECURITY_ROLE_ASSIGN: "分配用户角色",
    Perm.SYSTEM_BACKUP: "备份、备份可恢复性检测",
    Perm.STATISTICS_ANNUAL_READ: "生成与导出档案馆基本情况表（年报）",
    Perm.SYSTEM_USER_MANAGE: "管理用户账号（创建、停用、重置口令）",
    Perm.SYSTEM_USER_READ: "查看用户列表",
}
