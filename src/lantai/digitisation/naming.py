"""Reading 档号 and 页号 from the names in a scan batch folder (DA/T 31 挂接 naming).

Accepted layouts (any mix in one batch):

* ``<档号>/<页号>.<ext>`` — a folder per 件/卷 (anywhere below the batch folder; its own name
  is the 档号), one image per page (``0001.jpg``; a non-numeric
  name is numbered by its place in name order);
* ``<档号>-<页号>.<ext>`` — one file per page in the batch folder;
* ``<档号>.<tif|pdf>`` — a multi-page TIFF or PDF per 件, one frame per page.

A 档号 may itself end in ``-<digits>`` (``Z109-WS·2011-Y-BGS-0001``), so a name in the batch
folder is read as a whole 档号 when the catalogue knows it, as ``<档号>-<页号>`` when the
catalogue knows the prefix, and otherwise by its form: a multi-page file is a whole 件, a
single-page file ending in ``-<digits>`` is a page.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lantai.digitisation.images import PAGE_SUFFIXES
from lantai.errors import InputError, Problem

__all__ = ["SIDECAR_NAMES", "ScanFile", "plan_batch"]

SIDECAR_NAMES = frozenset({"batch.yaml", "batch.yml", "batch.csv"})
_PAGE_SUFFIX = re.compile(r"^(?P<code>.+)[-_](?P<page>\d{1,5})$")


@dataclass(frozen=True)
class ScanFile:
    path: Path
    rel: str  # path inside the batch folder (POSIX, NFC)
    archival_code: str | None  # None: unsupported file
    first_page: int  # 页号 of its first frame
    whole: bool  # a multi-page file per 件 (frames are pages)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def plan_batch(
    root: Path, known: Callable[[set[str]], set[str]], frames: Callable[[Path], int]
) -> list[ScanFile]:
    """Every file under ``root`` (sidecars and hidden files excluded), with its 档号 and 页号.

    ``known(candidates)`` answers which candidate 档号 exist in the catalogue; ``frames(path)``
    the page count of a file (1 when it cannot be read). A symbolic link anywhere under ``root``
    refuses the batch (:class:`~lantai.errors.InputError`): links are never followed, so a link
    to ``/etc/passwd`` named like a page cannot become a master.
    """
    links = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_symlink())
    if links:
        raise InputError(
            f"扫描批次目录中有 {len(links)} 个符号链接（如「{links[0]}」），拒绝导入：不跟随链接",
            [Problem(file=rel, rule="扫描批次目录", message="符号链接") for rel in links[:100]],
        )
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and not (p.parent == root and p.name.lower() in SIDECAR_NAMES)
    )
    candidates: set[str] = set()
    for p in files:
        stem = _nfc(p.stem)
        candidates.add(stem)
        split = _PAGE_SUFFIX.match(stem)
        if split:
            candidates.add(split["code"])
    found = known(candidates)
    out: list[ScanFile] = []
    folders: dict[Path, list[Path]] = {}
    for p in files:
        rel = _nfc(p.relative_to(root).as_posix())
        if p.suffix.lower() not in PAGE_SUFFIXES:
            out.append(ScanFile(p, rel, None, 0, False))
        elif p.parent != root:
            folders.setdefault(p.parent, []).append(p)
        else:
            out.append(_top_level(p, rel, found, frames))
    for folder, members in folders.items():
        code = _nfc(folder.name)
        numbered = all(m.stem.isdigit() for m in members)
        ordered = sorted(members, key=lambda m: (int(m.stem), m.name) if numbered else (0, m.name))
        page = 1
        for m in ordered:
            first = int(m.stem) if numbered else page
            n = max(1, frames(m))
            out.append(ScanFile(m, _nfc(m.relative_to(root).as_posix()), code, first, n > 1))
            page = first + n
    return sorted(out, key=lambda f: f.rel)


def _top_level(p: Path, rel: str, found: set[str], frames: Callable[[Path], int]) -> ScanFile:
    stem = _nfc(p.stem)
    m = _PAGE_SUFFIX.match(stem)
    if stem in found or m is None:
        return ScanFile(p, rel, stem, 1, True)
    if m["code"] in found:
        return ScanFile(p, rel, m["code"], int(m["page"]), False)
    if frames(p) > 1:
        return ScanFile(p, rel, stem, 1, True)
    return ScanFile(p, rel, m["code"], int(m["page"]), False)
