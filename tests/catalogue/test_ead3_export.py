"""EAD3 export: schema-valid output, every visible unit once, clearance respected, batched reads."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import event, func, select

from factories import create_fonds, create_series, item_values
from lantai.archival import Level
from lantai.catalogue import ead3
from lantai.catalogue.ead3 import EAD3_NS, export_ead3
from lantai.errors import InputError, NotFound, PermissionDenied
from lantai.formats import parse_bytes, validate
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import Event, Record

NS = {"e": EAD3_NS}
TRICKY_TITLE = '關於「檔案」<工作> & "要點"的通知'


@dataclass
class Tree:
    fonds: Record
    visible: list[Record]  # every record a low-clearance reader may see, the fonds included
    secret: Record  # an item marked 秘密
    secret_series: Record  # a 秘密 类别 whose public item must disappear with it
    orphan: Record  # that public item


def add(inst: Instance, actor: Actor, parent: Record, level: Level, **values: Any) -> Record:
    category = values.pop("category", None)
    with inst.db.write() as s:
        return inst.catalogue.create_record(
            s, actor, parent_id=parent.id, level=level, values=values, category=category
        )


def build(inst: Instance, actor: Actor) -> Tree:
    fonds = create_fonds(
        inst, actor, name="某市人民政府辦公室", org_history="1949年成立\n1983年更名"
    )
    ws = create_series(inst, actor, fonds.id, "文书档案")
    y2011 = add(inst, actor, ws, Level.SERIES, title="2011年")
    items = [
        add(inst, actor, y2011, Level.ITEM, **item_values(title=TRICKY_TITLE, language="汉语")),
        add(
            inst,
            actor,
            y2011,
            Level.ITEM,
            **item_values(date="[20110715]", abstract="第一段\n第二段"),
        ),
    ]
    secret = add(
        inst,
        actor,
        y2011,
        Level.ITEM,
        **item_values(title="绝不可见的秘密文件", security_level="秘密★10年"),
    )
    secret_series = add(inst, actor, ws, Level.SERIES, title="涉密类别", security_level="秘密")
    orphan = add(
        inst, actor, secret_series, Level.ITEM, **item_values(title="涉密类别下的公开文件")
    )
    zp = create_series(inst, actor, fonds.id, "照片档案", category="ZP")
    group = add(
        inst,
        actor,
        zp,
        Level.FILE,
        title="2019年档案馆新馆落成典礼",
        date="20190101-20191231",
        year=2019,
        retention="Y",
        responsible="某市档案馆",
        carrier="照片12张",
    )
    photo = add(
        inst,
        actor,
        group,
        Level.ITEM,
        **item_values(title="剪彩仪式", date="20190618", photographer="王某", doc_number=None),
    )
    visible = [fonds, ws, y2011, *items, zp, group, photo]
    return Tree(fonds, visible, secret, secret_series, orphan)


def reader(rank: int = 0) -> Actor:
    return Actor(
        username="reader",
        display_name="低密级读者",
        user_id=7,
        permissions=frozenset({Perm.CATALOGUE_RECORD_READ, Perm.CATALOGUE_EXPORT}),
        clearance="公开",
        clearance_rank=rank,
    )


@pytest.fixture(scope="module")
def published_ead3(fixtures_dir: Path) -> etree.XMLSchema:
    """The EAD3 XSD from the shared fixtures, loaded independently of Lantai's copy."""
    return etree.XMLSchema(etree.parse(str(fixtures_dir / "schemas" / "ead3" / "ead3.xsd")))


def export_bytes(inst: Instance, actor: Actor, root_id: int) -> tuple[bytes, ead3.Ead3Export]:
    buf = io.BytesIO()
    result = export_ead3(inst, actor, root_id, buf)
    return buf.getvalue(), result


def test_export_is_schema_valid_and_complete(
    any_instance: Instance, operator: Actor, published_ead3: etree.XMLSchema
) -> None:
    inst = any_instance
    tree = build(inst, operator)
    data, result = export_bytes(inst, operator, tree.fonds.id)
    doc = parse_bytes(data, name="z109.xml")
    assert published_ead3.validate(doc), published_ead3.error_log
    assert validate(doc, "ead3") == []
    everything = len(tree.visible) + 3  # the operator sees the secret item, series and orphan
    assert (result.records, result.components) == (everything, everything - 1)
    assert len(doc.findall(".//e:c", NS)) == everything - 1
    assert result.sha256 == hashlib.sha256(data).hexdigest() and result.size == len(data)
    root = doc.getroot()
    assert root.findtext("e:control/e:recordid", namespaces=NS) == "Z109"
    assert root.findtext("e:control/e:maintenanceagency/e:agencycode", namespaces=NS) == "136101"
    assert (
        root.findtext("e:control/e:maintenanceagency/e:agencyname", namespaces=NS) == "示范市档案馆"
    )
    lang = root.find("e:control/e:languagedeclaration", NS)
    assert lang is not None
    assert lang.find("e:language", NS).get("langcode") == "zh"  # type: ignore[union-attr]
    assert lang.find("e:script", NS).get("scriptcode") == "Hans"  # type: ignore[union-attr]
    archdesc = root.find("e:archdesc", NS)
    assert archdesc is not None and archdesc.get("level") == "fonds"
    assert archdesc.findtext("e:did/e:unittitle", namespaces=NS) == "某市人民政府辦公室"
    assert [p.text for p in archdesc.findall("e:bioghist/e:p", NS)] == ["1949年成立", "1983年更名"]
    levels = [c.get("level") for c in doc.iterfind(".//e:c", NS)]
    assert levels.count("file") == 1 and levels.count("subseries") == 2
    assert levels.count("item") == 5 and levels.count("series") == 2


def test_element_mapping_of_one_item(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    tree = build(inst, operator)
    data, _ = export_bytes(inst, operator, tree.fonds.id)
    assert '關於「檔案」&lt;工作&gt; &amp; "要點"的通知'.encode() in data
    doc = parse_bytes(data, name="z109.xml")
    item = tree.visible[3]
    [c] = [c for c in doc.iterfind(".//e:c", NS) if c.get("id") == f"lantai-{item.uid}"]
    did = c.find("e:did", NS)
    assert did is not None
    ids = {u.get("localtype"): u.text for u in did.findall("e:unitid", NS)}
    assert ids == {None: "Z109-WS·2011-Y-BGS-0001", "文号": "市府办发〔2011〕12号"}
    assert did.findtext("e:unittitle", namespaces=NS) == TRICKY_TITLE
    single = did.find("e:unitdatestructured/e:datesingle", NS)
    assert single is not None and single.get("standarddate") == "2011-03-05"
    assert did.findtext("e:origination/e:corpname/e:part", namespaces=NS) == "某市人民政府办公室"
    assert did.findtext("e:physdescstructured/e:quantity", namespaces=NS) == "4"
    assert did.find("e:langmaterial/e:language", NS).get("langcode") == "zh"  # type: ignore[union-attr]
    restrict = {
        a.get("localtype"): a.findtext("e:p", namespaces=NS)
        for a in c.findall("e:accessrestrict", NS)
    }
    assert restrict == {"密级": "公开", "开放标识": "未审核"}
    assert c.findtext("e:appraisal[@localtype='保管期限']/e:p", namespaces=NS) == "永久（Y）"
    assert c.findtext("e:odd[@localtype='机构或问题']/e:p", namespaces=NS) == "BGS"
    inferred = next(
        c for c in doc.iterfind(".//e:c", NS) if c.get("id") == f"lantai-{tree.visible[4].uid}"
    )
    uds = inferred.find("e:did/e:unitdatestructured", NS)
    assert uds is not None and uds.get("certainty") == "inferred"
    assert uds.findtext("e:datesingle", namespaces=NS) == "[2011-07-15]"
    group = next(c for c in doc.iterfind(".//e:c", NS) if c.get("level") == "file")
    rng = group.find("e:did/e:unitdatestructured/e:daterange", NS)
    assert rng is not None
    assert [rng.find(f"e:{t}", NS).get("standarddate") for t in ("fromdate", "todate")] == [  # type: ignore[union-attr]
        "2019-01-01",
        "2019-12-31",
    ]
    assert group.findtext("e:did/e:physdesc", namespaces=NS) == "照片12张"


def test_low_clearance_export_omits_hidden_units(
    any_instance: Instance, operator: Actor, published_ead3: etree.XMLSchema
) -> None:
    inst = any_instance
    tree = build(inst, operator)
    data, result = export_bytes(inst, reader(), tree.fonds.id)
    doc = parse_bytes(data, name="z109.xml")
    assert published_ead3.validate(doc), published_ead3.error_log
    assert result.components == len(tree.visible) - 1
    ids = {c.get("id") for c in doc.iterfind(".//e:c", NS)}
    assert ids == {f"lantai-{r.uid}" for r in tree.visible[1:]}
    for hidden in (tree.secret, tree.secret_series, tree.orphan):
        assert hidden.title.encode() not in data
    with pytest.raises(NotFound):
        export_bytes(inst, reader(), tree.secret_series.id)


def test_export_event_and_file_output(instance: Instance, operator: Actor, tmp_path: Path) -> None:
    tree = build(instance, operator)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "z109.ead3.xml"
    result = export_ead3(instance, operator, tree.fonds.id, out)
    assert result.path == out and [p.name for p in out_dir.iterdir()] == ["z109.ead3.xml"]
    assert hashlib.sha256(out.read_bytes()).hexdigest() == result.sha256
    with instance.db.read() as s:
        ev = s.scalars(select(Event).order_by(Event.seq.desc()).limit(1)).one()
    assert ev.action == "catalogue:export:created" and ev.object_id == str(tree.fonds.id)
    detail = json.loads(ev.detail)
    assert detail["components"] == result.components == len(tree.visible) + 2
    assert detail["format"] == "EAD3" and detail["sha256"] == result.sha256
    assert detail["file"] == "z109.ead3.xml"


def test_failed_export_leaves_no_file_and_no_event(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    tree = build(instance, operator)
    with instance.db.read() as s:
        before = s.scalar(select(func.count()).select_from(Event))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "x.xml"
    no_export = Actor(
        username="r", display_name="只读", permissions=frozenset({Perm.CATALOGUE_RECORD_READ})
    )
    with pytest.raises(PermissionDenied):
        export_ead3(instance, no_export, tree.fonds.id, out)
    with pytest.raises(NotFound):
        export_ead3(instance, operator, 999_999, out)
    with pytest.raises(InputError, match="无法在"):
        export_ead3(instance, operator, tree.fonds.id, tmp_path / "missing" / "x.xml")
    assert list(out_dir.iterdir()) == []
    with instance.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == before


def test_records_are_read_in_batches_not_per_node(
    instance: Instance, operator: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = build(instance, operator)
    monkeypatch.setattr(ead3, "BATCH", 3)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(instance.db.engine, "before_cursor_execute", seen)
    try:
        _, result = export_bytes(instance, operator, tree.fonds.id)
    finally:
        event.remove(instance.db.engine, "before_cursor_execute", seen)
    batches = -(-result.components // 3)
    record_reads = [s for s in statements if "FROM records" in s]
    # the root, the outline (one closure query) and one query per batch of 3
    assert len(record_reads) == 2 + batches


def test_round_trip_of_every_unit(instance: Instance, operator: Actor) -> None:
    tree = build(instance, operator)
    data, _ = export_bytes(instance, operator, tree.fonds.id)
    doc = parse_bytes(data, name="z109.xml")
    with instance.db.read() as s:
        by_uid = {r.uid: r for r in s.scalars(select(Record))}
    seen = 0
    for c in doc.iterfind(".//e:c", NS):
        rec = by_uid[str(c.get("id")).removeprefix("lantai-")]
        parent = c.getparent()
        assert parent is not None
        expected_parent = (
            by_uid[str(parent.get("id")).removeprefix("lantai-")]
            if parent.tag == f"{{{EAD3_NS}}}c"
            else tree.fonds
        )
        assert rec.parent_id == expected_parent.id
        assert c.findtext("e:did/e:unittitle", namespaces=NS) == rec.title
        codes = [u.text for u in c.iterfind("e:did/e:unitid", NS) if u.get("localtype") is None]
        assert codes == ([rec.archival_code] if rec.archival_code else [])
        seen += 1
    assert seen == len(by_uid) - 1


def test_subtree_export_starts_at_any_unit(
    instance: Instance, operator: Actor, published_ead3: etree.XMLSchema
) -> None:
    tree = build(instance, operator)
    group = tree.visible[-2]
    data, result = export_bytes(instance, operator, group.id)
    doc = parse_bytes(data, name="g.xml")
    assert published_ead3.validate(doc), published_ead3.error_log
    assert result.components == 1
    assert doc.getroot().find("e:archdesc", NS).get("level") == "file"  # type: ignore[union-attr]
    assert doc.getroot().findtext("e:control/e:recordid", namespaces=NS) == group.archival_code


def test_legacy_control_characters_do_not_break_the_export(
    instance: Instance, operator: Actor
) -> None:
    tree = build(instance, operator)
    item = tree.visible[3]
    with instance.db.write() as s:  # data loaded before GD-1-6 was enforced
        rec = s.get(Record, item.id)
        assert rec is not None
        rec.title = "旧系统\x0b迁移的题名"
    data, _ = export_bytes(instance, operator, tree.fonds.id)
    assert "旧系统\ufffd迁移的题名".encode() in data
    assert validate(parse_bytes(data, name="z.xml"), "ead3") == []
