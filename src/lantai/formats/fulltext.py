"""Full text of born-digital files, for search: PDF, OFD, DOCX and plain text.

``extract_text(path, mime=…, puid=…)`` returns the text of each page (PDF, OFD) or part (one
element for DOCX and TXT), or ``None`` when the format is not one that carries text we read.
A damaged or unreadable file raises :class:`TextUnavailable` naming the file and the rule.

Every extractor is bounded: files over :data:`MAX_FILE_BYTES` are not read, a DOCX part is read
only up to :data:`MAX_XML_BYTES` uncompressed (and refused when it claims more or inflates more
than :data:`MAX_RATIO` times), XML goes through :mod:`lantai.formats.xmlsafe`, and extraction
stops once :data:`MAX_CHARS` characters are collected (the rest of a very long document is not
indexed, which the caller may note). Encrypted PDFs are read only when they open with the empty
user password (permissions-only protection); otherwise no text.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Final

from lantai.errors import InputError, Problem

__all__ = [
    "DOCX_MIME",
    "MAX_CHARS",
    "MAX_FILE_BYTES",
    "TextUnavailable",
    "extract_text",
    "kind_of",
]

log = logging.getLogger("lantai.formats.fulltext")

RULE: Final = "全文提取"
MAX_FILE_BYTES: Final = 512 << 20
MAX_XML_BYTES: Final = 64 << 20
MAX_RATIO: Final = 200
MAX_CHARS: Final = 10_000_000
DOCX_MIME: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_W: Final = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_PDF_PUIDS: Final = frozenset(
    [
        "fmt/14",
        "fmt/15",
        "fmt/16",
        "fmt/17",
        "fmt/18",
        "fmt/19",
        "fmt/20",
        "fmt/276",
        "fmt/95",
        "fmt/354",
        "fmt/476",
        "fmt/477",
        "fmt/478",
        "fmt/479",
        "fmt/480",
        "fmt/481",
        "fmt/1129",
        "fmt/1451",
    ]
)


class TextUnavailable(InputError):
    """The file's text could not be read (damaged, refused as unsafe, or unreadable)."""

    code = "text_unavailable"

    def __init__(self, message: str, *, file: str) -> None:
        super().__init__(message, [Problem(message=message, rule=RULE, file=file)])


def kind_of(mime: str | None, puid: str | None) -> str | None:
    """Which extractor reads this format: ``pdf``, ``ofd``, ``docx``, ``text`` or None."""
    if puid == "lantai/ofd" or mime == "application/ofd":
        return "ofd"
    if mime == "application/pdf" or (puid or "") in _PDF_PUIDS:
        return "pdf"
    if mime == DOCX_MIME or puid == "fmt/412":
        return "docx"
    if mime == "text/plain":
        return "text"
    return None


def extract_text(path: Path, *, mime: str | None, puid: str | None = None) -> list[str] | None:
    """The text of ``path`` page by page (see the module docstring)."""
    kind = kind_of(mime, puid)
    if kind is None:
        return None
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise TextUnavailable(f"无法读取文件：{exc.strerror or exc}", file=path.name) from exc
    if size > MAX_FILE_BYTES:
        log.info("no text from %s: %d bytes is over the limit", path, size)
        return None
    if kind == "pdf":
        return _pdf(path)
    if kind == "docx":
        return _docx(path)
    if kind == "ofd":
        from lantai.formats.ofd import page_texts

        try:
            return page_texts(path)
        except InputError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise TextUnavailable(f"OFD 文件无法读取：{exc}", file=path.name) from exc
    return [decode_text(path.read_bytes())]


def decode_text(data: bytes) -> str:
    """Plain text as UTF-8 (with or without BOM) or GB 18030; ``""`` when it is neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)[:MAX_CHARS]
        except UnicodeDecodeError:
            continue
    return ""


def _pdf(path: Path) -> list[str]:
    import pypdf
    from pypdf.errors import PyPdfError

    pages: list[str] = []
    total = 0
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            log.info("no text from %s: encrypted with a user password", path)
            return []
        for page in reader.pages:
            text = page.extract_text() or ""
            pages.append(text)
            total += len(text)
            if total >= MAX_CHARS:
                break
    except (PyPdfError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        # pypdf raises plain Python errors on some damaged files as well as its own.
        raise TextUnavailable(f"PDF 文件无法提取文字：{exc}", file=path.name) from exc
    except RecursionError as exc:
        raise TextUnavailable("PDF 文件结构嵌套过深，无法提取文字", file=path.name) from exc
    return pages


def _docx(path: Path) -> list[str]:
    from lantai.formats.xmlsafe import XmlRefused, parse_bytes

    name = path.name
    try:
        with zipfile.ZipFile(path) as zf:
            try:
                info = zf.getinfo("word/document.xml")
            except KeyError:
                raise TextUnavailable(
                    "DOCX 文件缺少正文部件 word/document.xml", file=name
                ) from None
            if info.file_size > MAX_XML_BYTES:
                raise TextUnavailable(
                    f"DOCX 正文部件过大（{info.file_size:,} 字节，上限 {MAX_XML_BYTES:,}）",
                    file=name,
                )
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                raise TextUnavailable(
                    f"DOCX 正文部件压缩比异常（超过 {MAX_RATIO} 倍），疑似压缩炸弹", file=name
                )
            with zf.open(info) as f:
                data = f.read(MAX_XML_BYTES + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise TextUnavailable(f"DOCX 文件无法读取：{exc}", file=name) from exc
    if len(data) > MAX_XML_BYTES:  # the header lied about the size
        raise TextUnavailable("DOCX 正文部件解压后超过上限", file=name)
    try:
        root = parse_bytes(data, name=f"{name}/word/document.xml", max_bytes=MAX_XML_BYTES)
    except XmlRefused as exc:
        raise TextUnavailable(f"DOCX 正文部件不可解析：{exc.message}", file=name) from exc
    paragraphs: list[str] = []
    total = 0
    for p in root.iter(f"{_W}p"):
        parts: list[str] = []
        for el in p.iter(f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr"):
            if el.tag == f"{_W}t":
                parts.append(el.text or "")
            else:
                parts.append("\t" if el.tag == f"{_W}tab" else "\n")
        line = "".join(parts)
        paragraphs.append(line)
        total += len(line) + 1
        if total >= MAX_CHARS:
            break
    return ["\n".join(paragraphs)]
