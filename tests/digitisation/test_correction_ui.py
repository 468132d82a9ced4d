"""The 校对 pages: low-confidence list, image (access JPEG) beside editable lines, save with event."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from digitisation_support import make_items, render_page, save
from lantai.audit import EventType
from lantai.digitisation import import_batch, link_batch
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import Event, RecordText, ScanPage, ScanPageText
from lantai.web.app import create_app
from web_support import CHROMIUM, PASSWORD, USERS, chromium, login, served

LINES = [
    {"text": "档案馆开放时间为每周一至周五", "confidence": 0.97, "box": [10, 10, 400, 40]},
    {"text": "查阅档案须持有效身扮证件", "confidence": 0.62, "box": [10, 50, 400, 80]},
]


@dataclass
class Scanned:
    inst: Instance
    uid: str
    page_id: int
    master_size: int


@pytest.fixture
def scanned(instance: Instance) -> Scanned:
    op = Actor.operator()
    with instance.db.write() as s:
        for name, (roles, clearance) in USERS.items():
            instance.users.create(
                s, op, username=name, display_name=name, password=PASSWORD, roles=roles,
                clearance=clearance,
            )  # fmt: skip
    ((_, code),) = make_items(instance, op, [1])
    root = instance.home / "scans" / "b1"
    save(render_page(1, width_mm=80), root / code / "0001.tif")
    batch = import_batch(instance, op, root, fonds_code="Z109", profile="ocr")
    link_batch(instance, op, batch.id)
    with instance.db.write() as s:
        page = s.scalar(select(ScanPage).where(ScanPage.batch_id == batch.id))
        assert page is not None
        # the OCR result as the OCR job stores it (a weak second line)
        s.add(
            ScanPageText(
                page_id=page.id, engine="rapidocr", text="\n".join(x["text"] for x in LINES),  # type: ignore[misc]
                lines=LINES, confidence=0.78, low_confidence=True,
            )
        )  # fmt: skip
        return Scanned(instance, batch.uid, page.id, page.size)


@pytest.fixture
def client(scanned: Scanned) -> Iterator[TestClient]:
    with TestClient(create_app(scanned.inst), base_url="http://127.0.0.1") as c:
        yield c


def test_list_page_and_save(client: TestClient, scanned: Scanned) -> None:
    token = login(client, "archivist")
    html = client.get("/digitisation/correction").text
    assert f"/digitisation/batches/{scanned.uid}/correction" in html
    html = client.get(f"/digitisation/batches/{scanned.uid}/correction").text
    assert f"/digitisation/pages/{scanned.page_id}/correct" in html and "0.780" in html
    page = client.get(f"/digitisation/pages/{scanned.page_id}/correct")
    assert page.status_code == 200
    assert 'value="查阅档案须持有效身扮证件"' in page.text and 'class="weak"' in page.text
    assert f'src="/digitisation/pages/{scanned.page_id}/image.jpg"' in page.text
    # the image is an access JPEG, smaller than the master TIFF and at most 1600 px
    img = client.get(f"/digitisation/pages/{scanned.page_id}/image.jpg")
    assert img.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(img.content)) as im:
        assert im.format == "JPEG" and max(im.size) <= 1600
    assert len(img.content) < scanned.master_size
    # the form fallback saves through correct_page: event, corrected text, record full text
    r = client.post(
        f"/digitisation/pages/{scanned.page_id}/correct",
        data={
            "csrf_token": token,
            "line": ["档案馆开放时间为每周一至周五", "查阅档案须持有效身份证件"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    with scanned.inst.db.read() as s:
        row = s.scalar(select(ScanPageText).where(ScanPageText.page_id == scanned.page_id))
        assert row is not None and row.corrected_text.endswith("身份证件")  # type: ignore[union-attr]
        assert row.corrected_by == "archivist"
        ev = s.scalar(
            select(Event).where(Event.action == EventType.DIGITISATION_OCR_CORRECTED.value)
        )
        assert ev is not None and ev.actor == "archivist"
        texts = [t.text for t in s.scalars(select(RecordText))]
    assert any("身份证件" in t for t in texts)
    # corrected pages leave the list
    html = client.get(f"/digitisation/batches/{scanned.uid}/correction").text
    assert "本批次没有待校对的页面" in html


def test_permissions(client: TestClient, scanned: Scanned) -> None:
    token = login(client, "reader")
    assert client.get("/digitisation/correction").status_code == 403
    assert client.get(f"/digitisation/pages/{scanned.page_id}/image.jpg").status_code == 403
    r = client.post(
        f"/digitisation/pages/{scanned.page_id}/correct", data={"csrf_token": token, "line": ["x"]}
    )
    assert r.status_code == 403
    client.cookies.clear()
    anonymous = client.get(
        f"/digitisation/pages/{scanned.page_id}/image.jpg", follow_redirects=False
    )
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")
def test_browser_edit_and_save(scanned: Scanned) -> None:
    app = create_app(scanned.inst)
    with served(app) as base, chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/digitisation/correction")
        page.get_by_label("用户名").fill("archivist")
        page.get_by_label("口令").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state()
        page.goto(f"{base}/digitisation/pages/{scanned.page_id}/correct")
        assert page.locator(".ocr-image img").evaluate("i => i.naturalWidth") > 0
        weak = page.locator("li.weak input")
        assert weak.count() == 1
        weak.fill("查阅档案须持有效身份证件")
        page.click("#ocr-save")
        page.wait_for_selector("#save-status:has-text('已保存校对文本')")
        assert page.locator("li.weak").count() == 0
        assert errors == []  # nothing blocked by the CSP, no script errors
    with scanned.inst.db.read() as s:
        row = s.scalar(select(ScanPageText).where(ScanPageText.page_id == scanned.page_id))
        assert row is not None and row.corrected_text == (
            "档案馆开放时间为每周一至周五\n查阅档案须持有效身份证件"
        )
