"""Search in a real browser (Debian chromium): a traditional-character query finds a simplified
record, in the staff UI and in the public portal, and the portal shows published 开放 records only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from factories import create_fonds, create_series, item_values
from lantai.appraisal.publication.service import publish_all_open
from lantai.archival import Level
from lantai.instance import Instance
from lantai.security import Actor
from search_support import running_search, search_app
from web_support import BROWSER_MARKS, PASSWORD, chromium, served

pytestmark = BROWSER_MARKS
OP = Actor.operator()


@pytest.fixture
def records(web_instance: Instance) -> dict[str, int]:
    fonds = create_fonds(web_instance, OP)
    series = create_series(web_instance, OP, fonds.id, "文书档案 2011年")
    out = {}
    with web_instance.db.write() as s:
        for key, title, status in (
            ("open", "关于档案馆开放时间调整的通知", "开放"),
            ("closed", "关于档案馆库房改造的请示", "控制"),
        ):
            out[key] = web_instance.catalogue.create_record(
                s,
                OP,
                parent_id=series.id,
                level=Level.ITEM,
                values=item_values(title=title, open_status=status),
            ).id
    publish_all_open(
        web_instance, OP, reason="上网审查通过"
    )  # the portal shows published 开放 only
    return out


@pytest.fixture
def server(web_instance: Instance, records: dict[str, int]) -> Iterator[str]:
    app = search_app(web_instance)
    with served(app) as url, running_search(app, web_instance):
        yield url


@pytest.fixture
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


def test_traditional_query_finds_simplified_record(
    server: str, browser: object, records: dict[str, int], tmp_path: Path
) -> None:
    from playwright.sync_api import Browser, Page, expect

    b: Browser = browser  # type: ignore[assignment]
    errors: list[str] = []

    def watch(p: Page) -> None:
        """Script errors, CSP violations and failed requests (the browser's favicon probe aside)."""
        p.on("pageerror", lambda e: errors.append(str(e)))
        p.on(
            "console",
            lambda m: (
                errors.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text
                else None
            ),
        )
        p.on(
            "response",
            lambda r: (
                errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )

    # staff: the reader logs in and searches in traditional characters
    page = b.new_page(locale="zh-CN")
    watch(page)
    page.goto(f"{server}/search")
    expect(page).to_have_url(f"{server}/login?next=/search")
    page.get_by_label("用户名").fill("reader")
    page.get_by_label("口令").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{server}/search")
    page.get_by_label("检索词").fill("檔案館")
    page.get_by_role("button", name="检索", exact=True).click()
    expect(page.locator("#total")).to_have_text("2")
    expect(page.locator(".hit-title mark").first).to_have_text("档案馆")
    expect(page.get_by_role("link", name="关于档案馆库房改造的请示")).to_be_visible()
    # narrow down within the results
    page.get_by_label("在结果中检索", exact=True).fill("開放時間")
    page.get_by_role("button", name="在结果中检索").click()
    expect(page.locator("#total")).to_have_text("1")
    expect(page.get_by_role("link", name="关于档案馆开放时间调整的通知")).to_be_visible()
    page.screenshot(path=str(tmp_path / "staff-search.png"), full_page=True)

    # public portal, on a phone-sized screen: only the 开放 record
    phone = b.new_page(locale="zh-CN", viewport={"width": 375, "height": 740})
    watch(phone)
    phone.goto(f"{server}/public/search")
    expect(phone.get_by_role("heading", name="开放档案查询")).to_be_visible()
    phone.get_by_label("检索词").fill("檔案館")
    phone.get_by_role("button", name="检索", exact=True).click()
    expect(phone.locator("#total")).to_have_text("1")
    expect(phone.locator(".hit-title")).to_have_text("关于档案馆开放时间调整的通知")
    expect(phone.locator("body")).not_to_contain_text("库房改造")
    box = phone.locator(".searchbox").bounding_box()
    assert box is not None and box["width"] <= 375
    phone.screenshot(path=str(tmp_path / "public-search.png"), full_page=True)
    assert errors == []  # no CSP violations or script errors
