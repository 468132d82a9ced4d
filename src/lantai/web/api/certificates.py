"""Certificates (档案证明 / 档案复制件证明): staff API and the public verification API.

Staff (``/api/certificates``): issue, list, detail, re-download, revoke, the signing keys.
Public (``/api/public/certificates``): look a verification code up, verify an uploaded file
(size-limited), and this archive's public signing keys (LANTAI-CERT-KEYS-1, for other archives
and for checking a certificate without Lantai). The public endpoints are rate-limited per client
(:func:`certificate_limit`) so that trying codes is impractical on top of their 75 random bits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from lantai.certificates import (
    export_keys,
    get_certificate,
    issue_certificate,
    list_certificates,
    list_keys,
    revoke_certificate,
    verify_code,
    verify_file,
)
from lantai.certificates.codes import display
from lantai.security import Actor, Perm
from lantai.store.certificates import Certificate, CertificateKind, CertificateStatus
from lantai.web.api.schemas import DbId, ErrorOut
from lantai.web.deps import get_instance, require
from lantai.web.ratelimit import RateLimited, RateLimiter
from lantai.web.uploads import UploadTooLarge

__all__ = [
    "LIMITS",
    "certificate_limit",
    "pdf_response",
    "public_router",
    "read_upload",
    "router",
]

_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
router = APIRouter(prefix="/api/certificates", tags=["档案证明"], responses=_RESPONSES)
public_router = APIRouter(
    prefix="/api/public/certificates",
    tags=["档案证明查验"],
    responses={413: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)

# Per-client token buckets (per minute, burst) of the public verification endpoints.
LIMITS: dict[str, tuple[float, int]] = {
    "certificate_code": (20.0, 20),
    "certificate_file": (10.0, 10),
}


def certificate_limit(request: Request, bucket: str) -> None:
    """One token from the client's ``bucket`` (lantai.web.ratelimit), or 429."""
    limiter = getattr(request.app.state, "certificate_limiter", None)
    if not isinstance(limiter, RateLimiter):
        limiter = request.app.state.certificate_limiter = RateLimiter(LIMITS)
    client = request.client.host if request.client else "-"
    wait = limiter.take(bucket, client)
    if wait > 0:
        raise RateLimited(f"查验过于频繁，请 {int(wait) + 1} 秒后再试")


async def read_upload(request: Request, upload: UploadFile) -> bytes:
    """The uploaded file's bytes, refused past ``LANTAI_CERTIFICATE_VERIFY_MAX_MB``."""
    limit = get_instance(request).settings.certificate_verify_max_mb << 20
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise UploadTooLarge(f"上传文件超过上限 {limit >> 20} MiB，未做查验")
    return data


def pdf_response(row: Certificate, data: bytes) -> Response:
    name = f"{CertificateKind(row.kind).label}-{row.code}.pdf"
    from urllib.parse import quote

    return Response(
        data,
        media_type="application/pdf",
        headers={
            "content-disposition": f"attachment; filename=\"certificate-{row.code}.pdf\"; filename*=UTF-8''{quote(name)}",
            "cache-control": "no-store",
        },
    )


class IssueIn(BaseModel):
    kind: Literal["certificate", "certified_copy"] = Field(
        description="certificate 档案证明；certified_copy 档案复制件证明（附数字化页面图像）"
    )
    record_ids: list[DbId] = Field(min_length=1, max_length=50, description="引用的档案条目")
    pages: dict[int, str] | None = Field(
        None, description='每条档案的页码，如 {"12": "1-3,5"}；不填为全部页'
    )
    applicant_name: str = Field(min_length=1, max_length=100, description="申请人姓名或单位名称")
    applicant_id_masked: str = Field(
        "", max_length=40, description="脱敏后的证件号码，如 110***********1234"
    )
    purpose: str = Field(min_length=1, max_length=200, description="利用目的")
    request_ref: str | None = Field(None, max_length=64, description="利用申请编号")


class CitationOut(BaseModel):
    record_id: int
    archival_code: str
    title: str
    pages: str
    page_images: int


class CertificateOut(BaseModel):
    code: str
    code_display: str
    kind: str
    kind_label: str
    status: str
    status_label: str
    citations: list[CitationOut]
    applicant_name: str
    applicant_id_masked: str
    purpose: str
    request_ref: str | None
    issuer_name: str
    issuer_code: str
    key_id: str
    algorithm: str
    digest_algorithm: str
    digest: str
    file_sha256: str
    file_size: int
    page_images: int
    issued_at: datetime
    issued_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str
    verify_url: str
    download: str


class CertificateList(BaseModel):
    total: int
    items: list[CertificateOut]


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="撤销理由")


class KeyOut(BaseModel):
    key_id: str
    origin: str
    algorithm: str
    issuer_name: str
    issuer_code: str
    state: str
    valid_from: datetime
    retired_at: datetime | None
    public_key_pem: str


class VerificationOut(BaseModel):
    verdict: Literal["valid", "revoked", "tampered", "unknown_issuer", "unsigned", "not_found"]
    verdict_label: str
    ok: bool
    message: str
    authentic: bool | None
    unaltered: bool | None
    code: str | None
    kind: str | None
    kind_label: str | None
    issuer_name: str | None
    issuer_code: str | None
    issued_at: str | None
    revoked_at: str | None
    revoke_reason: str | None
    applicant: str | None = Field(description="申请人（已遮蔽，仅首字）")
    citations: list[dict[str, str]]
    digest_algorithm: str | None
    digest: str | None = Field(description="签名摘要：电子签名覆盖部分的摘要（digest_algorithm）")
    key_id: str | None
    algorithm: str | None
    registered: bool
    file_sha256: str | None = Field(
        None, description="登记摘要：出具时登记的整个证明文件的 SHA-256（本馆登记的证明）"
    )
    uploaded_sha256: str | None = Field(
        None, description="上传文件摘要：所上传文件的 SHA-256（按文件查验时）"
    )


def certificate_out(request: Request, row: Certificate) -> CertificateOut:
    base = get_instance(request).settings.public_base_url.rstrip("/")
    return CertificateOut(
        code=row.code,
        code_display=display(row.code),
        kind=row.kind,
        kind_label=CertificateKind(row.kind).label,
        status=row.status,
        status_label=CertificateStatus(row.status).label,
        citations=[CitationOut(**c) for c in row.citations],
        applicant_name=row.applicant_name,
        applicant_id_masked=row.applicant_id_masked,
        purpose=row.purpose,
        request_ref=row.request_ref,
        issuer_name=row.issuer_name,
        issuer_code=row.issuer_code,
        key_id=row.key_id,
        algorithm=row.algorithm,
        digest_algorithm=row.digest_algorithm,
        digest=row.digest,
        file_sha256=row.file_sha256,
        file_size=row.file_size,
        page_images=row.page_images,
        issued_at=row.issued_at,
        issued_by=row.issued_by,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        revoke_reason=row.revoke_reason,
        verify_url=f"{base}/verify/{row.code}",
        download=f"/api/certificates/{row.code}/pdf",
    )


@router.post("", response_model=CertificateOut, status_code=201, summary="出具档案证明或复制件证明")
def issue(
    request: Request, body: IssueIn, actor: Actor = require(Perm.CERTIFICATE_ISSUE)
) -> CertificateOut:
    inst = get_instance(request)
    with inst.db.write() as s:
        issued = issue_certificate(
            inst,
            s,
            actor,
            kind=body.kind,
            record_ids=body.record_ids,
            pages=body.pages,
            applicant_name=body.applicant_name,
            applicant_id_masked=body.applicant_id_masked,
            purpose=body.purpose,
            request_ref=body.request_ref,
        )
        return certificate_out(request, get_certificate(s, actor, issued.code))


@router.get("", response_model=CertificateList, summary="已出具的证明（新的在前）")
def index(
    request: Request,
    status: Annotated[Literal["valid", "revoked"] | None, Query(description="状态")] = None,
    request_ref: Annotated[str | None, Query(max_length=64, description="利用申请编号")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    actor: Actor = require(Perm.CERTIFICATE_READ),
) -> CertificateList:
    inst = get_instance(request)
    with inst.db.read() as s:
        rows, total = list_certificates(
            s, actor, status=status, request_ref=request_ref, limit=limit, offset=offset
        )
        return CertificateList(total=total, items=[certificate_out(request, r) for r in rows])


@router.get("/keys", response_model=list[KeyOut], summary="证明签名密钥（本馆与受信任的他馆公钥）")
def keys(request: Request, _: Actor = require(Perm.CERTIFICATE_READ)) -> list[KeyOut]:
    inst = get_instance(request)
    with inst.db.read() as s:
        return [
            KeyOut(
                key_id=k.key_id,
                origin=k.origin,
                algorithm=k.algorithm,
                issuer_name=k.issuer_name,
                issuer_code=k.issuer_code,
                state=k.state,
                valid_from=k.valid_from,
                retired_at=k.retired_at,
                public_key_pem=k.public_key_pem,
            )
            for k in list_keys(s)
        ]


@router.get("/{code}", response_model=CertificateOut, summary="一份证明的登记信息")
def detail(
    request: Request, code: str, actor: Actor = require(Perm.CERTIFICATE_READ)
) -> CertificateOut:
    inst = get_instance(request)
    with inst.db.read() as s:
        return certificate_out(request, get_certificate(s, actor, code))


@router.get(
    "/{code}/pdf", response_class=Response, summary="重新下载证明文件（与出具时逐字节相同）"
)
def download(
    request: Request, code: str, actor: Actor = require(Perm.CERTIFICATE_READ)
) -> Response:
    inst = get_instance(request)
    with inst.db.read() as s:
        row = get_certificate(s, actor, code)
        return pdf_response(row, row.pdf)


@router.post("/{code}/revoke", response_model=CertificateOut, summary="撤销证明（须填写理由）")
def revoke(
    request: Request, code: str, body: RevokeIn, actor: Actor = require(Perm.CERTIFICATE_REVOKE)
) -> CertificateOut:
    inst = get_instance(request)
    with inst.db.write() as s:
        row = revoke_certificate(inst, s, actor, code, reason=body.reason)
        return certificate_out(request, row)


# -- public ---------------------------------------------------------------------------------------


@public_router.get("/keys", summary="本馆证明签名公钥（LANTAI-CERT-KEYS-1）")
def public_keys(request: Request, _: Actor = require(Perm.PUBLIC)) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        return export_keys(s)


@public_router.get("/{code}", response_model=VerificationOut, summary="按验证码查验证明")
def public_lookup(request: Request, code: str, _: Actor = require(Perm.PUBLIC)) -> dict[str, Any]:
    certificate_limit(request, "certificate_code")
    inst = get_instance(request)
    with inst.db.read() as s:
        return verify_code(inst, s, code[:64]).to_dict()


@public_router.post("/verify", response_model=VerificationOut, summary="上传证明文件查验")
async def public_verify(
    request: Request,
    file: Annotated[UploadFile, File(description="证明 PDF 文件")],
    _: Actor = require(Perm.PUBLIC),
) -> dict[str, Any]:
    certificate_limit(request, "certificate_file")
    data = await read_upload(request, file)
    inst = get_instance(request)
    from starlette.concurrency import run_in_threadpool

    def work() -> dict[str, Any]:
        with inst.db.read() as s:
            return verify_file(inst, s, data).to_dict()

    return await run_in_threadpool(work)
