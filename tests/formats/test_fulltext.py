"""Full text of PDF, OFD, DOCX and plain text files (lantai.formats.fulltext), and refusals."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pikepdf
import pytest
from reportlab.pdfgen import canvas

from formats.ofd_builder import make_ofd
from lantai.catalogue.directory import DEFAULT_CJK_FONT, register_cjk_font
from lantai.formats.fulltext import (
    DOCX_MIME,
    TextUnavailable,
    extract_text,
    kind_of,
)

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    b'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
    b"</Types>"
)


def make_pdf(path: Path, pages: list[str]) -> Path:
    font = register_cjk_font()
    c = canvas.Canvas(str(path))
    for text in pages:
        c.setFont(font, 14)
        c.drawString(72, 720, text)
        c.showPage()
    c.save()
    return path


def make_docx(path: Path, document: bytes, *, compress: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compress) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("word/document.xml", document)
    return path


def document_xml(*paragraphs: str) -> bytes:
    body = "".join(paragraphs)
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{W}"><w:body>{body}</w:body></w:document>'
    ).encode()


needs_font = pytest.mark.skipif(
    not DEFAULT_CJK_FONT.is_file(), reason="fonts-wqy-microhei (installed by bootstrap)"
)


def test_kinds() -> None:
    assert kind_of("application/pdf", "fmt/354") == "pdf"
    assert kind_of(None, "fmt/276") == "pdf"
    assert kind_of(DOCX_MIME, "fmt/412") == "docx"
    assert kind_of("application/zip", "lantai/ofd") == "ofd"
    assert kind_of("text/plain", "x-fmt/111") == "text"
    assert kind_of("image/tiff", "fmt/353") is None


@needs_font
def test_pdf_text_page_by_page(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "a.pdf", ["关于档案馆开放时间的通知", "赣府发〔2010〕12号"])
    pages = extract_text(pdf, mime="application/pdf")
    assert pages is not None and len(pages) == 2
    assert "档案馆开放时间" in pages[0]
    assert "赣府发〔2010〕12号" in pages[1]


@needs_font
def test_pdf_encrypted(tmp_path: Path) -> None:
    plain = make_pdf(tmp_path / "a.pdf", ["档案移交清单"])
    owner_only = tmp_path / "owner.pdf"
    locked = tmp_path / "locked.pdf"
    with pikepdf.open(plain) as pdf:
        pdf.save(owner_only, encryption=pikepdf.Encryption(owner="o", user="", aes=True))
        pdf.save(locked, encryption=pikepdf.Encryption(owner="o", user="secret", aes=True))
    # Permissions-only protection opens with the empty password: the text is read.
    assert "档案移交清单" in (extract_text(owner_only, mime="application/pdf") or [""])[0]
    # A user password: no text, and no error (the checks report the encryption).
    assert extract_text(locked, mime="application/pdf") == []


def test_damaged_pdf_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "坏.pdf"
    bad.write_bytes(b"%PDF-1.7\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n%%EOF")
    with pytest.raises(TextUnavailable) as exc:
        extract_text(bad, mime="application/pdf")
    assert exc.value.problems[0].file == "坏.pdf"
    assert exc.value.problems[0].rule == "全文提取"


def test_ofd_text(tmp_path: Path) -> None:
    ofd = make_ofd(tmp_path / "a.ofd", pages=["第一页 檔案館", "第二页"])
    assert extract_text(ofd, mime="application/ofd", puid="lantai/ofd") == [
        "第一页 檔案館",
        "第二页",
    ]


def test_docx_paragraphs_tabs_and_breaks(tmp_path: Path) -> None:
    doc = document_xml(
        '<w:p><w:r><w:t>關於</w:t></w:r><w:r><w:t xml:space="preserve">檔案館 </w:t></w:r>'
        "<w:r><w:tab/><w:t>通知</w:t></w:r></w:p>",
        "<w:p><w:r><w:t>第一行</w:t><w:br/><w:t>第二行</w:t></w:r></w:p>",
        "<w:p><w:pPr/></w:p>",
    )
    path = make_docx(tmp_path / "a.docx", doc)
    assert extract_text(path, mime=DOCX_MIME, puid="fmt/412") == [
        "關於檔案館 \t通知\n第一行\n第二行\n"
    ]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("not_zip", "无法读取"),
        ("no_document", "word/document.xml"),
        ("entities", "实体"),
        ("malformed", "不可解析"),
        ("bomb", "压缩比"),
    ],
)
def test_docx_refusals(tmp_path: Path, case: str, expected: str) -> None:
    path = tmp_path / f"{case}.docx"
    if case == "not_zip":
        path.write_bytes(b"PK\x03\x04 not really a zip")
    elif case == "no_document":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("[Content_Types].xml", CONTENT_TYPES)
    elif case == "entities":
        make_docx(
            path,
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<w:document xmlns:w="' + W.encode() + b'"><w:body><w:p><w:r><w:t>&x;</w:t>'
            b"</w:r></w:p></w:body></w:document>",
        )
    elif case == "malformed":
        make_docx(path, b"<w:document><w:body>")
    else:
        make_docx(path, document_xml("<w:p><w:r><w:t>" + "档" * 3_000_000 + "</w:t></w:r></w:p>"))
    with pytest.raises(TextUnavailable) as exc:
        extract_text(path, mime=DOCX_MIME)
    assert expected in str(exc.value)
    assert exc.value.problems[0].file == path.name


def test_plain_text_utf8_and_gb18030(tmp_path: Path) -> None:
    utf8 = tmp_path / "u.txt"
    utf8.write_bytes("\ufeff档案馆".encode())
    gbk = tmp_path / "g.txt"
    gbk.write_bytes("档案馆 移交".encode("gb18030"))
    assert extract_text(utf8, mime="text/plain") == ["档案馆"]
    assert extract_text(gbk, mime="text/plain") == ["档案馆 移交"]


def test_formats_without_text(tmp_path: Path) -> None:
    img = tmp_path / "a.tif"
    img.write_bytes(b"II*\x00")
    assert extract_text(img, mime="image/tiff", puid="fmt/353") is None
