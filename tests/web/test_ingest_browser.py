"""In a real browser: upload a small bag on the 移交接收 page, watch it finish, open the report,
confirm the flagged items."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from factories import create_fonds
from ingest.builders import make_bag, sample_items
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, default_registry
from lantai.security import Actor
from lantai.web.api import transfers as transfers_api
from lantai.web.app import ROUTERS, create_app
from lantai.web.pages import transfers as transfer_pages
from web_support import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium is not installed (scripts/bootstrap.sh installs it)",
    ),
]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(web_instance: Instance) -> Iterator[str]:
    extra = tuple(r for r in (transfers_api.router, transfer_pages.router) if r not in ROUTERS)
    app = create_app(web_instance, extra_routers=extra)
    runner = InProcessRunner(web_instance, default_registry(), poll_seconds=0.5)
    runner.start()
    app.state.jobs = runner  # what the app's start-up hook does in `lantai serve`
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
    runner.stop()


@pytest.fixture
def browser_page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = browser.new_context(locale="zh-CN")
        yield context.new_page()
        browser.close()


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
