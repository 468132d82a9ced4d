"""真实性 checks (GD/YJ-1-x): each passes on the clean transfer and fails on one defect."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from factories import create_series
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
from lantai.archival import Level
from lantai.ingest.checks import Stage, Status
from lantai.ingest.eep_signing import ED25519, LANTAI_RULE, SignatureBlock
from lantai.ingest.transfer import DeclaredTotals, FileRole, SourceKind, TransferNote
from lantai.instance import Instance
from lantai.security import Actor


def _record(t, key):  # type: ignore[no-untyped-def]
    return next(r for r in t.records if r.key == key)


def test_clean_transfer_passes_every_metadata_and_content_item(
    inst: Instance, tmp_path: Path
) -> None:
    codes = [f"GD-1-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14)]
    report = run(inst, clean_transfer(tmp_path), *codes)
    assert {o.spec.code: o.status for o in report.outcomes} == dict.fromkeys(codes, Status.PASSED)


def test_yj_codes_run_the_same_functions(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0002").values["retention"] = "5年"
    report = run(inst, t, "YJ-1-4", stage=Stage.YJ)
    f = finding(report, "YJ-1-4")
    assert (f.code, f.field, f.found, f.record) == ("YJ-1-4", "保管期限", "5年", "DZWJ-0002")


# -- 1-1 ---------------------------------------------------------------------------------------------


def test_1_1_declared_digest_mismatch_fails(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    tf = t.file("0001/正文.ofd")
    assert tf is not None and tf.sha256 is not None
    real = tf.sha256
    tf.declared = {"SHA-256": "0" * 64}
    report = run(inst, t, "GD-1-1")
    f = finding(report, "GD-1-1")
    assert (f.file, f.field, f.expected, f.found) == (
        "0001/正文.ofd",
        "SHA-256 摘要",
        "0" * 64,
        real,
    )
    assert f.record == "DZWJ-0001"
    assert failed(report) == {"GD-1-1"}


def test_1_1_sm3_mismatch_fails_and_undeclared_files_are_manual(
    inst: Instance, tmp_path: Path
) -> None:
    t = clean_transfer(tmp_path, declare_digests=False)
    tf = t.file("0002/正文.ofd")
    assert tf is not None
    tf.declared = {"sm3": "1" * 64}
    report = run(inst, t, "GD-1-1")
    f = finding(report, "GD-1-1")
    assert (f.file, f.field, f.rule) == ("0002/正文.ofd", "SM3 摘要", "GB/T 32905-2016")
    manual = finding(report, "GD-1-1", Status.MANUAL)
    assert "没有发送方声明的摘要或签名" in manual.message and "0001/正文.ofd" in manual.file


def test_1_1_reader_verified_algorithms_count_as_declared(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    for tf in t.files:
        tf.declared = {"md5": "d41d8cd98f00b204e9800998ecf8427e"}
    report = run(inst, t, "GD-1-1")
    assert outcome(report, "GD-1-1").status is Status.PASSED
    t.notes.append(
        TransferNote(
            code="GD-1-1",
            message="manifest-md5.txt 摘要不一致",
            file="0001/正文.ofd",
            severity="error",
        )
    )
    assert run(inst, t, "GD-1-1").outcomes[0].status is Status.FAILED


def _retouch(src: Path, dest: Path, member: str) -> None:
    """Copy an OFD, changing one byte-level detail of ``member`` (a signed part)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == member:
                data = data + b" "
            zout.writestr(info, data)


def test_1_1_ofd_signature_references(inst: Instance, tmp_path: Path) -> None:
    signed = OFD_DIR / "ofdrw-reader__SESV4SignDoc.ofd"
    t = clean_transfer(tmp_path)
    t.records.append(
        item_record("DZWJ-0003", ["0003/签章.ofd"], archival_code="Z109-WS·2011-Y-BGS-0003")
    )
    add_file(t, "0003/签章.ofd", signed, record="DZWJ-0003")
    report = run(inst, t, "GD-1-1")
    assert outcome(report, "GD-1-1").status is Status.MANUAL  # references verified, trust is manual
    assert "Reference 摘要全部核验一致" in finding(report, "GD-1-1", Status.MANUAL).message

    from lantai.formats import ofd

    member = ofd.inspect(signed).signatures[0].references[0].member
    assert member is not None
    broken = tmp_path / "broken.ofd"
    _retouch(signed, broken, member)
    t2 = clean_transfer(tmp_path / "2")
    t2.records.append(
        item_record("DZWJ-0003", ["0003/签章.ofd"], archival_code="Z109-WS·2011-Y-BGS-0003")
    )
    add_file(t2, "0003/签章.ofd", broken, record="DZWJ-0003")
    f = finding(run(inst, t2, "GD-1-1"), "GD-1-1")
    assert f.file == "0003/签章.ofd" and member in f.field and f.expected and f.found != f.expected


def _eep_block(digest: bytes, key: ed25519.Ed25519PrivateKey) -> dict[str, object]:
    spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return SignatureBlock(
        kind="signature",
        layer="current",
        id="SIG-1",
        rule=LANTAI_RULE,
        algorithm=ED25519,
        value=key.sign(digest),
        certificates=(spki,),
        signed_sha256=digest.hex(),
        location="电子签名块/电子签名[1]",
    ).to_dict()


def test_1_1_eep_signature_verified_or_broken(inst: Instance, tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    digest = hashlib.sha256("<被签名对象/>".encode()).digest()
    t = clean_transfer(tmp_path)
    t.records[0].signatures.append(_eep_block(digest, key))
    report = run(inst, t, "GD-1-1")
    assert outcome(report, "GD-1-1").status is Status.MANUAL
    assert "电子签名/锁定签名验证通过" in finding(report, "GD-1-1", Status.MANUAL).message

    block = _eep_block(digest, key)
    block["signed_sha256"] = hashlib.sha256("<被签名对象>改</被签名对象>".encode()).hexdigest()
    t.records[0].signatures[:] = [block]
    f = finding(run(inst, t, "GD-1-1"), "GD-1-1")
    assert f.field == "电子签名" and f.record == "DZWJ-0001" and "验证失败" in f.message


# -- 1-2 … 1-6 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "key", "value", "field", "expected_part", "found_part"),
    [
        ("GD-1-2", "title", "题" * 501, "题名", "不超过 500 个字符", "501 个字符"),
        ("GD-1-3", "date", "2021-13-40", "日期", "YYYYMMDD", "2021-13-40"),
        ("GD-1-4", "retention", "5年", "保管期限", "Y", "5年"),
        ("GD-1-5", "date", "20100101", "日期", "与年度一致", "20100101"),
        ("GD-1-6", "title", "关于\x07印发的通知", "题名", "控制字符", "关于"),
    ],
)
def test_metadata_item_fails_on_one_bad_value(
    inst: Instance,
    tmp_path: Path,
    code: str,
    key: str,
    value: str,
    field: str,
    expected_part: str,
    found_part: str,
) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0002").values[key] = value
    report = run(inst, t, "GD-1-2", "GD-1-3", "GD-1-4", "GD-1-5", "GD-1-6", "GD-2-4")
    assert failed(report) == {code}
    f = finding(report, code)
    assert (f.field, f.record, f.file) == (field, "DZWJ-0002", "目录.xml 第 DZWJ-0002 条")
    assert expected_part in (f.expected or "")
    assert found_part in (f.found or "")


def test_1_3_unknown_element_is_manual(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    r = _record(t, "DZWJ-0001")
    r.values["mystery"] = "x"
    r.source_names["mystery"] = "自定义项"
    f = finding(run(inst, t, "GD-1-3"), "GD-1-3", Status.MANUAL)
    assert (f.field, f.found, f.rule) == ("自定义项", "x", "著录方案")


# -- 1-7 档号 ----------------------------------------------------------------------------------------


def test_1_7_code_with_wrong_separator_and_padding_fails(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0002").values["archival_code"] = "Z109-WS-2011-Y-BGS-2"
    report = run(inst, t, "GD-1-7", "GD-2-6")
    assert failed(report) == {"GD-1-7"}
    f = finding(report, "GD-1-7")
    assert (f.field, f.found, f.record) == ("档号", "Z109-WS-2011-Y-BGS-2", "DZWJ-0002")
    assert "Z109-WS·2011-Y-BGS-0001" in (f.expected or "")
    assert "前补零" in f.message or "间隔号" in f.message


def test_1_7_code_disagreeing_with_values_fails(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0002").values["retention"] = "定期30年"  # the 档号 says Y
    f = finding(run(inst, t, "GD-1-7"), "GD-1-7")
    assert (f.field, f.found) == ("保管期限", "Y")


def test_1_7_record_without_code_needs_the_rule_fields(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    r = _record(t, "DZWJ-0002")
    del r.values["archival_code"]
    report = run(inst, t, "GD-1-7")
    assert outcome(report, "GD-1-7").status is Status.PASSED
    del r.values["retention"]
    f = finding(run(inst, t, "GD-1-7"), "GD-1-7")
    assert f.field == "保管期限" and f.message.startswith("无法按规则生成档号")


# -- 1-8 重复 ----------------------------------------------------------------------------------------


def test_1_8_duplicate_code_in_package_fails(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0002").values["archival_code"] = "Z109-WS·2011-Y-BGS-0001"
    report = run(inst, t, "GD-1-8")
    f = finding(report, "GD-1-8")
    assert (f.field, f.found, f.record, f.expected) == (
        "档号",
        "Z109-WS·2011-Y-BGS-0001",
        "DZWJ-0002",
        "唯一",
    )


def test_1_8_code_already_in_catalogue_fails(
    db_inst: Instance, operator: Actor, tmp_path: Path
) -> None:
    with db_inst.db.read() as s:
        from sqlalchemy import select

        from lantai.store import Record

        fonds_id = s.scalar(select(Record.id).where(Record.archival_code == "Z109"))
    assert fonds_id is not None
    series = create_series(db_inst, operator, fonds_id)
    with db_inst.db.write() as s:
        db_inst.catalogue.create_record(
            s,
            operator,
            parent_id=series.id,
            level=Level.ITEM,
            values={
                "archival_code": "Z109-WS·2011-Y-BGS-0001",
                "title": "已入库的文件",
                "responsible": "某市人民政府办公室",
                "date": "20110101",
                "retention": "Y",
                "org_code": "BGS",
                "doc_number": "市府办发〔2011〕30号",
            },
        )
    report = run(db_inst, clean_transfer(tmp_path), "GD-1-8")
    assert outcome(report, "GD-1-8").status is Status.FAILED
    f = finding(report, "GD-1-8")
    assert (f.field, f.found, f.record) == ("档号", "Z109-WS·2011-Y-BGS-0001", "DZWJ-0001")
    assert "目录数据库" in f.message
    manual = finding(report, "GD-1-8", Status.MANUAL)
    assert (manual.field, manual.found) == ("文件编号", "市府办发〔2011〕30号")


def test_1_8_same_doc_number_in_package_is_manual(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0002").values["doc_number"] = "市府办发〔2011〕12号"
    report = run(inst, t, "GD-1-8")
    assert outcome(report, "GD-1-8").status is Status.MANUAL
    assert finding(report, "GD-1-8", Status.MANUAL).field == "文件编号"


def test_1_8_second_copy_of_an_invoice_fails(inst: Instance, tmp_path: Path) -> None:
    invoice = OFD_DIR / "ofdrw-reader__发票示例.ofd"
    t = clean_transfer(tmp_path)
    for n in (3, 4):
        key = f"DZWJ-000{n}"
        t.records.append(
            item_record(
                key,
                [f"000{n}/发票.ofd"],
                archival_code=f"Z109-WS·2011-Y-BGS-000{n}",
                doc_number=None,
                title=f"报销凭证{n}",
            )
        )
        add_file(t, f"000{n}/发票.ofd", invoice, record=key)
    report = run(inst, t, "GD-1-8")
    f = finding(report, "GD-1-8")
    assert (f.file, f.field, f.found) == ("0004/发票.ofd", "发票号码", "24112000000048542163")
    assert "重复入账" in f.message


def test_1_8_invoice_already_in_the_catalogue_fails(db_inst: Instance, tmp_path: Path) -> None:
    """A record whose fields hold the invoice's number (as cataloguing stores it) blocks a copy."""
    import uuid

    from lantai.store import Record

    with db_inst.db.write() as s:
        s.add(
            Record(
                uid=str(uuid.uuid4()),
                level="item",
                category="KU",
                title="报销凭证（已入账）",
                archival_code="Z109-KU·2024·D30-0001",
                fields={"invoice_code": "", "invoice_no": "24112000000048542163"},
            )
        )
    t = clean_transfer(tmp_path)
    t.records.append(
        item_record("DZWJ-0003", ["0003/发票.ofd"], archival_code="Z109-WS·2011-Y-BGS-0003")
    )
    add_file(t, "0003/发票.ofd", OFD_DIR / "ofdrw-reader__发票示例.ofd", record="DZWJ-0003")
    f = finding(run(db_inst, t, "GD-1-8"), "GD-1-8")
    assert (f.file, f.field, f.found) == ("0003/发票.ofd", "发票号码", "24112000000048542163")
    assert "Z109-KU·2024·D30-0001" in f.message


# -- 1-10 电子属性 -----------------------------------------------------------------------------------


def test_1_10_declared_size_differs(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0001").electronic["0001/正文.ofd"]["计算机文件大小"] = "99"
    report = run(inst, t, "GD-1-10")
    f = finding(report, "GD-1-10")
    tf = t.file("0001/正文.ofd")
    assert tf is not None
    assert (f.field, f.expected, f.found, f.file) == (
        "计算机文件大小",
        "99",
        str(tf.size),
        "0001/正文.ofd",
    )


def test_1_10_ofd_named_pdf_and_declared_format_mismatch(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    r = _record(t, "DZWJ-0001")
    old = t.file("0001/正文.ofd")
    assert old is not None
    t.files.remove(old)
    r.files = ["0001/正文.pdf"]
    r.electronic = {
        "0001/正文.pdf": {
            "计算机文件名": "正文.pdf",
            "计算机文件大小": str(old.size),
            "格式信息": "PDF",
        }
    }
    add_file(t, "0001/正文.pdf", old.local, record=r.key)
    report = run(inst, t, "GD-1-10")
    fields = {f.field for f in outcome(report, "GD-1-10").findings if f.status is Status.FAILED}
    assert fields == {"计算机文件名", "格式信息"}


def test_1_10_page_count_mismatch_fails(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0001").values["pages"] = "7"
    f = finding(run(inst, t, "GD-1-10"), "GD-1-10")
    assert (f.field, f.expected, f.found) == ("页数", "7", "1")


# -- 1-11 关联 ---------------------------------------------------------------------------------------


def test_1_11_orphan_file_fails(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    add_file(t, "多余/说明.ofd", OFD_DIR / "ofdrw-converter__helloworld.ofd")
    report = run(inst, t, "GD-1-11", "GD-2-7")
    assert failed(report) == {"GD-1-11"}
    f = finding(report, "GD-1-11")
    assert (f.file, f.found) == ("多余/说明.ofd", "无记录引用")


def test_1_11_missing_file_fails_with_case_hint(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0002").files = ["0002/正文.OFD"]
    f = next(
        x for x in outcome(run(inst, t, "GD-1-11"), "GD-1-11").findings if x.record == "DZWJ-0002"
    )
    assert (f.status, f.file, f.found) == (Status.FAILED, "0002/正文.OFD", "0002/正文.ofd")


def test_1_11_without_records_is_manual(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    t.records.clear()
    assert outcome(run(inst, t, "GD-1-11"), "GD-1-11").status is Status.MANUAL


# -- 1-12 / 1-13 -------------------------------------------------------------------------------------


def test_1_12_offline_transfer_without_catalogue_fails_without_register_is_manual(
    inst: Instance, tmp_path: Path
) -> None:
    t = clean_transfer(tmp_path)
    t.register = None
    f = finding(run(inst, t, "GD-1-12"), "GD-1-12", Status.MANUAL)
    assert (f.field, f.found, f.rule) == ("登记表", "缺失", "档发〔2012〕7号 附件3")
    t.files = [f for f in t.files if f.role is not FileRole.METADATA]
    report = run(inst, t, "GD-1-12")
    assert report.decision.value == "reject"  # 1-12 is blocking
    assert finding(report, "GD-1-12").field == "目录文件"


def test_1_12_eep_with_wrong_description_fails(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(
        tmp_path,
        kind=SourceKind.EEP,
        structure={"eep_packages": {"a.eep": {"封装包格式描述": "自定义封装"}}},
    )
    f = finding(run(inst, t, "GD-1-12"), "GD-1-12")
    assert (f.file, f.field, f.found) == ("a.eep", "封装包格式描述", "自定义封装")


def test_1_12_bag_without_bag_info_is_manual(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path, kind=SourceKind.BAGIT)
    for name in ("bagit.txt", "manifest-sha256.txt"):
        add_file(t, f"../{name}", b"x", role=FileRole.TAG)
    report = run(inst, t, "GD-1-12")
    f = finding(report, "GD-1-12", Status.MANUAL)
    assert (f.file, f.found) == ("bag-info.txt", "缺失")
    add_file(t, "../bag-info.txt", b"Source-Organization: x\n", role=FileRole.TAG)
    assert run(inst, t, "GD-1-12").outcomes[0].status is Status.PASSED
    t.files = [f for f in t.files if not f.path.endswith("bagit.txt")]
    assert finding(run(inst, t, "GD-1-12"), "GD-1-12").file == "bagit.txt"


def test_1_13_reader_findings_and_eep_type(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    t.notes.append(
        TransferNote(code="YJ-1-13", message="bag-info.txt 行尾不规范", file="bag-info.txt")
    )
    report = run(inst, t, "GD-1-13")
    f = finding(report, "GD-1-13", Status.MANUAL)
    assert (f.message, f.file) == ("bag-info.txt 行尾不规范", "bag-info.txt")
    t2 = clean_transfer(tmp_path / "eep", kind=SourceKind.EEP, structure={"封装包类型": "混合型"})
    f2 = finding(run(inst, t2, "GD-1-13"), "GD-1-13")
    assert (f2.field, f2.found) == ("封装包类型", "混合型")


# -- 1-14 --------------------------------------------------------------------------------------------


def test_1_14_package_digest_differs_from_declared(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    t.declared = replace(t.declared, package_sha256="c" * 64)
    f = finding(run(inst, t, "GD-1-14"), "GD-1-14")
    assert (f.field, f.expected, f.found, f.file, f.rule) == (
        "SHA-256 摘要",
        "c" * 64,
        "a" * 64,
        "移交包-2026-001",
        "交接单据",
    )


def test_1_14_undeclared_package_digest_is_manual(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    t.declared = DeclaredTotals()
    f = finding(run(inst, t, "GD-1-14"), "GD-1-14", Status.MANUAL)
    assert f.found is not None and "a" * 64 in f.found
