"""The 一屏掌控 page in chromium: charts drawn with data, a click drills down, live update."""

from __future__ import annotations

import os
from pathlib import Path

from dashboard_support import Known, build_known, build_progress
from lantai.instance import Instance
from lantai.security import Actor
from lantai.web.app import create_app
from web_support import BROWSER_MARKS, PASSWORD, chromium, served

pytestmark = BROWSER_MARKS
SHOT_DIR = Path(os.environ.get("LANTAI_SCREENSHOTS", "/tmp/lantai-screenshots"))


def test_dashboard_renders_charts_and_drills_down(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    k: Known = build_progress(build_known(instance, operator), operator, tmp_path)
    with instance.db.write() as s:
        instance.users.create(
            s,
            operator,
            username="leader",
            display_name="馆领导",
            password=PASSWORD,
            roles=("leader",),
            clearance="公开",
        )
    errors: list[str] = []
    with served(create_app(instance)) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        missing: list[str] = []
        page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
        page.goto(f"{server}/dashboard")
        page.get_by_label("用户名").fill("leader")
        page.get_by_label("口令").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.goto(f"{server}/dashboard")
        expect(page.locator("#dash-status")).to_contain_text("数据截至审计日志")
        tile = page.locator('.kpi[data-figure="holdings.items"] .value')
        expect(tile).to_have_text("12")
        charts = (
            "category",
            "year",
            "growth",
            "rates",
            "linking",
            "queue",
            "carrier",
            "work",
            "use",
        )
        for chart in charts:
            expect(page.locator(f"#chart-{chart} canvas")).to_have_count(1)
        # ECharts drew the bars: the canvas of the category chart is not blank.
        painted = page.evaluate(
            """() => { const c = document.querySelector('#chart-category canvas');
                       const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                       let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; }
                       return n; }"""
        )
        assert painted > 1000
        expect(page.locator('.kpi[data-figure="digitisation.frames"] .value')).to_have_text("3")
        expect(page.locator('.kpi[data-figure="publication.online"] .value')).to_have_text("6")
        expect(page.locator('.kpi[data-figure="backup.last"] .value')).to_have_text("0")
        expect(page.locator('.kpi[data-figure="use.visits"] .value')).to_have_text("3")
        # The whole dashboard (tiles and the nine charts) fits one 1600 × 1000 screen.
        bottom = page.evaluate(
            "() => document.querySelector('.charts').getBoundingClientRect().bottom"
        )
        assert bottom <= 1000, bottom
        expect(page.locator("#disabled-list")).to_contain_text("缩微品")
        SHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOT_DIR / "dashboard.png"), full_page=True)
        # A KPI tile drills down to exactly its records.
        page.locator('.kpi[data-figure="holdings.photos"]').click()
        expect(page.locator("#drill-total")).to_have_text("共 3 条")
        expect(page.locator("#drill-rows tr")).to_have_count(3)
        # … and a tile of another kind lists its scan pages.
        page.locator('.kpi[data-figure="ocr.backlog"]').click()
        expect(page.locator("#drill-total")).to_have_text("共 3 页")
        expect(page.locator("#drill-rows")).to_contain_text("（未挂接）")
        expect(page.locator("#drill-more")).to_be_hidden()
        # A change in the catalogue reaches the open page without a reload (SSE).
        with instance.db.write() as s:
            instance.catalogue.update_record(
                s, operator, k.ids["ws2011_2"], {"open_status": "开放"}
            )
        expect(page.locator('.kpi[data-figure="open.this_year"] .value')).to_have_text(
            "1", timeout=15_000
        )
        page.screenshot(path=str(SHOT_DIR / "dashboard-drill.png"), full_page=True)
        page.close()
    assert [e for e in errors if "Content Security Policy" in e or "Refused" in e] == []
    # The browser asks for /favicon.ico on its own; every asset the page names is served.
    assert [u for u in missing if not u.endswith("/favicon.ico")] == []
    assert [e for e in errors if "404" not in e] == []
