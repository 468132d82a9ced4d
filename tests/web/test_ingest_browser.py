"""In a real browser: upload a small bag on the 移交接收 page, watch it finish, open the report,
confirm the flagged items."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from factories import create_fonds
from ingest.builders import make_bag, sample_items
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, default_registry
from lantai.security import Actor
from lantai.web.app import create_app
from web_support import BROWSER_MARKS, PASSWORD, chromium, served

pytestmark = BROWSER_MARKS


@pytest.fixture
def server(web_instance: Instance) -> Iterator[str]:
    app = create_app(web_instance)
    runner = InProcessRunner(web_instance, default_registry(), poll_seconds=0.5)
    runner.start()
    app.state.jobs = runner  # what the app's start-up hook does in `lantai serve`
    try:
        with served(app) as url:
            yield url
    finally:
        runner.stop()


@pytest.fixture
def browser_page() -> Iterator[object]:
    with chromium() as browser:
        yield browser.new_context(locale="zh-CN").new_page()


def test_upload_watch_report_review(
    web_instance: Instance, server: str, browser_page: object, tmp_path: Path
) -> None:
    from playwright.sync_api import Page, expect

    page: Page = browser_page  # type: ignore[assignment]
    create_fonds(web_instance, Actor.operator(), code="Z109")
    bag = make_bag(tmp_path, sample_items(2), form="zip")

    page.goto(f"{server}/transfers")
    page.get_by_label("用户名").fill("archivist")
    page.get_by_label("口令").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{server}/transfers")

    form = page.locator("#transfer-form")
    form.locator("input[type=file]").set_input_files(str(bag))
    form.get_by_label("接收全宗").select_option("Z109")
    form.get_by_label("门类").select_option("WS")
    form.get_by_role("button", name="上传并检测").click()
    expect(page).to_have_url(re.compile(rf"{server}/transfers/[0-9a-f-]{{36}}$"))

    # The page polls the job and reloads when the transfer has finished.
    expect(page.locator("#state")).to_have_text("已完成", timeout=60_000)
    expect(page.locator("#decision")).to_have_text("接收（待人工复核）")
    expect(page.locator("#problems")).to_contain_text("YJ-4-2")
    page.screenshot(path=str(tmp_path / "transfer.png"), full_page=True)

    # The report opens in its own tab, self-contained.
    with page.context.expect_page() as opened:
        page.locator("#report-html").click()
    report = opened.value
    report.wait_for_load_state()
    expect(report.locator("body")).to_contain_text("四性检测报告")
    expect(report.locator("body")).to_contain_text("YJ-1-1")
    report.close()

    # The archivist confirms the flagged items with a reason.
    page.get_by_label("复核意见").fill("病毒检测已在隔离机上人工复核，无异常")
    page.get_by_role("button", name="确认复核").click()
    expect(page.locator("#review")).to_contain_text("已由 archivist 复核")

    # The list shows it finished.
    page.goto(f"{server}/transfers")
    row = page.locator("#transfers tbody tr").first
    expect(row).to_contain_text("transfer-bag.zip")
    expect(row).to_contain_text("已完成")
