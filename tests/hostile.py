"""Builders of hostile input shared by tests (import with ``from hostile import …``)."""

from __future__ import annotations

import zipfile
from pathlib import Path

__all__ = ["make_zip_bomb"]


def make_zip_bomb(path: Path, megabytes: int = 64) -> Path:
    """A structurally plausible .xlsx whose sheet inflates to ``megabytes`` of zeros."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w") as member:
            block = b"0" * (1 << 20)
            for _ in range(megabytes):
                member.write(block)
    return path
