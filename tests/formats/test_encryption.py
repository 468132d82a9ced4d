"""Encryption, passwords and non-public compression (DA/T 70 3-4), on files made at test time."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pikepdf
from msoffcrypto.format.ooxml import OOXMLFile

from formats.ofd_builder import make_ofd
from lantai.formats.encryption import ProtectionKind, detect_protection

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)


def _docx(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr(
            "word/document.xml",
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            "<w:body><w:p><w:r><w:t>兰台</w:t></w:r></w:p></w:body></w:document>",
        )
    return path


def _patch_zip(path: Path, *, flag: int | None = None, method: int | None = None) -> Path:
    """Set the general-purpose flag / method of every entry, in local and central headers."""
    data = bytearray(path.read_bytes())
    for sig, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = data.find(sig)
        while at >= 0:
            if flag is not None:
                old = struct.unpack_from("<H", data, at + flag_at)[0]
                struct.pack_into("<H", data, at + flag_at, old | flag)
            if method is not None:
                struct.pack_into("<H", data, at + method_at, method)
            at = data.find(sig, at + 4)
    path.write_bytes(bytes(data))
    return path


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_plain_files_have_no_findings(tmp_path: Path) -> None:
    plain = [
        _docx(tmp_path / "a.docx"),
        make_ofd(tmp_path / "a.ofd"),
        _zip(tmp_path / "a.zip", {"x.txt": b"hello"}),
    ]
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(tmp_path / "a.pdf")
    plain.append(tmp_path / "a.pdf")
    (tmp_path / "a.txt").write_text("没有加密", encoding="utf-8")
    plain.append(tmp_path / "a.txt")
    for p in plain:
        assert detect_protection(p) == [], p.name
    assert detect_protection(tmp_path / "missing.bin") == []


def test_encrypted_ooxml(tmp_path: Path) -> None:
    out = io.BytesIO()
    with (_docx(tmp_path / "plain.docx")).open("rb") as f:
        OOXMLFile(f).encrypt("口令123", out)
    locked = tmp_path / "locked.docx"
    locked.write_bytes(out.getvalue())
    [finding] = detect_protection(locked)
    assert finding.kind is ProtectionKind.PASSWORD
    assert "EncryptedPackage" in finding.message


def test_encrypted_zip_members(tmp_path: Path) -> None:
    legacy = _patch_zip(_zip(tmp_path / "e.zip", {"a.txt": b"1", "b.txt": b"2"}), flag=0x1)
    found = detect_protection(legacy)
    assert [(f.kind, f.member, f.detail) for f in found] == [
        (ProtectionKind.ENCRYPTED, "a.txt", "PKWARE 传统加密"),
        (ProtectionKind.ENCRYPTED, "b.txt", "PKWARE 传统加密"),
    ]
    aes = _patch_zip(_zip(tmp_path / "aes.zip", {"a.txt": b"1"}), method=99)
    assert [(f.kind, f.detail) for f in detect_protection(aes)] == [
        (ProtectionKind.ENCRYPTED, "AES")
    ]


def test_encrypted_ofd_member_and_ofd_encryption(tmp_path: Path) -> None:
    ofd = _patch_zip(make_ofd(tmp_path / "x.ofd"), flag=0x1)
    assert {f.kind for f in detect_protection(ofd)} == {ProtectionKind.ENCRYPTED}
    src = make_ofd(tmp_path / "y.ofd")
    gm = tmp_path / "gm.ofd"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(gm, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        zout.writestr("Encryptions.xml", "<Encryptions/>")
    [finding] = detect_protection(gm)
    assert (finding.kind, finding.member) == (ProtectionKind.ENCRYPTED, "Encryptions.xml")


def test_non_public_zip_method(tmp_path: Path) -> None:
    odd = _patch_zip(_zip(tmp_path / "m.zip", {"a.bin": b"x" * 10}), method=77)
    [finding] = detect_protection(odd)
    assert finding.kind is ProtectionKind.NON_PUBLIC_COMPRESSION
    assert finding.detail == "ZIP method 77" and finding.member == "a.bin"
    public = _zip(tmp_path / "p.zip", {"a.bin": b"x"})
    for method in (8, 12, 14, 93):
        assert detect_protection(_patch_zip(public, method=method)) == []


def test_rar_is_non_public(tmp_path: Path, fixtures_dir: Path) -> None:
    rar = fixtures_dir / "format-id/skeleton-suite-dev-subset/x-fmt/x-fmt-264-signature-id-590.rar"
    [finding] = detect_protection(rar)
    assert finding.kind is ProtectionKind.NON_PUBLIC_COMPRESSION and finding.detail == "RAR"


def test_encrypted_odf(tmp_path: Path) -> None:
    manifest = (
        b'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        b'<manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data/>'
        b"</manifest:file-entry></manifest:manifest>"
    )
    odt = _zip(
        tmp_path / "a.odt",
        {"mimetype": b"application/vnd.oasis.opendocument.text", "META-INF/manifest.xml": manifest},
    )
    [finding] = detect_protection(odt)
    assert finding.kind is ProtectionKind.PASSWORD and finding.member == "META-INF/manifest.xml"


def test_pdf_password_and_restrictions(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(tmp_path / "u.pdf", encryption=pikepdf.Encryption(user="u", owner="o"))
    pdf.save(
        tmp_path / "o.pdf",
        encryption=pikepdf.Encryption(user="", owner="o", aes=False, R=3, metadata=False),
    )
    assert [f.kind for f in detect_protection(tmp_path / "u.pdf")] == [ProtectionKind.PASSWORD]
    pdf.save(tmp_path / "a.pdf", encryption=pikepdf.Encryption(user="", owner="o"))
    assert detect_protection(tmp_path / "a.pdf")[0].detail == "AES-256"
    [restricted] = detect_protection(tmp_path / "o.pdf")
    assert restricted.kind is ProtectionKind.ENCRYPTED and restricted.detail == "RC4"
