"""The AIP: a valid BagIt 1.0 bag whose METS/PREMIS validates, with SM3 recorded in PREMIS."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from lantai.archival import Level
from lantai.audit import EventType
from lantai.crypto import digest_file
from lantai.ingest.aip import METS_PATH, AipInvalid, AipSpec, build_aip, mets_document
from lantai.ingest.transfer import (
    FileRole,
    FormatInfo,
    ProcessStep,
    Register,
    SourceKind,
    Transfer,
    TransferFile,
    TransferRecord,
)
from lantai.instance import Instance
from lantai.storage import LocalObjectStore
from lantai.store import Event

NS = {
    "mets": "http://www.loc.gov/METS/",
    "premis": "http://www.loc.gov/premis/v3",
    "xlink": "http://www.w3.org/1999/xlink",
}
PDF = FormatInfo(puid="fmt/276", name="Acrobat PDF 1.7", mime="application/pdf", version="1.7")
OFD = FormatInfo(puid="lantai/ofd", name="OFD", mime="application/ofd", basis="OFD.xml 命名空间")


def staged_transfer(tmp_path: Path, *, names: tuple[str, ...] | None = None) -> Transfer:
    """A small staged transfer: two records, three content files, one metadata file, hashed."""
    staging = tmp_path / "staging"
    payload = staging / "payload"
    names = names or ("2011/正文 1.pdf", "2011/附件%1.ofd", "2011/第二件.pdf")
    contents = [b"%PDF-1.7 one", b"PK ofd bytes", b"%PDF-1.7 two"]
    files = []
    for name, data, fmt in zip(names, contents, (PDF, OFD, PDF), strict=True):
        local = payload / name
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
        d = digest_file(local)
        files.append(
            TransferFile(
                path=name, local=local, size=d.size, sha256=d.sha256, sm3=d.sm3, format=fmt
            )
        )
    meta = staging / "目录.csv"
    meta.write_text("题名\n关于印发工作要点的通知\n", encoding="utf-8")
    d = digest_file(meta)
    files.append(
        TransferFile(
            path="目录.csv",
            local=meta,
            size=d.size,
            sha256=d.sha256,
            sm3=d.sm3,
            role=FileRole.METADATA,
        )
    )
    records = [
        TransferRecord(
            key="r1",
            level=Level.ITEM,
            values={"title": "关于印发2011年工作要点的通知", "pages": 4, "retention": "Y"},
            files=[names[0], names[1]],
            process=[ProcessStep(action="签发", time="2011-03-05", agent="张三")],
        ),
        TransferRecord(key="r2", values={"title": "第二件\u0007"}, files=[names[2]]),
    ]
    return Transfer(
        uid=str(uuid.uuid4()),
        kind=SourceKind.BAGIT,
        source_name="某单位2011年文书移交",
        staging=staging,
        payload_root=payload,
        files=files,
        records=records,
        register=Register(
            unit="某市人民政府办公室",
            time="2026-11-21",
            category="WS",
            items=2,
            bytes=None,
            method="在线",
        ),
        category="WS",
    )


def _events(inst: Instance, transfer_uid: str) -> list[Event]:
    with inst.db.write() as s:
        for action in (
            EventType.INGEST_TRANSFER_RECEIVED,
            EventType.INGEST_DIGESTS_CALCULATED,
            EventType.INGEST_TRANSFER_CHECKED,
            EventType.SECURITY_LOGIN_SUCCEEDED,  # not a preservation event: left out of PREMIS
        ):
            inst.audit.append(
                s,
                actor="agency-oa",
                action=action,
                object_type="transfer",
                object_id=transfer_uid,
                detail={"note": "测试"},
            )
    with inst.db.read() as s:
        return list(s.query(Event).filter(Event.object_id == transfer_uid).order_by(Event.seq))


def _spec(inst: Instance, tmp_path: Path, transfer: Transfer, **kw: object) -> AipSpec:
    report = tmp_path / "四性检测报告.json"
    report.write_text('{"decision": "accept"}', encoding="utf-8")
    scheme = inst.domain.scheme_for("WS")

    def name(_cat: str | None, key: str) -> str:
        el = scheme.element(key)
        return el.name if el else key

    args: dict[str, object] = {
        "aip_id": str(uuid.uuid4()),
        "transfer": transfer,
        "transfer_uid": transfer.uid,
        "created": datetime(2026, 11, 21, 8, 0, tzinfo=UTC),
        "archive_name": "示范市档案馆",
        "archive_code": "136101",
        "submitted_by": "agency-oa",
        "decision": "accept",
        "events": _events(inst, transfer.uid),
        "reports": [report],
        "element_name": name,
    }
    args.update(kw)
    return AipSpec(**args)  # type: ignore[arg-type]


def _validate_with_catalog(fixtures_dir: Path, mets: Path) -> str:
    """Validate in a fresh process: libxml2 reads XML_CATALOG_FILES only once, at first use."""
    schemas = fixtures_dir / "schemas"
    code = (
        "import sys; from lxml import etree\n"
        "schema = etree.XMLSchema(etree.parse(sys.argv[1]))\n"
        "doc = etree.parse(sys.argv[2])\n"
        "ok = schema.validate(doc)\n"
        "print('VALID' if ok else '\\n'.join(str(e) for e in schema.error_log))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(schemas / "mets-premis-driver.xsd"), str(mets)],
        env={"XML_CATALOG_FILES": str(schemas / "catalog.xml"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


def test_aip_is_a_valid_bag_with_valid_mets(
    instance: Instance, tmp_path: Path, fixtures_dir: Path
) -> None:
    import bagit

    # bagit-python does not decode "%25" in manifests (RFC 8493 §2.1.3 requires encoding "%"),
    # so this bag avoids "%" in names; test_percent_in_names_is_encoded covers it.
    transfer = staged_transfer(
        tmp_path, names=("2011/正文 1.pdf", "2011/附件1.ofd", "2011/第二件.pdf")
    )
    store = LocalObjectStore(tmp_path / "storage")
    spec = _spec(instance, tmp_path, transfer)
    result = build_aip(store, spec)
    assert result.files == 3 and result.bytes == sum(f.size for f in transfer.content_files())

    bag_dir = store.root / "packages" / spec.aip_id[:2] / spec.aip_id
    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # every payload file against manifest-sha256.txt, and the tag manifests
    # bagit-python skips manifest-sm3.txt (no registered BagIt name); check it here.
    assert bag.algorithms == ["sha256"]
    sm3_lines = (bag_dir / "manifest-sm3.txt").read_text(encoding="utf-8").splitlines()
    assert len(sm3_lines) == 6
    for line in sm3_lines:
        digest, path = line.split("  ", 1)
        assert digest_file(bag_dir / path).sm3 == digest
    tag_sm3 = (bag_dir / "tagmanifest-sm3.txt").read_text(encoding="utf-8").splitlines()
    assert sorted(line.split("  ", 1)[1] for line in tag_sm3) == [
        "bag-info.txt",
        "bagit.txt",
        "manifest-sha256.txt",
        "manifest-sm3.txt",
    ]
    # 3 originals + the sender's 目录.csv + the report + METS
    assert bag.info["Payload-Oxum"].endswith(".6")
    payload = sorted(p for p, _ in bag.payload_entries().items())
    assert "data/objects/2011/正文 1.pdf" in payload
    assert "data/objects/2011/附件1.ofd" in payload
    assert "data/metadata/source/目录.csv" in payload
    assert "data/metadata/report/四性检测报告.json" in payload
    assert METS_PATH in payload
    # The original bytes, byte for byte.
    for f in transfer.content_files():
        with store.open(f"{spec.aip_id}/data/objects/{f.path}") as fh:
            assert fh.read() == f.local.read_bytes()

    mets_file = bag_dir / METS_PATH
    assert _validate_with_catalog(fixtures_dir, mets_file) == "VALID"

    doc = etree.parse(str(mets_file))
    files = doc.findall(".//mets:fileGrp[@USE='original']/mets:file", NS)
    assert len(files) == 3
    by_name = {}
    for el in files:
        href = el.find("mets:FLocat", NS).get(f"{{{NS['xlink']}}}href")  # type: ignore[union-attr]
        by_name[href] = el
    pdf = by_name["objects/2011/%E6%AD%A3%E6%96%87%201.pdf"]
    f0 = transfer.files[0]
    assert pdf.get("CHECKSUMTYPE") == "SHA-256" and pdf.get("CHECKSUM") == f0.sha256
    assert pdf.get("MIMETYPE") == "application/pdf" and pdf.get("SIZE") == str(f0.size)
    # SM3 lives in PREMIS fixity of the same file (METS 1.12 has no SM3 CHECKSUMTYPE).
    tech = doc.find(f".//mets:amdSec[@ID='{pdf.get('ADMID')}']", NS)
    assert tech is not None
    fixities = {
        fx.findtext("premis:messageDigestAlgorithm", namespaces=NS): (
            fx.findtext("premis:messageDigest", namespaces=NS),
            fx.find("premis:messageDigestAlgorithm", NS).get("authority"),  # type: ignore[union-attr]
        )
        for fx in tech.iterfind(".//premis:fixity", NS)
    }
    assert fixities["SM3"] == (f0.sm3, "GB/T 32905-2016")
    assert fixities["SHA-256"][0] == f0.sha256
    assert tech.findtext(".//premis:formatRegistryKey", namespaces=NS) == "fmt/276"
    assert tech.findtext(".//premis:originalName", namespaces=NS) == "2011/正文 1.pdf"
    # Events come from the audit log; access-control events are not preservation events.
    types = [e.text for e in doc.iterfind(".//premis:event/premis:eventType", NS)]
    assert types == ["ingestion start", "message digest calculation", "validation"]
    agents = {a.text for a in doc.iterfind(".//premis:agent/premis:agentName", NS)}
    assert {"示范市档案馆", "兰台 Lantai", "agency-oa"} <= agents
    # Descriptive metadata with Chinese element names; records linked to their files.
    titles = doc.xpath(
        "//d:element[@key='title']/@name", namespaces={"d": "urn:lantai:metadata:dat46"}
    )
    assert titles == ["题名", "题名"]
    rec = doc.find(".//mets:structMap/mets:div/mets:div[@DMDID='dmd-1']", NS)
    assert rec is not None and len(rec.findall("mets:fptr", NS)) == 2
    # The control character of the sender's title is kept visibly, not dropped.
    assert "\\u0007" in mets_file.read_text(encoding="utf-8")


def test_sm3_cannot_be_a_mets_checksumtype(instance: Instance, tmp_path: Path) -> None:
    """Why SM3 is in PREMIS: METS 1.12.1's CHECKSUMTYPE is a closed list without SM3."""
    from lantai.formats.xsd import validate
    from lantai.storage import ObjectInfo

    transfer = staged_transfer(tmp_path)
    spec = _spec(instance, tmp_path, transfer)
    objects = {
        f"data/objects/{f.path}": ObjectInfo(
            key=f.path, size=f.size, sha256=f.sha256 or "", sm3=f.sm3 or ""
        )
        for f in transfer.content_files()
    }
    root = mets_document(spec, objects)
    assert validate(root, "mets") == []
    for el in root.iterfind(".//mets:file", NS):
        el.set("CHECKSUMTYPE", "SM3")
    problems = validate(root, "mets")
    assert problems and "CHECKSUMTYPE" in problems[0].message


def test_mets_text_keeps_every_value_exactly(instance: Instance, tmp_path: Path) -> None:
    """The METS is written as text: markup characters, quotes, tabs and line breaks in names,
    titles, element values and format notes come back exactly when it is parsed, and control
    characters (not allowed in XML 1.0) are kept visibly."""
    from lantai.formats.xsd import validate
    from lantai.ingest.mets import mets_bytes, parse_mets
    from lantai.storage import ObjectInfo

    odd = "a & b < c > \"d\" 'e'\n\tf\r\ng"
    names = ('2011/正文 1&<>".pdf', "2011/附件%1\tx.ofd", "2011/第二件.pdf")
    transfer = staged_transfer(tmp_path, names=names)
    transfer.records[0].values["title"] = odd
    transfer.records[0].values["keywords"] = {"主题": ["甲", "乙"]}  # not text: kept as JSON
    transfer.files[1].format = FormatInfo(
        puid="lantai/ofd", name="OFD", mime="application/ofd", basis=odd, warning="w"
    )
    spec = _spec(instance, tmp_path, transfer)
    objects = {
        f"data/objects/{f.path}": ObjectInfo(
            key=f.path, size=f.size, sha256=f.sha256 or "", sm3=f.sm3 or ""
        )
        for f in transfer.content_files()
    }
    root = parse_mets(mets_bytes(spec, objects))
    assert validate(root, "mets") == []
    d = {"d": "urn:lantai:metadata:dat46"}
    assert root.xpath("//d:element[@key='title']/text()", namespaces=d)[0] == odd
    assert root.xpath("//d:element[@key='keywords']/text()", namespaces=d) == [
        '{"主题": ["甲", "乙"]}'
    ]
    first = root.find(".//mets:structMap/mets:div/mets:div", NS)
    assert first is not None and first.get("LABEL") == odd
    originals = [e.text for e in root.iterfind(".//premis:originalName", NS)][1:]
    assert sorted(originals) == sorted(names)
    hrefs = [e.get(f"{{{NS['xlink']}}}href") for e in root.iterfind(".//mets:FLocat", NS)]
    assert "objects/2011/%E6%AD%A3%E6%96%87%201%26%3C%3E%22.pdf" in hrefs
    assert root.findtext(".//premis:formatNote", namespaces=NS) == f"{odd}；w"
    # Control characters from a sender are written visibly (\u0007), never dropped.
    second = root.find(".//mets:div[@DMDID='dmd-2']", NS)
    assert second is not None and second.get("LABEL") == "第二件\\u0007"


def test_build_is_idempotent_and_atomic(instance: Instance, tmp_path: Path) -> None:
    transfer = staged_transfer(tmp_path)
    store = LocalObjectStore(tmp_path / "storage")
    spec = _spec(instance, tmp_path, transfer)
    first = build_aip(store, spec)
    again = build_aip(store, spec)  # a resumed ingest finds the package and keeps it
    assert again.package == first.package

    # A file without digests is a pipeline bug: nothing of the package is committed.
    broken = staged_transfer(tmp_path / "b")
    broken.files[1].sm3 = None
    spec2 = _spec(instance, tmp_path / "b", broken, aip_id=str(uuid.uuid4()))
    with pytest.raises(AipInvalid):
        build_aip(store, spec2)
    assert store.package(spec2.aip_id) is None
    assert list(store.incoming()) == []


def test_wrong_staged_size_is_refused(instance: Instance, tmp_path: Path) -> None:
    from lantai.storage import ObjectMismatch

    transfer = staged_transfer(tmp_path)
    transfer.files[0].local.write_bytes(b"changed after hashing!")
    store = LocalObjectStore(tmp_path / "storage")
    spec = _spec(instance, tmp_path, transfer)
    with pytest.raises(ObjectMismatch):
        build_aip(store, spec)
    assert store.package(spec.aip_id) is None


def test_percent_in_names_is_encoded(instance: Instance, tmp_path: Path) -> None:
    transfer = staged_transfer(tmp_path)
    store = LocalObjectStore(tmp_path / "storage")
    spec = _spec(instance, tmp_path, transfer)
    build_aip(store, spec)
    with store.open(f"{spec.aip_id}/manifest-sha256.txt") as f:
        manifest = f.read().decode("utf-8")
    assert "data/objects/2011/附件%251.ofd\n" in manifest
    assert store.exists(f"{spec.aip_id}/data/objects/2011/附件%1.ofd")


def test_sender_folder_is_copied_and_changes_are_caught(instance: Instance, tmp_path: Path) -> None:
    """Files read in place (a sender's folder) are copied, never linked; a change is refused."""
    import os
    import time

    from lantai.storage import ObjectMismatch

    transfer = staged_transfer(tmp_path, names=("a/1.pdf", "a/2.ofd", "a/3.pdf"))
    transfer.staging = tmp_path / "elsewhere"  # the files are not the ingest's own
    for f in transfer.files:
        f.modified = datetime.fromtimestamp(f.local.stat().st_mtime, tz=UTC)
    store = LocalObjectStore(tmp_path / "storage")
    spec = _spec(instance, tmp_path, transfer)
    build_aip(store, spec)
    stored = store.root / "packages" / spec.aip_id[:2] / spec.aip_id / "data/objects/a/1.pdf"
    assert stored.stat().st_ino != transfer.files[0].local.stat().st_ino
    assert stored.read_bytes() == transfer.files[0].local.read_bytes()

    # The sender changes a file (same size) after it was read: its digest no longer holds.
    changed = transfer.files[0].local
    changed.write_bytes(changed.read_bytes().upper())
    later = time.time() + 5
    os.utime(changed, (later, later))
    spec2 = _spec(instance, tmp_path, transfer, aip_id=str(uuid.uuid4()))
    with pytest.raises(ObjectMismatch):
        build_aip(store, spec2)
    assert store.package(spec2.aip_id) is None
