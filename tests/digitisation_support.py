"""Helpers for the digitisation tests: catalogue items with 档号 and rendered scan pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from factories import create_fonds, create_series, item_values
from lantai.archival import Level
from lantai.instance import Instance
from lantai.security import Actor

__all__ = ["FONT", "OCR_SET", "make_items", "render_page"]

FONT = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"
OCR_SET = Path(__file__).resolve().parent / "digitisation" / "ocr_set"
_TEXT = "档案馆开放时间为每周一至周五上午九时至下午五时查阅档案须持有效身份证件"


def make_items(
    inst: Instance, actor: Actor, pages: list[int], **values: Any
) -> list[tuple[int, str]]:
    """A fonds Z109, a 文书 series and one item per entry of ``pages`` (its 页数): (id, 档号)."""
    fonds = create_fonds(inst, actor)
    series = create_series(inst, actor, fonds.id)
    out: list[tuple[int, str]] = []
    with inst.db.write() as s:
        for n in pages:
            rec = inst.catalogue.create_record(
                s,
                actor,
                parent_id=series.id,
                level=Level.ITEM,
                values=item_values(pages=n, title=f"关于档案工作的通知{len(out) + 1}", **values),
            )
            assert rec.archival_code
            out.append((rec.id, rec.archival_code))
    return out


def render_page(
    seed: int, *, dpi: int = 300, skew: float = 0.0, blank: bool = False, width_mm: float = 120
) -> Image.Image:
    """A small text page (``width_mm`` wide) at ``dpi``; different ``seed`` → different text."""
    px = round(width_mm / 25.4 * dpi)
    img = Image.new("L", (px, round(px * 1.41)), 255)
    if not blank:
        font = ImageFont.truetype(FONT, max(12, round(dpi / 300 * 40)), index=2)
        draw = ImageDraw.Draw(img)
        step = round(dpi / 300 * 64)
        per_line = 12 + seed % 5
        for n in range(4 + seed % 7, (img.height - step) // step):
            start = (seed * 7 + n * 3) % len(_TEXT)
            line = (_TEXT * 3)[start : start + per_line - (n * seed) % 6]
            draw.text((step, n * step), line, font=font, fill=0)
    if skew:
        img = img.rotate(skew, resample=Image.Resampling.BICUBIC, fillcolor=255)
    img.info["dpi"] = (dpi, dpi)
    return img


def save(img: Image.Image, path: Path, **kw: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, dpi=img.info.get("dpi", (300, 300)), **kw)
    return path
