"""Issuing, listing, revoking and verifying certificates (档案证明 / 档案复制件证明).

The API other capabilities call (the access requests of the public portal call
:func:`issue_certificate` when a 出具证明 or 复制 request is approved; docs/certificates.md):

* :func:`issue_certificate` — render, sign, embed, register, one ``certificate:document:issued``
  event; returns an :class:`IssuedCertificate` (the PDF bytes and its verification code).
* :func:`revoke_certificate`, :func:`get_certificate`, :func:`list_certificates`.
* :func:`verify_code` / :func:`verify_file` — what the public verification page and API show: a
  :class:`VerificationResult` with minimal data (never the applicant's ID number).

Everything runs in the caller's session: the certificate exists exactly when the caller's
transaction commits.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lantai import faults
from lantai.audit import EventType
from lantai.certificates.codes import display, is_valid, new_code, normalise
from lantai.certificates.copies import format_pages, page_images, parse_pages
from lantai.certificates.document import CertificateContent, Citation, render
from lantai.certificates.keys import key_ring, signing_key
from lantai.certificates.profiles import digest_hex
from lantai.certificates.sign import SignatureBlock, embed
from lantai.certificates.verify import FileCheck, Verdict, verify_pdf
from lantai.errors import Conflict, InputError, NotFound, Problem
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.storage import ObjectStore, open_store
from lantai.store import utcnow
from lantai.store.certificates import Certificate, CertificateKind, CertificateStatus

__all__ = [
    "IssuedCertificate",
    "VerificationResult",
    "get_certificate",
    "issue_certificate",
    "list_certificates",
    "mask_id_number",
    "revoke_certificate",
    "verify_code",
    "verify_file",
    "verify_url",
]

MAX_RECORDS = 50
_FULL_ID = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")


@dataclass(frozen=True)
class IssuedCertificate:
    id: int
    code: str
    kind: CertificateKind
    verify_url: str
    pdf: bytes
    file_sha256: str
    digest: str
    key_id: str
    issued_at: datetime
    page_images: int

    @property
    def filename(self) -> str:
        return f"{self.kind.label}-{self.code}.pdf"


@dataclass(frozen=True, kw_only=True)
class VerificationResult:
    """What verification shows: no applicant ID, only the masked name and the cited 档号."""

    verdict: Verdict
    message: str
    authentic: bool | None = None
    unaltered: bool | None = None
    code: str | None = None
    kind: str | None = None
    issuer_name: str | None = None
    issuer_code: str | None = None
    issued_at: datetime | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    applicant: str | None = None
    citations: list[dict[str, str]] = field(default_factory=list)
    digest_algorithm: str | None = None
    digest: str | None = None  # the digest the signature covers (of the signed part)
    key_id: str | None = None
    algorithm: str | None = None
    registered: bool = False
    # SHA-256 of the whole certificate file: as registered at issue time (登记摘要), and of the
    # file the visitor uploaded (上传文件摘要); equal exactly when the upload is that file.
    file_sha256: str | None = None
    uploaded_sha256: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.VALID

    @property
    def same_file(self) -> bool | None:
        """Whether the uploaded file is byte for byte the registered one (None: not both known)."""
        if self.file_sha256 is None or self.uploaded_sha256 is None:
            return None
        return self.file_sha256 == self.uploaded_sha256

    @property
    def kind_label(self) -> str | None:
        return CertificateKind(self.kind).label if self.kind else None

    @property
    def code_display(self) -> str | None:
        return display(self.code) if self.code else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "verdict_label": self.verdict.label,
            "ok": self.ok,
            "message": self.message,
            "authentic": self.authentic,
            "unaltered": self.unaltered,
            "code": self.code,
            "kind": self.kind,
            "kind_label": self.kind_label,
            "issuer_name": self.issuer_name,
            "issuer_code": self.issuer_code,
            "issued_at": self.issued_at.isoformat() if self.issued_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoke_reason": self.revoke_reason,
            "applicant": self.applicant,
            "citations": self.citations,
            "digest_algorithm": self.digest_algorithm,
            "digest": self.digest,
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "registered": self.registered,
            "file_sha256": self.file_sha256,
            "uploaded_sha256": self.uploaded_sha256,
        }


def verify_url(inst: Instance, code: str) -> str:
    return f"{inst.settings.public_base_url.rstrip('/')}/verify/{code}"


def mask_id_number(number: str) -> str:
    """``110101199003071234`` → ``110***********1234`` (first 3 and last 4 kept)."""
    n = number.strip()
    return n[:3] + "*" * max(0, len(n) - 7) + n[-4:] if len(n) > 7 else "*" * len(n)


def _mask_name(name: str) -> str:
    name = name.strip()
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


def _check_inputs(
    kind: str,
    record_ids: Sequence[int],
    applicant_name: str,
    applicant_id_masked: str,
    purpose: str,
) -> CertificateKind:
    problems: list[Problem] = []
    try:
        k = CertificateKind(kind)
    except ValueError:
        problems.append(
            Problem(
                field="kind",
                value=str(kind),
                message="证明类型应为 certificate（档案证明）或 certified_copy（档案复制件证明）",
            )
        )
        k = CertificateKind.CERTIFICATE
    if not record_ids:
        problems.append(Problem(field="record_ids", message="至少引用一条档案"))
    elif len(record_ids) > MAX_RECORDS:
        problems.append(
            Problem(field="record_ids", message=f"一份证明至多引用 {MAX_RECORDS} 条档案")
        )
    if not applicant_name.strip() or len(applicant_name) > 100:
        problems.append(
            Problem(field="applicant_name", message="申请人姓名（或单位名称）必填，至多 100 字")
        )
    if len(applicant_id_masked) > 40:
        problems.append(Problem(field="applicant_id_masked", message="证件号码至多 40 个字符"))
    elif _FULL_ID.search(applicant_id_masked):
        problems.append(
            Problem(
                field="applicant_id_masked",
                rule="证明上只印脱敏后的证件号码（如 110***********1234）",
                message="证件号码未脱敏",
            )
        )
    if not purpose.strip() or len(purpose) > 200:
        problems.append(Problem(field="purpose", message="利用目的必填，至多 200 字"))
    if problems:
        raise InputError("出具证明的申请信息不完整或不合规", problems)
    return k


def _unique_code(session: Session) -> str:
    while True:
        code = new_code()
        if session.scalar(select(Certificate.id).where(Certificate.code == code)) is None:
            return code


def issue_certificate(
    inst: Instance,
    session: Session,
    actor: Actor,
    *,
    kind: str,
    record_ids: Sequence[int],
    pages: Mapping[int, str] | None = None,
    applicant_name: str,
    applicant_id_masked: str,
    purpose: str,
    request_ref: str | None = None,
    store: ObjectStore | None = None,
) -> IssuedCertificate:
    """Issue one certificate citing ``record_ids`` (each visible to ``actor``).

    ``pages`` maps a record id to its page range (``"1-3,5"``; missing or empty: all pages).
    For ``kind="certified_copy"`` the digitised page images of those pages are included (read
    from ``store``, default the instance's primary object store); a record without any is cited
    only. ``applicant_id_masked`` must already be masked (:func:`mask_id_number`).
    """
    actor.require(Perm.CERTIFICATE_ISSUE)
    k = _check_inputs(kind, record_ids, applicant_name, applicant_id_masked, purpose)
    if request_ref is not None and len(request_ref) > 64:
        raise InputError("申请编号过长", [Problem(field="request_ref", message="至多 64 个字符")])
    pages = pages or {}
    unknown = set(pages) - set(record_ids)
    if unknown:
        raise InputError(
            "页码指向了未引用的档案",
            [
                Problem(field="pages", value=str(r), message="该条目不在 record_ids 中")
                for r in sorted(unknown)
            ],
        )
    citations: list[Citation] = []
    if k is CertificateKind.CERTIFIED_COPY and store is None:
        store = open_store(inst.settings)
    for rid in dict.fromkeys(record_ids):
        rec = inst.catalogue.get(session, actor, rid)
        label = rec.archival_code or f"条目 {rec.id}"
        wanted = parse_pages(pages.get(rid), record_label=label)
        if wanted and rec.pages and wanted[-1] > rec.pages:
            raise InputError(
                f"{label} 只有 {rec.pages} 页",
                [
                    Problem(
                        field="pages",
                        value=pages.get(rid),
                        message=f"页码超出该档案的页数 {rec.pages}",
                    )
                ],
            )
        images = (
            tuple(page_images(session, store, rec.id, wanted))
            if k is CertificateKind.CERTIFIED_COPY and store is not None
            else ()
        )
        citations.append(
            Citation(rec.id, rec.archival_code or "", rec.title, format_pages(wanted), images)
        )

    key = signing_key(inst, session, actor)
    code = _unique_code(session)
    issued_at = utcnow().replace(microsecond=0)
    url = verify_url(inst, code)
    settings = inst.settings
    pdf = render(
        CertificateContent(
            kind=k,
            code=code,
            issuer_name=settings.archive_name,
            issuer_code=settings.archive_code,
            issued_at=issued_at,
            applicant_name=applicant_name.strip(),
            applicant_id_masked=applicant_id_masked.strip(),
            purpose=purpose.strip(),
            verify_url=url,
            verify_page=f"{settings.public_base_url.rstrip('/')}/verify",
            algorithm=key.profile.algorithm,
            key_id=key.key_id,
            citations=citations,
            request_ref=request_ref,
        )
    )
    unsigned = SignatureBlock(
        code=code,
        key_id=key.key_id,
        algorithm=key.profile.algorithm,
        digest_algorithm=key.profile.digest,
        digest=digest_hex(key.profile.digest, pdf),
        signed_length=len(pdf),
        issuer_code=settings.archive_code,
        issuer_name=settings.archive_name,
        issued_at=issued_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        verify_url=url,
        public_key=key.public_spki,
    )
    signature = key.profile.sign(key.private, unsigned.tbs())
    block = SignatureBlock(**{**unsigned.__dict__, "signature": signature})
    final = embed(pdf, block)
    faults.point("certificates.signed")  # PDF signed, not registered (caller's tx open)
    sha = hashlib.sha256(final).hexdigest()
    n_images = sum(len(c.images) for c in citations)
    row = Certificate(
        code=code,
        kind=k.value,
        status=CertificateStatus.VALID.value,
        citations=[
            {
                "record_id": c.record_id,
                "archival_code": c.archival_code,
                "title": c.title,
                "pages": c.pages,
                "page_images": len(c.images),
            }
            for c in citations
        ],
        applicant_name=applicant_name.strip(),
        applicant_id_masked=applicant_id_masked.strip(),
        purpose=purpose.strip(),
        request_ref=request_ref,
        issuer_name=settings.archive_name,
        issuer_code=settings.archive_code,
        key_id=key.key_id,
        algorithm=key.profile.algorithm,
        digest_algorithm=key.profile.digest,
        digest=block.digest,
        signed_length=len(pdf),
        signature=base64.b64encode(signature).decode("ascii"),
        file_sha256=sha,
        file_size=len(final),
        page_images=n_images,
        pdf=final,
        issued_at=issued_at,
        issued_by=actor.username,
        revoke_reason="",
    )
    session.add(row)
    session.flush()
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.CERTIFICATE_ISSUED,
        object_type="certificate",
        object_id=code,
        detail={
            "kind": k.value,
            "record_ids": [c.record_id for c in citations],
            "pages": {str(c.record_id): c.pages for c in citations},
            "page_images": n_images,
            "request_ref": request_ref,
            "key_id": key.key_id,
            "digest": block.digest,
            "file_sha256": sha,
        },
    )
    faults.point("certificates.registered")  # row, PDF and event written; caller not committed
    return IssuedCertificate(
        id=row.id,
        code=code,
        kind=k,
        verify_url=url,
        pdf=final,
        file_sha256=sha,
        digest=block.digest,
        key_id=key.key_id,
        issued_at=issued_at,
        page_images=n_images,
    )


def get_certificate(session: Session, actor: Actor, code: str) -> Certificate:
    actor.require(Perm.CERTIFICATE_READ)
    row = session.scalar(select(Certificate).where(Certificate.code == normalise(code)))
    if row is None:
        raise NotFound(f"验证码为「{code}」的证明不存在")
    return row


def list_certificates(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    request_ref: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Certificate], int]:
    """Newest first, and the total matching."""
    actor.require(Perm.CERTIFICATE_READ)
    q = select(Certificate)
    if status:
        q = q.where(Certificate.status == status)
    if request_ref:
        q = q.where(Certificate.request_ref == request_ref)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(
        q.order_by(Certificate.issued_at.desc(), Certificate.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total


def revoke_certificate(
    inst: Instance, session: Session, actor: Actor, code: str, *, reason: str
) -> Certificate:
    actor.require(Perm.CERTIFICATE_REVOKE)
    if not reason.strip():
        raise InputError("撤销证明须填写理由", [Problem(field="reason", message="撤销理由必填")])
    row = session.scalar(
        select(Certificate).where(Certificate.code == normalise(code)).with_for_update()
    )
    if row is None:
        raise NotFound(f"验证码为「{code}」的证明不存在")
    if row.status == CertificateStatus.REVOKED.value:
        raise Conflict(f"证明 {display(row.code)} 已于 {row.revoked_at:%Y-%m-%d} 撤销")
    row.status = CertificateStatus.REVOKED.value
    row.revoked_at, row.revoked_by, row.revoke_reason = utcnow(), actor.username, reason.strip()
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.CERTIFICATE_REVOKED,
        object_type="certificate",
        object_id=row.code,
        detail={"reason": row.revoke_reason, "request_ref": row.request_ref},
    )
    return row


# -- verification ---------------------------------------------------------------------------------


def _from_row(row: Certificate, check: FileCheck | None, **kw: Any) -> VerificationResult:
    values: dict[str, Any] = {
        "code": row.code,
        "kind": row.kind,
        "issuer_name": row.issuer_name,
        "issuer_code": row.issuer_code,
        "issued_at": row.issued_at,
        "revoked_at": row.revoked_at,
        "revoke_reason": row.revoke_reason or None,
        "applicant": _mask_name(row.applicant_name),
        "citations": [
            {"archival_code": c.get("archival_code", ""), "pages": c.get("pages", "")}
            for c in row.citations
        ],
        "digest_algorithm": row.digest_algorithm,
        "digest": row.digest,
        "key_id": row.key_id,
        "algorithm": row.algorithm,
        "registered": True,
        "file_sha256": row.file_sha256,
    }
    if check is not None:
        values["authentic"], values["unaltered"] = check.authentic, check.unaltered
    values.update(kw)
    return VerificationResult(**values)


def _registered(row: Certificate, check: FileCheck, *, by_file: bool) -> VerificationResult:
    if check.verdict is not Verdict.VALID:
        prefix = "" if by_file else "本馆登记的证明文件校验未通过："
        return _from_row(row, check, verdict=check.verdict, message=prefix + check.message)
    if check.block is None or check.block.digest != row.digest:
        return _from_row(
            row,
            check,
            verdict=Verdict.TAMPERED,
            unaltered=False,
            message="文件已被篡改：与本馆登记的证明摘要不一致",
        )
    if row.status == CertificateStatus.REVOKED.value:
        return _from_row(
            row,
            check,
            verdict=Verdict.REVOKED,
            message=f"证明已撤销（{row.revoked_at:%Y-%m-%d}）：{row.revoke_reason}",
        )
    what = "文件的电子签名有效、内容未被改动，" if by_file else ""
    return _from_row(
        row,
        check,
        verdict=Verdict.VALID,
        message=f"{what}该证明由{row.issuer_name}于 {row.issued_at:%Y-%m-%d} 出具，当前有效",
    )


def verify_code(inst: Instance, session: Session, code_text: str) -> VerificationResult:
    """Look a verification code up in the register (and re-check the registered file)."""
    code = normalise(code_text)
    if not is_valid(code):
        return VerificationResult(
            verdict=Verdict.NOT_FOUND,
            message="验证码不正确：应为 16 位字母数字（如 ABCD-EFGH-JKMN-PQRS），请核对后重新输入",
        )
    row = session.scalar(select(Certificate).where(Certificate.code == code))
    if row is None:
        return VerificationResult(
            verdict=Verdict.NOT_FOUND, code=code, message="查无此证：本馆没有出具过该验证码的证明"
        )
    pdf = session.scalar(select(Certificate.pdf).where(Certificate.id == row.id)) or b""
    return _registered(row, verify_pdf(pdf, key_ring(session)), by_file=False)


def verify_file(inst: Instance, session: Session, data: bytes) -> VerificationResult:
    """Verify an uploaded certificate file: signature, integrity, issuer, and (own) status.

    The result carries the SHA-256 of the uploaded bytes next to the one registered at issue
    time, whatever the verdict, so a tampered upload shows both digests.
    """
    result = _verify_upload(session, data)
    return replace(result, uploaded_sha256=hashlib.sha256(data).hexdigest())


def _verify_upload(session: Session, data: bytes) -> VerificationResult:
    check = verify_pdf(data, key_ring(session))
    block = check.block
    if block is None:
        return VerificationResult(
            verdict=check.verdict,
            message=check.message,
            authentic=check.authentic,
            unaltered=check.unaltered,
        )
    row = session.scalar(select(Certificate).where(Certificate.code == block.code))
    own = check.issuer is not None and check.issuer.own
    if row is not None and (own or check.verdict is not Verdict.VALID):
        return _registered(row, check, by_file=True)
    base = VerificationResult(
        verdict=check.verdict,
        message=check.message,
        authentic=check.authentic,
        unaltered=check.unaltered,
        code=block.code,
        issuer_name=check.issuer.issuer_name if check.issuer else None,
        issuer_code=check.issuer.issuer_code if check.issuer else None,
        issued_at=_parse(block.issued_at),
        digest_algorithm=block.digest_algorithm,
        digest=block.digest,
        key_id=block.key_id,
        algorithm=block.algorithm,
    )
    if check.verdict is Verdict.VALID and own:
        return VerificationResult(
            **{
                **base.__dict__,
                "verdict": Verdict.NOT_FOUND,
                "message": "签名有效，但本馆登记中查无此证（请联系本馆核实）",
            }
        )
    if check.verdict is Verdict.VALID:
        return VerificationResult(
            **{
                **base.__dict__,
                "message": check.message + "。该证明由他馆出具，是否已撤销请以签发馆的查验结果为准",
            }
        )
    return base


def _parse(text: str) -> datetime | None:
    from lantai.certificates.verify import parse_time

    try:
        return parse_time(text)
    except ValueError:
        return None
