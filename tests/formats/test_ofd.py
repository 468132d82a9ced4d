"""OFD (GB/T 33190-2016): validation in both modes, pages, text, signature references, invoices.

The outcome table covers every ofdrw sample in ../shared/fixtures/ofd. None of them passes the
strict mode (they use Version 1.1/1.2, OFD-A, the SM3 CheckMethod, the pre-standard namespace or
a non-standard element order); the strict mode is shown to pass on a file built to the standard.
"""

from __future__ import annotations

import shutil
import warnings
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from formats.ofd_builder import INVOICE, add_raw_member, make_ofd, replace_member
from lantai.formats import ofd

# file → (valid in tolerant mode, Version, DocType, pages, why tolerant fails)
OUTCOMES: dict[str, tuple[bool, str, str, int, str]] = {
    "ofdrw-archive__test-ofda.ofd": (True, "1.2", "OFD-A", 1, ""),
    "ofdrw-converter__20240531141733.ofd": (True, "1.0", "OFD", 1, ""),
    "ofdrw-converter__helloworld.ofd": (True, "1.0", "OFD", 1, ""),
    "ofdrw-converter__testImageNotFound.ofd": (False, "1.0", "OFD", 2, "image_135.PNG"),
    "ofdrw-converter__发票监制章-数科.ofd": (True, "1.0", "OFD", 1, ""),
    "ofdrw-converter__发票示例.ofd": (True, "1.1", "OFD", 1, ""),
    "ofdrw-converter__文字横向-数科.ofd": (True, "1.0", "OFD", 1, ""),
    "ofdrw-converter__透明度文字.ofd": (True, "1.0", "OFD", 1, ""),
    "ofdrw-crypto__hello-integrity.ofd": (True, "1.0", "OFD", 2, ""),
    "ofdrw-layout__fptpl.ofd": (False, "1.0", "OFD", 1, "Signatures.xml"),
    "ofdrw-layout__no_page_container.ofd": (True, "1.1", "OFD", 1, ""),
    "ofdrw-layout__拿来主义_page6.ofd": (True, "1.0", "OFD", 2, ""),
    "ofdrw-reader__AddAttachment.ofd": (True, "1.0", "OFD", 1, ""),
    "ofdrw-reader__SESV4SignDoc.ofd": (True, "1.0", "OFD", 1, ""),
    "ofdrw-reader__chineseDir.ofd": (True, "1.0", "OFD", 1, ""),
    "ofdrw-reader__keyword.ofd": (False, "1.0", "OFD", 1, "Annotations.xml"),
    "ofdrw-reader__path_unstd.ofd": (True, "1.0", "OFD", 2, ""),
    "ofdrw-reader__发票示例.ofd": (True, "1.0", "OFD", 1, ""),
    "ofdrw-sign__DigitalSign.ofd": (True, "1.0", "OFD", 1, ""),
    "ofdrw-sign__namespace_no_std.ofd": (True, "1.0", "OFD", 1, ""),
    "ofdrw-sign__v4signed.ofd": (True, "1.1", "OFD", 1, ""),
}

# file → per signature: (ID, Type, CheckMethod, references ok, members whose digest no longer matches)
SIGNATURES: dict[str, list[tuple[str, str, str, bool, set[str]]]] = {
    "ofdrw-converter__testImageNotFound.ofd": [
        ("1", "Sign", ofd.SM3_OID, True, set()),
        ("2", "Sign", ofd.SM3_OID, True, set()),
    ],
    # the sample's Document.xml was changed after sealing (ofd-cli reports the same)
    "ofdrw-converter__发票示例.ofd": [("1", "Seal", ofd.SM3_OID, False, {"Doc_0/Document.xml"})],
    "ofdrw-reader__SESV4SignDoc.ofd": [("1", "Seal", "SM3", True, set())],
    "ofdrw-reader__keyword.ofd": [
        (
            "2",
            "Seal",
            "SM3",
            False,
            {"OFD.xml", "Doc_0/Document.xml", "Doc_0/Pages/Page_0/Content.xml"},
        ),
        (
            "4",
            "Sign",
            "SM3",
            False,
            {"OFD.xml", "Doc_0/Document.xml", "Doc_0/Pages/Page_0/Content.xml"},
        ),
    ],
    "ofdrw-sign__DigitalSign.ofd": [("s001", "Sign", "SM3", True, set())],
    "ofdrw-sign__v4signed.ofd": [("1", "Seal", ofd.SM3_OID, True, set())],
}


@pytest.fixture(scope="module")
def samples(fixtures_dir: Path) -> Path:
    return fixtures_dir / "ofd" / "ofdrw-samples"


def test_outcome_table_covers_every_fixture(samples: Path) -> None:
    assert {p.name for p in samples.glob("*.ofd")} == set(OUTCOMES)


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_fixture_outcome(samples: Path, name: str) -> None:
    tolerant_ok, version, doc_type, pages, why = OUTCOMES[name]
    r = ofd.inspect(samples / name)
    assert (r.version, r.doc_type, r.page_count) == (version, doc_type, pages)
    assert r.valid_tolerant is tolerant_ok, [str(p) for p in r.tolerant_problems]
    assert not r.valid_strict  # see the module docstring
    # every tolerant problem is also a strict problem; strict never reports less
    assert set(r.tolerant_problems) <= set(r.strict_problems)
    if not tolerant_ok:
        assert any(why in str(p) for p in r.tolerant_problems)
        assert all(p.file == name and p.field for p in r.tolerant_problems)
    assert ofd.validate(samples / name, strict=False) == list(r.tolerant_problems)
    assert ofd.page_count(samples / name) == pages


def test_strict_mode_reasons_are_named(samples: Path) -> None:
    ofda = ofd.validate(samples / "ofdrw-archive__test-ofda.ofd", strict=True)
    messages = " | ".join(p.message for p in ofda)
    assert "Version 为 1.2" in messages and "DocType 为 OFD-A" in messages
    legacy = ofd.validate(samples / "ofdrw-sign__namespace_no_std.ofd", strict=True)
    assert any("非标准命名空间" in p.message and p.field == "OFD.xml" for p in legacy)
    sm3 = ofd.validate(samples / "ofdrw-reader__SESV4SignDoc.ofd", strict=True)
    assert any("CheckMethod=SM3" in p.message for p in sm3)
    invoice = ofd.validate(samples / "ofdrw-converter__发票示例.ofd", strict=True)
    assert any("MaxUnitID" in p.message for p in invoice)


def test_built_document_is_strictly_valid(tmp_path: Path) -> None:
    for method in (None, "MD5", "SHA1"):
        path = make_ofd(tmp_path / f"{method}.ofd", pages=["一", "二", "三"], signed=method)
        assert ofd.validate(path, strict=True) == []
        assert ofd.page_count(path) == 3
    sm3 = make_ofd(tmp_path / "sm3.ofd", signed="SM3")
    assert ofd.validate(sm3, strict=False) == []
    assert [p.message for p in ofd.validate(sm3, strict=True)] == [
        "CheckMethod=SM3：GB/T 33190-2016 的 XSD 只允许 MD5、SHA1"
    ]


def test_version_and_doc_type_tolerance(tmp_path: Path) -> None:
    ofda = make_ofd(tmp_path / "a.ofd", version="1.2", doc_type="OFD-A")
    assert ofd.validate(ofda) == []
    assert len(ofd.validate(ofda, strict=True)) == 2
    assert ofd.inspect(ofda).archival
    odd = make_ofd(tmp_path / "b.ofd", version="2.0", doc_type="XYZ")
    messages = [p.message for p in ofd.validate(odd)]
    assert messages == [
        "Version 为 2.0，GB/T 33190-2016 固定为 1.0",
        "DocType 为 XYZ，GB/T 33190-2016 固定为 OFD",
    ]


def test_pages_and_text(samples: Path) -> None:
    assert ofd.page_texts(samples / "ofdrw-converter__helloworld.ofd") == [
        "你好呀，OFD Reader&Writer！"
    ]
    lu_xun = ofd.page_texts(samples / "ofdrw-layout__拿来主义_page6.ofd")
    assert len(lu_xun) == 2
    assert lu_xun[0].startswith("拿来主义\n鲁迅\n中国一向是所谓“闭关主义”")
    assert "孱头" in lu_xun[1]
    keyword = ofd.page_texts(samples / "ofdrw-reader__keyword.ofd")[0]
    assert "鲁（2020）泰安市不动产证明第0014777号" in keyword
    assert keyword.startswith("2020 05 08\n")  # same line: spaces; new baseline: newline
    assert ofd.page_texts(samples / "ofdrw-converter__testImageNotFound.ofd")[0] == ""


def test_text_follows_textcode_order(tmp_path: Path) -> None:
    path = make_ofd(tmp_path / "t.ofd", pages=["甲乙丙", "第二页 second"])
    assert ofd.page_texts(path) == ["甲乙丙", "第二页 second"]


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signature_references(samples: Path, name: str) -> None:
    sigs = ofd.verify_signatures(samples / name)
    got = [
        (
            s.id,
            s.type,
            s.check_method,
            s.references_ok,
            {r.member for r in s.references if not r.ok},
        )
        for s in sigs
    ]
    assert got == SIGNATURES[name]
    for s in sigs:
        assert s.value_verified is None  # the SM2/PKCS#7 value needs a trust store: 人工复核
        for r in s.references:
            assert r.algorithm in ("SM3", "MD5", "SHA1")
            assert (r.actual == r.expected) is r.ok


def test_unsigned_samples_have_no_signatures(samples: Path) -> None:
    for name in set(OUTCOMES) - set(SIGNATURES):
        assert ofd.verify_signatures(samples / name) == [], name


def test_editing_a_signed_file_breaks_its_reference(samples: Path, tmp_path: Path) -> None:
    src = samples / "ofdrw-reader__SESV4SignDoc.ofd"
    member = "Doc_0/Pages/Page_0/Content.xml"
    with zipfile.ZipFile(src) as zf:
        original = zf.read(member)
    edited = replace_member(
        src, tmp_path / "edited.ofd", member, original.replace("你好呀".encode(), "你好吗".encode())
    )
    [sig] = ofd.verify_signatures(edited)
    assert not sig.references_ok
    broken = [r for r in sig.references if not r.ok]
    assert [(r.member, r.algorithm) for r in broken] == [(member, "SM3")]
    assert broken[0].problem == "SM3 摘要不一致：文件在签名后被修改"
    # the copy is otherwise the same document: structure and text still read
    assert ofd.validate(edited) == []
    assert ofd.page_texts(edited) == ["你好吗，OFD Reader&Writer！"]


@pytest.mark.parametrize("method", ["MD5", "SHA1", "SM3", ofd.SM3_OID])
def test_each_check_method_verifies_and_detects_tampering(tmp_path: Path, method: str) -> None:
    path = make_ofd(tmp_path / "s.ofd", pages=["原文"], signed=method)
    [sig] = ofd.verify_signatures(path)
    assert sig.references_ok and len(sig.references) == 4
    removed = replace_member(path, tmp_path / "r.ofd", "Doc_0/PublicRes.xml", None)
    [sig] = ofd.verify_signatures(removed)
    assert [(r.member, r.problem) for r in sig.references if not r.ok] == [
        (None, "被保护的文件不存在")
    ]


def test_unknown_check_method_is_not_verified(tmp_path: Path) -> None:
    path = make_ofd(tmp_path / "s.ofd", signed="MD5")
    member = "Doc_0/Signs/Sign_0/Signature.xml"
    with zipfile.ZipFile(path) as zf:
        xml = zf.read(member).replace(b'CheckMethod="MD5"', b'CheckMethod="GOST"')
    bad = replace_member(path, tmp_path / "g.ofd", member, xml)
    [sig] = ofd.verify_signatures(bad)
    assert not sig.references_ok
    assert sig.problems == ("不支持的摘要算法 CheckMethod=GOST",)


def test_invoice_fields(samples: Path) -> None:
    inv = ofd.read_invoice(samples / "ofdrw-converter__发票示例.ofd")
    assert inv is not None
    assert (inv.kind, inv.code, inv.number) == ("增值税电子发票", "050001700111", "99999951")
    assert (inv.issue_date, inv.issue_date_text) == (date(2020, 10, 10), "2020年10月10日")
    assert inv.check_code == "14754822929856772523"
    assert (inv.amount, inv.tax, inv.total) == (
        Decimal("300.00"),
        Decimal("18.00"),
        Decimal("318.00"),
    )
    assert (inv.seller_name, inv.seller_tax_id) == (
        "杭州融易算企业管理咨询有限公司",
        "91500106MA2CE71F65",
    )
    assert inv.source == "Doc_0/Attachs/original_invoice.xml"
    # 数电票 data from OFD.xml CustomData (no attachment): 20-digit number, no code
    digital = ofd.read_invoice(samples / "ofdrw-reader__发票示例.ofd")
    assert digital is not None
    assert (digital.kind, digital.code, digital.number, digital.source) == (
        "数电票",
        None,
        "24112000000048542163",
        "OFD.xml",
    )
    assert digital.issue_date == date(2024, 5, 28)
    assert digital.key == ("", "24112000000048542163")
    assert ofd.read_invoice(samples / "ofdrw-converter__helloworld.ofd") is None


def test_second_copy_of_an_invoice_is_flagged(samples: Path) -> None:
    names = sorted(OUTCOMES)
    invoices = [(n, inv) for n in names if (inv := ofd.read_invoice(samples / n)) is not None]
    assert len(invoices) == 6
    dups = ofd.duplicate_invoices(invoices)
    assert [(a, b, inv.key) for a, b, inv in dups] == [
        (
            "ofdrw-converter__20240531141733.ofd",
            "ofdrw-reader__发票示例.ofd",
            ("", "24112000000048542163"),
        ),
        ("ofdrw-converter__发票示例.ofd", "ofdrw-sign__v4signed.ofd", ("050001700111", "99999951")),
    ]


def test_stand_alone_invoice_xml(samples: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(samples / "ofdrw-layout__no_page_container.ofd") as zf:
        (tmp_path / "original_invoice.xml").write_bytes(
            zf.read("Doc_0/Attachs/original_invoice.xml")
        )
    inv = ofd.read_invoice_xml(tmp_path / "original_invoice.xml")
    assert inv is not None and inv.key == ("031001900511", "04875996")
    assert inv.tax is None  # written as *** (免税)
    assert inv.source == "original_invoice.xml"
    digital = tmp_path / "数电票.xml"
    digital.write_text(
        "<EInvoice><Header><EIid>25442000000123456789</EIid></Header><EInvoiceData>"
        "<BasicInformation><RequestTime>2025-01-02 10:11:12</RequestTime>"
        "<TotalAmWithoutTax>100.00</TotalAmWithoutTax><TotalTaxAm>13.00</TotalTaxAm>"
        "</BasicInformation></EInvoiceData></EInvoice>",
        encoding="utf-8",
    )
    dinv = ofd.read_invoice_xml(digital)
    assert dinv is not None
    assert (dinv.kind, dinv.number, dinv.issue_date) == (
        "数电票",
        "25442000000123456789",
        date(2025, 1, 2),
    )
    assert (dinv.amount, dinv.tax) == (Decimal("100.00"), Decimal("13.00"))
    (tmp_path / "other.xml").write_text("<a><b>x</b></a>", encoding="utf-8")
    assert ofd.read_invoice_xml(tmp_path / "other.xml") is None


def test_built_invoice_round_trips(tmp_path: Path) -> None:
    path = make_ofd(tmp_path / "inv.ofd", invoice=INVOICE)
    inv = ofd.read_invoice(path)
    assert inv is not None
    assert inv.key == (INVOICE["InvoiceCode"], INVOICE["InvoiceNo"])
    assert inv.total == Decimal(INVOICE["TaxInclusiveTotalAmount"])
    assert inv.issue_date == date(2024, 3, 5)


def test_broken_references_fail_both_modes(tmp_path: Path) -> None:
    path = make_ofd(tmp_path / "ok.ofd", pages=["一", "二"])
    no_page = replace_member(path, tmp_path / "p.ofd", "Doc_0/Pages/Page_1/Content.xml", None)
    [problem] = ofd.validate(no_page)
    assert problem.field == "Doc_0/Document.xml" and problem.row == 2
    assert (
        problem.message == "页面 ID=101 的 BaseLoc 引用的文件不存在：Doc_0/Pages/Page_1/Content.xml"
    )
    assert ofd.page_count(no_page) == 2 and ofd.page_texts(no_page) == ["一", ""]
    with zipfile.ZipFile(path) as zf:
        doc = zf.read("Doc_0/Document.xml")
    escaping = replace_member(
        path,
        tmp_path / "e.ofd",
        "Doc_0/Document.xml",
        doc.replace(b'"Pages/Page_1', b'"../../../etc'),
    )
    assert any("越出包根目录" in p.message for p in ofd.validate(escaping))
    external = replace_member(
        path,
        tmp_path / "x.ofd",
        "Doc_0/Document.xml",
        doc.replace(b'"Pages/Page_1', b'"file:///etc'),
    )
    assert any("指向包外" in p.message for p in ofd.validate(external))
    no_root = replace_member(path, tmp_path / "n.ofd", "OFD.xml", None)
    assert [p.message for p in ofd.validate(no_root)] == ["包根目录没有主入口文件 OFD.xml"]


def test_container_safety(tmp_path: Path) -> None:
    path = make_ofd(tmp_path / "ok.ofd")
    hostile = add_raw_member(path, tmp_path / "h.ofd", "../../evil.xml", b"<x/>")
    problems = ofd.validate(hostile)
    assert [(p.message, p.value) for p in problems] == [
        ("包内条目名不安全：含 .. 上级目录，已忽略", "../../evil.xml")
    ]
    absolute = add_raw_member(path, tmp_path / "a.ofd", "/etc/passwd", b"x")
    assert "绝对路径" in ofd.validate(absolute)[0].message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we mean to write
        dup = add_raw_member(path, tmp_path / "d.ofd", "OFD.xml", b"<x/>")
    assert any(p.message == "包内存在同名的重复条目" for p in ofd.validate(dup))
    not_zip = tmp_path / "z.ofd"
    not_zip.write_bytes(b"%PDF-1.7 not an ofd")
    [problem] = ofd.validate(not_zip)
    assert problem.message.startswith("不是可读取的 ZIP 包")
    assert ofd.page_count(not_zip) == 0 and ofd.read_invoice(not_zip) is None


def test_oversized_xml_part_is_not_read(tmp_path: Path) -> None:
    path = make_ofd(tmp_path / "ok.ofd")
    big = b'<?xml version="1.0"?><ofd:Res xmlns:ofd="http://www.ofdspec.org/2016"/>' + b" " * (
        17 * 1024 * 1024
    )
    bloated = replace_member(path, tmp_path / "b.ofd", "Doc_0/PublicRes.xml", big)
    assert any("条目过大" in p.message for p in ofd.validate(bloated))


def test_unsafe_xml_inside_an_ofd_is_refused(tmp_path: Path) -> None:
    path = make_ofd(tmp_path / "ok.ofd")
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b'<ofd:Res xmlns:ofd="http://www.ofdspec.org/2016">&b;</ofd:Res>'
    )
    bad = replace_member(path, tmp_path / "x.ofd", "Doc_0/PublicRes.xml", bomb)
    assert any(
        p.field == "Doc_0/PublicRes.xml" and "ENTITY" in p.message for p in ofd.validate(bad)
    )


def test_sniff(samples: Path, tmp_path: Path) -> None:
    s = ofd.sniff_ofd(samples / "ofdrw-archive__test-ofda.ofd")
    assert s is not None and (s.namespace, s.version, s.doc_type) == (
        ofd.OFD_NAMESPACE,
        "1.2",
        "OFD-A",
    )
    legacy = ofd.sniff_ofd(samples / "ofdrw-sign__namespace_no_std.ofd")
    assert legacy is not None and legacy.namespace == ofd.LEGACY_NAMESPACE
    plain_zip = tmp_path / "p.zip"
    with zipfile.ZipFile(plain_zip, "w") as zf:
        zf.writestr("OFD.xml", "<OFD/>")
    assert ofd.sniff_ofd(plain_zip) is None
    shutil.copy(samples / "ofdrw-converter__helloworld.ofd", tmp_path / "renamed.zip")
    assert ofd.sniff_ofd(tmp_path / "renamed.zip") is not None
