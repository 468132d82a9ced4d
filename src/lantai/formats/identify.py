"""Format identification: PRONOM PUIDs (siegfried), our own OFD rule, libmagic MIME types.

Public API::

    identify(path) -> FormatInfo
    identify_many(paths, *, workers=1, in_process=None) -> dict[Path, FormatInfo]
    from_siegfried(batch, raw) -> dict[Path, FormatInfo]   # refine results a caller scanned
    identification_tool() -> ToolInfo          # tool + signature versions, for PREMIS agents
    OFD_PUID = "lantai/ofd"                     # PRONOM has no OFD signature

How one file is identified:

1. **siegfried** (PyPI ``pygfried``, siegfried embedded as a Go extension with its own
   ``default.sig``: PRONOM DROID + container signatures; nothing is downloaded) gives the PUID,
   format name, version, MIME type and the *basis* (byte, container, extension or text match).
   siegfried holds the GIL while it works, so parallelism comes from its own Go workers
   (``workers``), never from Python threads; batches of 1,000 files or more run in a child
   process (``python -m lantai.formats._siegfried``) so the caller's threads keep running.
2. **OFD** (GB/T 33190): a ZIP whose root holds ``OFD.xml`` with root ``ofd:OFD`` in the
   ``http://www.ofdspec.org/2016`` namespace is ``lantai/ofd``; ``DocType="OFD-A"`` makes it the
   archival subset (name :data:`OFD_A_NAME`). The pre-standard namespace
   ``http://www.ofdspec.org`` (seen in real 数科 files) is identified too, with a warning. The
   rule runs only when siegfried says ZIP (or found nothing) or the name ends in ``.ofd``.
3. **libmagic** (python-magic; Debian ``libmagic1``) supplies the MIME type when siegfried has none
   or its match rests on the extension alone or on nothing (a second opinion from the bytes).

Nothing here raises for a bad file: an unreadable, empty or unknown file gets ``puid=None`` and a
``warning`` saying why. Format identification reads only what siegfried and libmagic need (headers,
trailers, container directories); the content digests are computed elsewhere in one pass.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import magic
import pygfried

from lantai.formats import _siegfried
from lantai.formats.ofd import OFD_NAMESPACE, sniff_ofd
from lantai.ingest.transfer import FormatInfo

__all__ = [
    "OFD_A_NAME",
    "OFD_MIME",
    "OFD_NAME",
    "OFD_PUID",
    "ToolInfo",
    "from_siegfried",
    "identification_tool",
    "identify",
    "identify_many",
    "is_ofd",
]

OFD_PUID: Final = "lantai/ofd"
OFD_NAME: Final = "OFD 版式文档"
OFD_A_NAME: Final = "OFD-A 存档版式文档"
OFD_MIME: Final = "application/ofd"
ZIP_PUIDS: Final = frozenset({"x-fmt/263"})
BATCH: Final = 256  # files per in-process siegfried call: bounds how long it holds the GIL
CHILD_BATCH: Final = 1000  # files per call in the child process
PROCESS_MIN_FILES: Final = 1000  # from this many files on, siegfried runs in a child process

_WARNINGS: Final = {
    "extension mismatch": "扩展名与识别出的格式不符",
    "match on extension only": "仅按扩展名匹配，未核对文件内容特征",
    "match on text only": "仅按文本特征匹配",
    "match on filename only": "仅按文件名匹配",
    "empty source": "空文件（0 字节）",
}


@dataclass(frozen=True, kw_only=True)
class ToolInfo:
    """The identification tool as recorded in PREMIS agents and event details."""

    name: str
    version: str
    signature: str  # signature files the PUIDs come from

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.signature})"


def identification_tool() -> ToolInfo:
    """siegfried's version and the PRONOM signature files it carries (no file is read)."""
    details = pygfried.identify_many([], workers=1)
    sig = "; ".join(i["details"] for i in details.get("identifiers", [])) or details.get(
        "signature", ""
    )
    return ToolInfo(name="siegfried (pygfried)", version=pygfried.version(), signature=sig)


def is_ofd(info: FormatInfo | None) -> bool:
    return info is not None and info.puid == OFD_PUID


def identify(path: Path) -> FormatInfo:
    """The format of one file (see the module docstring)."""
    return identify_many([path], workers=1)[path]


def identify_many(
    paths: Sequence[Path], *, workers: int = 1, in_process: bool | None = None
) -> dict[Path, FormatInfo]:
    """The format of every file in ``paths``, keyed by the path as given.

    ``workers`` is the number of files identified at the same time (siegfried's Go workers, then
    threads for the libmagic/OFD refinements, which release the GIL in C or do little work).
    siegfried holds the GIL while it scans; from :data:`PROCESS_MIN_FILES` files on (or with
    ``in_process=False``) it runs in one spawned child process, batch by batch, while this process
    refines the batches already scanned — so the caller's other threads keep running.
    """
    workers = max(1, workers)
    unique = list(dict.fromkeys(paths))
    if not unique:
        return {}
    if in_process is None:
        in_process = len(unique) < PROCESS_MIN_FILES
    out: dict[Path, FormatInfo] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="identify") as pool:
        pending = []
        for batch, raw in _scanned(unique, workers, in_process=in_process):
            found = _match(batch, raw)
            size = max(1, -(-len(found) // workers))
            pending += [
                pool.submit(_refine_chunk, found[i : i + size]) for i in range(0, len(found), size)
            ]
        for future in pending:
            out.update(future.result())
    return {p: out[p] for p in unique}


def _scanned(
    paths: list[Path], workers: int, *, in_process: bool
) -> Iterator[tuple[Sequence[Path], list[dict[str, Any]]]]:
    """(batch, siegfried results) for every batch, in order."""
    if in_process:
        for batch in _batches(paths, BATCH):
            yield batch, _siegfried.scan([str(p) for p in batch], workers)
        return
    batches = list(_batches(paths, CHILD_BATCH))
    child = _siegfried.SiegfriedChild([[str(p) for p in b] for b in batches], workers)
    yield from zip(batches, child.results(), strict=True)


def from_siegfried(batch: Sequence[Path], raw: list[dict[str, Any]]) -> dict[Path, FormatInfo]:
    """The formats of ``batch`` from siegfried's results for it (``_siegfried.scan`` or a child
    process's reply), refined exactly as :func:`identify_many` does (OFD rule, libmagic)."""
    return _refine_chunk(_match(batch, raw))


def _match(batch: Sequence[Path], raw: list[dict[str, Any]]) -> list[tuple[Path, dict[str, Any]]]:
    by_name = {f.get("filename"): f for f in raw}
    return [
        (p, by_name.get(str(p)) or {"errors": "siegfried 未返回结果", "matches": []}) for p in batch
    ]


def _batches(seq: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def _refine_chunk(chunk: Sequence[tuple[Path, dict[str, Any]]]) -> dict[Path, FormatInfo]:
    """OFD rule and libmagic MIME for a chunk of files; one libmagic handle per chunk."""
    mime_of = _Libmagic()
    return {path: _refine(path, sf, mime_of) for path, sf in chunk}


class _Libmagic:
    """A lazily opened libmagic handle (opened only if some file of the chunk needs it)."""

    def __init__(self) -> None:
        self._magic: magic.Magic | None = None

    def __call__(self, path: Path) -> str | None:
        if self._magic is None:
            self._magic = magic.Magic(mime=True)
        try:
            mime = self._magic.from_file(str(path))
        except (magic.MagicException, OSError):
            return None
        return str(mime) if mime else None


def _refine(path: Path, sf: dict[str, Any], mime_of: _Libmagic) -> FormatInfo:
    matches = [m for m in sf.get("matches", []) if m.get("ns") == "pronom"] or sf.get("matches", [])
    match = matches[0] if matches else {}
    puid = match.get("id") or None
    if puid == "UNKNOWN":
        puid = None
    errors = str(sf.get("errors") or "")
    if puid in ZIP_PUIDS or puid is None or path.suffix.lower() == ".ofd":
        ofd = _ofd_info(path)
        if ofd is not None:
            return ofd
    warning = _warning(str(match.get("warning") or ""), errors)
    basis = str(match.get("basis") or "")
    mime = str(match.get("mime") or "") or None
    extension_only = puid is not None and "byte match" not in basis and "container" not in basis
    if mime is None or puid is None or (extension_only and "text match" not in basis):
        mime = mime_of(path) or mime
    if errors == "empty source":
        return FormatInfo(puid=None, name="空文件", mime=mime, basis="", warning=warning)
    if puid is None:
        return FormatInfo(
            puid=None,
            name="无法识别（读取或解析出错）" if errors else "未识别的格式",
            mime=mime,
            basis="siegfried 未匹配任何 PRONOM 格式特征",
            warning=warning,
        )
    return FormatInfo(
        puid=puid,
        name=str(match.get("format") or puid),
        mime=mime,
        version=str(match.get("version") or "") or None,
        basis=f"siegfried：{basis}" if basis else "siegfried",
        warning=warning,
    )


def _ofd_info(path: Path) -> FormatInfo | None:
    try:
        sniff = sniff_ofd(path)
    except (OSError, zipfile.BadZipFile):
        return None
    if sniff is None:
        return None
    archival = sniff.doc_type == "OFD-A"
    basis = f"容器匹配：ZIP 根目录 OFD.xml，命名空间 {sniff.namespace}，DocType={sniff.doc_type}"
    warning = None
    if sniff.namespace != OFD_NAMESPACE:
        warning = (
            f"OFD.xml 使用非标准命名空间 {sniff.namespace}（GB/T 33190-2016 为 {OFD_NAMESPACE}）"
        )
    return FormatInfo(
        puid=OFD_PUID,
        name=OFD_A_NAME if archival else OFD_NAME,
        mime=OFD_MIME,
        version=sniff.version or None,
        basis=basis,
        warning=warning,
    )


def _warning(sf_warning: str, errors: str) -> str | None:
    parts = []
    if errors and errors != "empty source":
        parts.append(f"siegfried 报告错误：{errors}")
    elif errors:
        parts.append(f"{_WARNINGS[errors]}（{errors}）")
    for raw in (sf_warning,):
        if not raw:
            continue
        for piece in raw.split(";"):
            piece = piece.strip()
            if not piece:
                continue
            if piece.startswith("no match"):
                parts.append(f"未匹配任何格式特征（{piece}）")
            else:
                zh = _WARNINGS.get(piece)
                parts.append(f"{zh}（{piece}）" if zh else piece)
    return "；".join(dict.fromkeys(parts)) or None
