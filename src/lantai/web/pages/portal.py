"""The public portal (公众利用门户): home, search, 全宗 and 专题库, record pages, the page viewer,
citizens' registration and login, "我的申请" with requests, their certificates (download, verification link) and reading-room
bookings.

Every page is server-rendered (no script); the viewer serves watermarked JPEG access copies only.
What a visitor may see is decided by :func:`lantai.access.portal.portal_record` alone.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from lantai.access.accounts import Registration, citizen_of, register
from lantai.access.appointments import book, cancel, open_slots
from lantai.access.config import AccessConfig, load_access_config
from lantai.access.copies import count_pages, list_pages, page_jpeg
from lantai.access.portal import fonds_with_published, portal_record
from lantai.access.requests import STATUS_LABELS, Application, submit
from lantai.access.uselog import Use, log_use
from lantai.access.watermark import watermark, watermark_text
from lantai.certificates import verify_url
from lantai.certificates.codes import display, normalise
from lantai.errors import (
    AuthenticationRequired,
    Conflict,
    LantaiError,
    NotFound,
    PermissionDenied,
)
from lantai.instance import Instance
from lantai.search import SearchParams
from lantai.security import Actor, Perm
from lantai.store import AccessRequest, Citizen, ReadingAppointment
from lantai.store.certificates import Certificate, CertificateKind, CertificateStatus
from lantai.web.api.auth import set_session_cookie, start_session
from lantai.web.api.certificates import pdf_response
from lantai.web.api.search import search_params
from lantai.web.deps import SESSION_COOKIE, get_instance, require
from lantai.web.pages.render import render, safe_next
from lantai.web.pages.search import _page
from lantai.web.ratelimit import RateLimiter, limit

__all__ = ["access_config", "portal_limiter", "router", "visitor_label"]

router = APIRouter(include_in_schema=False)
VISITOR_COOKIE = "lantai_visitor"
FORM_CSRF_COOKIE = "lantai_portal_csrf"
_LOCAL = ZoneInfo("Asia/Shanghai")
_FONDS_CACHE: dict[int, tuple[float, list[tuple[str, str, int]]]] = {}


def access_config(inst: Instance) -> AccessConfig:
    return load_access_config(inst.settings.resolved_config_dir)


def portal_limiter(inst: Instance) -> RateLimiter:
    cfg = access_config(inst)
    return RateLimiter({k: (b.per_minute, b.burst) for k, b in cfg.rate_limits.items()})


def _visitor(request: Request) -> tuple[str, bool]:
    """(the visitor token, whether it is new): an anonymous, IP-free session id."""
    token = request.cookies.get(VISITOR_COOKIE, "")
    if 20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum():
        return token, False
    return secrets.token_urlsafe(18), True


def visitor_label(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:8]


def _set_visitor(response: Response, token: str, inst: Instance) -> None:
    response.set_cookie(
        VISITOR_COOKIE, token, httponly=True, samesite="lax", secure=inst.settings.cookie_secure
    )


def _page_ctx(request: Request, actor: Actor, **context: Any) -> dict[str, Any]:
    return {"citizen": actor if actor.user_id is not None else None, **context}


def _portal(
    request: Request, template: str, actor: Actor, status: int = 200, **ctx: Any
) -> Response:
    return render(request, template, actor, status_code=status, **_page_ctx(request, actor, **ctx))


@router.get("/portal", response_class=HTMLResponse)
def home(request: Request, actor: Actor = require(Perm.PUBLIC)) -> Response:
    inst = get_instance(request)
    return _portal(request, "portal_home.html", actor, collections=access_config(inst).collections)


@router.get("/portal/search", response_class=HTMLResponse)
def portal_search(
    request: Request,
    p: SearchParams = Depends(search_params),
    actor: Actor = require(Perm.PUBLIC),
    _: None = limit("search"),
) -> Response:
    # Always searched as the anonymous public: 开放 and published records only.
    return _page(
        request, "portal_search.html", actor, Actor.anonymous(), p, "/portal/search", public=True
    )


@router.get("/portal/fonds", response_class=HTMLResponse)
def fonds_page(request: Request, actor: Actor = require(Perm.PUBLIC)) -> Response:
    inst = get_instance(request)
    key = id(inst)
    cached = _FONDS_CACHE.get(key)
    if cached is None or time.monotonic() - cached[0] > 60:
        with inst.db.read() as s:
            cached = (time.monotonic(), fonds_with_published(s))
        _FONDS_CACHE[key] = cached
    return _portal(request, "portal_fonds.html", actor, fonds=cached[1])


@router.get("/portal/collections/{key}", response_class=HTMLResponse)
def collection_page(request: Request, key: str, actor: Actor = require(Perm.PUBLIC)) -> Response:
    found = access_config(get_instance(request)).collection(key)
    if found is None:
        raise NotFound("没有这个专题库")
    return RedirectResponse(f"/portal/search?collection={found.values[0]}", status_code=303)


@router.get("/portal/records/{record_id}", response_class=HTMLResponse)
def record_page(request: Request, record_id: int, actor: Actor = require(Perm.PUBLIC)) -> Response:
    inst = get_instance(request)
    # a plain connection, not an ORM session: the page reads columns in one statement
    with inst.db.engine.connect() as conn:
        rec = portal_record(inst.catalogue, conn, record_id, actor.user_id, with_pages=True)
        if rec is None:
            raise NotFound("该档案未向社会开放或不存在")
        assert rec.page_counts is not None
        pages = count_pages(inst, conn, record_id, rec.page_counts)
    token, new = _visitor(request)
    response = _portal(request, "portal_record.html", actor, rec=rec, pages=pages)
    if new:
        _set_visitor(response, token, inst)
    return response


def _viewer_use(
    inst: Instance, actor: Actor, visitor: str, record_id: int, grant_request: int | None
) -> None:
    with inst.db.write() as s:
        citizen = citizen_of(s, actor.user_id)
        purpose = "其他"
        if grant_request is not None:
            req = s.get(AccessRequest, grant_request)
            purpose = req.purpose if req else purpose
        log_use(
            s,
            Use(
                person=f"user:{actor.user_id}"
                if actor.user_id
                else f"visitor:{visitor_label(visitor)}",
                user_id=actor.user_id,
                user_type=citizen.user_type if citizen else "个人",
                purpose=purpose,
                channel="网上",
                kind="view",
                record_id=record_id,
                request_id=grant_request,
            ),
        )


def _serve_page(inst: Instance, actor: Actor, visitor: str, record_id: int, n: int) -> bytes:
    cfg = access_config(inst)
    with inst.db.read() as s:
        rec = portal_record(inst.catalogue, s, record_id, actor.user_id, with_texts=False)
        if rec is None:
            raise NotFound("该档案未向社会开放或不存在")
        pages = list_pages(inst, s, record_id)
    jpeg = page_jpeg(inst, pages, n, cfg)
    who = actor.display_name if actor.user_id else f"访客 {visitor_label(visitor)}"
    when = datetime.now(UTC).astimezone(_LOCAL).strftime("%Y-%m-%d %H:%M")
    out = watermark(
        jpeg,
        watermark_text(who, when),
        opacity=cfg.viewer.watermark_opacity,
        quality=cfg.viewer.jpeg_quality,
    )
    _viewer_use(inst, actor, visitor, record_id, rec.grant_request)
    return out


@router.get("/portal/records/{record_id}/pages/{n}.jpg")
async def page_image(
    request: Request,
    record_id: int,
    n: int,
    actor: Actor = require(Perm.PUBLIC),
    _: None = limit("viewer"),
) -> Response:
    inst = get_instance(request)
    token, new = _visitor(request)
    data = await run_in_threadpool(_serve_page, inst, actor, token, record_id, n)
    response = Response(
        data, media_type="image/jpeg", headers={"cache-control": "private, no-store"}
    )
    if new:
        _set_visitor(response, token, inst)
    return response


# -- accounts ---------------------------------------------------------------------------------------


def _form_token(request: Request) -> str:
    token = request.cookies.get(FORM_CSRF_COOKIE, "")
    return token if len(token) >= 20 else secrets.token_urlsafe(24)


def _with_form_cookie(request: Request, response: Response, token: str) -> Response:
    response.set_cookie(
        FORM_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=get_instance(request).settings.cookie_secure,
    )
    return response


def _check_form(request: Request, sent: str) -> None:
    cookie = request.cookies.get(FORM_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, sent):
        raise PermissionDenied("表单已失效，请刷新页面后重试")


@router.get("/portal/register", response_class=HTMLResponse)
def register_page(request: Request, actor: Actor = require(Perm.PUBLIC)) -> Response:
    token = _form_token(request)
    page = _portal(request, "portal_register.html", actor, form_csrf=token, values={}, error=None)
    return _with_form_cookie(request, page, token)


@router.post("/portal/register", response_class=HTMLResponse)
async def register_submit(
    request: Request,
    real_name: Annotated[str, Form(max_length=100)],
    id_number: Annotated[str, Form(max_length=40)],
    phone: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=256)],
    form_csrf: Annotated[str, Form(max_length=100)],
    user_type: Annotated[str, Form(max_length=8)] = "个人",
    unit_name: Annotated[str, Form(max_length=200)] = "",
    actor: Actor = require(Perm.PUBLIC),
    _: None = limit("register"),
) -> Response:
    _check_form(request, form_csrf)
    inst = get_instance(request)
    reg = Registration(real_name, id_number, phone, password, user_type, unit_name)

    def run() -> None:
        hashed = inst.users.hashing.hash(password)  # not in the write transaction
        with inst.db.write() as s:
            register(inst, s, reg, password_hash=hashed)

    try:
        await run_in_threadpool(run)
    except LantaiError as exc:
        values = {
            "real_name": real_name,
            "phone": phone,
            "user_type": user_type,
            "unit_name": unit_name,
        }
        token = _form_token(request)
        page = _portal(
            request,
            "portal_register.html",
            actor,
            status=exc.status,
            form_csrf=token,
            values=values,
            error=exc,
        )
        return _with_form_cookie(request, page, token)
    return await _login(request, inst, phone, password, "/portal/mine")


async def _login(
    request: Request, inst: Instance, username: str, password: str, nxt: str
) -> Response:
    client = f"{request.client.host if request.client else '-'} portal"
    token, _ = await run_in_threadpool(start_session, inst, username, password, client)
    response = RedirectResponse(safe_next(nxt, "/portal/mine"), status_code=303)
    set_session_cookie(inst, response, token)
    return response


@router.get("/portal/login", response_class=HTMLResponse)
def login_page(
    request: Request, next: str | None = None, actor: Actor = require(Perm.PUBLIC)
) -> Response:
    token = _form_token(request)
    page = _portal(
        request,
        "portal_login.html",
        actor,
        form_csrf=token,
        next=safe_next(next, "/portal/mine"),
        error=None,
    )
    return _with_form_cookie(request, page, token)


@router.post("/portal/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    phone: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    form_csrf: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=500)] = "/portal/mine",
    actor: Actor = require(Perm.PUBLIC),
    _: None = limit("login"),
) -> Response:
    _check_form(request, form_csrf)
    inst = get_instance(request)
    try:
        return await _login(request, inst, phone, password, next)
    except AuthenticationRequired as exc:
        token = _form_token(request)
        page = _portal(
            request,
            "portal_login.html",
            actor,
            status=401,
            form_csrf=token,
            next=safe_next(next, "/portal/mine"),
            error=exc.message,
            phone=phone,
        )
        return _with_form_cookie(request, page, token)


@router.post("/portal/logout")
def logout(request: Request, actor: Actor = require(Perm.ACCESS_PORTAL_SELF)) -> Response:
    inst = get_instance(request)
    with inst.db.write() as s:
        inst.sessions.revoke(s, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/portal", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- 我的申请 -----------------------------------------------------------------------------------------


def _mine(inst: Instance, actor: Actor) -> dict[str, Any]:
    cfg = access_config(inst)
    today = datetime.now(_LOCAL).date()
    with inst.db.read() as s:
        citizen = s.get(Citizen, actor.user_id)
        requests = list(
            s.scalars(
                select(AccessRequest)
                .where(AccessRequest.user_id == actor.user_id)
                .order_by(AccessRequest.id.desc())
            )
        )
        appts = list(
            s.scalars(
                select(ReadingAppointment)
                .where(ReadingAppointment.user_id == actor.user_id)
                .order_by(ReadingAppointment.day.desc())
            )
        )
        slots = open_slots(s, cfg, today)
        certificates = _certificates(s, [r.certificate_code for r in requests])
        for obj in (*requests, *appts):
            s.expunge(obj)
        if citizen is not None:
            s.expunge(citizen)
    labels = {sl.code: sl.label for sl in cfg.reading_room.slots}
    return {
        "profile": citizen,
        "requests": requests,
        "appointments": appts,
        "slots": slots,
        "slot_labels": labels,
        "status_labels": STATUS_LABELS,
        "purposes": cfg.purposes[citizen.user_type] if citizen else [],  # type: ignore[index]
        "kinds": cfg.request_kinds,
        # the application form's idempotency key: fresh at each rendering, so resending the same
        # form (a retry, a double click, after a lost answer) finds the request it made
        "submission_key": secrets.token_urlsafe(24),
        "certificates": {
            code: {**c, "verify_url": verify_url(inst, code)} for code, c in certificates.items()
        },
        "now": datetime.now(UTC),
    }


def _certificates(s: Any, codes: list[str | None]) -> dict[str, dict[str, Any]]:
    """Code → what 我的申请 shows of each certificate (kind, status; never the file)."""
    wanted = [c for c in codes if c]
    if not wanted:
        return {}
    rows = s.execute(
        select(
            Certificate.code, Certificate.kind, Certificate.status, Certificate.revoke_reason
        ).where(Certificate.code.in_(wanted))
    )
    return {
        code: {
            "display": display(code),
            "kind": CertificateKind(kind).label,
            "status": status,
            "status_label": CertificateStatus(status).label,
            "revoke_reason": reason,
        }
        for code, kind, status, reason in rows
    }


@router.get("/portal/mine", response_class=HTMLResponse)
def mine_page(request: Request, actor: Actor = require(Perm.ACCESS_PORTAL_SELF)) -> Response:
    return _portal(
        request, "portal_mine.html", actor, error=None, **_mine(get_instance(request), actor)
    )


@router.post("/portal/mine/requests", response_class=HTMLResponse)
def mine_request(
    request: Request,
    kind: Annotated[str, Form(max_length=16)],
    purpose: Annotated[str, Form(max_length=16)],
    description: Annotated[str, Form(max_length=4000)],
    archival_codes: Annotated[str, Form(max_length=4000)] = "",
    record_id: Annotated[str, Form(max_length=20)] = "",
    pages: Annotated[str, Form(max_length=200)] = "",
    submission_key: Annotated[str, Form(max_length=200)] = "",
    actor: Actor = require(Perm.ACCESS_PORTAL_SELF),
    _: None = limit("apply"),
) -> Response:
    inst = get_instance(request)
    codes = tuple(
        c for c in archival_codes.replace("，", ",").replace("\n", ",").split(",") if c.strip()
    )
    ids = (int(record_id),) if record_id.strip().isdigit() else ()
    app = Application(kind, purpose, description, codes, ids, pages)
    try:
        with inst.db.write() as s:
            # the same form again answers with the request it made (listed on the page)
            submit(inst, s, actor, app, access_config(inst), key=submission_key or None)
    except LantaiError as exc:
        return _portal(
            request, "portal_mine.html", actor, status=exc.status, error=exc, **_mine(inst, actor)
        )
    return RedirectResponse("/portal/mine#requests", status_code=303)


@router.post("/portal/mine/appointments", response_class=HTMLResponse)
def mine_appointment(
    request: Request,
    slot: Annotated[str, Form(max_length=40)],
    actor: Actor = require(Perm.ACCESS_PORTAL_SELF),
    _: None = limit("apply"),
) -> Response:
    inst = get_instance(request)
    try:
        day_s, _sep, code = slot.partition("|")
        with inst.db.write() as s:
            book(
                inst,
                s,
                actor,
                date.fromisoformat(day_s),
                code,
                access_config(inst),
                today=datetime.now(_LOCAL).date(),
            )
    except (LantaiError, ValueError) as exc:
        err = exc if isinstance(exc, LantaiError) else LantaiError("预约时段无效")
        return _portal(
            request, "portal_mine.html", actor, status=400, error=err, **_mine(inst, actor)
        )
    return RedirectResponse("/portal/mine#appointments", status_code=303)


@router.post("/portal/mine/appointments/{appointment_id}/cancel")
def mine_cancel(
    request: Request, appointment_id: int, actor: Actor = require(Perm.ACCESS_PORTAL_SELF)
) -> Response:
    inst = get_instance(request)
    with inst.db.write() as s:
        cancel(inst, s, actor, appointment_id)
    return RedirectResponse("/portal/mine#appointments", status_code=303)


@router.get("/portal/mine/certificates/{code}.pdf")
def mine_certificate(
    request: Request, code: str, actor: Actor = require(Perm.ACCESS_PORTAL_SELF)
) -> Response:
    """The certificate issued for one of the citizen's own requests (404 for anyone else's).

    Not a 利用登记 row: the use (出具证明 / 复制) was logged once when it was issued.
    """
    inst = get_instance(request)
    with inst.db.read() as s:
        row = s.scalar(
            select(Certificate)
            .join(AccessRequest, AccessRequest.certificate_code == Certificate.code)
            .where(
                Certificate.code == normalise(code[:64]),
                AccessRequest.user_id == actor.user_id,
            )
        )
        if row is None:
            raise NotFound("没有这份证明")
        if row.status == CertificateStatus.REVOKED.value:
            raise Conflict(f"该证明已撤销，不再提供下载：{row.revoke_reason}")
        return pdf_response(row, row.pdf)
