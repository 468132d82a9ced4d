"""The viewer watermark: the viewer's name (or 访客 + a session id) and the time, tiled over a page.

Every page image the portal serves passes through :func:`watermark` (Pillow): semi-transparent
dark text, rotated, repeated across the whole page so that a crop still carries it. The CJK font
is the one the PDF exports use (WenQuanYi Micro Hei).
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from lantai.catalogue.directory import DEFAULT_CJK_FONT

__all__ = ["watermark", "watermark_text"]


@lru_cache(maxsize=16)
def _font(size: int, path: Path = DEFAULT_CJK_FONT) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path.is_file():
        return ImageFont.truetype(str(path), size=size, index=0)
    return ImageFont.load_default(size=size)


def watermark_text(viewer: str, when: str) -> str:
    return f"{viewer} {when} 仅供利用"


def _tile(text: str, width: int, height: int, opacity: int) -> Image.Image:
    size = max(14, min(width, height) // 22)
    font = _font(size)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
    tw, th = int(right - left) + size * 2, int(bottom - top) + size * 3
    stamp = Image.new("RGBA", (tw, th), (0, 0, 0, 0))
    ImageDraw.Draw(stamp).text((size, size), text, font=font, fill=(120, 0, 0, opacity))
    stamp = stamp.rotate(28, expand=True, resample=Image.Resampling.BICUBIC)
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    sw, sh = stamp.size
    for row, y in enumerate(range(-sh // 2, height, max(1, sh * 3 // 4))):
        offset = (sw // 2) * (row % 2)
        for x in range(-sw + offset, width, sw):
            layer.alpha_composite(stamp, (max(x, 0), max(y, 0)), (max(-x, 0), max(-y, 0)))
    return layer


def watermark(jpeg: bytes, text: str, *, opacity: int = 70, quality: int = 80) -> bytes:
    """The page ``jpeg`` with ``text`` tiled over it, as a new JPEG."""
    with Image.open(io.BytesIO(jpeg)) as src:
        page = src.convert("RGBA")
    page.alpha_composite(_tile(text, page.width, page.height, opacity))
    out = io.BytesIO()
    page.convert("RGB").save(out, "JPEG", quality=quality, optimize=False)
    return out.getvalue()
