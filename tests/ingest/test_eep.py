"""DA/T 48 EEP: streaming reader, writer, signatures, 修改型, export round trip."""

from __future__ import annotations

import hashlib
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from lxml import etree

from conftest import make_settings
from factories import create_fonds, create_series, item_values
from ingest.builders import make_eep, make_eep_set, minimal_ofd, sample_items
from lantai.archival import Level
from lantai.errors import ValidationFailed
from lantai.formats.xmlsafe import XmlMalformed, XmlUnsafe
from lantai.ingest.c14n import Canonicaliser
from lantai.ingest.eep_model import NS
from lantai.ingest.eep_signing import (
    ED25519,
    RSA_SHA256,
    SM2_WITH_SM3,
    KeySigner,
    SignatureBlock,
    generate_sm2_signer,
    load_signer,
    verify_block,
)
from lantai.ingest.eep_writer import EepExportFile, export_record
from lantai.ingest.readers import read_transfer
from lantai.ingest.readers.eep import is_eep, signature_blocks, signed_object_bytes
from lantai.ingest.transfer import FileRole, SourceKind, Transfer
from lantai.instance import Instance
from lantai.security import Actor


@pytest.fixture(scope="module")
def reader_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    inst = Instance.initialise(make_settings(tmp_path_factory.mktemp("home")))
    yield inst
    inst.close()


@pytest.fixture(scope="module")
def sm2() -> object:
    return generate_sm2_signer("某市人民政府办公室 档案员")


def _read(inst: Instance, path: Path, tmp_path: Path) -> Transfer:
    return read_transfer(inst, path, staging=tmp_path / "staging")


# -- canonicalisation -----------------------------------------------------------------------------

DOCS = [
    '<r xmlns="urn:e"><被签名对象 eep版本="2009" b="x&amp;y&#10;z&#9;"><a>t&lt;&gt;&#13;x</a>'
    '<b/><?pi data?><!-- gone --><c:x xmlns:c="urn:c" c:z="1" y="2">z</c:x></被签名对象></r>',
    '<e:r xmlns:e="urn:e" xmlns:f="urn:f"><e:被签名对象 f:q="1" a="&quot;"><e:a>  </e:a>'
    "<f:b><![CDATA[<raw> & ]]></f:b></e:被签名对象></e:r>",
    '<r xmlns="urn:e" xmlns:unused="urn:u"><被签名对象><x xmlns="urn:other"><y/></x></被签名对象></r>',
]


class _Collect:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.canon: Canonicaliser | None = None
        self.scopes: list[dict[str, str]] = [{}]
        self.pending: dict[str, str] = {}

    def start_ns(self, prefix: str | None, uri: str) -> None:
        self.pending[prefix or ""] = uri
        if self.canon is not None:
            self.canon.start_ns(prefix, uri)

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        parent, own = self.scopes[-1], self.pending
        self.pending = {}
        self.scopes.append({**parent, **own})
        if self.canon is None and tag.endswith("被签名对象"):
            self.canon = Canonicaliser(self.out.append, parent)
            for p, u in own.items():
                self.canon.start_ns(p, u)
        if self.canon is not None and not self.canon.done:
            self.canon.start(tag, attrib)

    def data(self, text: str) -> None:
        if self.canon is not None and not self.canon.done:
            self.canon.data(text)

    def pi(self, target: str, text: str | None) -> None:
        if self.canon is not None and not self.canon.done:
            self.canon.pi(target, text)

    def end(self, tag: str) -> None:
        self.scopes.pop()
        if self.canon is not None and not self.canon.done:
            self.canon.end(tag)

    def close(self) -> str:
        return "".join(self.out)


@pytest.mark.parametrize("doc", DOCS)
def test_streaming_c14n_equals_the_standard_library(doc: str) -> None:
    target = _Collect()
    parser = etree.XMLParser(target=target)
    for i in range(0, len(doc), 7):  # tiny chunks: text arrives in pieces
        parser.feed(doc[i : i + 7].encode() if doc.isascii() else doc[i : i + 7])
    mine = parser.close()
    element = etree.fromstring(doc.encode())[0]
    assert mine == ET.canonicalize(etree.tostring(element, encoding="unicode"))


# -- reading --------------------------------------------------------------------------------------


def test_read_clean_eep(reader_instance: Instance, tmp_path: Path) -> None:
    item = sample_items(1)[0]
    eep = make_eep(tmp_path / "in", item)
    t = _read(reader_instance, eep, tmp_path)
    assert t.kind is SourceKind.EEP
    assert [n for n in t.notes if n.severity == "error"] == []
    assert t.package_sha256 == hashlib.sha256(eep.read_bytes()).hexdigest()
    facts = t.structure["eep"]
    assert facts["封装包类型"] == "原始型" and facts["版本"] == facts["eep版本"] == "2009"
    assert facts["封装包创建单位"] == "某市人民政府办公室（OA系统）"
    assert facts["立档单位名称"] == "某市人民政府办公室"
    (rec,) = t.records
    assert rec.key == item.key
    v = rec.values
    assert v["title"] == item.values["title"]
    assert v["archival_code"] == "Z109-WS·2011-Y-BGS-0001" and v["fonds_code"] == "Z109"
    assert (v["retention"], v["year"], v["item_no"], v["security_level"]) == (
        "永久",
        "2011",
        "1",
        "公开",
    )
    assert rec.source_names["retention"] == "保管期限"
    assert [s.agent for s in rec.process] == ["张三", "李四", "王五"]
    assert rec.files == [f"{item.key}/{name}" for name in item.file_names]
    for (name, data), path in zip(item.files, rec.files, strict=True):
        f = t.file(path)
        assert f is not None and f.role is FileRole.CONTENT and f.record_key == item.key
        assert f.local.read_bytes() == data
        assert f.sha256 == hashlib.sha256(data).hexdigest()
        assert rec.electronic[path]["计算机文件名"] == name
        assert rec.electronic[path]["计算机文件大小"] == str(len(data))
    assert rec.electronic[rec.files[0]]["文档主从声明"] == "主文档"
    assert rec.electronic[rec.files[1]]["文档序号"] == "2"
    source = t.file(eep.name)
    assert source is not None and source.role is FileRole.METADATA
    assert (
        source.local.read_bytes() == eep.read_bytes()
        and source.local.parent == tmp_path / "staging" / "source"
    )
    assert rec.signatures == []


@pytest.mark.parametrize("kind", ["sm2", "rsa", "ed25519"])
def test_signatures_verify_and_tampering_is_detected(
    reader_instance: Instance, tmp_path: Path, kind: str, sm2: object
) -> None:
    signer = {
        "sm2": sm2,
        "rsa": KeySigner(
            key=rsa.generate_private_key(public_exponent=65537, key_size=2048), name="甲"
        ),
        "ed25519": KeySigner(key=ed25519.Ed25519PrivateKey.generate(), name="乙"),
    }[kind]
    algorithm = {"sm2": SM2_WITH_SM3, "rsa": RSA_SHA256, "ed25519": ED25519}[kind]
    good = _read(reader_instance, make_eep(tmp_path / "a", signer=signer), tmp_path / "a")  # type: ignore[arg-type]
    blocks = signature_blocks(good.records[0])
    assert [(b.kind, b.layer, b.algorithm) for b in blocks] == [
        ("signature", "current", algorithm),
        ("lock", "current", algorithm),
    ]
    assert [verify_block(b).status for b in blocks] == ["valid", "valid"]
    bad = _read(
        reader_instance,
        make_eep(tmp_path / "b", signer=signer, defects=["bad_signature"]),  # type: ignore[arg-type]
        tmp_path / "b",
    )
    sig, lock = signature_blocks(bad.records[0])
    assert verify_block(sig).status == "invalid"
    assert verify_block(lock).status == "valid"  # the 电子签名 itself was not touched
    assert bad.records[0].values["title"].startswith("（已篡改）")


def test_unknown_signature_rule_is_manual() -> None:
    block = SignatureBlock(
        kind="signature", layer="current", id="s1", rule="摘要签名", algorithm="MD5", value=b"x"
    )
    assert verify_block(block).status == "unknown"


def test_signed_object_bytes_match_the_readers_digests(
    reader_instance: Instance, tmp_path: Path, sm2: object
) -> None:
    items = sample_items(1)
    revised = replace(items[0], values={**items[0].values, "title": "关于工作安排的通知（修订）"})
    eep = make_eep(tmp_path / "in", items[0], signer=sm2, revised=revised)  # type: ignore[arg-type]
    t = _read(reader_instance, eep, tmp_path)
    blocks = {(b.kind, b.layer): b for b in signature_blocks(t.records[0])}
    assert set(blocks) == {("signature", "current"), ("lock", "current"), ("signature", "original")}
    for layer in ("current", "original"):
        data = b"".join(signed_object_bytes(eep, layer=layer))  # type: ignore[arg-type]
        assert hashlib.sha256(data).hexdigest() == blocks[("signature", layer)].signed_sha256
        assert data.startswith(f'<被签名对象 xmlns="{NS}" eep版本="2009">'.encode())


def test_revised_package_keeps_the_original(
    reader_instance: Instance, tmp_path: Path, sm2: object
) -> None:
    item = sample_items(1)[0]
    revised = replace(item, values={**item.values, "title": "关于工作安排的通知（修订）"})
    eep = make_eep(tmp_path / "in", item, signer=sm2, revised=revised)  # type: ignore[arg-type]
    t = _read(reader_instance, eep, tmp_path)
    assert t.structure["eep"]["封装包类型"] == "修改型"
    assert t.structure["eep"]["修改标识符"] == ["修改1"]
    (rec,) = t.records
    assert rec.values["title"] == "关于工作安排的通知（修订）"
    assert t.structure["eep_records"][rec.key]["original_values"]["title"] == item.values["title"]
    assert all(verify_block(b).status == "valid" for b in signature_blocks(rec))
    original = next(b for b in signature_blocks(rec) if b.layer == "original")
    assert original.id == "修改0-签名1"
    # The original package on its own has the same signed-object digest as the one kept inside.
    alone = _read(reader_instance, make_eep(tmp_path / "alone", item, signer=sm2), tmp_path / "b")  # type: ignore[arg-type]
    assert signature_blocks(alone.records[0])[0].signed_sm3 == original.signed_sm3
    assert [n for n in t.notes if n.severity == "error"] == []


def test_eep_set_in_a_zip(reader_instance: Instance, tmp_path: Path) -> None:
    archive = make_eep_set(tmp_path, sample_items(3), form="zip")
    t = _read(reader_instance, archive, tmp_path)
    assert t.kind is SourceKind.EEP_SET
    assert sorted(r.key for r in t.records) == sorted(i.key for i in sample_items(3))
    assert t.register is not None and t.register.items == 3
    assert len(t.structure["eep_packages"]) == 3
    assert t.package_sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert all(t.file(p) is not None for r in t.records for p in r.files)


# -- defects ----------------------------------------------------------------------------------------


def test_truncated_eep_is_refused_and_nothing_is_left(
    reader_instance: Instance, tmp_path: Path
) -> None:
    eep = make_eep(tmp_path / "in", defects=["truncated"])
    with pytest.raises(XmlMalformed) as exc:
        _read(reader_instance, eep, tmp_path)
    assert exc.value.problems[0].file == eep.name
    assert list((tmp_path / "staging").iterdir()) == []


def test_doctype_and_entity_bombs_are_refused(
    reader_instance: Instance, tmp_path: Path, fixtures_dir: Path
) -> None:
    eep = make_eep(tmp_path / "in")
    text = eep.read_text(encoding="utf-8")
    bomb = text.replace("?>\n", '?>\n<!DOCTYPE 电子文件封装包 [<!ENTITY a "aaaaaaaaaa">]>\n', 1)
    evil = tmp_path / "evil.eep"
    evil.write_text(bomb, encoding="utf-8")
    with pytest.raises(XmlUnsafe):
        _read(reader_instance, evil, tmp_path)
    assert list((tmp_path / "staging").iterdir()) == []
    laughs = fixtures_dir / "security" / "defusedxml-xmltestdata" / "xmlbomb.xml"
    with pytest.raises(XmlUnsafe):
        read_transfer(reader_instance, laughs, staging=tmp_path / "s2", kind=SourceKind.EEP)


def test_schema_invalid_package_is_read_with_notes(
    reader_instance: Instance, tmp_path: Path
) -> None:
    t = _read(
        reader_instance,
        make_eep(tmp_path / "in", defects=["no_create_time", "no_process"]),
        tmp_path,
    )
    assert t.structure["eep"]["封装包创建时间"] is None
    notes = [n for n in t.notes if n.code == "GD-3-1"]
    assert notes and all(n.severity == "error" for n in notes)
    assert any("封装包创建单位" in n.message for n in notes)  # where 封装包创建时间 was expected
    assert t.records[0].process == []


def test_bad_base64_and_missing_data(reader_instance: Instance, tmp_path: Path) -> None:
    t = _read(reader_instance, make_eep(tmp_path / "a", defects=["bad_base64"]), tmp_path / "a")
    rec = t.records[0]
    assert t.file(rec.files[0]) is None and t.file(rec.files[1]) is not None
    assert any(n.code == "GD-3-1" and "Base64" in n.message for n in t.notes)
    assert not list((tmp_path / "a" / "staging" / "payload").rglob("*正文*"))
    t2 = _read(reader_instance, make_eep(tmp_path / "b", defects=["missing_data"]), tmp_path / "b")
    rec2 = t2.records[0]
    assert t2.file(rec2.files[0]) is None
    assert any(n.code == "GD-2-7" and n.severity == "error" for n in t2.notes)


def test_large_content_is_streamed(reader_instance: Instance, tmp_path: Path) -> None:
    item = sample_items(1, attachments=False)[0]
    big = minimal_ofd("大文件") + bytes(range(256)) * (96 * 1024)  # ~24 MiB
    item.files = [("正文.ofd", big)]
    eep = make_eep(tmp_path / "in", item)
    assert eep.stat().st_size > 32 << 20
    tracemalloc.start()
    try:
        t = _read(reader_instance, eep, tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    f = t.file(t.records[0].files[0])
    assert f is not None and f.size == len(big)
    assert f.sha256 == hashlib.sha256(big).hexdigest()
    # Bounded by the chunk queues of the hashing threads (a few MiB each), far below the 32 MiB
    # of base64 text: neither the document nor the file is ever held whole.
    assert peak < 16 << 20, (
        f"peak Python memory {peak / 2**20:.1f} MiB: the file was held in memory"
    )


def test_is_eep(tmp_path: Path) -> None:
    assert is_eep(make_eep(tmp_path))
    other = tmp_path / "x.xml"
    other.write_text("<a/>")
    assert not is_eep(other)


# -- writing and export -----------------------------------------------------------------------------


def _item_record(inst: Instance, actor: Actor) -> tuple[int, int]:
    """(全宗 id, 件 id) of a new 文书 item under Z109."""
    fonds = create_fonds(inst, actor)
    series = create_series(inst, actor, fonds.id)
    with inst.db.write() as s:
        rec = inst.catalogue.create_record(
            s,
            actor,
            parent_id=series.id,
            level=Level.ITEM,
            values=item_values(
                security_level="秘密★10年",
                keywords="工作要点；年度计划",
                notes="原件存档",
                carrier="电子",
                doc_type="通知",
            ),
            category="WS",
        )
        return fonds.id, rec.id


def test_export_round_trip(any_instance: Instance, operator: Actor, tmp_path: Path) -> None:
    _, record_id = _item_record(any_instance, operator)
    main = tmp_path / "正文.ofd"
    main.write_bytes(minimal_ofd("关于印发2011年工作要点的通知", pages=4))
    attachment = tmp_path / "附件.ofd"
    attachment.write_bytes(minimal_ofd("附件", pages=1))
    signer = KeySigner(key=ed25519.Ed25519PrivateKey.generate(), name="示范市档案馆")
    out = tmp_path / "export.eep"
    written = export_record(
        any_instance,
        operator,
        record_id,
        [
            EepExportFile(path=main, name="正文.ofd", format="OFD (lantai/ofd)"),
            EepExportFile(path=attachment, name="附件.ofd", title="附件", main=False),
        ],
        out,
        signer=signer,
    )
    assert written.signature_algorithm == ED25519
    assert written.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    t = read_transfer(any_instance, out, staging=tmp_path / "staging")
    assert [n for n in t.notes if n.severity == "error"] == []  # schema-valid, data intact
    (rec,) = t.records
    with any_instance.db.read() as s:
        stored = any_instance.catalogue.get(s, operator, record_id)
        expected = stored.values()
        uid = stored.uid
    scheme = any_instance.domain.scheme_for("WS")
    got = {}
    for key, raw in rec.values.items():
        if key == "fonds_code":
            continue
        value, problem = scheme.coerce(Level.ITEM, key, raw)
        assert problem is None, (key, raw)
        got[key] = value
    assert rec.key == uid
    assert {k: got[k] for k in expected} == expected
    assert got["item_no"] == 1  # from the 档号 counter: DA/T 48 requires 室编件号
    assert rec.values["fonds_code"] == "Z109"
    for path, original in zip(rec.files, (main, attachment), strict=True):
        f = t.file(path)
        assert f is not None and f.local.read_bytes() == original.read_bytes()
    assert [c.sha256 for c in written.contents] == [
        hashlib.sha256(main.read_bytes()).hexdigest(),
        hashlib.sha256(attachment.read_bytes()).hexdigest(),
    ]
    assert [verify_block(b).status for b in signature_blocks(rec)] == ["valid", "valid"]
    assert rec.process[-1].action == "封装"


def test_unsigned_export_says_so(instance: Instance, operator: Actor, tmp_path: Path) -> None:
    _, record_id = _item_record(instance, operator)
    main = tmp_path / "a.ofd"
    main.write_bytes(minimal_ofd("x"))
    written = export_record(
        instance, operator, record_id, [EepExportFile(path=main, name="a.ofd")], tmp_path / "o.eep"
    )
    assert written.signature_algorithm is None
    assert (
        b"<\xe7\x94\xb5\xe5\xad\x90\xe7\xad\xbe\xe5\x90\x8d\xe5\x9d\x97>"
        not in (tmp_path / "o.eep").read_bytes()
    )


def test_export_refuses_non_items_and_writes_nothing(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    fonds_id, record_id = _item_record(instance, operator)
    main = tmp_path / "a.ofd"
    main.write_bytes(b"x")
    out = tmp_path / "o.eep"
    with pytest.raises(ValidationFailed):
        export_record(instance, operator, fonds_id, [EepExportFile(path=main, name="a.ofd")], out)
    with pytest.raises(ValidationFailed):
        export_record(instance, operator, record_id, [], out)
    assert list(tmp_path.glob("*.eep")) == [] and list(tmp_path.glob(".*tmp")) == []


def test_writer_refuses_a_schema_invalid_package(tmp_path: Path) -> None:
    from ingest.builders import _eep_package
    from lantai.ingest.eep_writer import write_eep

    item = sample_items(1)[0]
    item.values.pop("year")
    item.values.pop("date")  # 年度 is required by the schema and cannot be derived
    with pytest.raises(ValidationFailed) as exc:
        write_eep(tmp_path / "x.eep", _eep_package(item))
    assert "年度" in str(exc.value)
    assert list(tmp_path.iterdir()) == []


def test_load_signer(tmp_path: Path, sm2: object) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert load_signer(pem, name="x").algorithm == ED25519
    gm = sm2
    sm2_file = tmp_path / "sm2.key"
    sm2_file.write_text(
        f"algorithm: SM2\nprivate_key: {gm.private_key.hex()}\npublic_key: {gm.public_key.hex()}\n"  # type: ignore[attr-defined]
    )
    loaded = load_signer(sm2_file, name="y")
    assert loaded.algorithm == SM2_WITH_SM3
    assert loaded.sign(b"\x00" * 32)


def test_single_eep_in_a_zip(reader_instance: Instance, tmp_path: Path) -> None:
    import zipfile

    eep = make_eep(tmp_path / "in")
    archive = tmp_path / "one.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(eep, eep.name)
    t = read_transfer(reader_instance, archive, staging=tmp_path / "s", kind=SourceKind.EEP)
    assert t.kind is SourceKind.EEP and len(t.records) == 1
    assert t.file(t.records[0].files[0]) is not None
