"""Security headers on every response (no CDN, so the CSP can be strict).

Downloads are also made passive here, whatever route serves them: a response that names a file
(``content-disposition``) with a type a browser would run (HTML, SVG, XML, JavaScript) and a
policy that lets scripts run is turned into an attachment in a sandbox, so that an uploaded
``.html``, ``.svg`` or ``.js`` is never rendered on this origin.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SECURITY_HEADERS", "SecurityHeaders", "is_active_type", "passive_download"]

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
_SANDBOX_CSP = b"sandbox; default-src 'none'"
_ACTIVE = (
    b"text/html",
    b"application/xhtml+xml",
    b"image/svg+xml",
    b"text/xml",
    b"application/xml",
    b"text/javascript",
    b"application/javascript",
    b"application/ecmascript",
    b"text/ecmascript",
    b"multipart/x-mixed-replace",
)


def is_active_type(content_type: bytes) -> bool:
    """Whether a browser would render or run content of this type (scripts could run)."""
    base = content_type.split(b";", 1)[0].strip().lower()
    return base in _ACTIVE or base.endswith(b"+xml") or not base


def _scripts_blocked(csp: bytes | None) -> bool:
    if csp is None:
        return False
    directives = {
        d.strip().split(b" ", 1)[0].lower(): d.strip() for d in csp.split(b";") if d.strip()
    }
    if b"sandbox" in directives and b"allow-scripts" not in directives[b"sandbox"]:
        return True
    script = directives.get(b"script-src", directives.get(b"default-src"))
    return script is not None and script.split()[1:] == [b"'none'"]


def passive_download(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` of a response; a download of an active type that could run scripts is made an
    attachment with a sandboxing policy (a generated report whose own policy allows no script,
    such as the transfer report, is left inline)."""
    lower = {k.lower(): v for k, v in headers}
    if b"content-disposition" not in lower:
        return headers
    if not is_active_type(lower.get(b"content-type", b"")):
        return headers
    if _scripts_blocked(lower.get(b"content-security-policy")):
        return headers
    kept = [
        (k, v)
        for k, v in headers
        if k.lower() not in (b"content-disposition", b"content-security-policy")
    ]
    disposition = lower[b"content-disposition"]
    rest = disposition.split(b";", 1)[1] if b";" in disposition else b""
    return [
        *kept,
        (b"content-disposition", b"attachment" + (b";" + rest if rest else b"")),
        (b"content-security-policy", _SANDBOX_CSP),
    ]


class SecurityHeaders:
    """Pure ASGI middleware (streams untouched) adding the headers above and no-store for the API."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = passive_download(list(message.get("headers", [])))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if not path.startswith("/static/") and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
