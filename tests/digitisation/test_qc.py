"""Scan batch import and image QC (DA/T 31): one page with each defect, each one reported."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from digitisation_support import make_items, render_page, save
from lantai.digitisation import import_batch, qc_batch
from lantai.instance import Instance
from lantai.security import Actor
from lantai.storage import open_store
from lantai.store import ScanPage


def _defect_batch(tmp_path: Path, codes: list[str]) -> Path:
    """Record 0 (页数 6): good, low dpi, skewed 5°, blank, duplicate of page 1, corrupt file.
    Record 1 (页数 3): only 2 pages scanned → page-count mismatch."""
    root = tmp_path / "batch"
    a, b = codes
    save(render_page(1), root / a / "0001.tif", compression="tiff_lzw")
    save(render_page(2, dpi=150), root / a / "0002.tif", compression="tiff_lzw")
    save(render_page(3, skew=5.0), root / a / "0003.tif", compression="tiff_lzw")
    save(render_page(4, blank=True), root / a / "0004.tif", compression="tiff_lzw")
    dup = render_page(1)
    save(dup, root / a / "0005.jpg", quality=90)
    (root / a / "0006.tif").write_bytes(b"II*\x00" + b"\x00" * 200)  # a truncated TIFF
    save(render_page(7), root / f"{b}-0001.jpg", quality=85)
    save(render_page(8), root / f"{b}-0002.jpg", quality=85)
    (root / "batch.yaml").write_text(
        "设备类型: 平板扫描仪\n设备型号: FS-2000\noperator: 李四\n", encoding="utf-8"
    )
    return root


def test_each_defect_is_reported_and_masters_are_preserved(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    items = make_items(instance, operator, [6, 3])
    codes = [c for _, c in items]
    root = _defect_batch(tmp_path, codes)
    batch = import_batch(instance, operator, root, fonds_code="Z109", category="WS", profile="ocr")
    assert batch.page_count == 8
    report = qc_batch(instance, batch.id, actor_name=operator.username)
    found = {(f["check"], f["archival_code"], f["page_no"]) for f in report["findings"]}
    a, b = codes
    assert ("low_dpi", a, 2) in found
    assert ("skew", a, 3) in found
    assert ("blank", a, 4) in found
    assert ("duplicate", a, 5) in found and ("duplicate", a, 1) in found
    assert ("unreadable", a, 6) in found
    assert ("page_count", b, None) in found
    # exactly these: the good pages have no findings
    assert not any(
        f["archival_code"] == a and f["page_no"] == 1 and f["check"] != "duplicate"
        for f in report["findings"]
    )
    assert not any(f["archival_code"] == b and f["page_no"] is not None for f in report["findings"])
    assert report["summary"]["result"] == "不合格"
    skew = next(f for f in report["findings"] if f["check"] == "skew")
    assert 4.5 <= abs(skew["value"]) <= 5.5
    assert all(
        "\u4e00" <= f["message"][0] <= "\u9fff"
        or f["message"][0].isdigit()
        or f["message"][0] in "图与分歪疑缺"
        for f in report["findings"]
    )
    with instance.db.read() as s:
        pages = {
            p.source_name: p
            for p in s.scalars(select(ScanPage).where(ScanPage.batch_id == batch.id))
        }
    meta = pages[f"{a}/0001.tif"].meta
    assert meta["扫描分辨率"] == 300 and meta["扫描色彩模式"] == "灰度" and meta["位深度"] == 8
    assert meta["图像压缩方案"] == "tiff_lzw" and meta["宽度"] > 1000
    assert meta["设备类型"] == "平板扫描仪" and meta["操作人"] == "李四"
    # masters are byte-identical in the batch package (never altered by QC)
    store = open_store(instance.settings)
    for rel, page in pages.items():
        with store.open(page.object_key) as f:
            assert f.read() == (root / rel).read_bytes()


def test_qc_resumes_and_is_stable(instance: Instance, operator: Actor, tmp_path: Path) -> None:
    items = make_items(instance, operator, [2])
    code = items[0][1]
    root = tmp_path / "b"
    save(render_page(1), root / f"{code}-1.png")
    save(render_page(2), root / f"{code}-2.png")
    batch = import_batch(instance, operator, root, fonds_code="Z109")
    first = qc_batch(instance, batch.id, actor_name="t")
    # a second run measures nothing new and reports the same
    second = qc_batch(instance, batch.id, actor_name="t")
    assert first["findings"] == second["findings"]
    assert second["summary"]["result"] == "合格"
    with instance.db.read() as s:
        assert all(p.checked for p in s.scalars(select(ScanPage)))
