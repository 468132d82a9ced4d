"""Full texts of a transfer: OFD texts at check time, plain texts decoded when cataloguing."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from lantai.ingest import fulltexts
from lantai.ingest.fulltexts import document_texts, plain_texts
from lantai.ingest.transfer import FileRole, FormatInfo, SourceKind, Transfer, TransferFile

TEXT = FormatInfo(puid="x-fmt/111", name="Plain Text File", mime="text/plain")
OFD = FormatInfo(puid="lantai/ofd", name="OFD 版式文档", mime="application/ofd")


def _transfer(
    tmp_path: Path, files: dict[str, tuple[bytes, FormatInfo | None, FileRole]]
) -> Transfer:
    out = []
    for name, (data, fmt, role) in files.items():
        p = tmp_path / name
        p.write_bytes(data)
        out.append(TransferFile(path=name, local=p, size=len(data), role=role, format=fmt))
    return Transfer(
        uid="t", kind=SourceKind.BAGIT, source_name="t", staging=tmp_path, payload_root=tmp_path,
        files=out,
    )  # fmt: skip


def test_plain_texts_are_decoded_from_the_staged_files(tmp_path: Path) -> None:
    t = _transfer(
        tmp_path,
        {
            "utf8.txt": ("\ufeff关于开放档案的通知\x00".encode(), TEXT, FileRole.CONTENT),
            "gbk.txt": ("会议纪要".encode("gb18030"), TEXT, FileRole.CONTENT),
            "blank.txt": (b" \n ", TEXT, FileRole.CONTENT),
            "tag.txt": (b"BagIt-Version: 1.0", TEXT, FileRole.TAG),
            "doc.ofd": (b"PK\x03\x04", OFD, FileRole.CONTENT),
        },
    )
    assert plain_texts(t) == {"utf8.txt": "关于开放档案的通知", "gbk.txt": "会议纪要"}


def test_plain_texts_skip_files_over_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = _transfer(tmp_path, {"big.txt": (b"x" * 64, TEXT, FileRole.CONTENT)})
    assert plain_texts(t) == {"big.txt": "x" * 64}
    monkeypatch.setattr(fulltexts, "MAX_TEXT_BYTES", 10)
    assert plain_texts(t) == {}


def test_document_texts_come_from_the_checks_and_leave_plain_text_alone(tmp_path: Path) -> None:
    t = _transfer(
        tmp_path,
        {
            "doc.ofd": (b"PK\x03\x04", OFD, FileRole.CONTENT),
            "note.txt": ("正文".encode(), TEXT, FileRole.CONTENT),
        },
    )
    opened = SimpleNamespace(ofd=SimpleNamespace(texts=["第一页", "", "第二页"]))
    assert document_texts({"inspections": {"doc.ofd": opened}}, t) == {"doc.ofd": "第一页\n第二页"}


def test_document_texts_read_pdf_and_docx(tmp_path: Path) -> None:
    from formats.test_fulltext import document_xml, make_docx, make_pdf
    from lantai.formats.fulltext import DOCX_MIME

    make_pdf(tmp_path / "a.pdf", ["关于档案移交的通知"])
    make_docx(tmp_path / "b.docx", document_xml("<w:p><w:r><w:t>會議紀要</w:t></w:r></w:p>"))
    (tmp_path / "c.pdf").write_bytes(b"%PDF-1.4 damaged")
    t = Transfer(
        uid="t", kind=SourceKind.BAGIT, source_name="t", staging=tmp_path, payload_root=tmp_path,
        files=[
            TransferFile(path=n, local=tmp_path / n, size=(tmp_path / n).stat().st_size,
                         role=FileRole.CONTENT, format=fmt)
            for n, fmt in (
                ("a.pdf", FormatInfo(puid="fmt/276", name="PDF 1.7", mime="application/pdf")),
                ("b.docx", FormatInfo(puid="fmt/412", name="DOCX", mime=DOCX_MIME)),
                ("c.pdf", FormatInfo(puid="fmt/18", name="PDF 1.4", mime="application/pdf")),
            )
        ],
    )  # fmt: skip
    texts = document_texts({}, t)
    assert "关于档案移交的通知" in texts["a.pdf"]
    assert texts["b.docx"] == "會議紀要"
    assert "c.pdf" not in texts  # damaged: no text, no error (the checks report the file)
