"""The main flow in a real browser (Debian chromium): login → browse → edit → see it in the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from factories import create_fonds, create_series, item_values
from lantai.archival import Level
from lantai.instance import Instance
from lantai.security import Actor
from lantai.web.app import create_app
from web_support import BROWSER_MARKS, PASSWORD, chromium, served

pytestmark = BROWSER_MARKS


@pytest.fixture
def server(web_instance: Instance) -> Iterator[str]:
    with served(create_app(web_instance)) as url:
        yield url


@pytest.fixture
def browser_page() -> Iterator[object]:
    with chromium() as browser:
        yield browser.new_page(locale="zh-CN")


def test_login_browse_edit_audit(
    web_instance: Instance, server: str, browser_page: object, tmp_path: Path
) -> None:
    from playwright.sync_api import Page, expect

    page: Page = browser_page  # type: ignore[assignment]
    op = Actor.operator()
    fonds = create_fonds(web_instance, op)
    series = create_series(web_instance, op, fonds.id, "文书档案 2011年")
    with web_instance.db.write() as s:
        item = web_instance.catalogue.create_record(
            s, op, parent_id=series.id, level=Level.ITEM, values=item_values()
        )

    # login as the archivist
    page.goto(f"{server}/browse")
    expect(page).to_have_url(f"{server}/login?next=/browse")
    page.get_by_label("用户名").fill("archivist")
    page.get_by_label("口令").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{server}/browse")

    # browse: expand the fonds, then the series, open the item
    page.get_by_role("button", name="展开 某市人民政府办公室").click()
    page.get_by_role("button", name="展开 文书档案 2011年").click()
    page.get_by_role("link", name="关于印发2011年工作要点的通知").click()
    expect(page.locator("#record-title")).to_have_text("关于印发2011年工作要点的通知")
    expect(page.locator(".code code")).to_have_text("Z109-WS·2011-Y-BGS-0001")

    # edit: a bad value is refused with the rule, then a good change is saved
    page.get_by_role("link", name="编辑著录").click()
    page.locator("#f__date").fill("20111340")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".field.invalid .error").first).to_contain_text("不是有效日期")
    page.locator("#f__date").fill("20110305")
    page.locator("#f__title").fill("关于印发2011年工作要点的通知（经复核）")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".notice")).to_contain_text("已保存")
    expect(page.locator("#record-title")).to_have_text("关于印发2011年工作要点的通知（经复核）")
    page.screenshot(path=str(tmp_path / "record.png"), full_page=True)

    # the auditor sees the change in the audit log
    page.get_by_role("button", name="退出").click()
    page.get_by_label("用户名").fill("auditor")
    page.get_by_label("口令").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{server}/audit")  # the auditor lands on the audit log
    expect(page.locator("#events")).not_to_contain_text("越权访问被拒绝")
    row = page.locator("#events tbody tr", has_text="修改著录").first
    expect(row).to_contain_text("archivist")
    expect(row).to_contain_text(f"record {item.id}")
    expect(row).to_contain_text("经复核")
    page.get_by_role("button", name="校验哈希链").click()
    expect(page.locator("#verify-result")).to_contain_text("校验通过")
    page.screenshot(path=str(tmp_path / "audit.png"), full_page=True)
