"""可用性 checks (GD/YJ-3-x): each passes on the clean transfer and fails on one defect."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from ingest.builders import _encrypted_zip, minimal_pdf
from ingest.checks.support import (
    OFD_DIR,
    add_file,
    clean_transfer,
    failed,
    finding,
    item_record,
    outcome,
    run,
)
from lantai.ingest.checks import Status
from lantai.ingest.transfer import FileRole, Transfer, TransferNote
from lantai.instance import Instance

CODES = ("GD-3-1", "GD-3-2", "GD-3-3", "GD-3-8")
PDFA = Path("/work/shared/fixtures/pdfa/verapdf-corpus-sample")


def _with_content(t: Transfer, name: str, source: bytes | Path) -> str:
    """Add a third 件 whose only file is ``name``; returns its payload path."""
    path = f"0003/{name}"
    t.records.append(item_record("DZWJ-0003", [path], archival_code="Z109-WS·2011-Y-BGS-0003"))
    add_file(t, path, source, record="DZWJ-0003")
    return path


def test_clean_transfer_passes_every_usability_item(inst: Instance, tmp_path: Path) -> None:
    report = run(inst, clean_transfer(tmp_path), *CODES)
    assert {o.spec.code: o.status for o in report.outcomes} == dict.fromkeys(CODES, Status.PASSED)


# -- 3-1 ---------------------------------------------------------------------------------------------


def test_3_1_malformed_metadata_xml_fails(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    add_file(t, "补充目录.xml", "<目录><条目></目录>".encode(), role=FileRole.METADATA)
    report = run(inst, t, *CODES)
    assert failed(report) == {"GD-3-1"}
    f = finding(report, "GD-3-1")
    assert f.file == "补充目录.xml" and "无法解析" in f.message


def test_3_1_reader_schema_problems_fail(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    t.notes.append(
        TransferNote(
            code="GD-3-1",
            message="封装包不符合 DA/T 48 XML Schema：缺少「封装包创建时间」",
            file="a.eep",
            severity="error",
        )
    )
    f = finding(run(inst, t, "GD-3-1"), "GD-3-1")
    assert (f.file, f.rule) == ("a.eep", "读取信息包时发现")


# -- 3-2 ---------------------------------------------------------------------------------------------


def test_3_2_unknown_target_fonds_fails(db_inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path, fonds_code="Z999")
    report = run(db_inst, t, "GD-3-2")
    f = finding(report, "GD-3-2")
    assert (f.field, f.found) == ("全宗号", "Z999")
    assert (
        outcome(run(db_inst, clean_transfer(tmp_path / "ok"), "GD-3-2"), "GD-3-2").status
        is Status.PASSED
    )


def test_3_2_no_target_fonds_is_manual_and_bad_category_fails(
    inst: Instance, tmp_path: Path
) -> None:
    t = clean_transfer(tmp_path, fonds_code=None)
    assert outcome(run(inst, t, "GD-3-2"), "GD-3-2").status is Status.MANUAL
    t2 = clean_transfer(tmp_path / "2", category="XX")
    t2.register = None
    f = finding(run(inst, t2, "GD-3-2"), "GD-3-2")
    assert (f.field, f.found, f.rule) == ("门类", "XX", "DA/T 13-2022")


# -- 3-3 ---------------------------------------------------------------------------------------------


def test_3_3_unidentifiable_format_is_rejected(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    path = _with_content(t, "附件.未知格式", b"\x00\x13garbage" * 20)
    report = run(inst, t, *CODES)
    assert failed(report) == {"GD-3-3"}
    f = finding(report, "GD-3-3")
    assert (f.file, f.field, f.record) == (path, "格式", "DZWJ-0003")
    assert "未识别" in (f.found or "")


def test_3_3_broken_ofd_does_not_open(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    path = _with_content(t, "图片缺失.ofd", OFD_DIR / "ofdrw-converter__testImageNotFound.ofd")
    f = finding(run(inst, t, "GD-3-3"), "GD-3-3")
    assert (f.file, f.expected, f.rule) == (path, "能正常打开浏览", "GB/T 33190-2016（宽松模式）")


def test_3_3_truncated_pdf_does_not_open(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    path = _with_content(t, "正文.pdf", minimal_pdf()[:200])
    f = next(x for x in outcome(run(inst, t, "GD-3-3"), "GD-3-3").findings if x.field == "内容数据")
    assert (f.status, f.file, f.found) == (Status.FAILED, path, "PDF 解析失败")


def test_3_3_plain_pdf_is_accepted_with_a_flag(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    path = _with_content(t, "正文.pdf", minimal_pdf())
    report = run(inst, t, "GD-3-3")
    assert outcome(report, "GD-3-3").status is Status.MANUAL
    f = finding(report, "GD-3-3", Status.MANUAL)
    assert f.file == path and "PDF" in f.message


def test_3_3_pdfa_claim_not_met_is_manual(inst: Instance, tmp_path: Path) -> None:
    bad = next(PDFA.glob("PDF_A-2b/**/*t01-fail-p.pdf"))
    t = clean_transfer(tmp_path)
    _with_content(t, "正文.pdf", bad)
    report = run(inst, t, "GD-3-3")
    messages = [f.message for f in outcome(report, "GD-3-3").findings]
    assert outcome(report, "GD-3-3").status is Status.MANUAL
    assert any("PDF/A" in m and "符合性校验未通过" in m for m in messages)


def test_3_3_images_and_audio_are_opened(inst: Instance, tmp_path: Path) -> None:
    png = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(png, "PNG")
    wav = io.BytesIO()
    with wave.open(wav, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 8000)
    t = clean_transfer(tmp_path)
    t.records.append(
        item_record(
            "DZWJ-0003", ["0003/照片.png", "0003/录音.wav"], archival_code="Z109-WS·2011-Y-BGS-0003"
        )
    )
    add_file(t, "0003/照片.png", png.getvalue(), record="DZWJ-0003")
    add_file(t, "0003/录音.wav", wav.getvalue(), record="DZWJ-0003")
    report = run(inst, t, "GD-3-3")
    opened = [f for f in outcome(report, "GD-3-3").findings if f.field == "内容数据"]
    assert opened == []  # both decoded; only policy findings (if any) remain
    broken = clean_transfer(tmp_path / "2")
    path = _with_content(broken, "照片.png", png.getvalue()[:45])
    f = next(
        x for x in outcome(run(inst, broken, "GD-3-3"), "GD-3-3").findings if x.field == "内容数据"
    )
    assert (f.status, f.file) == (Status.FAILED, path)


# -- 3-8 ---------------------------------------------------------------------------------------------


def test_3_8_encrypted_zip_member_fails(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    path = _with_content(t, "附件.zip", _encrypted_zip())
    report = run(inst, t, "GD-3-8")
    f = finding(report, "GD-3-8")
    assert (f.file, f.record, f.expected) == (
        path,
        "DZWJ-0003",
        "未加密、无口令、使用公开的压缩算法",
    )
    assert "secret.txt" in f.message


@pytest.mark.parametrize("user_password", ["", "123456"])
def test_3_8_password_protected_pdf_fails(
    inst: Instance, tmp_path: Path, user_password: str
) -> None:
    src = tmp_path / "plain.pdf"
    src.write_bytes(minimal_pdf())
    locked = tmp_path / "locked.pdf"
    with pikepdf.open(src) as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(owner="owner-secret", user=user_password))
    t = clean_transfer(tmp_path / "t")
    path = _with_content(t, "正文.pdf", locked)
    f = finding(run(inst, t, "GD-3-8"), "GD-3-8")
    assert f.file == path
    assert f.field == ("设有打开口令" if user_password else "内容加密")
