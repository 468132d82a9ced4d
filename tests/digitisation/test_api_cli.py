"""The digitisation API (permissions, reports, jobs, correction) and the ``lantai scan`` CLI."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from typer.testing import CliRunner

from digitisation_support import make_items, render_page, save
from lantai.cli.main import app as cli_app
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, default_registry
from lantai.security import Actor
from lantai.web.app import create_app
from web_support import PASSWORD, USERS, login


@pytest.fixture
def client(instance: Instance) -> TestClient:
    op = Actor.operator()
    with instance.db.write() as s:
        for name, (roles, clearance) in USERS.items():
            instance.users.create(
                s,
                op,
                username=name,
                display_name=name,
                password=PASSWORD,
                roles=roles,
                clearance=clearance,
            )
    return TestClient(create_app(instance), base_url="http://127.0.0.1")


def test_api_batch_qc_link_ocr_and_correction(
    instance: Instance, client: TestClient, tmp_path: Path
) -> None:
    ((rid, code),) = make_items(instance, Actor.operator(), [2])
    outside = tmp_path / "elsewhere"
    save(render_page(1, width_mm=80), outside / code / "0001.tif")
    root = instance.home / "scans" / "batch-1"
    save(render_page(1, width_mm=80), root / code / "0001.tif")
    save(render_page(2, width_mm=80, dpi=150), root / code / "0002.tif")
    body = {"path": str(root), "fonds_code": "Z109", "profile": "ocr"}
    csrf = login(client, "reader")
    assert (
        client.post(
            "/api/digitisation/batches", json=body, headers={"x-csrf-token": csrf}
        ).status_code
        == 403
    )
    assert client.get("/api/digitisation/batches").status_code == 403
    csrf = login(client, "archivist")
    h = {"x-csrf-token": csrf}
    r = client.post("/api/digitisation/batches", json={**body, "path": "relative"}, headers=h)
    assert r.status_code == 400 and "绝对路径" in r.text
    r = client.post("/api/digitisation/batches", json={**body, "path": str(outside)}, headers=h)
    assert r.status_code == 400 and "扫描交接目录" in r.text
    r = client.post("/api/digitisation/batches", json=body, headers=h)
    assert r.status_code == 201, r.text
    uid = r.json()["uid"]
    assert r.json()["pages"] == 2
    assert client.get(f"/api/digitisation/batches/{uid}/qc").status_code == 404
    job = client.post(f"/api/digitisation/batches/{uid}/qc", headers=h).json()
    runner = InProcessRunner(instance, default_registry())
    runner.run_job(job["job_id"])
    qc = client.get(f"/api/digitisation/batches/{uid}/qc").json()
    assert [f["check"] for f in qc["findings"]] == ["low_dpi"]
    assert "低于「需文字识别」要求的 300 dpi" in qc["findings"][0]["message"]
    link = client.post(f"/api/digitisation/batches/{uid}/link", headers=h).json()
    assert link["summary"]["linked_pages"] == 2
    xlsx = client.get(f"/api/digitisation/batches/{uid}/report.xlsx")
    wb = load_workbook(io.BytesIO(xlsx.content))
    assert wb.sheetnames == ["质检汇总", "问题清单", "图像清单", "挂接记录"]
    assert wb["问题清单"]["D2"].value == "分辨率不足"
    job = client.post(
        f"/api/digitisation/batches/{uid}/ocr", json={"engine": "tesseract"}, headers=h
    ).json()
    runner.run_job(job["job_id"])
    assert client.get(f"/api/digitisation/batches/{uid}").json()["ocr"]["pages_done"] == 2
    pages = client.get(f"/api/digitisation/batches/{uid}/low-confidence").json()
    assert isinstance(pages, list)
    with instance.db.read() as s:
        from sqlalchemy import select

        from lantai.store import ScanPage

        page_id = s.scalar(select(ScanPage.id).where(ScanPage.page_no == 1))
    text = client.get(f"/api/digitisation/pages/{page_id}/text").json()
    assert text["engine"] == "tesseract" and text["lines"]
    r = client.put(
        f"/api/digitisation/pages/{page_id}/text", json={"text": "校对后的文本"}, headers=h
    )
    assert r.status_code == 200 and r.json()["corrected"]
    stats = client.get("/api/digitisation/stats/linking").json()
    assert {"scope": "fonds", "value": "Z109"}.items() <= stats[0].items() or any(
        x["value"] == "Z109" for x in stats
    )
    assert rid


def test_cli_scan_import_qc_link_report(
    instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANTAI_HOME", str(instance.settings.resolved_home))
    monkeypatch.setenv("LANTAI_ARCHIVE_CODE", "136101")
    monkeypatch.delenv("LANTAI_DATABASE_URL", raising=False)
    ((_, code),) = make_items(instance, Actor.operator(), [1])
    root = tmp_path / "scan"
    save(render_page(1, width_mm=80, skew=5.0), root / f"{code}-0001.tif")
    save(render_page(2, width_mm=80), root / "Z109-WS·2099-Y-BGS-0001-0001.tif")
    runner = CliRunner()
    r = runner.invoke(cli_app, ["scan", "import", str(root), "--fonds", "Z109"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli_app, ["scan", "qc", "1"])
    assert r.exit_code == 0, r.output
    assert "图像歪斜" in r.output and "不合格" in r.output
    r = runner.invoke(cli_app, ["scan", "link", "1"])
    assert r.exit_code == 0 and "有图像无条目：Z109-WS·2099-Y-BGS-0001" in r.output, r.output
    out = tmp_path / "qc.xlsx"
    r = runner.invoke(cli_app, ["scan", "report", "1", "--xlsx", str(out)])
    assert r.exit_code == 0 and out.stat().st_size > 0, r.output
    r = runner.invoke(cli_app, ["scan", "report", "--stats"])
    assert r.exit_code == 0 and "Z109" in r.output and "100.0%" in r.output, r.output
