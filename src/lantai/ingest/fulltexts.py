"""Full texts (全文) of a transfer's content files, for the catalogue and the search index.

Two kinds, gathered at two moments of the pipeline:

- :func:`document_texts` — OFD, PDF and DOCX documents: in the check step, from what the checks
  already opened (their cache) where possible, else with :mod:`lantai.formats.fulltext`; the
  pipeline keeps them in ``texts.json`` for the catalogue step, which may run after a restart;
- :func:`plain_texts` — plain-text files (up to :data:`MAX_TEXT_BYTES`): decoded in the catalogue
  step from the staged file itself. Their text is their whole content, so carrying it through
  ``texts.json`` (encode, write, read, decode) cost more than decoding the file again.

A file whose text cannot be read is skipped (logged); texts are NUL-free and never blank.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from lantai.errors import LantaiError
from lantai.formats.fulltext import decode_text, extract_text, kind_of
from lantai.ingest.transfer import FileRole, Transfer, TransferFile

__all__ = ["MAX_TEXT_BYTES", "decode_text", "document_texts", "plain_texts"]

log = logging.getLogger("lantai.ingest")

MAX_TEXT_BYTES = 10 << 20


def _is_plain(f: TransferFile) -> bool:
    return f.format is not None and f.format.mime == "text/plain"


def _keep(out: dict[str, str], f: TransferFile, pages: list[str] | None) -> None:
    if pages:
        text = "\n".join(p for p in pages if p).replace("\x00", "")
        if text and not text.isspace():  # no copy of the text (strip would make one)
            out[f.path] = text


def document_texts(cache: Mapping[str, Any], transfer: Transfer) -> dict[str, str]:
    """Texts of the OFD, PDF and DOCX content files (OFD: from the checks' cache when opened)."""
    out: dict[str, str] = {}
    inspections = cache.get("inspections", {})
    for f in transfer.files:
        if f.role is not FileRole.CONTENT or _is_plain(f) or f.format is None:
            continue
        found = inspections.get(f.path)
        ofd = getattr(found, "ofd", None)
        pages = getattr(ofd, "texts", None)
        if pages is None and kind_of(f.format.mime, f.format.puid) is None:
            continue
        try:
            if pages is None:
                pages = extract_text(f.local, mime=f.format.mime, puid=f.format.puid)
        except (LantaiError, OSError, ValueError) as exc:
            log.info("no text from %s: %s", f.path, exc)
            continue
        _keep(out, f, pages)
    return out


def plain_texts(transfer: Transfer) -> dict[str, str]:
    """Texts of the plain-text content files (UTF-8, else GB 18030), read from staging."""
    out: dict[str, str] = {}
    for f in transfer.files:
        if f.role is not FileRole.CONTENT or not _is_plain(f) or f.size > MAX_TEXT_BYTES:
            continue
        try:
            data = f.local.read_bytes()
        except OSError as exc:
            log.info("no text from %s: %s", f.path, exc)
            continue
        _keep(out, f, [decode_text(data)])
    return out
