"""Access-copy JPEG of a scan page for viewing (校对 page): never the master itself.

The master is rendered once (frame of a multi-page TIFF/PDF), scaled to ``max_edge`` and kept as
a JPEG under ``<home>/cache/scan-access/`` named by the master's digest, so it is remade only if
the cache is cleared. Masters stay untouched in their immutable package.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from lantai.atomicfile import write_atomic
from lantai.digitisation.images import open_page
from lantai.digitisation.masters import MasterCache
from lantai.storage import open_store

if TYPE_CHECKING:
    from lantai.instance import Instance
    from lantai.store import ScanPage

__all__ = ["page_access_jpeg"]


def page_access_jpeg(
    inst: Instance, page: ScanPage, *, max_edge: int = 1600, quality: int = 80
) -> bytes:
    cache = inst.settings.resolved_home / "cache" / "scan-access"
    target = cache / f"{page.sha256}-{page.frame}-{max_edge}.jpg"
    if target.is_file():
        return target.read_bytes()
    with MasterCache(open_store(inst.settings), keep=1) as masters:
        img = open_page(Path(masters.path(page.object_key)), page.frame, pdf_dpi=150)
    try:
        rgb = img.convert("RGB")
        rgb.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        rgb.save(out, "JPEG", quality=quality)
    finally:
        img.close()
    data = out.getvalue()
    write_atomic(target, data, durable=False)  # concurrent viewers may both render it
    return data
