"""What a certificate cites: page ranges, and for a certified copy the page images.

:func:`parse_pages` reads a page range (``"1-3,5"``, with full-width commas and dashes accepted).
:func:`page_images` collects a record's digitised page images (the scan masters linked to it by
挂接, decoded, in 页号 order), limited to the requested pages; a record without digitised pages
gives none, and the certificate then cites the 档号 and pages only.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.certificates.document import PageImage
from lantai.digitisation.images import open_page
from lantai.digitisation.masters import MasterCache
from lantai.errors import InputError, Problem
from lantai.storage import ObjectStore
from lantai.store import ScanPage

__all__ = ["MAX_COPY_PAGES", "format_pages", "page_images", "parse_pages"]

MAX_COPY_PAGES = 200
_RANGE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")


def parse_pages(text: str | None, *, record_label: str) -> list[int] | None:
    """The page numbers of ``text`` in order, or None for "all pages" (empty text)."""
    if text is None or not text.strip():
        return None
    norm = text.replace("，", ",").replace("、", ",").replace("－", "-").replace("—", "-")
    norm = norm.replace("~", "-").replace("至", "-").replace(" ", "")
    pages: set[int] = set()
    for part in norm.split(","):
        if not part:
            continue
        m = _RANGE.match(part)
        first = int(m.group(1)) if m else 0
        last = int(m.group(2) or first) if m else 0
        if m is None or first < 1 or last < first or last - first > 10_000:
            raise InputError(
                f"{record_label} 的页码「{text}」不对",
                [
                    Problem(
                        field="pages",
                        value=text,
                        rule="页码写作 1-3,5（正整数，起始页不大于终止页）",
                        message=f"「{part}」不是有效的页码或页码范围",
                    )
                ],
            )
        pages.update(range(first, last + 1))
    return sorted(pages)


def format_pages(pages: list[int] | None) -> str:
    """``[1, 2, 3, 5]`` → ``"1-3,5"``; None → ``"全部"``."""
    if not pages:
        return "全部"
    out: list[str] = []
    start = prev = pages[0]
    for p in [*pages[1:], None]:
        if p is not None and p == prev + 1:
            prev = p
            continue
        out.append(f"{start}-{prev}" if prev > start else str(start))
        if p is not None:
            start = prev = p
    return ",".join(out)


def page_images(
    session: Session, store: ObjectStore, record_id: int, pages: list[int] | None
) -> list[PageImage]:
    """The decoded page images of ``record_id`` (only ``pages`` when given), in 页号 order."""
    q = (
        select(ScanPage)
        .where(ScanPage.record_id == record_id, ScanPage.decodes.is_(True))
        .order_by(ScanPage.page_no, ScanPage.id.desc())
    )
    if pages is not None:
        q = q.where(ScanPage.page_no.in_(pages))
    rows = list(session.scalars(q))
    seen: set[int] = set()
    chosen = []
    for row in rows:  # a page scanned twice (a re-scan batch): the newest scan
        if row.page_no not in seen:
            seen.add(row.page_no)
            chosen.append(row)
    if len(chosen) > MAX_COPY_PAGES:
        raise InputError(
            f"复制件页数 {len(chosen)} 超过一份证明的上限 {MAX_COPY_PAGES} 页",
            [
                Problem(
                    field="pages",
                    rule=f"每份复制件证明至多 {MAX_COPY_PAGES} 页",
                    message="请分成几份证明出具",
                )
            ],
        )
    out: list[PageImage] = []
    with MasterCache(store) as cache:
        for row in chosen:
            img = open_page(cache.path(row.object_key), row.frame, pdf_dpi=150)
            out.append(PageImage(row.page_no, img))
    return out
