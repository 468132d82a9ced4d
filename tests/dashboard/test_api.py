"""The dashboard API: figures, drill-downs, live updates, permissions; the annual form API + CLI."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from typer.testing import CliRunner

from dashboard_support import Known, build_known
from lantai.instance import Instance
from lantai.security import Actor
from lantai.web.app import create_app
from web_support import PASSWORD, login

ROLES = {
    "archivist": (("archivist",), "机密"),
    "leader": (("leader",), "公开"),
    "reader": (("reader",), "公开"),
    "auditor": (("auditor",), "公开"),
}


@pytest.fixture
def known_web(instance: Instance, operator: Actor) -> Known:
    k = build_known(instance, operator)
    with instance.db.write() as s:
        for name, (roles, clearance) in ROLES.items():
            instance.users.create(
                s,
                operator,
                username=name,
                display_name=name,
                password=PASSWORD,
                roles=roles,
                clearance=clearance,
            )
    return k


@pytest.fixture
def client(known_web: Known) -> Iterator[TestClient]:
    with TestClient(create_app(known_web.inst), base_url="http://127.0.0.1") as c:
        yield c


def _figs(client: TestClient) -> dict[str, dict[str, object]]:
    r = client.get("/api/dashboard")
    assert r.status_code == 200, r.text
    return {f["key"]: f for f in r.json()["figures"]}


@pytest.mark.parametrize("user", ["archivist", "leader"])
def test_dashboard_readers(client: TestClient, user: str) -> None:
    login(client, user)
    f = _figs(client)
    assert (
        f["holdings.items"]["value"] == 12
        and f["holdings.items"]["drill"] == "/api/dashboard/drill/holdings.items"
    )
    page = client.get("/dashboard")
    assert page.status_code == 200 and "一屏掌控" in page.text
    assert '<script src="/static/vendor/echarts/echarts.min.js"></script>' in page.text
    assert 'href="/dashboard"' in page.text  # the NAV entry


@pytest.mark.parametrize("user", ["reader", "auditor"])
def test_others_are_refused(client: TestClient, user: str) -> None:
    login(client, user)
    for url in (
        "/api/dashboard",
        "/api/dashboard/drill/holdings.items",
        "/api/dashboard/stream",
        "/api/statistics/annual?year=2026",
        "/api/statistics/annual.xlsx?year=2026",
    ):
        r = client.get(url)
        assert r.status_code == 403, url
        assert r.json()["code"]


def test_anonymous_is_refused(client: TestClient) -> None:
    assert client.get("/api/dashboard").status_code == 401


def test_drill_down_returns_exactly_the_records(client: TestClient, known_web: Known) -> None:
    login(client, "archivist")
    ids = known_web.ids
    r = client.get("/api/dashboard/drill/holdings.by_category", params={"category": "ZP"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 3 and {i["id"] for i in body["items"]} == {
        ids[f"zp{n}"] for n in range(3)
    }
    r = client.get("/api/dashboard/drill/digitisation.ratio").json()
    assert {i["id"] for i in r["items"]} == {ids["ws2011_0"], ids["zp0"], ids["ly0"]}
    r = client.get("/api/dashboard/drill/holdings.by_year", params={"year": 1948}).json()
    assert {i["id"] for i in r["items"]} == {ids["ws1948_0"], ids["ws1948_1"]}
    r = client.get("/api/dashboard/drill/holdings.items", params={"limit": 5, "offset": 10}).json()
    assert r["total"] == 12 and len(r["items"]) == 2
    r = client.get("/api/dashboard/drill/ingest.queue", params={"state": "staged"}).json()
    assert r["kind"] == "transfer" and r["total"] == 1 and r["items"][0]["state_label"] == "已解包"
    assert client.get("/api/dashboard/drill/holdings.frames").status_code == 404  # 未启用
    assert client.get("/api/dashboard/drill/search.lag").status_code == 404  # no rows behind it
    assert client.get("/api/dashboard/drill/nothing").status_code == 404


def test_drill_masks_titles_above_clearance(
    client: TestClient, known_web: Known, operator: Actor
) -> None:
    inst = known_web.inst
    with inst.db.write() as s:
        inst.catalogue.update_record(s, operator, known_web.ids["zp1"], {"security_level": "秘密"})
    login(client, "leader")
    items = client.get("/api/dashboard/drill/holdings.photos").json()["items"]
    masked = next(i for i in items if i["id"] == known_web.ids["zp1"])
    assert "密级高于" in masked["title"] and masked["href"] is None


def test_stream_sends_figures_again_after_a_change(
    client: TestClient, known_web: Known, operator: Actor
) -> None:
    login(client, "archivist")
    inst = known_web.inst
    seen: list[dict[str, Any]] = []
    with client.stream(
        "GET", "/api/dashboard/stream", params={"interval": 0.2, "max_messages": 2}
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if len(seen) == 1:  # change the catalogue while the stream is open
                    with inst.db.write() as s:
                        inst.catalogue.update_record(
                            s, operator, known_web.ids["ws2011_2"], {"open_status": "开放"}
                        )
    first = {f["key"]: f for f in seen[0]["figures"]}
    second = {f["key"]: f for f in seen[1]["figures"]}
    assert first["open.this_year"]["value"] == 0 and second["open.this_year"]["value"] == 1
    assert second["open.rate"]["parts"]["numerator"] == first["open.rate"]["parts"]["numerator"] + 1
    assert seen[1]["seq"] > seen[0]["seq"]


EXPECTED_CODES = {
    46: 1,
    47: 1,
    48: 12,
    53: 3,
    54: 75,
    57: 0,
    58: 0,
    59: 0,  # records with files but no scan pages (see test_progress for scanned ones)
    78: 0.0001,
    79: 0.0014,
    80: 0.0003,
    87: 1,
    88: 1,
    89: 6,
    93: 3,
    94: 75,
    97: 0,
    98: 1,
    126: 0,
    127: 1,
    128: 0,
    129: 5,
    130: 0.0,
    131: 0.0006,
    132: 0.0,
    133: 0.0,
    **dict.fromkeys(range(134, 144), 0),  # no uses logged (see test_progress for uses)
}
GB_CODES = {
    50: 7500,
    51: 500,
    52: 4000,
    60: 0,
    61: 0,
    62: 0,
    63: 0,
    64: 0,
    90: 4500,
    91: 500,
    92: 4000,
}  # 90: ws2011_0 (3000) entered in 2024


def test_annual_statistics_every_code(client: TestClient) -> None:
    login(client, "leader")
    r = client.get("/api/statistics/annual", params={"year": 2026, "verify": True})
    assert r.status_code == 200, r.text
    body = r.json()
    rows = {row["code"]: row for row in body["rows"]}
    assert body["problems"] == [] and body["year"] == 2026
    ok = {c: row for c, row in rows.items() if row["status"] == "ok"}
    assert {c: row["value"] for c, row in ok.items() if c not in GB_CODES} == EXPECTED_CODES
    assert {c: ok[c]["count"] for c in GB_CODES} == GB_CODES
    assert all(row["check"] is True for row in ok.values())
    disabled = {c for c, row in rows.items() if row["status"] == "disabled"}
    assert disabled == {49, 55, 56, 95, 96, *range(99, 124), 144, 145}
    assert all(rows[c]["value"] is None and rows[c]["note"] for c in disabled)
    # 2024: the six WS records entered then are the whole holdings at the end of 2024.
    y2024 = {
        row["code"]: row["value"]
        for row in client.get("/api/statistics/annual", params={"year": 2024}).json()["rows"]
    }
    assert (y2024[46], y2024[47], y2024[48], y2024[89], y2024[98]) == (0, 0, 6, 6, 0)


def test_annual_xlsx_official_layout(client: TestClient) -> None:
    login(client, "archivist")
    r = client.get("/api/statistics/annual.xlsx", params={"year": 2026})
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws["A1"].value == "档案馆基本情况表（2026年）"
    assert [c.value for c in ws[3]] == ["名称", "代码", "计量单位", "数量", "说明"]
    rows = {
        row[1]: row for row in ws.iter_rows(min_row=4, values_only=True) if isinstance(row[1], int)
    }
    assert rows[48][:4] == ("馆藏档案 以件为保管单位", 48, "件", 12)
    assert rows[144][3] is None and rows[144][4].startswith("未启用")


def test_cli_annual(known: Known, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from lantai.cli.main import app

    monkeypatch.setenv("LANTAI_HOME", str(known.inst.home))
    out = tmp_path / "年报.xlsx"
    res = CliRunner().invoke(
        app, ["stats", "annual", "--year", "2026", "--xlsx", str(out), "--verify"]
    )
    assert res.exit_code == 0, res.output
    assert "核对通过" in res.output and out.exists()
    ws = load_workbook(out).active
    assert any(row[1] == 47 and row[3] == 1 for row in ws.iter_rows(values_only=True))
    res = CliRunner().invoke(app, ["stats", "check"])
    assert res.exit_code == 0 and "一致" in res.output
