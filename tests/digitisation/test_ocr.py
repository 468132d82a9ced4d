"""OCR: engines on the checked-in test set (CER per engine), jobs, full text, search, PDF, 校对.

The whole set (10 pages) is run by ``bench/ocr.py``; here a simplified and a traditional page.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from digitisation_support import OCR_SET, make_items, render_page, save
from lantai.digitisation import correct_page, import_batch, link_batch, low_confidence_pages
from lantai.digitisation.cer import cer
from lantai.digitisation.config import load_config
from lantai.digitisation.ocr import OcrEngine, OcrPage, make_engine
from lantai.digitisation.ocr_run import ocr_batch
from lantai.digitisation.tasks import enqueue_ocr
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, JobState, default_registry
from lantai.security import Actor
from lantai.storage import open_store
from lantai.store import Event, RecordText, ScanDerivative, ScanPage, ScanPageText
from search_support import make_kit

PAGES = ["page_06_s", "page_01_t"]  # one simplified, one traditional
SETTINGS = load_config().ocr


def _truth(stem: str) -> str:
    return (OCR_SET / f"{stem}.txt").read_text(encoding="utf-8")


def _script(stem: str) -> str:
    return "traditional" if stem.endswith("_t") else "simplified"


@pytest.mark.slow
@pytest.mark.parametrize(("engine", "goal"), [("rapidocr", 0.01), ("tesseract", 0.05)])
def test_cer_per_engine(engine: str, goal: float) -> None:
    """rapidocr: the goal of issue 6 (≤ 1 %). tesseract: its bound here (measured ≈ 2 %)."""
    ocr = make_engine(engine, SETTINGS)
    rates = {}
    for stem in PAGES:
        with Image.open(OCR_SET / f"{stem}.jpg") as img:
            img.load()
            rates[stem] = cer(_truth(stem), ocr.recognise(img, script=_script(stem)).text)
    print(f"CER {engine}: {rates}")
    assert sum(rates.values()) / len(rates) <= goal, rates


def _one_record_batch(
    instance: Instance, operator: Actor, tmp_path: Path, stems: list[str]
) -> tuple[int, str, int]:
    ((record_id, code),) = make_items(instance, operator, [len(stems)])
    root = tmp_path / "scan"
    for n, stem in enumerate(stems, 1):
        (root / code).mkdir(parents=True, exist_ok=True)
        shutil.copy(OCR_SET / f"{stem}.jpg", root / code / f"{n:04d}.jpg")
    batch = import_batch(instance, operator, root, fonds_code="Z109", profile="ocr")
    link_batch(instance, operator, batch.id)
    return record_id, code, batch.id


@pytest.mark.slow
def test_ocr_job_full_text_search_and_searchable_pdf(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    record_id, _code, batch_id = _one_record_batch(instance, operator, tmp_path, ["page_06_s"])
    with instance.db.write() as s:
        job = enqueue_ocr(s, batch_id, operator.username, engine="rapidocr")
    assert InProcessRunner(instance, default_registry()).run_job(job.id) == JobState.SUCCEEDED
    with instance.db.read() as s:
        row = s.scalar(select(ScanPageText))
        assert row is not None and row.engine == "rapidocr"
        assert cer(_truth("page_06_s"), row.text) <= 0.01
        assert row.lines and all(
            0 < ln["confidence"] <= 1 and len(ln["box"]) == 4 for ln in row.lines
        )
        text = s.scalar(select(RecordText).where(RecordText.record_id == record_id))
        assert text is not None and text.part == "扫描第1页" and text.source == "ocr"
        assert s.scalar(select(Event).where(Event.action == "catalogue:texts:added")) is not None
        pdf = s.scalar(select(ScanDerivative).where(ScanDerivative.record_id == record_id))
        assert pdf is not None and pdf.kind == "searchable_pdf" and pdf.pages == 1
    # search finds a word that only the scanned page contains
    word = "勇于探索"
    assert word in _truth("page_06_s")
    kit = make_kit(instance)
    kit.sync()
    assert record_id in kit.ids(word)
    # the access copy is a PDF whose invisible text layer carries the recognised text
    target = tmp_path / "access.pdf"
    with open_store(instance.settings).open(pdf.object_key) as f:
        target.write_bytes(f.read())
    layer = subprocess.run(
        ["pdftotext", str(target), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert word in "".join(layer.split())
    fonts = subprocess.run(
        ["pdffonts", str(target)], capture_output=True, text=True, check=True
    ).stdout
    assert any(name in fonts for name in ("MicroHei", "Noto", "STSong"))  # a CJK font is used


class _Counting:
    """Wraps a real engine: counts calls and fails on call ``fail_at`` (a crash mid-batch)."""

    def __init__(self, inner: OcrEngine, fail_at: int | None = None) -> None:
        self.inner, self.fail_at, self.calls, self.name = inner, fail_at, 0, inner.name

    def recognise(self, image: Image.Image, *, script: str = "simplified") -> OcrPage:
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("worker died")
        return self.inner.recognise(image, script=script)


def test_ocr_resumes_without_redoing_pages(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    ((record_id, code),) = make_items(instance, operator, [3])
    root = tmp_path / "scan"
    for n in (1, 2, 3):
        save(render_page(n, width_mm=80), root / code / f"{n:04d}.png")
    batch = import_batch(instance, operator, root, fonds_code="Z109")
    link_batch(instance, operator, batch.id)
    tesseract = make_engine("tesseract", SETTINGS)
    crashing = _Counting(tesseract, fail_at=2)
    with pytest.raises(RuntimeError):
        ocr_batch(instance, batch.id, actor_name="t", engine=crashing)
    with instance.db.read() as s:
        assert len(s.scalars(select(ScanPageText)).all()) == 1
    again = _Counting(tesseract)
    summary = ocr_batch(instance, batch.id, actor_name="t", engine=again)
    assert again.calls == 2 and summary["pages"] == 3 and summary["recognised_now"] == 2
    with instance.db.read() as s:
        parts = set(s.scalars(select(RecordText.part).where(RecordText.record_id == record_id)))
    assert parts == {"扫描第1页", "扫描第2页", "扫描第3页"}
    # a third run recognises nothing
    third = _Counting(tesseract)
    ocr_batch(instance, batch.id, actor_name="t", engine=third)
    assert third.calls == 0


def test_low_confidence_pages_and_correction(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    ((record_id, code),) = make_items(instance, operator, [2])
    root = tmp_path / "scan"
    save(render_page(1, width_mm=80), root / code / "0001.png")
    noisy = render_page(2, width_mm=80, dpi=120)  # small, low resolution: poor recognition
    save(noisy, root / code / "0002.png")
    batch = import_batch(instance, operator, root, fonds_code="Z109")
    link_batch(instance, operator, batch.id)
    ocr_batch(instance, batch.id, actor_name="t", engine=make_engine("tesseract", SETTINGS))
    with instance.db.write() as s:  # make page 2 low-confidence whatever the engine scored
        page2 = s.scalar(select(ScanPage).where(ScanPage.page_no == 2))
        assert page2 is not None
        row = s.scalar(select(ScanPageText).where(ScanPageText.page_id == page2.id))
        assert row is not None
        row.low_confidence = True
        page_id = page2.id
    with instance.db.read() as s:
        listed = low_confidence_pages(s, operator, batch.id)
    assert [p["page_id"] for p in listed] == [page_id]
    out = correct_page(
        instance, operator, page_id, "档案馆开放时间为每周一至周五\n查阅档案须持有效身份证件"
    )
    assert out["corrected"] and out["text"].startswith("档案馆开放时间")
    with instance.db.read() as s:
        text = s.scalar(
            select(RecordText).where(
                RecordText.record_id == record_id, RecordText.part == "扫描第2页"
            )
        )
        assert (
            text is not None and text.source == "manual" and "查阅档案须持有效身份证件" in text.text
        )
        event = s.scalar(select(Event).where(Event.action == "digitisation:ocr:corrected"))
        assert event is not None and json.loads(event.detail)["page_no"] == 2
        assert low_confidence_pages(s, operator, batch.id) == []
