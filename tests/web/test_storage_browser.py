"""In a real browser: the 存储 page shows the locations and an open alert, which the archivist
resolves with a reason; the page stays free of console errors under the strict CSP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lantai.instance import Instance
from lantai.storage.alerts import AlertKind, Severity, raise_alert
from lantai.store import Alert
from lantai.web.app import create_app
from web_support import BROWSER_MARKS, PASSWORD, chromium, served

pytestmark = BROWSER_MARKS
SCREENSHOT = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "storage.png"


@pytest.fixture
def server(web_instance: Instance) -> Iterator[str]:
    with served(create_app(web_instance)) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def test_storage_page_alert_resolved(web_instance: Instance, server: str, browser: Any) -> None:
    from playwright.sync_api import Page, expect

    with web_instance.db.write() as s:
        alert_id = raise_alert(
            web_instance,
            s,
            actor="system:storage",
            kind=AlertKind.FIXITY_FAILED,
            severity=Severity.WARNING,
            location="primary",
            package_id="aip-0001",
            object_key="aip-0001/data/正文.pdf",
            message="固定性检测未通过（primary）：摘要不符（内容被改动）：aip-0001/data/正文.pdf",
        ).id
    errors: list[str] = []
    page: Page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )

    page.goto(f"{server}/storage")
    page.get_by_label("用户名").fill("archivist")
    page.get_by_label("口令").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{server}/storage")
    expect(page.locator("#locations tbody tr")).to_have_count(2)  # the shipped default policy
    row = page.locator(f'tr[data-alert="{alert_id}"]')
    expect(row).to_contain_text("固定性检测未通过")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    row.get_by_label("处理说明").fill("已人工核对并从异质备份恢复")
    row.get_by_role("button", name="处理").click()
    expect(page.locator("#storage-message")).to_have_text("告警已处理")
    expect(page.locator(f'tr[data-alert="{alert_id}"]')).to_have_count(0)
    with web_instance.db.read() as s:
        alert = s.get(Alert, alert_id)
        assert alert is not None and alert.resolved_by == "archivist"
    assert errors == []
