"""Certificate pages: the public verification page and the staff register.

- ``GET /verify`` — enter a verification code, or upload a certificate PDF (public, zh-CN; in the
  public portal's layout, the staff layout only for staff).
- ``GET /verify/{code}`` — the result for a code (what the QR code on a certificate opens).
- ``POST /verify`` — the result for an uploaded file (size-limited, rate-limited).
- ``GET /certificates`` — staff: issued certificates, newest first, with re-download and revoke.
- ``POST /certificates/{code}/revoke`` — staff: revoke with a reason (event recorded).

The public results show only what :class:`lantai.certificates.VerificationResult` carries: never
the applicant's ID number, only the first character of the name.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from lantai.access.accounts import CITIZEN_ROLE
from lantai.certificates import list_certificates, revoke_certificate, verify_code, verify_file
from lantai.certificates.codes import display
from lantai.errors import InputError, LantaiError
from lantai.security import Actor, Perm
from lantai.store.certificates import CertificateKind, CertificateStatus
from lantai.web.api.certificates import certificate_limit, read_upload
from lantai.web.deps import get_instance, require
from lantai.web.pages.portal import _portal
from lantai.web.pages.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def _is_staff(actor: Actor) -> bool:
    return actor.user_id is not None and CITIZEN_ROLE not in actor.roles


def _verify_page(request: Request, actor: Actor, **context: Any) -> Response:
    """The verification page in the staff layout for staff, else in the public portal's layout
    (rendered as the portal renders its pages, so a citizen sees their portal header)."""
    context.setdefault("result", None)
    context.setdefault("code", "")
    context.setdefault("error", None)
    status = context.pop("status_code", 200)
    if _is_staff(actor):
        return render(
            request, "verify.html", actor, status_code=status, layout="base.html", **context
        )
    return _portal(request, "verify.html", actor, status, layout="portal_base.html", **context)


@router.get("/verify", response_class=HTMLResponse)
def verify_form(
    request: Request,
    code: Annotated[str, Query(max_length=64)] = "",
    actor: Actor = require(Perm.PUBLIC),
) -> Response:
    if code.strip():
        return RedirectResponse(f"/verify/{code.strip()[:64]}", status_code=303)
    return _verify_page(request, actor)


@router.get("/verify/{code}", response_class=HTMLResponse)
def verify_by_code(request: Request, code: str, actor: Actor = require(Perm.PUBLIC)) -> Response:
    try:
        certificate_limit(request, "certificate_code")
    except LantaiError as exc:
        return _verify_page(
            request, actor, code=code[:64], error=exc.message, status_code=exc.status
        )
    inst = get_instance(request)
    with inst.db.read() as s:
        result = verify_code(inst, s, code[:64])
    return _verify_page(
        request, actor, code=display(result.code) if result.code else code[:64], result=result
    )


@router.post("/verify", response_class=HTMLResponse)
async def verify_upload(
    request: Request, file: UploadFile, actor: Actor = require(Perm.PUBLIC)
) -> Response:
    try:
        certificate_limit(request, "certificate_file")
        if not file.filename:
            raise InputError("请选择要查验的证明文件（PDF）")
        data = await read_upload(request, file)
    except LantaiError as exc:
        return _verify_page(request, actor, error=exc.message, status_code=exc.status)
    inst = get_instance(request)

    def work() -> Any:
        with inst.db.read() as s:
            return verify_file(inst, s, data)

    result = await run_in_threadpool(work)
    return _verify_page(request, actor, result=result, uploaded=True)


@router.get("/certificates", response_class=HTMLResponse)
def register_page(
    request: Request,
    status: Annotated[str, Query(max_length=8)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    done: Annotated[str, Query(max_length=16)] = "",
    actor: Actor = require(Perm.CERTIFICATE_READ),
) -> HTMLResponse:
    inst = get_instance(request)
    wanted = status if status in ("valid", "revoked") else None
    with inst.db.read() as s:
        rows, total = list_certificates(
            s, actor, status=wanted, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        items = [
            {
                "code": r.code,
                "code_display": display(r.code),
                "kind": CertificateKind(r.kind).label,
                "status": r.status,
                "status_label": CertificateStatus(r.status).label,
                "citations": r.citations,
                "applicant": r.applicant_name,
                "purpose": r.purpose,
                "request_ref": r.request_ref,
                "issued_at": r.issued_at,
                "issued_by": r.issued_by,
                "revoked_at": r.revoked_at,
                "revoke_reason": r.revoke_reason,
            }
            for r in rows
        ]
    return render(
        request,
        "certificates.html",
        actor,
        items=items,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        status=wanted or "",
        done=done,
        can_revoke=actor.can(Perm.CERTIFICATE_REVOKE),
    )


@router.post("/certificates/{code}/revoke", response_class=HTMLResponse)
def revoke_page(
    request: Request,
    code: str,
    reason: Annotated[str, Form(max_length=2000)] = "",
    actor: Actor = require(Perm.CERTIFICATE_REVOKE),
) -> Response:
    inst = get_instance(request)
    with inst.db.write() as s:
        revoke_certificate(inst, s, actor, code, reason=reason)
    return RedirectResponse("/certificates?done=revoked", status_code=303)
