"""Import and export through the API: uploads, the rejection report, downloads, limits."""

from __future__ import annotations

import io
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from factories import create_fonds
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import Record
from lantai.web.app import create_app
from web_support import login

HEADER = "档号,文号,责任者,题名,日期,保管期限,密级,页数,机构（问题）,备注\n"
GOOD = HEADER + "".join(
    f",市府办发〔2011〕{n}号,某市人民政府办公室,关于第{n}项工作的通知,2011-03-{n:02d},永久,公开,{n},BGS,\n"
    for n in range(1, 6)
)
BAD = (
    HEADER + ",市府办发〔2011〕1号,某市人民政府办公室,关于工作的通知,2011-13-40,五年,公开,2,BGS,\n"
)


def records(inst: Instance) -> int:
    with inst.db.read() as s:
        return s.scalar(select(func.count()).select_from(Record)) or 0


def test_import_good_gbk_csv(client: TestClient, web_instance: Instance) -> None:
    fonds = create_fonds(web_instance, Actor.operator())
    csrf = login(client, "archivist")
    r = client.post(
        "/api/imports",
        data={"fonds_id": str(fonds.id), "category": "WS"},
        files={"file": ("报送目录.csv", GOOD.encode("gbk"), "text/csv")},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["rows"], body["imported"], body["codes_assigned"]) == (5, 5, 5)
    assert body["series"][0]["title"] == "文书档案 2011年"
    listing = client.get("/api/imports").json()
    assert listing[0]["status"] == "imported" and listing[0]["encoding"] in ("gb18030", "gbk")


def test_rejected_import_reports_rows_and_writes_nothing(
    client: TestClient, web_instance: Instance
) -> None:
    fonds = create_fonds(web_instance, Actor.operator())
    csrf = login(client, "archivist")
    before = records(web_instance)
    r = client.post(
        "/api/imports",
        data={"fonds_id": str(fonds.id), "category": "WS"},
        files={"file": ("坏目录.csv", BAD.encode("utf-8"), "text/csv")},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 422
    body = r.json()
    fields = {(e["field"], e["row"], e["file"]) for e in body["errors"]}
    assert ("日期", 2, "坏目录.csv") in fields and ("保管期限", 2, "坏目录.csv") in fields
    assert records(web_instance) == before
    report = client.get(f"/api/imports/{body['batch_id']}/report.xlsx")
    assert report.status_code == 200
    sheet = load_workbook(io.BytesIO(report.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == ("文件", "行号", "字段", "值", "问题", "规则")
    assert any(row[2] == "保管期限" and row[3] == "五年" for row in rows[1:])


def test_upload_limit(tmp_path: Path, web_instance: Instance) -> None:
    web_instance.settings.max_upload_mb = 1
    fonds = create_fonds(web_instance, Actor.operator())
    with TestClient(create_app(web_instance), base_url="http://127.0.0.1") as c:
        csrf = login(c, "archivist")
        r = c.post(
            "/api/imports",
            data={"fonds_id": str(fonds.id), "category": "WS"},
            files={"file": ("big.csv", HEADER.encode() + b"x" * (2 << 20), "text/csv")},
            headers={"X-CSRF-Token": csrf},
        )
    assert r.status_code == 413 and r.json()["code"] == "upload_too_large"
    assert not any((web_instance.home / "tmp").iterdir())


def test_exports_download_and_permissions(client: TestClient, web_instance: Instance) -> None:
    fonds = create_fonds(web_instance, Actor.operator())
    csrf = login(client, "archivist")
    client.post(
        "/api/imports",
        data={"fonds_id": str(fonds.id), "category": "WS"},
        files={"file": ("a.csv", GOOD.encode(), "text/csv")},
        headers={"X-CSRF-Token": csrf},
    )
    xlsx = client.get(f"/api/exports/directory/{fonds.id}", params={"format": "xlsx"})
    assert (
        xlsx.status_code == 200
        and "filename*=utf-8''" in xlsx.headers["content-disposition"].lower()
    )
    values = [
        row for row in load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True)
    ]
    assert any(row and "Z109-WS·2011-Y-BGS-0005" in row for row in values)
    pdf = client.get(f"/api/exports/directory/{fonds.id}", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    ead = client.get(f"/api/exports/ead3/{fonds.id}")
    assert ead.status_code == 200 and b"http://ead3.archivists.org/schema/" in ead.content
    assert not any((web_instance.home / "tmp").iterdir())  # temporary files removed
    client.cookies.clear()
    login(client, "reader")
    assert client.get(f"/api/exports/ead3/{fonds.id}").status_code == 403


def test_ead_upload(client: TestClient, fixtures_dir: Path) -> None:
    csrf = login(client, "archivist")
    path = fixtures_dir / "ead" / "archivesspace-examples" / "ead" / "ead_with_extents.xml"
    ok = client.post(
        "/api/imports/ead",
        data={"fonds_code": "E001", "category": "WS"},
        files={"file": (path.name, path.read_bytes(), "application/xml")},
        headers={"X-CSRF-Token": csrf},
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["fonds_code"] == "E001" and ok.json()["levels"]["item"] == 7
    bomb = (fixtures_dir / "security" / "defusedxml-xmltestdata" / "xmlbomb.xml").read_bytes()
    refused = client.post(
        "/api/imports/ead",
        data={"fonds_code": "E002"},
        files={"file": ("bomb.xml", bomb, "application/xml")},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 400 and "bomb.xml" in str(refused.json())
