"""EAD 2002 import: the ten ArchivesSpace fixtures, hostile XML, DA/T 18 mapping, all-or-nothing."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
import typer
from lxml import etree
from sqlalchemy import func, select
from typer.testing import CliRunner

from factories import create_fonds
from lantai.catalogue.ead3 import export_ead3
from lantai.catalogue.ead2002 import EAD2002_NS, NO_CUSTODY, NO_RESPONSIBLE, import_ead2002
from lantai.cli.ead import export_ead3_command, import_ead_command
from lantai.errors import InputError, PermissionDenied, ValidationFailed
from lantai.formats import XmlRefused, XmlUnsafe, parse_file, validate
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import CodeCounter, Event, Record, RecordClosure

# Per fixture: what happens on import (with the default 门类 WS).
VALID = {  # file → Lantai records created by level (the 门类 类别 included)
    "ead-dao-test.xml": {"fonds": 1, "series": 3, "file": 1, "item": 5},
    "ead_with_extents.xml": {"fonds": 1, "series": 1, "item": 7},
    "wegmann.xml": {"fonds": 1, "series": 1, "file": 1},
}
DTD_FLAVOUR = {"vmi.xml": 2, "voorhis.xml": 3, "wnyu.xml": 5}  # file → line of the root
XSD_INVALID = {  # file → (line of the first error, words in it)
    "afcu.xml": (7, "attribute 'normal'"),
    "archon-tracer.xml": (115, "Element 'date'"),
    "at-tracer.xml": (4, "countrycode"),
    "ferris.xml": (67, "controlaccess"),
}
COMPONENT = {"c", *(f"c{i:02d}" for i in range(1, 13))}


@pytest.fixture(scope="module")
def ead_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "ead" / "archivesspace-examples" / "ead"


def counts(inst: Instance) -> tuple[int, int, int, int]:
    with inst.db.read() as s:
        return tuple(  # type: ignore[return-value]
            s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Record, RecordClosure, CodeCounter, Event)
        )


def xml_components(path: Path) -> list[etree._Element]:
    """The components of a finding aid, counted independently of the importer."""
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    return [el for el in tree.iter(f"{{{EAD2002_NS}}}*") if etree.QName(el).localname in COMPONENT]


def fonds_records(inst: Instance, fonds_id: int) -> list[Record]:
    with inst.db.read() as s:
        return list(
            s.scalars(select(Record).where(Record.fonds_id == fonds_id).order_by(Record.id))
        )


def test_fixture_outcomes_cover_every_file(ead_dir: Path) -> None:
    assert sorted(p.name for p in ead_dir.glob("*.xml")) == sorted(
        [*VALID, *DTD_FLAVOUR, *XSD_INVALID]
    )


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_fixture_imports(
    any_instance: Instance, operator: Actor, ead_dir: Path, name: str
) -> None:
    inst = any_instance
    path = ead_dir / name
    assert validate(parse_file(path), "ead2002") == []
    before = counts(inst)
    result = import_ead2002(inst, operator, path, fonds_code="E001")
    components = xml_components(path)
    assert result.components == len(components)
    assert result.records == len(components) + 2 == sum(result.levels.values())
    assert result.levels == VALID[name]
    records = fonds_records(inst, result.fonds_id)
    assert len(records) == result.records
    assert Counter(r.level for r in records) == Counter(VALID[name])
    assert counts(inst)[0] == before[0] + result.records
    titles = Counter(r.title for r in records)
    for c in components:
        unittitle = c.find(f"{{{EAD2002_NS}}}did/{{{EAD2002_NS}}}unittitle")
        assert unittitle is not None
        assert titles[" ".join("".join(unittitle.itertext()).split())] >= 1
    fonds = records[0]
    assert (fonds.level, fonds.archival_code, fonds.fonds_id) == ("fonds", "E001", fonds.id)
    assert f"由 EAD 2002 文件「{name}」" in fonds.values()["notes"]
    assert all(
        r.archival_code and r.archival_code.startswith("E001-WS·")
        for r in records
        if r.level == "item"
    )
    with inst.db.read() as s:
        ev = s.scalars(select(Event).order_by(Event.seq.desc()).limit(1)).one()
    detail = json.loads(ev.detail)
    assert ev.action == "catalogue:import:completed" and detail["file"] == name
    assert detail["records"] == result.records and detail["sha256"] == result.sha256


@pytest.mark.parametrize("name", sorted(XSD_INVALID))
def test_invalid_fixture_is_rejected_with_its_errors(
    any_instance: Instance, operator: Actor, ead_dir: Path, name: str
) -> None:
    inst = any_instance
    before = counts(inst)
    with pytest.raises(ValidationFailed) as info:
        import_ead2002(inst, operator, ead_dir / name, fonds_code="E001")
    line, words = XSD_INVALID[name]
    first = info.value.problems[0]
    assert (first.file, first.row, first.rule) == (name, line, "EAD 2002 XML Schema")
    assert words in first.message
    assert "不符合 EAD 2002 XML Schema" in info.value.message
    assert counts(inst) == before


@pytest.mark.parametrize("name", sorted(DTD_FLAVOUR))
def test_dtd_flavour_is_rejected_clearly(
    instance: Instance, operator: Actor, ead_dir: Path, name: str
) -> None:
    before = counts(instance)
    with pytest.raises(ValidationFailed) as info:
        import_ead2002(instance, operator, ead_dir / name, fonds_code="E001")
    [problem] = info.value.problems
    assert "EAD 2002 DTD 版本不受支持，请转换为 XSD 命名空间版本" in problem.message
    assert (problem.file, problem.row) == (name, DTD_FLAVOUR[name])
    assert counts(instance) == before


def test_hostile_xml_is_refused_before_anything_is_written(
    instance: Instance, operator: Actor, fixtures_dir: Path, tmp_path: Path
) -> None:
    before = counts(instance)
    attacks = fixtures_dir / "security" / "defusedxml-xmltestdata"
    outcomes = {}
    for src in sorted(attacks.iterdir()):
        path = tmp_path / src.name
        shutil.copyfile(src, path)
        with pytest.raises(InputError) as info:
            import_ead2002(instance, operator, path, fonds_code="E001")
        outcomes[src.name] = type(info.value)
    assert counts(instance) == before
    for name in (
        "cyclic.xml",
        "external.xml",
        "external_file.xml",
        "quadratic.xml",
        "xmlbomb.xml",
        "xmlbomb2.xml",
    ):
        assert outcomes[name] is XmlUnsafe
    assert all(issubclass(t, XmlRefused | ValidationFailed) for t in outcomes.values())


CHINESE_EAD = """<?xml version="1.0" encoding="GB18030"?>
<ead xmlns="urn:isbn:1-931666-22-9">
 <eadheader><eadid>cn-test</eadid>
  <filedesc><titlestmt><titleproper>外事办公室档案</titleproper></titlestmt></filedesc>
 </eadheader>
 <archdesc level="fonds">
  <did>
   <unitid>A123</unitid>
   <unittitle>某市外事办公室</unittitle>
   <unitdate normal="1950/2000" type="inclusive">1950-2000</unitdate>
   <unitdate normal="1960/1970" type="bulk">1960-1970</unitdate>
   <origination><corpname>某市外事办公室</corpname></origination>
   <physdesc><extent>3 linear feet</extent></physdesc>
  </did>
  <custodhist><head>保管沿革</head><p>2001年移交进馆。</p></custodhist>
  <bioghist><p>1950年成立。</p><p>2000年撤销。</p></bioghist>
  <scopecontent><p>外事往来文件。</p></scopecontent>
  <dsc>
   <c01 level="series"><did><unitid>S1</unitid><unittitle>外事往来</unittitle></did>
    <c02 level="item">
     <did>
      <unitid>S1-1</unitid>
      <unittitle>關於接待外賓的請示 &amp; 批復</unittitle>
      <unitdate normal="1985-03-05">1985年3月5日</unitdate>
      <physdesc><extent>4 pages</extent></physdesc>
      <langmaterial><language langcode="chi">中文</language></langmaterial>
      <container type="Box">1</container>
     </did>
     <accessrestrict><p>内部使用</p></accessrestrict>
    </c02>
    <c02 level="item"><did><unittitle>1986 年度总结</unittitle><unitdate>1986</unitdate>
     <origination><persname>张三</persname></origination></did></c02>
    <c02><did><unittitle>无日期文件</unittitle></did></c02>
   </c01>
   <c01 level="file"><did><unittitle>会议记录</unittitle><unitdate normal="1990/1991">1990-1991</unitdate></did>
    <c02 level="item"><did><unittitle>第一次会议</unittitle><unitdate normal="1990-01-10">1990-01-10</unitdate></did>
     <c03 level="item"><did><unittitle>附件</unittitle></did></c03>
    </c02>
   </c01>
  </dsc>
 </archdesc>
</ead>
"""


def write_ead(tmp_path: Path, text: str, name: str = "cn.xml", encoding: str = "gb18030") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_mapping_of_a_chinese_finding_aid(
    any_instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    inst = any_instance
    path = write_ead(tmp_path, CHINESE_EAD)
    assert validate(parse_file(path), "ead2002") == []
    result = import_ead2002(inst, operator, path)  # 全宗号 from archdesc/did/unitid
    assert result.fonds_code == "A123" and result.components == 7
    assert result.levels == {"fonds": 1, "series": 2, "file": 1, "item": 5}
    recs = {r.title: r for r in fonds_records(inst, result.fonds_id)}
    fonds = recs["某市外事办公室"].values()
    assert fonds["date"] == "1950-2000"  # the bulk date is ignored
    assert fonds["custody_history"] == "2001年移交进馆。"  # head skipped
    assert fonds["org_history"] == "1950年成立。\n2000年撤销。"
    assert fonds["abstract"] == "外事往来文件。"
    assert fonds["carrier"] == "3 linear feet" and fonds["original_reference"] == "A123"
    assert (
        recs["外事往来"].level == "series"
        and recs["外事往来"].values()["original_reference"] == "S1"
    )
    first = recs["關於接待外賓的請示 & 批復"].values()
    assert first["archival_code"] == "A123-WS·1985-Y-0001"
    assert (first["date"], first["year"], first["pages"]) == ("19850305", 1985, 4)
    assert first["responsible"] == "某市外事办公室"  # inherited from archdesc
    assert (first["language"], first["location"], first["carrier"]) == ("汉语", "Box 1", "4 pages")
    assert first["original_reference"] == "S1-1" and "访问限制：内部使用" in first["notes"]
    assert (first["retention"], first["open_status"]) == ("Y", "未审核")
    second = recs["1986 年度总结"].values()
    assert (second["date"], second["responsible"]) == ("[19860101]", "张三")
    assert "EAD 原文为「1986」" in second["notes"]
    undated = recs["无日期文件"].values()
    assert undated["date"] == "[19500101]" and "继承上级著录单元的日期" in undated["notes"]
    # WS numbers 案卷 (dat13-file-generic): the "file" becomes a 案卷 and everything inside it is
    # flattened into 卷内件 numbered under the 案卷's 档号; the leaf inherits its parent's date.
    volume = recs["会议记录"]
    assert volume.level == "file" and volume.archival_code == "A123-WS·1990·Y-001"
    assert recs["第一次会议"].level == "item" and recs["第一次会议"].parent_id == volume.id
    attachment = recs["附件"].values()
    assert attachment["date"] == "19900110" and recs["附件"].parent_id == volume.id
    assert recs["附件"].archival_code == "A123-WS·1990·Y-001-002"
    messages = [n.message for n in result.notes]
    assert any("卷内" in m for m in messages), messages
    assert all(n.file == "cn.xml" and n.row for n in result.notes)


def test_file_level_becomes_a_file_where_the_category_numbers_files(
    instance: Instance, operator: Actor, ead_dir: Path
) -> None:
    result = import_ead2002(
        instance, operator, ead_dir / "wegmann.xml", fonds_code="W001", category="ZP"
    )
    assert result.levels == {"fonds": 1, "series": 1, "file": 1}
    [folder] = [r for r in fonds_records(instance, result.fonds_id) if r.level == "file"]
    assert folder.archival_code == "W001-ZP·1893·Y-001"
    assert (folder.date, folder.year, folder.title) == (
        "1893",
        1893,
        "Edward J. Wegmann, Jr. Notebook",
    )
    assert folder.values()["location"] == "Box 1；Folder 1"


def test_description_failing_dat18_rolls_everything_back(
    any_instance: Instance, operator: Actor, ead_dir: Path
) -> None:
    inst = any_instance
    before = counts(inst)
    with pytest.raises(ValidationFailed) as info:  # ZP items need 摄影者, which EAD does not have
        import_ead2002(
            inst, operator, ead_dir / "ead-dao-test.xml", fonds_code="E001", category="ZP"
        )
    problems = info.value.problems
    assert len(problems) == 5 and {p.field for p in problems} == {"摄影者"}
    assert [p.row for p in problems] == [36, 62, 82, 103, 114]
    assert all(p.file == "ead-dao-test.xml" for p in problems)
    assert counts(inst) == before


def test_fonds_code_rules(instance: Instance, operator: Actor, ead_dir: Path) -> None:
    before = counts(instance)
    with pytest.raises(ValidationFailed) as info:
        import_ead2002(instance, operator, ead_dir / "wegmann.xml")  # unitid "MC 59"
    assert (
        info.value.problems[0].field == "全宗号"
        and "--fonds-code" in info.value.problems[0].message
    )
    create_fonds(instance, operator, code="Z109")
    before = counts(instance)
    with pytest.raises(ValidationFailed, match="全宗未创建") as info:
        import_ead2002(instance, operator, ead_dir / "wegmann.xml", fonds_code="Z109")
    assert any("已存在" in p.message for p in info.value.problems)
    with pytest.raises(ValidationFailed):
        import_ead2002(
            instance, operator, ead_dir / "wegmann.xml", fonds_code="W001", category="XX"
        )
    with pytest.raises(ValidationFailed):
        import_ead2002(
            instance, operator, ead_dir / "wegmann.xml", fonds_code="W001", retention="五年"
        )
    with pytest.raises(ValidationFailed, match="门类") as info:  # WY items need a 类别号
        import_ead2002(
            instance, operator, ead_dir / "wegmann.xml", fonds_code="W001", category="WY"
        )
    assert counts(instance) == before


def test_placeholders_and_truncation_are_visible(
    instance: Instance, operator: Actor, ead_dir: Path, tmp_path: Path
) -> None:
    result = import_ead2002(instance, operator, ead_dir / "wegmann.xml", fonds_code="W001")
    fonds = fonds_records(instance, result.fonds_id)[0].values()
    assert fonds["responsible"] == NO_RESPONSIBLE and fonds["custody_history"] == NO_CUSTODY
    assert "未著录 custodhist" in fonds["notes"]
    assert any('level="item"，整体作为一个全宗导入' in n.message for n in result.notes)
    long_title = "很长的题名" * 120
    text = CHINESE_EAD.replace(
        "<unittitle>外事往来</unittitle>", f"<unittitle>{long_title}</unittitle>"
    )
    result = import_ead2002(instance, operator, write_ead(tmp_path, text), fonds_code="B001")
    [series] = [
        r for r in fonds_records(instance, result.fonds_id) if r.title.startswith("很长的题名")
    ]
    assert len(series.title) == 500 and series.title.endswith("……（已截断）")
    assert any("「题名」超过 500 个字符，已截断" in n.message for n in result.notes)


def test_import_needs_the_import_permission(instance: Instance, ead_dir: Path) -> None:
    actor = Actor(
        username="r", display_name="读者", permissions=frozenset({Perm.CATALOGUE_RECORD_READ})
    )
    with pytest.raises(PermissionDenied):
        import_ead2002(instance, actor, ead_dir / "wegmann.xml", fonds_code="W001")


def test_imported_fonds_exports_as_valid_ead3(
    instance: Instance, operator: Actor, ead_dir: Path, tmp_path: Path
) -> None:
    result = import_ead2002(instance, operator, ead_dir / "ead-dao-test.xml", fonds_code="E001")
    out = tmp_path / "e001.xml"
    exported = export_ead3(instance, operator, result.fonds_id, out)
    assert exported.components == result.records - 1
    doc = parse_file(out)
    assert validate(doc, "ead3") == []
    ns = {"e": "http://ead3.archivists.org/schema/"}
    refs = [u.text for u in doc.iterfind(".//e:unitid[@localtype='原参考代码']", ns)]
    assert refs == ["DAO-GRP"]
    assert len(doc.findall(".//e:c[@level='item']", ns)) == VALID["ead-dao-test.xml"]["item"]


def test_cli_commands(
    instance: Instance, ead_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANTAI_HOME", str(instance.home))
    monkeypatch.setenv("LANTAI_ARCHIVE_CODE", "136101")
    app = typer.Typer()
    app.command("import-ead")(import_ead_command)
    app.command("export-ead3")(export_ead3_command)
    runner = CliRunner()
    done = runner.invoke(app, ["import-ead", str(ead_dir / "wegmann.xml"), "--fonds-code", "W001"])
    assert done.exit_code == 0, done.output
    assert "已导入全宗 W001" in done.output
    refused = runner.invoke(app, ["import-ead", str(ead_dir / "vmi.xml"), "--fonds-code", "W002"])
    assert refused.exit_code == 1
    out = tmp_path / "w001.xml"
    exported = runner.invoke(app, ["export-ead3", "W001", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert validate(parse_file(out), "ead3") == []
    missing = runner.invoke(app, ["export-ead3", "NOPE", "--out", str(out)])
    assert missing.exit_code == 1


NESTED_DSC = """<ead xmlns="urn:isbn:1-931666-22-9">
 <eadheader><eadid>nested</eadid>
  <filedesc><titlestmt><titleproper>嵌套 dsc</titleproper></titlestmt></filedesc></eadheader>
 <archdesc level="collection">
  <did><unittitle>某某人物全宗</unittitle><origination><persname>李四</persname></origination></did>
  <acqinfo><p>2010年捐赠。</p></acqinfo>
  <dsc>
   <dsc><c level="item"><did><unittitle>日记</unittitle><unitdate>1936-1938</unitdate></did></c></dsc>
   <dsc><c level="item"><did><unittitle>书信</unittitle><unitdate>undated</unitdate></did></c></dsc>
  </dsc>
 </archdesc>
</ead>
"""


def test_nested_dsc_undated_text_and_dates_from_components(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    path = write_ead(tmp_path, NESTED_DSC, "nested.xml", "utf-8")
    assert validate(parse_file(path), "ead2002") == []
    result = import_ead2002(instance, operator, path, fonds_code="L001")
    assert result.components == 2 and result.levels == {"fonds": 1, "series": 1, "item": 2}
    recs = {r.title: r.values() for r in fonds_records(instance, result.fonds_id)}
    fonds = recs["某某人物全宗"]
    assert fonds["date"] == "1936-1938"  # archdesc has none: taken from the components
    assert (fonds["custody_history"], fonds["responsible"]) == ("2010年捐赠。", "李四")
    assert recs["日记"]["date"] == "[19360101]" and recs["日记"]["year"] == 1936
    letters = recs["书信"]
    assert letters["date"] == "[19360101]" and "原日期表述：undated" in letters["notes"]
    messages = " ".join(n.message for n in result.notes)
    assert "全宗日期按各组件日期的起止著录" in messages and "无法识别为日期" in messages
