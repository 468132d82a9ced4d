"""Every permission, named ``scope:resource:action``. Every endpoint declares exactly one.

Keep members alphabetical by value. ``PUBLIC`` marks the few endpoints anyone may call (the
login page, static assets, health); ``AUTHENTICATED`` those any logged-in user may call.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Perm"]


class Perm(StrEnum):
    AUDIT_LOG_READ = "audit:log:read"
    AUDIT_LOG_VERIFY = "audit:log:verify"
    AUTHENTICATED = "auth:session:self"
    CATALOGUE_EXPORT = "catalogue:export:run"
    CATALOGUE_FONDS_MANAGE = "catalogue:fonds:manage"
    CATALOGUE_IMPORT = "catalogue:import:run"
    CATALOGUE_RECORD_CREATE = "catalogue:record:create"
    CATALOGUE_RECORD_EDIT = "catalogue:record:edit"
    CATALOGUE_RECORD_READ = "catalogue:record:read"
    CATALOGUE_RECORD_WITHDRAW = "catalogue:record:withdraw"
    CONFIG_DOMAIN_READ = "config:domain:read"
    INGEST_TRANSFER_READ = "ingest:transfer:read"
    INGEST_TRANSFER_REVIEW = "ingest:transfer:review"
    INGEST_TRANSFER_SUBMIT = "ingest:transfer:submit"
    PUBLIC = "public:anonymous:any"
    SEARCH_CATALOGUE = "search:catalogue:query"
    SECURITY_CLEARANCE_ASSIGN = "security:clearance:assign"
    SECURITY_ROLE_ASSIGN = "security:role:assign"
    SYSTEM_USER_MANAGE = "system:user:manage"
    SYSTEM_USER_READ = "system:user:read"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS: dict[Perm, str] = {
    Perm.AUDIT_LOG_READ: "查看审计日志",
    Perm.AUDIT_LOG_VERIFY: "校验审计日志完整性",
    Perm.AUTHENTICATED: "已登录用户的自身操作",
    Perm.CATALOGUE_EXPORT: "导出目录（归档文件目录、EAD）",
    Perm.CATALOGUE_FONDS_MANAGE: "管理全宗",
    Perm.CATALOGUE_IMPORT: "导入目录数据",
    Perm.CATALOGUE_RECORD_CREATE: "新增条目",
    Perm.CATALOGUE_RECORD_EDIT: "修改著录",
    Perm.CATALOGUE_RECORD_READ: "浏览目录",
    Perm.CATALOGUE_RECORD_WITHDRAW: "撤销条目（不物理删除）",
    Perm.CONFIG_DOMAIN_READ: "查看业务配置（代码表、档号规则、著录方案、三合一）",
    Perm.INGEST_TRANSFER_READ: "查看移交与检测报告（立档单位只能查看本单位提交的）",
    Perm.INGEST_TRANSFER_REVIEW: "查看全部移交并复核待人工复核的检测项",
    Perm.INGEST_TRANSFER_SUBMIT: "提交移交（上传并启动四性检测与接收）",
    Perm.PUBLIC: "公开访问",
    Perm.SEARCH_CATALOGUE: "检索目录与全文（受密级授权限制）",
    Perm.SECURITY_CLEARANCE_ASSIGN: "设置用户密级授权",
    Perm.SECURITY_ROLE_ASSIGN: "分配用户角色",
    Perm.SYSTEM_USER_MANAGE: "管理用户账号（创建、停用、重置口令）",
    Perm.SYSTEM_USER_READ: "查看用户列表",
}
