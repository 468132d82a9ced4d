"""Turning errors into responses, in one place.

API paths (``/api/…``) get the JSON shape ``{ok, status, code, error, errors}`` for every error;
pages get an HTML error page, and a missing login on a page redirects to ``/login?next=…``.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from lantai.errors import AuthenticationRequired, LantaiError, Problem, ValidationFailed
from lantai.web.headers import SECURITY_HEADERS

__all__ = ["install_error_handlers", "is_api"]

log = logging.getLogger("lantai.web")

_STATUS_TEXT = {
    400: "请求有误",
    401: "需要登录",
    403: "没有权限",
    404: "未找到",
    405: "不支持的请求方法",
    409: "冲突",
    413: "上传文件过大",
    429: "请求过于频繁",
    422: "数据校验未通过",
    500: "服务器内部错误",
}


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def _html(request: Request, status: int, message: str, problems: list[Problem]) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request,
        "error.html",
        {
            "status": status,
            "title": _STATUS_TEXT.get(status, "出错了"),
            "message": message,
            "problems": problems,
        },
        status_code=status,
    )


async def _lantai_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LantaiError)
    if is_api(request):
        return JSONResponse(exc.to_dict(), status_code=exc.status)
    if isinstance(exc, AuthenticationRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = "/portal/login" if request.url.path.startswith("/portal") else "/login"
        return RedirectResponse(f"{login}?next={quote(target)}", status_code=303)
    return _html(request, exc.status, exc.message, exc.problems)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [
        Problem(
            field=".".join(
                str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")
            ),
            rule="请求格式",
            message=str(err.get("msg", "")),
        )
        for err in exc.errors()
    ]
    err = ValidationFailed("请求参数不符合接口要求", problems)
    if is_api(request):
        return JSONResponse(err.to_dict(), status_code=422)
    return _html(request, 422, err.message, problems)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = _STATUS_TEXT.get(exc.status_code, "出错了")
    if is_api(request):
        body = {
            "ok": False,
            "status": exc.status_code,
            "code": "http_error",
            "error": message,
            "errors": [],
        }
        return JSONResponse(
            body, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )
    return _html(request, exc.status_code, message, [])


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A generic zh-CN message with an incident id; the traceback goes to the log only.

    Starlette answers these from its outermost middleware, outside :class:`SecurityHeaders`, so
    the security headers are added here.
    """
    incident = secrets.token_hex(6)
    log.error(
        "incident %s: unhandled error on %s %s",
        incident,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    message = f"服务器内部错误，已记录日志（事件编号 {incident}），请联系系统管理员"
    headers = {k.decode(): v.decode() for k, v in SECURITY_HEADERS} | {"cache-control": "no-store"}
    if is_api(request):
        body = {
            "ok": False,
            "status": 500,
            "code": "internal_error",
            "error": message,
            "errors": [],
            "incident": incident,
        }
        return JSONResponse(body, status_code=500, headers=headers)
    page = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>500 服务器内部错误</title></head><body><h1>500 服务器内部错误</h1>"
        f"<p>{message}</p></body></html>"
    )
    return HTMLResponse(page, status_code=500, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LantaiError, _lantai_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
