"""OCR of a scan batch: text per page, the records' full text, the searchable PDF, corrections.

:func:`ocr_batch` recognises every readable page that has no text yet, committing each page's
result (``scan_page_texts``: lines with confidence and box) as soon as it is read — a job that is
interrupted continues with the next page and never redoes one. It then adds the text of each
linked page to its record's full text (``add_texts``: part ``扫描第N页``, source ``ocr``, or
``manual`` for a corrected page; one ``catalogue:texts:added`` event, which the search indexer
follows), stores a searchable PDF per record as a derivative package, and lists pages whose mean
confidence is below ``ocr.low_confidence`` for 校对.

:func:`correct_page` saves an archivist's corrected text of a page (event
``digitisation:ocr:corrected``), replaces that page's part of the record's full text, and makes a
new searchable PDF for the record.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai import faults
from lantai.audit import EventType
from lantai.digitisation.config import load_config
from lantai.digitisation.images import open_page
from lantai.digitisation.masters import MasterCache
from lantai.digitisation.ocr import OcrEngine, make_engine
from lantai.digitisation.pdf_text import PdfPage, searchable_pdf
from lantai.errors import InputError, NotFound
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.storage import ObjectStore, open_store
from lantai.store import Record, ScanBatch, ScanDerivative, ScanPage, ScanPageText, utcnow

__all__ = ["OCR_ACTOR", "correct_page", "low_confidence_pages", "ocr_batch", "page_part"]

Progress = Callable[..., None]

# The job's identity for the full texts it adds (like the ingest job's).
OCR_ACTOR = Actor(
    username="system:ocr",
    display_name="文字识别（后台作业）",
    is_operator=True,
    clearance="绝密",
    clearance_rank=99,
)


def page_part(page_no: int) -> str:
    return f"扫描第{page_no}页"


def _text(row: ScanPageText) -> str:
    return row.corrected_text if row.corrected_text is not None else row.text


def ocr_batch(
    inst: Instance,
    batch_id: int,
    *,
    actor_name: str,
    engine_name: str | None = None,
    script: str = "simplified",
    engine: OcrEngine | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Recognise the batch's pages not yet recognised, then update texts and PDFs (see module)."""
    config = load_config(config_dir=inst.settings.resolved_config_dir).ocr
    name = engine.name if engine is not None else (engine_name or config.default_engine)
    if script not in ("simplified", "traditional"):
        raise InputError(
            f"文种（script）「{script}」无效，可选：simplified（简体）、traditional（繁体）"
        )
    with inst.db.read() as s:
        if s.get(ScanBatch, batch_id) is None:
            raise NotFound(f"扫描批次 {batch_id} 不存在")
        done_ids = select(ScanPageText.page_id)
        todo = list(
            s.execute(
                select(ScanPage.id, ScanPage.object_key, ScanPage.frame)
                .where(
                    ScanPage.batch_id == batch_id,
                    ScanPage.decodes.is_(True),
                    ScanPage.id.not_in(done_ids),
                )
                .order_by(ScanPage.object_key, ScanPage.frame)
            )
        )
    store = open_store(inst.settings)
    started = time.monotonic()
    if todo:
        engine = engine or make_engine(name, config)
        with MasterCache(store) as cache:
            for n, (page_id, key, frame) in enumerate(todo, 1):
                if progress is not None:
                    progress("文字识别", n - 1, len(todo))
                t0 = time.monotonic()
                try:
                    img = open_page(cache.path(key), frame, pdf_dpi=config.render_dpi)
                except Exception as exc:  # an undecodable page is QC's finding; keep going
                    with inst.db.write() as s:
                        row = s.get(ScanPage, page_id)
                        if row is not None:
                            row.decodes, row.error = False, f"文字识别时无法读取：{exc}"
                    continue
                result = engine.recognise(img, script=script)  # engine errors: the job retries
                img.close()
                faults.point("ocr.page.recognised")
                conf = round(result.confidence, 4)
                with inst.db.write() as s:
                    s.add(
                        ScanPageText(
                            page_id=page_id,
                            engine=engine.name,
                            text=result.text,
                            lines=[
                                {"text": ln.text, "confidence": ln.confidence, "box": list(ln.box)}
                                for ln in result.lines
                            ],
                            confidence=conf,
                            low_confidence=conf < config.low_confidence,
                            seconds=round(time.monotonic() - t0, 3),
                        )
                    )
                faults.point("ocr.page.committed")
        if progress is not None:
            progress("文字识别", len(todo), len(todo))
    seconds = time.monotonic() - started
    records = _add_texts(inst, batch_id)
    faults.point("ocr.texts.added")
    pdfs = 0
    for record_id in records:
        if progress is not None:
            progress("生成双层PDF", pdfs, len(records))
        _make_pdf(inst, store, batch_id, record_id, config.render_dpi, config.pdf_dpi)
        pdfs += 1
    with inst.db.write() as s:
        batch = s.get(ScanBatch, batch_id)
        assert batch is not None
        rows = list(
            s.execute(
                select(ScanPageText.confidence, ScanPageText.low_confidence, ScanPageText.engine)
                .join(ScanPage, ScanPage.id == ScanPageText.page_id)
                .where(ScanPage.batch_id == batch_id)
            )
        )
        summary = {
            "engine": name,
            "script": script,
            "pages": len(rows),
            "recognised_now": len(todo),
            "seconds": round(seconds, 2),
            "low_confidence_pages": sum(1 for r in rows if r[1]),
            "mean_confidence": round(sum(r[0] for r in rows) / len(rows), 4) if rows else None,
            "records": len(records),
            "pdfs": pdfs,
            "finished_at": utcnow().isoformat(),
        }
        batch.ocr = summary
        batch.updated_at = utcnow()
        inst.audit.append(
            s,
            actor=actor_name,
            action=EventType.DIGITISATION_OCR_COMPLETED,
            object_type="scan_batch",
            object_id=batch.uid,
            detail={k: v for k, v in summary.items() if k != "finished_at"},
        )
        return summary


def _add_texts(inst: Instance, batch_id: int) -> list[int]:
    """Add every linked page's text to its record's full text; returns the records concerned."""
    from lantai.search.texts import TextSource, add_texts

    with inst.db.write() as s:
        rows = list(
            s.execute(
                select(ScanPage.record_id, ScanPage.page_no, ScanPageText)
                .join(ScanPageText, ScanPageText.page_id == ScanPage.id)
                .where(ScanPage.batch_id == batch_id, ScanPage.record_id.is_not(None))
                .order_by(ScanPage.record_id, ScanPage.page_no, ScanPage.id)
            )
        )
        items: dict[tuple[int, str], tuple[int, str, str, str]] = {}
        records: list[int] = []
        for raw_id, page_no, text_row in rows:
            record_id = int(raw_id or 0)  # never 0: only linked pages are selected
            if record_id not in records:
                records.append(record_id)
            text = _text(text_row)
            if text.strip():
                source = (
                    TextSource.MANUAL if text_row.corrected_text is not None else TextSource.OCR
                )
                items[(record_id, page_part(page_no))] = (
                    int(record_id),
                    page_part(page_no),
                    source.value,
                    text,
                )
        batch = s.get(ScanBatch, batch_id)
        add_texts(
            inst,
            OCR_ACTOR,
            list(items.values()),
            session=s,
            event_detail={"scan_batch": batch.uid if batch else batch_id},
        )
    return records


def _make_pdf(
    inst: Instance, store: ObjectStore, batch_id: int, record_id: int, render_dpi: int, pdf_dpi: int
) -> ScanDerivative | None:
    with inst.db.read() as s:
        record = s.get(Record, record_id)
        rows = list(
            s.execute(
                select(ScanPage, ScanPageText)
                .outerjoin(ScanPageText, ScanPageText.page_id == ScanPage.id)
                .where(
                    ScanPage.batch_id == batch_id,
                    ScanPage.record_id == record_id,
                    ScanPage.decodes.is_(True),
                )
                .order_by(ScanPage.page_no, ScanPage.id)
            )
        )
        for page, text in rows:
            s.expunge(page)
            if text is not None:
                s.expunge(text)
        title = f"{record.archival_code} {record.title}" if record else ""
    if not rows:
        return None
    pages = []
    with MasterCache(store) as cache:
        for page, text in rows:
            img = open_page(cache.path(page.object_key), page.frame, pdf_dpi=render_dpi)
            dpi = float(
                (page.meta or {}).get("扫描分辨率")
                or img.info.get("dpi", (render_dpi,))[0]
                or render_dpi
            )
            lines: list[tuple[str, list[int]]] = []
            if text is not None:
                if text.corrected_text is not None:
                    lines = _corrected_lines(text, img.width, img.height)
                else:
                    lines = [(ln["text"], ln["box"]) for ln in text.lines]
            pages.append(PdfPage(image=img, dpi=dpi, lines=lines))
        data = searchable_pdf(pages, title=title, image_dpi=pdf_dpi)
    digest = hashlib.sha256(data).hexdigest()
    package_id = f"scanpdf-{digest[:48]}"
    key = f"{package_id}/access.pdf"
    with store.begin(package_id) as writer:
        writer.put_bytes("access.pdf", data)
        writer.commit()
    faults.point("ocr.pdf.stored")
    with inst.db.write() as s:
        row = s.scalar(
            select(ScanDerivative).where(
                ScanDerivative.record_id == record_id,
                ScanDerivative.batch_id == batch_id,
                ScanDerivative.kind == "searchable_pdf",
            )
        )
        if row is None:
            row = ScanDerivative(
                record_id=record_id,
                batch_id=batch_id,
                kind="searchable_pdf",
                object_key=key,
                size=len(data),
                sha256=digest,
                pages=len(pages),
            )
            s.add(row)
        else:
            row.object_key, row.size, row.sha256, row.pages, row.created_at = (
                key,
                len(data),
                digest,
                len(pages),
                utcnow(),
            )
        s.flush()
        s.expunge(row)
        return row


def _corrected_lines(text: ScanPageText, width: int, height: int) -> list[tuple[str, list[int]]]:
    """Corrected text over the recognised line boxes (line for line when the counts agree)."""
    fixed = [ln for ln in (text.corrected_text or "").splitlines() if ln.strip()]
    boxes = [ln["box"] for ln in text.lines]
    if len(fixed) == len(boxes):
        return list(zip(fixed, boxes, strict=True))
    step = max(1, height // max(1, len(fixed) + 2))
    return [(ln, [0, (i + 1) * step, width, (i + 2) * step]) for i, ln in enumerate(fixed)]


def low_confidence_pages(session: Session, actor: Actor, batch_id: int) -> list[dict[str, Any]]:
    """Pages listed for 校对: low confidence and not yet corrected."""
    actor.require(Perm.DIGITISATION_READ)
    rows = session.execute(
        select(ScanPage, ScanPageText)
        .join(ScanPageText, ScanPageText.page_id == ScanPage.id)
        .where(
            ScanPage.batch_id == batch_id,
            ScanPageText.low_confidence.is_(True),
            ScanPageText.corrected_text.is_(None),
        )
        .order_by(ScanPageText.confidence, ScanPage.id)
    )
    return [
        {
            "page_id": p.id,
            "archival_code": p.archival_code,
            "page_no": p.page_no,
            "file": p.source_name,
            "confidence": t.confidence,
            "engine": t.engine,
            "weak_lines": sum(1 for ln in t.lines if ln["confidence"] < 0.8),
        }
        for p, t in rows
    ]


def page_text_json(page: ScanPage, text: ScanPageText | None) -> dict[str, Any]:
    return {
        "page_id": page.id,
        "archival_code": page.archival_code,
        "page_no": page.page_no,
        "record_id": page.record_id,
        "file": page.source_name,
        "engine": text.engine if text else None,
        "text": _text(text) if text else None,
        "ocr_text": text.text if text else None,
        "confidence": text.confidence if text else None,
        "low_confidence": text.low_confidence if text else None,
        "lines": text.lines if text else [],
        "corrected": bool(text and text.corrected_text is not None),
        "corrected_by": text.corrected_by if text else None,
    }


def correct_page(inst: Instance, actor: Actor, page_id: int, text: str) -> dict[str, Any]:
    """Save the corrected text of a page, update the record's full text, remake its PDF."""
    from lantai.search.texts import TextSource, add_text

    actor.require(Perm.OCR_CORRECT)
    if not text.strip():
        raise InputError("更正后的文本（text）不能为空")
    if "\x00" in text:
        raise InputError("更正后的文本（text）含有 NUL 字符")
    with inst.db.write() as s:
        page = s.get(ScanPage, page_id)
        row = s.scalar(select(ScanPageText).where(ScanPageText.page_id == page_id))
        if page is None or row is None:
            raise NotFound(f"页面 {page_id} 不存在或尚未识别")
        before = hashlib.sha256(_text(row).encode("utf-8")).hexdigest()
        row.corrected_text, row.corrected_by, row.corrected_at = text, actor.username, utcnow()
        if page.record_id is not None:
            add_text(
                inst,
                actor,
                page.record_id,
                page_part(page.page_no),
                TextSource.MANUAL.value,
                text,
                session=s,
            )
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.DIGITISATION_OCR_CORRECTED,
            object_type="scan_page",
            object_id=page.id,
            detail={
                "archival_code": page.archival_code,
                "page_no": page.page_no,
                "record_id": page.record_id,
                "before_sha256": before,
                "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                "chars": len(text),
            },
        )
        s.flush()
        out = page_text_json(page, row)
        batch_id, record_id = page.batch_id, page.record_id
    if record_id is not None:
        config = load_config(config_dir=inst.settings.resolved_config_dir).ocr
        _make_pdf(
            inst, open_store(inst.settings), batch_id, record_id, config.render_dpi, config.pdf_dpi
        )
    return out
