"""Receiving an uploaded file: streamed to a private temporary directory, bounded in size."""

from __future__ import annotations

import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath

from fastapi import UploadFile

from lantai.errors import InputError, Problem

__all__ = ["UploadTooLarge", "clean_filename", "received_file"]

CHUNK = 1 << 20


class UploadTooLarge(InputError):
    status = 413
    code = "upload_too_large"


def clean_filename(name: str | None) -> str:
    """The last path component of a client-supplied name: NFC, printable, no leading dots."""
    base = PurePath((name or "").replace("\\", "/")).name
    base = "".join(
        ch for ch in unicodedata.normalize("NFC", base) if ch.isprintable() and ch != "/"
    )
    base = base.lstrip(".").strip()
    return base[:200] or "上传文件"


@contextmanager
def received_file(
    upload: UploadFile, directory: Path, *, max_bytes: int
) -> Iterator[tuple[Path, str]]:
    """Save ``upload`` in a new private directory under ``directory``; everything is removed after.

    Yields the saved path, which keeps the cleaned original name (readers name it in their
    messages and use its suffix to pick the format), and that name. Uploads are never executed
    and never served back.
    """
    name = clean_filename(upload.filename)
    directory.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix="upload-", dir=directory))
    path = private / name
    try:
        size = 0
        with path.open("xb") as out:
            while chunk := upload.file.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(
                        f"上传文件超过上限 {max_bytes // (1 << 20)} MiB",
                        [
                            Problem(
                                file=name,
                                rule="上传大小限制（LANTAI_MAX_UPLOAD_MB）",
                                message="文件过大，未做任何处理",
                            )
                        ],
                    )
                out.write(chunk)
        yield path, name
    finally:
        shutil.rmtree(private, ignore_errors=True)
