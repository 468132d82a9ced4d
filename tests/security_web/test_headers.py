"""Security headers, error pages and served bytes (issue 11 part 4), one test per rule.

- every kind of response (HTML page, JSON, static file, redirect, 401/403/404/405/422/500) carries
  a CSP whose scripts are same-origin only (no 'unsafe-inline'/'unsafe-eval'), nosniff, a
  Referrer-Policy, frame-ancestors/X-Frame-Options and a Permissions-Policy, and no server
  version;
- a 500 shows the generic zh-CN message with an incident id, never a traceback;
- bytes that came from outside (uploads, stored files) are never served as active content inline:
  every place in ``lantai.web`` that serves bytes names a download (content-disposition), and an
  uploaded .html/.svg/.js/.xml served that way becomes a sandboxed attachment.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, UploadFile
from fastapi.responses import FileResponse, Response
from fastapi.testclient import TestClient

import lantai.web
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.web.app import create_app
from lantai.web.deps import require
from lantai.web.uploads import clean_filename
from web_support import login

# -- a test-only router: a crash, and the naive way of serving an uploaded file back -----------

boom = APIRouter()


@boom.get("/api/test/boom")
def api_boom(_: Actor = require(Perm.PUBLIC)) -> None:
    raise RuntimeError("secret-internal-detail /srv/lantai/secrets/audit.key")


@boom.get("/test/boom")
def page_boom(_: Actor = require(Perm.PUBLIC)) -> None:
    raise RuntimeError("secret-internal-detail /srv/lantai/secrets/audit.key")


UPLOADS: dict[str, Path] = {}


@boom.post("/api/test/upload")
def upload(file: UploadFile, _: Actor = require(Perm.PUBLIC)) -> dict[str, str]:
    name = clean_filename(file.filename)
    target = Path(os.environ["LANTAI_TEST_UPLOADS"]) / name
    target.write_bytes(file.file.read())
    UPLOADS[name] = target
    return {"name": name}


@boom.get("/api/test/download/{name}")
def download(name: str, _: Actor = require(Perm.PUBLIC)) -> FileResponse:
    # the media type guessed from the client's file name, as a careless route would do
    return FileResponse(UPLOADS[name], filename=name)


@boom.get("/api/test/inline/{name}")
def inline(name: str, _: Actor = require(Perm.PUBLIC)) -> Response:
    data = UPLOADS[name].read_bytes()
    media = "image/svg+xml" if name.endswith(".svg") else "text/html"
    return Response(data, media_type=media, headers={"content-disposition": "inline"})


@pytest.fixture
def app_client(
    web_instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("LANTAI_TEST_UPLOADS", str(tmp_path))
    app = create_app(web_instance, extra_routers=(boom,))
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        yield c


# -- headers -------------------------------------------------------------------------------------


def _csp(value: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for d in value.split(";"):
        parts = d.split()
        if parts:
            out[parts[0].lower()] = parts[1:]
    return out


def assert_secure_headers(r: object, what: str) -> None:
    h = r.headers  # type: ignore[attr-defined]
    csp = _csp(h.get("content-security-policy", ""))
    assert csp, f"{what}: no CSP"
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts is not None, f"{what}: CSP does not restrict scripts"
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, what
    assert not any(s in ("*", "http:", "https:", "data:") for s in scripts), what
    assert h.get("x-content-type-options") == "nosniff", what
    assert h.get("referrer-policy") in ("same-origin", "no-referrer", "strict-origin"), what
    frames = csp.get("frame-ancestors")
    assert (frames in (["'none'"], ["'self'"])) or h.get("x-frame-options") in (
        "DENY",
        "SAMEORIGIN",
    ), what
    assert h.get("permissions-policy"), what
    server = h.get("server", "")
    assert not re.search(r"\d", server), f"{what}: server version leaked: {server}"
    assert "x-powered-by" not in h, what


def test_every_kind_of_response_carries_the_security_headers(app_client: TestClient) -> None:
    c = app_client
    seen = {
        "HTML page": c.get("/login"),
        "JSON": c.get("/api/health"),
        "API docs page": c.get("/api/docs"),
        "static CSS": c.get("/static/css/app.css"),
        "static JS": c.get("/static/js/tree.js"),
        "vendored JS": c.get("/static/vendor/echarts/echarts.min.js"),
        "docs asset": c.get("/api/docs-assets/swagger-ui.css"),
        "redirect": c.get("/browse", follow_redirects=False),
        "401 JSON": c.get("/api/fonds"),
        "404 JSON": c.get("/api/no-such-thing"),
        "404 page": c.get("/no-such-page"),
        "404 static": c.get("/static/no-such.css"),
        "405": c.delete("/api/health"),
        "422 JSON": c.post("/api/auth/login", json={"username": 1}),
        "500 JSON": c.get("/api/test/boom"),
        "500 page": c.get("/test/boom"),
    }
    login(c, "reader")
    seen["403 JSON"] = c.get("/api/audit/events")
    seen["403 page"] = c.get("/audit")
    seen["HTML page, logged in"] = c.get("/search")
    expected = {"401 JSON": 401, "403 JSON": 403, "403 page": 403, "404 JSON": 404}
    expected |= {"404 page": 404, "404 static": 404, "405": 405, "422 JSON": 422}
    expected |= {"500 JSON": 500, "500 page": 500, "redirect": 303}
    for what, r in seen.items():
        assert r.status_code == expected.get(what, 200), (what, r.status_code)
        assert_secure_headers(r, what)
    # nothing personal is cached by a browser or proxy
    assert seen["JSON"].headers["cache-control"] == "no-store"
    assert seen["500 JSON"].headers["cache-control"] == "no-store"


def test_a_500_is_generic_with_an_incident_id_and_the_traceback_is_only_logged(
    app_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="lantai.web")
    r = app_client.get("/api/test/boom")
    body = r.json()
    assert r.status_code == 500 and body["code"] == "internal_error"
    incident = body["incident"]
    assert re.fullmatch(r"[0-9a-f]{12}", incident)
    assert body["error"] == f"服务器内部错误，已记录日志（事件编号 {incident}），请联系系统管理员"
    page = app_client.get("/test/boom")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    page_incident = re.search(r"事件编号 ([0-9a-f]{12})", page.text)
    assert page_incident and page_incident.group(1) != incident
    for text in (r.text, page.text):
        assert "Traceback" not in text and "RuntimeError" not in text
        assert "secret-internal-detail" not in text and "audit.key" not in text
        assert ".py" not in text
    # the operator finds the traceback in the log by the incident id
    logged = [rec for rec in caplog.records if incident in rec.getMessage()]
    assert logged and logged[0].exc_info is not None


# -- served bytes --------------------------------------------------------------------------------

ACTIVE_UPLOADS = {
    "evil.html": b"<html><script>alert(document.cookie)</script></html>",
    "evil.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "evil.js": b"alert(document.cookie)",
    "evil.xml": b'<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>',
    "evil.xhtml": b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
}


def test_uploaded_active_content_is_never_served_inline(app_client: TestClient) -> None:
    for name, data in ACTIVE_UPLOADS.items():
        r = app_client.post("/api/test/upload", files={"file": (name, data)})
        assert r.status_code == 200, r.text
        for route in ("download", "inline"):
            got = app_client.get(f"/api/test/{route}/{name}")
            assert got.status_code == 200 and got.content == data
            disposition = got.headers["content-disposition"]
            assert disposition.startswith("attachment"), (name, route, disposition)
            csp = _csp(got.headers["content-security-policy"])
            assert "sandbox" in csp and csp.get("default-src") == ["'none'"], (name, route)
            assert got.headers["x-content-type-options"] == "nosniff"
    # a passive type keeps its inline disposition (PDF and images are shown in the browser)
    app_client.post("/api/test/upload", files={"file": ("scan.pdf", b"%PDF-1.7\n")})
    got = app_client.get("/api/test/download/scan.pdf")
    assert got.headers["content-type"] == "application/pdf"


BYTE_RESPONSES = ("FileResponse", "StreamingResponse", "Response")
# Calls that serve bytes without naming a download, each with the reason it is safe.
NOT_DOWNLOADS = {
    # server-sent events of the dashboard: text/event-stream, generated JSON lines
    ("api/dashboard.py", "StreamingResponse"),
    # OAI-PMH answers: XML serialised by lxml from the catalogue (escaped), under the site CSP
    ("api/oai.py", "Response"),
}


def _byte_calls(path: Path) -> Iterator[tuple[int, str, ast.Call]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in BYTE_RESPONSES
        ):
            yield node.lineno, node.func.id, node


def test_every_place_that_serves_bytes_names_a_download() -> None:
    """Response(…) with a media type, FileResponse and StreamingResponse in lantai.web: each names
    the file (``filename=`` or a content-disposition header), so the passive-download rule in
    lantai.web.headers applies to it."""
    root = Path(lantai.web.__file__).parent
    unnamed = []
    checked = 0
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for line, kind, call in _byte_calls(path):
            keywords = {k.arg for k in call.keywords}
            if kind == "Response" and "media_type" not in keywords:
                continue  # status-only responses (204, redirects handled elsewhere)
            checked += 1
            if (rel, kind) in NOT_DOWNLOADS:
                continue
            source = ast.unparse(call).lower()
            if "filename" in keywords or "content-disposition" in source or "headers" in keywords:
                continue
            unnamed.append(f"{rel}:{line} {kind}")
    assert checked >= 8
    assert not unnamed, "serves bytes without content-disposition:\n" + "\n".join(unnamed)


# -- the real server -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_lantai_serve_does_not_name_its_server(web_instance: Instance) -> None:
    port = _free_port()
    env = dict(os.environ, LANTAI_HOME=str(web_instance.settings.resolved_home))
    lantai = Path(sys.executable).with_name("lantai")
    proc = subprocess.Popen(
        [str(lantai), "serve", "--port", str(port), "--no-background"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as r:
                    headers = r.headers
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
        assert "server" not in {k.lower() for k in headers}, headers.get("server")
        assert headers["x-content-type-options"] == "nosniff"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
