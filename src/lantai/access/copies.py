"""Access copies (利用副本) of a record's pages: what the viewer serves, never the masters.

The pages of a record come, in this order of preference, from

1. its digitised page images (``scan_pages`` after 挂接): each master is read once from the object
   store and converted to a JPEG no larger than ``viewer.max_edge``;
2. its searchable PDF access copy (``scan_derivatives``), rendered page by page with pdftoppm;
3. its born-digital files (``record_files``): PDFs rendered with pdftoppm, images converted.

The converted pages are cached under ``<home>/access-copies/`` (derived data: removable at any
time, rebuilt on demand). Callers watermark every page before it leaves the server.
"""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import ColumnExpressionArgument, Connection, Label, func, select
from sqlalchemy.orm import Session

from lantai.access.config import AccessConfig
from lantai.atomicfile import write_atomic
from lantai.digitisation.images import open_page, page_count
from lantai.errors import NotFound
from lantai.instance import Instance
from lantai.storage import ObjectStore, open_store
from lantai.store import RecordFile, ScanDerivative, ScanPage

__all__ = [
    "PageCounts",
    "PageSource",
    "count_pages",
    "list_pages",
    "page_count_columns",
    "page_counts",
    "page_jpeg",
]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")


@dataclass(frozen=True)
class PageSource:
    """One page: an object-store key and the frame (page) inside it."""

    key: str
    frame: int
    tag: str  # cache name of the source (scan-<id>, pdf-<id>, file-<id>)


def _cache_dir(inst: Instance) -> Path:
    return inst.home / "access-copies"


def _count(inst: Instance, store: ObjectStore, key: str, tag: str) -> int:
    marker = _cache_dir(inst) / tag / "pages.json"
    if marker.is_file():
        return int(json.loads(marker.read_text())["pages"])
    with tempfile.TemporaryDirectory(prefix="lantai-access-") as tmp:
        local = Path(tmp) / f"src{Path(key).suffix.lower()}"
        with store.open(key) as src:
            local.write_bytes(src.read())
        n = page_count(local)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"pages": n}))
    return n


def list_pages(inst: Instance, session: Session, record_id: int) -> list[PageSource]:
    """The record's pages for the viewer (empty when it has nothing viewable)."""
    scans = session.scalars(
        select(ScanPage)
        .where(ScanPage.record_id == record_id, ScanPage.decodes.is_(True))
        .order_by(ScanPage.page_no, ScanPage.id)
    ).all()
    if scans:
        return [PageSource(p.object_key, p.frame, f"scan-{p.id}") for p in scans]
    derivative = session.scalar(
        select(ScanDerivative)
        .where(ScanDerivative.record_id == record_id, ScanDerivative.kind == "searchable_pdf")
        .order_by(ScanDerivative.id.desc())
    )
    if derivative is not None:
        tag = f"pdf-{derivative.sha256[:32]}"
        return [PageSource(derivative.object_key, i, tag) for i in range(derivative.pages)]
    return _file_pages(inst, session, record_id)


def _file_pages(inst: Instance, db: Session | Connection, record_id: int) -> list[PageSource]:
    store: ObjectStore | None = None
    out: list[PageSource] = []
    for f in db.execute(
        select(RecordFile.aip_id, RecordFile.path, RecordFile.sha256, RecordFile.mime)
        .where(RecordFile.record_id == record_id)
        .order_by(RecordFile.position)
    ):
        key, suffix = f"{f.aip_id}/{f.path}", Path(f.path).suffix.lower()
        tag = f"file-{f.sha256[:32]}"
        if suffix == ".pdf" or f.mime == "application/pdf":
            store = store or open_store(inst.settings)
            out += [PageSource(key, i, tag) for i in range(_count(inst, store, key, tag))]
        elif suffix in _IMAGE_SUFFIXES:
            out.append(PageSource(key, 0, tag))
    return out


@dataclass(frozen=True)
class PageCounts:
    """What the database tells of a record's pages without listing them: read with the record by
    :func:`page_count_columns`, turned into a number of pages by :func:`count_pages`."""

    scans: int  # decoding scan pages
    pdf: int | None  # pages of the latest searchable PDF; None when there is none
    files: bool  # whether it has born-digital files


def page_count_columns(record_id: ColumnExpressionArgument[int]) -> tuple[Label[Any], ...]:
    """Columns of the :class:`PageCounts` of the record ``record_id`` (a column of the enclosing
    statement), so that a page that shows only the number of pages reads them together with the
    record instead of in three statements of its own (the portal's record page)."""
    scans = (
        select(func.count())
        .select_from(ScanPage)
        .where(ScanPage.record_id == record_id, ScanPage.decodes.is_(True))
        .scalar_subquery()
    )
    pdf = (
        select(ScanDerivative.pages)
        .where(ScanDerivative.record_id == record_id, ScanDerivative.kind == "searchable_pdf")
        .order_by(ScanDerivative.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    files = select(RecordFile.id).where(RecordFile.record_id == record_id).exists()
    return scans.label("page_scans"), pdf.label("page_pdf"), files.label("page_files")


def page_counts(row: Any) -> PageCounts:
    """The :class:`PageCounts` of a row selected with :func:`page_count_columns`."""
    return PageCounts(int(row.page_scans or 0), row.page_pdf, bool(row.page_files))


def count_pages(
    inst: Instance, db: Session | Connection, record_id: int, counts: PageCounts
) -> int:
    """``len(list_pages(inst, db, record_id))``: from ``counts`` alone, except for born-digital
    files (whose PDFs' pages are counted in the access-copy cache)."""
    if counts.scans:
        return counts.scans
    if counts.pdf is not None:
        return counts.pdf
    return len(_file_pages(inst, db, record_id)) if counts.files else 0


def _render(store: ObjectStore, source: PageSource, config: AccessConfig) -> bytes:
    with tempfile.TemporaryDirectory(prefix="lantai-access-") as tmp:
        local = Path(tmp) / f"src{Path(source.key).suffix.lower()}"
        with store.open(source.key) as src:
            local.write_bytes(src.read())
        img = open_page(local, source.frame, pdf_dpi=config.viewer.pdf_dpi)
    try:
        img = img.convert("RGB")
        img.thumbnail((config.viewer.max_edge, config.viewer.max_edge), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        img.save(out, "JPEG", quality=config.viewer.jpeg_quality)
        return out.getvalue()
    finally:
        img.close()


def page_jpeg(inst: Instance, pages: list[PageSource], n: int, config: AccessConfig) -> bytes:
    """Page ``n`` (1-based) as an access-copy JPEG (made once, then read from the cache)."""
    if not 1 <= n <= len(pages):
        raise NotFound(f"没有第 {n} 页")
    source = pages[n - 1]
    cached = _cache_dir(inst) / source.tag / f"{source.frame}-{config.viewer.max_edge}.jpg"
    if cached.is_file():
        return cached.read_bytes()
    data = _render(open_store(inst.settings), source, config)
    write_atomic(cached, data, durable=False)  # two viewers of one page may both render it
    return data
