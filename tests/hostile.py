"""Builders of hostile input shared by tests (import with ``from hostile import …``)."""

from __future__ import annotations

import io
import os
import tarfile
import threading
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "INVALID_UTF8",
    "TEN_MB",
    "XML_ATTACKS",
    "XML_INERT",
    "Measured",
    "files_written",
    "make_zip_bomb",
    "measure",
    "mixed_gbk_utf8",
    "splice",
    "table_counts",
    "tar_gz_bomb",
    "tar_link",
    "tar_with",
    "zip_bomb",
    "zip_with",
]


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


# -- the hostile-input corpus (tests/hostile/test_corpus.py) ------------------------------------

SECURITY_FIXTURES = ("security", "defusedxml-xmltestdata")
# The attack files that declare entities or are stylesheets: every XML entry point refuses them.
XML_ATTACKS = (
    "xmlbomb.xml",
    "xmlbomb2.xml",
    "quadratic.xml",
    "cyclic.xml",
    "external.xml",
    "external_file.xml",
    "xalan_exec.xsl",
    "xalan_write.xsl",
)
# Names an external DTD and nothing else: inert (the DTD is never loaded), so it is neutralised
# rather than refused; the entry point must not fetch it (the test runs with no route out).
XML_INERT = ("dtd.xml",)
TEN_MB = 10 * 1024 * 1024


def doctype_and_reference(attack: bytes) -> tuple[bytes, bytes]:
    """The ``<!DOCTYPE … ]>`` block of an attack file and the entity reference its body uses,
    to splice into an otherwise valid document of an entry point."""
    text = attack.decode("utf-8")
    start = text.index("<!DOCTYPE")
    end = text.index("]>", start) + 2 if "[" in text[start:] else text.index(">", start) + 1
    body = text[end:]
    ref = ""
    if "&" in body:
        at = body.index("&")
        ref = body[at : body.index(";", at) + 1]
    return text[start:end].encode(), ref.encode()


def splice(valid: bytes, attack: bytes, marker: bytes) -> bytes:
    """``valid`` with the attack's DOCTYPE after the XML declaration and its entity reference
    in place of ``marker`` (a piece of text inside an element)."""
    doctype, ref = doctype_and_reference(attack)
    if valid.startswith(b"<?xml"):
        cut = valid.index(b"?>") + 2
        head, tail = valid[:cut], valid[cut:]
    else:
        head, tail = b"", valid
    assert marker in tail, marker
    return head + b"\n" + doctype + tail.replace(marker, ref or marker, 1)


def zip_bomb(path: Path, members: dict[str, int], *, inner: dict[str, bytes] | None = None) -> Path:
    """A ZIP whose ``members`` inflate to that many MiB of zeros each (deflated, ratio ≈ 1000),
    plus ``inner`` members written as they are (e.g. other archives: a nested bomb)."""
    block = b"\0" * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, mib in members.items():
            with z.open(name, "w", force_zip64=True) as member:
                for _ in range(mib):
                    member.write(block)
        for name, data in (inner or {}).items():
            z.writestr(name, data)
    return path


def zip_with(path: Path, members: dict[str, bytes], *, modes: dict[str, int] | None = None) -> Path:
    """A ZIP of ``members`` as given (names unchecked: traversal and absolute names allowed),
    with Unix ``modes`` (e.g. a symbolic link) where given."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            if modes and name in modes:
                info.external_attr = modes[name] << 16
                info.create_system = 3
            z.writestr(info, data)
    return path


def tar_with(
    path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w"
) -> Path:
    """A tar of regular ``(name, data)`` members and prepared ``TarInfo`` (links, devices)."""
    with tarfile.open(path, mode) as t:  # type: ignore[call-overload]
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                t.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                info.mtime = 1_700_000_000
                t.addfile(info, io.BytesIO(m[1]))
    return path


def tar_link(name: str, target: str, *, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def tar_gz_bomb(path: Path, mib: int) -> Path:
    """A .tar.gz of one member of ``mib`` MiB of zeros (the gzip stream's ratio ≈ 1000)."""
    with tarfile.open(path, "w:gz") as t:
        info = tarfile.TarInfo("bag/data/zeros.bin")
        info.size = mib << 20
        t.addfile(info, _Zeros(info.size))
    return path


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n


INVALID_UTF8 = b"\xff\xfe\x80\x81 \xc3\x28 \xed\xa0\x80 \xf8\x88\x80\x80\x80"


def mixed_gbk_utf8(lines: list[str]) -> bytes:
    """Lines alternately in UTF-8 and GBK: a file no single encoding reads correctly."""
    return b"".join(
        (line + "\n").encode("utf-8" if n % 2 == 0 else "gbk") for n, line in enumerate(lines)
    )


@dataclass
class Measured:
    """One call measured: wall time, Python allocation peak, RSS growth, its result or error."""

    seconds: float
    python_peak: int
    rss_growth: int
    result: Any = None
    error: BaseException | None = None


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(fn: Callable[[], Any]) -> Measured:
    """Run ``fn`` under tracemalloc with an RSS sampler thread (every 2 ms): C allocations (lxml,
    zlib, pikepdf) show in RSS, Python ones in the tracemalloc peak."""
    base = _rss()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            done.wait(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tracing = tracemalloc.is_tracing()  # pytest may trace already (ResourceWarning sources)
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start_traced = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    result: Any = None
    error: BaseException | None = None
    try:
        result = fn()
    except Exception as exc:
        error = exc
    finally:
        seconds = time.perf_counter() - t0
        python_peak = tracemalloc.get_traced_memory()[1] - start_traced
        if not tracing:
            tracemalloc.stop()
        done.set()
        sampler.join()
    peak[0] = max(peak[0], _rss())
    return Measured(seconds, python_peak, peak[0] - base, result, error)


# Files an instance writes for itself whatever happens: the database, the audit witness.
_OWN_FILES = ("lantai.db", "audit/witness.log", "secrets/", "search/", "logs/")


def files_written(home: Path) -> set[str]:
    """Every file under the instance home except the database, audit witness and index."""
    out: set[str] = set()
    for p in home.rglob("*"):
        rel = p.relative_to(home).as_posix()
        if p.is_file() and not rel.startswith(_OWN_FILES):
            out.add(rel)
    return out


def table_counts(inst: Any) -> dict[str, int]:
    """Rows per table (every table of the models)."""
    from sqlalchemy import func, select

    from lantai.store import Base

    with inst.db.read() as s:
        return {
            name: int(s.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in Base.metadata.tables.items()
        }
