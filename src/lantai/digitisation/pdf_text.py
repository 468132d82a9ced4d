"""The searchable PDF access copy (双层 PDF): each page image with an invisible text layer.

Each page is drawn at its scanned size (pixels / dpi), the image downsampled to ``image_dpi`` and
JPEG-compressed (an access copy; the master stays untouched in the batch package), and every OCR
line written over its box in text render mode 3 (invisible) with a CJK font embedded, scaled
horizontally to the box width — so selecting, copying and searching in a PDF reader find the
words where they are on the page.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

__all__ = ["PdfPage", "searchable_pdf"]


@dataclass(frozen=True)
class PdfPage:
    image: Image.Image
    dpi: float
    lines: Sequence[tuple[str, Sequence[int]]]  # text, (left, top, right, bottom) in pixels


def searchable_pdf(
    pages: Iterable[PdfPage], *, title: str = "", image_dpi: int = 150, font: Path | None = None
) -> bytes:
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfgen.canvas import Canvas

    from lantai.catalogue.directory import register_cjk_font

    font_name = register_cjk_font(font)
    out = io.BytesIO()
    # invariant: the same pages and texts give the same bytes, so a re-run (a resumed OCR job)
    # finds its content-addressed package stored instead of leaving an orphan beside it
    canvas = Canvas(out, pageCompression=1, invariant=True)
    canvas.setTitle(title)
    canvas.setCreator("Lantai 兰台 数字化")
    for page in pages:
        dpi = page.dpi if page.dpi and page.dpi > 0 else 300.0
        scale = 72.0 / dpi
        width, height = page.image.width * scale, page.image.height * scale
        canvas.setPageSize((width, height))
        img = page.image
        factor = min(1.0, image_dpi / dpi)
        if factor < 1.0:
            img = img.resize(
                (max(1, round(img.width * factor)), max(1, round(img.height * factor))),
                Image.Resampling.LANCZOS,
            )
        if img.mode not in ("L", "RGB"):
            img = img.convert("RGB" if img.mode not in ("1", "LA", "I;16") else "L")
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=70)
        buf.seek(0)
        canvas.drawImage(ImageReader(buf), 0, 0, width=width, height=height)
        for text, box in page.lines:
            if not text.strip():
                continue
            left, top, right, bottom = box
            size = max(1.0, (bottom - top) * scale * 0.85)
            natural = pdfmetrics.stringWidth(text, font_name, size)
            target = max(1.0, (right - left) * scale)
            t = canvas.beginText()
            t.setTextRenderMode(3)
            t.setFont(font_name, size)
            t.setHorizScale(100.0 * target / natural if natural > 0 else 100.0)
            t.setTextOrigin(left * scale, height - bottom * scale + size * 0.15)
            t.textOut(text)
            canvas.drawText(t)
        canvas.showPage()
    canvas.save()
    return out.getvalue()
