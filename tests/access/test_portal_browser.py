"""The public portal in a real browser (Debian chromium) on a phone-sized screen.

A citizen registers with real-name fields, searches in traditional characters and finds the
simplified record, opens the open record and its watermarked page (a JPEG from the access-copy
route, never a master), and applies for a 控制 record; staff approve it on ``/access`` in a
desktop browser; back on the phone, 我的申请 shows 已批准, the 控制 record opens, and another
控制 record is still "not found". Any script error, console error, CSP violation or unexpected
failed request fails the test. Screenshots of the home, a record page and 我的申请 are saved.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from access.conftest import Catalogue, id_number
from lantai.instance import Instance
from lantai.store import Record
from lantai.web.app import create_app
from search_support import running_search
from web_support import BROWSER_MARKS, PASSWORD, chromium, served

pytestmark = BROWSER_MARKS

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "locale": "zh-CN",
}
CITIZEN_PW = "Citizen-Pass-2026!"
ACCESS_COPY = re.compile(r"^/portal/records/\d+/pages/\d+\.jpg$")
# Chromium reports CSP violations on the console; this also catches any it would not.
CSP_PROBE = (
    "document.addEventListener('securitypolicyviolation', e =>"
    " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
)


@pytest.fixture
def server(staffed: Instance, catalogue: Catalogue) -> Iterator[str]:
    app = create_app(staffed)
    with served(app) as url, running_search(app, staffed):
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


class Watch:
    """Collects what must not happen: script and console errors, CSP violations, failed
    requests (except the 404s the test asks for), and every image request's path."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.expected_404: set[str] = set()
        self.images: list[str] = []

    def attach(self, context: Any) -> None:
        context.add_init_script(CSP_PROBE)
        context.on("page", self.page)

    def page(self, p: Any) -> None:
        p.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        p.on("console", self._console)
        p.on("response", self._response)
        p.on("request", self._request)

    def _console(self, m: Any) -> None:
        # a failed load is reported by _response (which knows the expected 404s)
        if m.type == "error" and "Failed to load resource" not in m.text:
            self.errors.append(f"console: {m.text}")

    def _response(self, r: Any) -> None:
        path = r.url.split("://", 1)[1].partition("/")[2]
        expected = f"/{path}" in self.expected_404 or r.url.endswith("/favicon.ico")
        if r.status >= 400 and not expected:
            self.errors.append(f"{r.status} {r.url}")

    def _request(self, r: Any) -> None:
        if r.resource_type == "image" and not r.url.endswith("/favicon.ico"):
            self.images.append("/" + r.url.split("://", 1)[1].partition("/")[2])


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide on a 390px screen: {page.url}"


def _viewer_page(page: Any, master: bytes) -> None:
    """The first page image of the record shown: loaded, a watermarked JPEG access copy."""
    img = page.get_by_role("img", name="第 1 页")
    with page.expect_response(lambda r: "/pages/1.jpg" in r.url) as info:
        img.scroll_into_view_if_needed()
    resp = info.value
    assert resp.status == 200
    assert resp.headers["content-type"] == "image/jpeg"
    path = "/" + resp.url.split("://", 1)[1].partition("/")[2]
    assert ACCESS_COPY.match(path), path
    body = resp.body()
    assert (
        body[:2] == b"\xff\xd8" and hashlib.sha256(body).digest() != hashlib.sha256(master).digest()
    )
    assert Image.open(io.BytesIO(body)).format == "JPEG"
    page.wait_for_function(
        "() => { const i = document.querySelector('img[alt=\"第 1 页\"]');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )


def test_citizen_on_a_phone_requests_and_views_a_controlled_record(
    server: str, browser: Any, staffed: Instance, catalogue: Catalogue, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with staffed.db.read() as s:
        controlled = s.get(Record, catalogue.controlled)
        assert controlled is not None and controlled.archival_code
        controlled_code = controlled.archival_code
    watch = Watch()
    shots = tmp_path / "screenshots"
    shots.mkdir()

    phone_ctx = browser.new_context(**PHONE)
    watch.attach(phone_ctx)
    phone = phone_ctx.new_page()

    # the portal home on a phone
    phone.goto(f"{server}/portal")
    expect(phone.get_by_role("heading", name="开放档案查询")).to_be_visible()
    expect(phone.get_by_role("link", name="实名注册")).to_be_visible()
    _no_sideways_scroll(phone)
    phone.screenshot(path=str(shots / "phone-home.png"), full_page=True)

    # real-name registration (a valid GB 11643 ID number), then logged in on 我的申请
    phone.get_by_role("link", name="实名注册").click()
    expect(phone.get_by_role("heading", name="实名注册")).to_be_visible()
    _no_sideways_scroll(phone)
    phone.get_by_label("姓名").fill("王小明")
    phone.get_by_label("居民身份证号").fill(id_number("44030619850612351"))
    phone.get_by_label("手机号（登录名）").fill("13800138000")
    phone.get_by_label("口令（至少 10 位").fill(CITIZEN_PW)
    phone.get_by_role("button", name="注册并登录").click()
    expect(phone).to_have_url(f"{server}/portal/mine")
    expect(phone.get_by_role("button", name="退出（王小明）")).to_be_visible()

    # search in traditional characters: the simplified, published record is found
    phone.get_by_role("link", name="检索", exact=True).click()
    phone.get_by_label("检索词").fill("青銅鼎 出土情況")
    phone.get_by_role("button", name="检索", exact=True).click()
    expect(phone.locator("#total")).to_have_text("1")
    expect(phone.locator(".hit-title")).to_have_text("关于青铜鼎出土情况的报告")
    expect(phone.locator("body")).not_to_contain_text("保护经费")
    _no_sideways_scroll(phone)

    # the open record and its watermarked page
    phone.locator(".hit-title a").click()
    expect(phone).to_have_url(f"{server}/portal/records/{catalogue.published}")
    expect(phone.get_by_role("heading", name="关于青铜鼎出土情况的报告")).to_be_visible()
    _viewer_page(phone, catalogue.master)
    _no_sideways_scroll(phone)
    phone.screenshot(path=str(shots / "phone-record.png"), full_page=True)

    # apply to read the 控制 record (known by its 档号), with a purpose
    phone.get_by_role("link", name="我的申请").click()
    phone.get_by_label("申请类型").select_option("查阅")
    phone.get_by_label("利用目的").select_option("学术研究")
    phone.get_by_label("档号（知道时填写").fill(controlled_code)
    phone.get_by_label("需要利用的档案和用途说明").fill("研究青铜鼎保护经费的来源")
    phone.get_by_role("button", name="提交申请").click()
    expect(phone).to_have_url(f"{server}/portal/mine#requests")
    row = phone.locator("tr.request-row").first
    expect(row.locator(".status")).to_have_text("待受理")
    request_id = row.get_attribute("data-id")

    # staff, at a desktop, approve it on /access
    desk_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    watch.attach(desk_ctx)
    desk = desk_ctx.new_page()
    desk.goto(f"{server}/access")
    expect(desk).to_have_url(f"{server}/login?next=/access")
    desk.get_by_label("用户名").fill("archivist")
    desk.get_by_label("口令").fill(PASSWORD)
    desk.get_by_role("button", name="登录").click()
    expect(desk).to_have_url(f"{server}/access")
    staff_row = desk.locator(f'tr.request-row[data-id="{request_id}"]')
    expect(staff_row).to_contain_text("学术研究")
    expect(staff_row.get_by_label("批准的条目编号")).to_have_value(str(catalogue.controlled))
    desk.screenshot(path=str(shots / "desk-access.png"), full_page=True)
    # 利用登记 so far: the citizen's one online view of one record
    expect(desk.locator("#use-totals")).to_contain_text("人次 1 · 卷（件）次 1 · 网上 1 人次")
    staff_row.get_by_label("意见 / 理由").fill("同意查阅")
    staff_row.get_by_role("button", name="批准", exact=True).click()
    expect(desk).to_have_url(f"{server}/access")
    # the decided request left the queue of 待受理
    expect(desk.locator(f'tr.request-row[data-id="{request_id}"]')).to_have_count(0)
    desk_ctx.close()

    # back on the phone: approved, and the 控制 record now opens with its page
    phone.goto(f"{server}/portal/mine")
    row = phone.locator(f'tr.request-row[data-id="{request_id}"]')
    expect(row.locator(".status")).to_have_text("已批准")
    expect(row).to_contain_text("同意查阅")
    _no_sideways_scroll(phone)
    phone.screenshot(path=str(shots / "phone-mine.png"), full_page=True)
    row.locator("a.granted").click()
    expect(phone).to_have_url(f"{server}/portal/records/{catalogue.controlled}")
    expect(phone.locator("#grant-notice")).to_contain_text("经批准利用")
    _viewer_page(phone, catalogue.master)

    # another 控制 record is still "not found", page and image alike
    for path in (
        f"/portal/records/{catalogue.controlled_other}",
        f"/portal/records/{catalogue.controlled_other}/pages/1.jpg",
    ):
        watch.expected_404.add(path)
        assert phone.goto(f"{server}{path}").status == 404, path
    expect(phone.locator("body")).not_to_contain_text("鉴定意见")
    phone_ctx.close()

    assert watch.images and all(ACCESS_COPY.match(p) for p in watch.images), watch.images
    assert watch.errors == []
