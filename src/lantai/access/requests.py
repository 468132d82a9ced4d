"""利用申请: citizens apply, staff approve (with the records and a term) or refuse (with a reason).

A request never reveals the catalogue to the applicant: they describe what they need and may
write 档号; only staff resolve those to records. Approval creates one :class:`AccessGrant` per
record, valid until ``expires_at`` — the portal's record page and viewer admit a 控制 record only
through a live grant of the viewing account. Only active, 公开-level records that are 开放 or
控制 can be granted (延期开放 and 未审核 records cannot be opened by a request).

A submission may carry an idempotency key (the portal form's hidden token, the API's
``Idempotency-Key`` header): the same key from the same account returns the request it made, with
no second row and no second audit event, so a citizen who resends after a lost answer (a crash, a
dropped connection, a double click) still has one application. The same key with other content is
a 409; a key is unique per account (a unique index), which also settles two concurrent sends.

Certificates (出具证明) and certified copies (复制) are issued in the approval's transaction by
:func:`lantai.access.certify.certify` (through the certificate service, which reads
:func:`certificate_order`: applicant, purpose, records, pages); the request keeps the code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lantai import faults
from lantai.access.certify import certify
from lantai.access.config import AccessConfig
from lantai.audit import EventType
from lantai.errors import Conflict, NotFound, Problem, ValidationFailed
from lantai.instance import Instance
from lantai.search.permissions import Visibility
from lantai.security import Actor
from lantai.store import AccessGrant, AccessRequest, Citizen, Record, utcnow

__all__ = [
    "GRANTABLE",
    "KEY_MAX",
    "STATUS_LABELS",
    "CertificateOrder",
    "active_grant",
    "approve",
    "certificate_order",
    "refuse",
    "submit",
]

GRANTABLE = ("开放", "控制")
STATUS_LABELS = {"submitted": "待受理", "approved": "已批准", "refused": "未批准"}
KEY_FIELD = "Idempotency-Key"
KEY_MAX = 64  # access_requests.submission_key


@dataclass(frozen=True)
class Application:
    kind: str
    purpose: str
    description: str
    archival_codes: tuple[str, ...] = ()
    record_ids: tuple[int, ...] = ()
    pages: str = ""


def _public_ids(session: Session, ids: Sequence[int]) -> set[int]:
    if not ids:
        return set()
    vis = Visibility(public=True, max_rank=0)
    return set(session.scalars(select(Record.id).where(Record.id.in_(ids), vis.sql())))


def _by_key(session: Session, user_id: int, key: str) -> AccessRequest | None:
    return session.scalar(
        select(AccessRequest).where(
            AccessRequest.user_id == user_id, AccessRequest.submission_key == key
        )
    )


def _same(req: AccessRequest, app: Application, key: str) -> AccessRequest:
    """``req`` (made with ``key``) when ``app`` asks for the same; 409 when it does not."""
    codes = [c.strip() for c in app.archival_codes if c.strip()]
    asked = (
        app.kind,
        app.purpose,
        app.description.strip(),
        codes,
        sorted(set(app.record_ids)),
        app.pages.strip(),
    )
    if asked != (
        req.kind,
        req.purpose,
        req.description,
        list(req.archival_codes),
        list(req.record_ids),
        req.pages,
    ):
        raise Conflict(
            f"该幂等键已用于另一份利用申请（编号 {req.id}），内容不同",
            [
                Problem(
                    field=KEY_FIELD,
                    value=key,
                    rule="幂等键",
                    message="同一幂等键只能提交同一份申请；提交新申请请使用新的幂等键（门户请刷新页面后重新填写）",
                )
            ],
        )
    return req


def submit(
    inst: Instance,
    session: Session,
    actor: Actor,
    app: Application,
    config: AccessConfig,
    *,
    key: str | None = None,
) -> AccessRequest:
    """Register ``app`` for the actor's citizen account; see the module docs for ``key``."""
    citizen = session.get(Citizen, actor.user_id) if actor.user_id is not None else None
    if citizen is None:
        raise ValidationFailed(
            "只有实名注册的公众账号可以提交利用申请",
            [Problem(field="account", rule="实名注册", message="请先在门户实名注册并登录")],
        )
    if key is not None:
        if not 0 < len(key) <= KEY_MAX or not key.isascii() or not key.isprintable():
            raise ValidationFailed(
                "幂等键无效",
                [
                    Problem(
                        field=KEY_FIELD,
                        value=key[:KEY_MAX],
                        rule="幂等键",
                        message=f"幂等键应为 1–{KEY_MAX} 个可打印的 ASCII 字符",
                    )
                ],
            )
        existing = _by_key(session, citizen.user_id, key)
        if existing is not None:
            return _same(existing, app, key)
    problems: list[Problem] = []
    if app.kind not in config.request_kinds:
        problems.append(
            Problem(
                field="kind",
                value=app.kind,
                rule="申请类型",
                message=f"申请类型须为：{'、'.join(config.request_kinds)}",
            )
        )
    allowed = config.purposes[citizen.user_type]  # type: ignore[index]
    if app.purpose not in allowed:
        problems.append(
            Problem(
                field="purpose",
                value=app.purpose,
                rule="利用目的",
                message=f"{citizen.user_type}的利用目的须为：{'、'.join(allowed)}",
            )
        )
    if not (2 <= len(app.description.strip()) <= 2000):
        problems.append(
            Problem(
                field="description", rule="利用内容", message="请说明需要利用的档案（2–2000 字）"
            )
        )
    codes = tuple(c.strip() for c in app.archival_codes if c.strip())
    if len(codes) > 50 or any(len(c) > 128 for c in codes):
        problems.append(
            Problem(
                field="archival_codes", rule="档号", message="档号最多 50 个，每个不超过 128 字"
            )
        )
    public = _public_ids(session, app.record_ids)
    unknown = [i for i in app.record_ids if i not in public]
    if unknown:
        problems.append(
            Problem(
                field="record_ids",
                value=str(unknown[0]),
                rule="已公布档案",
                message="所选条目不存在或未公布",
            )
        )
    if len(app.pages) > 100:
        problems.append(Problem(field="pages", rule="页码", message="页码范围不超过 100 字"))
    if problems:
        raise ValidationFailed("利用申请有误，请按提示修改", problems)
    req = AccessRequest(
        user_id=citizen.user_id,
        kind=app.kind,
        purpose=app.purpose,
        user_type=citizen.user_type,
        unit_name=citizen.unit_name,
        description=app.description.strip(),
        archival_codes=list(codes),
        record_ids=sorted(set(app.record_ids)),
        pages=app.pages.strip(),
        status="submitted",
        submission_key=key,
    )
    if key is None:
        session.add(req)
        session.flush()
    else:
        try:
            with session.begin_nested():  # a savepoint: a lost race leaves the transaction usable
                session.add(req)
                session.flush()
        except IntegrityError:
            # a concurrent send with this key committed between the lookup and the insert
            existing = _by_key(session, citizen.user_id, key)
            if existing is None:
                raise
            return _same(existing, app, key)
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.ACCESS_REQUEST_SUBMITTED,
        object_type="access_request",
        object_id=str(req.id),
        detail={"kind": app.kind, "purpose": app.purpose, "archival_codes": list(codes)},
    )
    return req


def _pending(session: Session, request_id: int) -> AccessRequest:
    req = session.get(AccessRequest, request_id, with_for_update=True)
    if req is None:
        raise NotFound(f"利用申请 {request_id} 不存在")
    if req.status != "submitted":
        raise Conflict(
            f"利用申请 {request_id} 已处理（{STATUS_LABELS.get(req.status, req.status)}）"
        )
    return req


def approve(
    inst: Instance,
    session: Session,
    actor: Actor,
    request_id: int,
    record_ids: Sequence[int],
    *,
    days: int,
    reason: str = "",
    pages: str | None = None,
) -> AccessRequest:
    """Grant ``record_ids`` for ``days``; a 出具证明 / 复制 request also gets its certificate.

    ``pages`` (staff) replaces the applicant's 页码 text for the certificate when given.
    """
    req = _pending(session, request_id)
    ids = sorted(set(record_ids))
    problems: list[Problem] = []
    if pages is not None and len(pages.strip()) > 100:
        problems.append(Problem(field="pages", rule="页码", message="页码范围不超过 100 字"))
    if not ids:
        problems.append(
            Problem(field="record_ids", rule="批准范围", message="请至少选择一个批准利用的条目")
        )
    if not 1 <= days <= 365:
        problems.append(
            Problem(field="days", value=str(days), rule="有效期", message="有效期须为 1–365 天")
        )
    rows = {r.id: r for r in session.scalars(select(Record).where(Record.id.in_(ids)))}
    for i in ids:
        rec = rows.get(i)
        if rec is None:
            problems.append(
                Problem(
                    field="record_ids", value=str(i), rule="批准范围", message=f"条目 {i} 不存在"
                )
            )
        elif rec.lifecycle != "active" or rec.security_rank > 0 or rec.open_status not in GRANTABLE:
            problems.append(
                Problem(
                    field="record_ids",
                    value=rec.archival_code or str(i),
                    rule="可批准利用的档案",
                    message=f"{rec.archival_code or i}：只有在用的、非涉密的开放或控制档案可以批准利用（当前：{rec.open_status or '未著录'}，{rec.security_level or '公开'}）",
                )
            )
    if problems:
        raise ValidationFailed("批准未完成，请按提示修改", problems)
    now = utcnow()
    expires = now + timedelta(days=days)
    for i in ids:
        session.add(
            AccessGrant(request_id=req.id, user_id=req.user_id, record_id=i, expires_at=expires)
        )
    req.status, req.reviewer, req.reviewed_at, req.updated_at = "approved", actor.username, now, now
    req.reason, req.granted_ids, req.expires_at = reason.strip(), ids, expires
    detail: dict[str, object] = {
        "record_ids": ids,
        "expires_at": expires.isoformat(timespec="seconds"),
    }
    if pages is not None and pages.strip() != req.pages:
        detail["pages"], detail["pages_requested"] = pages.strip(), req.pages
        req.pages = pages.strip()
    issued = certify(inst, session, actor, req)
    if issued is not None:
        detail["certificate"] = issued.code
        faults.point("access.certified")  # grants and certificate written, approval event not
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.ACCESS_REQUEST_APPROVED,
        object_type="access_request",
        object_id=str(req.id),
        detail=detail,
    )
    return req


def refuse(
    inst: Instance, session: Session, actor: Actor, request_id: int, reason: str
) -> AccessRequest:
    req = _pending(session, request_id)
    if not (2 <= len(reason.strip()) <= 2000):
        raise ValidationFailed(
            "拒绝须说明理由",
            [
                Problem(
                    field="reason",
                    rule="拒绝理由",
                    message="请填写不予利用的理由与依据（2–2000 字）",
                )
            ],
        )
    now = utcnow()
    req.status, req.reviewer, req.reviewed_at, req.updated_at = "refused", actor.username, now, now
    req.reason = reason.strip()
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.ACCESS_REQUEST_REFUSED,
        object_type="access_request",
        object_id=str(req.id),
        detail={"reason": req.reason},
    )
    return req


def active_grant(
    session: Session, user_id: int | None, record_id: int, now: datetime | None = None
) -> AccessGrant | None:
    """The viewer's live grant for ``record_id`` (latest expiry), or None."""
    if user_id is None:
        return None
    return session.scalar(
        select(AccessGrant)
        .where(
            AccessGrant.user_id == user_id,
            AccessGrant.record_id == record_id,
            AccessGrant.expires_at > (now or utcnow()),
        )
        .order_by(AccessGrant.expires_at.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class CertificateOrder:
    """What the certificate service needs for an approved 出具证明 / 复制 request."""

    request_id: int
    kind: str
    applicant: str
    id_masked: str
    user_type: str
    unit_name: str
    purpose: str
    records: list[tuple[int, str | None, str]]  # (id, 档号, 题名)
    pages: str
    approved_by: str
    approved_at: datetime


def certificate_order(session: Session, request_id: int) -> CertificateOrder:
    req = session.get(AccessRequest, request_id)
    if req is None:
        raise NotFound(f"利用申请 {request_id} 不存在")
    if req.status != "approved" or req.kind not in ("出具证明", "复制"):
        raise Conflict("只有已批准的出具证明或复制申请可以出证")
    citizen = session.get(Citizen, req.user_id)
    assert citizen is not None and req.reviewer is not None and req.reviewed_at is not None
    rows = session.scalars(select(Record).where(Record.id.in_(req.granted_ids)).order_by(Record.id))
    return CertificateOrder(
        request_id=req.id,
        kind=req.kind,
        applicant=citizen.real_name,
        id_masked=citizen.id_masked,
        user_type=req.user_type,
        unit_name=req.unit_name,
        purpose=req.purpose,
        records=[(r.id, r.archival_code, r.title) for r in rows],
        pages=req.pages,
        approved_by=req.reviewer,
        approved_at=req.reviewed_at,
    )
