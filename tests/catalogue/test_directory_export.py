"""归档文件目录 (DA/T 22-2015) export to XLSX and PDF: columns, order, cover, pages, visibility."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select
from typer import Typer
from typer.testing import CliRunner

from factories import create_fonds, create_series, item_values
from lantai.archival import Level
from lantai.audit import EventType
from lantai.catalogue.directory import COLUMNS, depth_first, export_directory
from lantai.cli.spreadsheet import export_directory_command
from lantai.errors import PermissionDenied, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import Event, Record


def add_items(
    inst: Instance, actor: Actor, parent_id: int, n: int, **overrides: Any
) -> list[Record]:
    out = []
    with inst.db.write() as s:
        for i in range(n):
            values = item_values(
                **{
                    "title": f"关于印发2011年工作要点的通知（之{i + 1}）",
                    "doc_number": f"市府办发〔2011〕{i + 1}号",
                    "notes": "附件1份" if i % 2 else None,
                    **overrides,
                }
            )
            out.append(
                inst.catalogue.create_record(
                    s, actor, parent_id=parent_id, level=Level.ITEM, values=values
                )
            )
    return out


def xlsx_rows(path: Path) -> list[tuple[Any, ...]]:
    wb = load_workbook(path)
    return list(wb.active.iter_rows(values_only=True))


def last_event(inst: Instance) -> Event:
    with inst.db.read() as s:
        ev = s.scalars(select(Event).order_by(Event.seq.desc())).first()
    assert ev is not None
    return ev


@pytest.fixture
def tree(any_instance: Instance, operator: Actor) -> dict[str, Any]:
    inst = any_instance
    fonds = create_fonds(inst, operator)
    s2011 = create_series(inst, operator, fonds.id, "文书档案 2011年")
    s2012 = create_series(inst, operator, fonds.id, "文书档案 2012年")
    a = add_items(inst, operator, s2011.id, 3)
    b = add_items(
        inst, operator, s2012.id, 2, date="20120506", year=2012, retention="D30", org_code="ZZB"
    )
    return {"fonds": fonds, "s2011": s2011, "s2012": s2012, "a": a, "b": b}


# -- XLSX -----------------------------------------------------------------------------------------


def test_xlsx_of_a_series_has_the_dat22_columns(
    any_instance: Instance, operator: Actor, tree: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "exports" / "目录.xlsx"
    result = export_directory(any_instance, operator, tree["s2011"].id, out, "xlsx")

    assert (result.rows, result.path, result.pages) == (3, out, None)
    rows = xlsx_rows(out)
    assert rows[0][0] == "归档文件目录"
    cover = rows[1][0]
    assert "全宗名称：某市人民政府办公室" in cover
    assert "年度：2011" in cover and "保管期限：永久" in cover and "机构（问题）：BGS" in cover
    assert rows[2] == COLUMNS
    first = tree["a"][0]
    assert rows[3] == (
        1,
        first.archival_code,
        "市府办发〔2011〕1号",
        "某市人民政府办公室",
        "关于印发2011年工作要点的通知（之1）",
        "20110305",
        "公开",
        4,
        None,
    )
    assert [r[0] for r in rows[3:]] == [1, 2, 3]
    assert [r[1] for r in rows[3:]] == [r.archival_code for r in tree["a"]]
    assert rows[4][8] == "附件1份"
    assert len(rows) == 6

    ws = load_workbook(out).active
    assert ws.print_title_rows == "$3:$3"
    assert ws["A3"].font.bold and ws["E3"].font.bold
    assert ws.column_dimensions["E"].width > ws.column_dimensions["A"].width
    assert ws.page_setup.orientation == "landscape"
    assert "A1:I1" in {str(r) for r in ws.merged_cells.ranges}

    ev = last_event(any_instance)
    assert ev.action == EventType.CATALOGUE_EXPORT_CREATED.value
    assert ev.object_id == str(tree["s2011"].id)
    detail = json.loads(ev.detail)
    assert (detail["format"], detail["rows"], detail["file"]) == ("xlsx", 3, "目录.xlsx")
    assert not list(out.parent.glob(".*.tmp"))


def test_fonds_export_goes_depth_first_in_batches(
    any_instance: Instance, operator: Actor, tree: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "fonds.xlsx"
    result = export_directory(any_instance, operator, tree["fonds"].id, out, "xlsx", batch_size=2)
    rows = xlsx_rows(out)[3:]
    expected = [r.archival_code for r in tree["a"]] + [r.archival_code for r in tree["b"]]
    assert [r[1] for r in rows] == expected
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
    assert result.rows == 5
    # years, retention and 机构 differ between the series: the cover leaves them blank
    assert result.cover is not None
    assert (result.cover.year, result.cover.retention, result.cover.org) == ("", "", "")
    assert "年度：　" in xlsx_rows(out)[1][0]


def test_withdrawn_and_secret_items_are_left_out(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    fonds = create_fonds(instance, operator)
    series = create_series(instance, operator, fonds.id)
    open_items = add_items(instance, operator, series.id, 2)
    secret = add_items(instance, operator, series.id, 1, security_level="秘密")[0]
    gone = add_items(instance, operator, series.id, 1)[0]
    with instance.db.write() as s:
        instance.catalogue.withdraw(s, operator, gone.id, reason="重复著录")
    clerk = Actor(
        username="clerk",
        display_name="档案员",
        user_id=7,
        permissions=frozenset({Perm.CATALOGUE_EXPORT, Perm.CATALOGUE_RECORD_READ}),
    )
    mine = export_directory(instance, clerk, series.id, tmp_path / "a.xlsx", "xlsx")
    assert [r[1] for r in xlsx_rows(tmp_path / "a.xlsx")[3:]] == [
        r.archival_code for r in open_items
    ]
    assert mine.rows == 2
    everything = export_directory(instance, operator, series.id, tmp_path / "b.xlsx", "xlsx")
    assert everything.rows == 3
    assert xlsx_rows(tmp_path / "b.xlsx")[-1][1] == secret.archival_code


def test_file_level_export(instance: Instance, operator: Actor, tmp_path: Path) -> None:
    fonds = create_fonds(instance, operator)
    series = create_series(instance, operator, fonds.id, "专业档案", category="ZY")
    with instance.db.write() as s:
        folder = instance.catalogue.create_record(
            s,
            operator,
            parent_id=series.id,
            level=Level.FILE,
            values={
                "title": "2019年城市建设检查材料",
                "date": "20190101-20191231",
                "responsible": "某市住房和城乡建设局",
                "year": 2019,
                "retention": "D30",
                "class_code": "JC",
            },
        )
    inside = add_items(instance, operator, folder.id, 3, date="20190305", year=2019)
    result = export_directory(instance, operator, folder.id, tmp_path / "f.xlsx", "xlsx")
    rows = xlsx_rows(tmp_path / "f.xlsx")
    assert [r[1] for r in rows[3:]] == [r.archival_code for r in inside]
    assert rows[4][1] == f"{folder.archival_code}-002"
    assert result.rows == 3


def test_an_item_is_not_a_directory(instance: Instance, operator: Actor, tmp_path: Path) -> None:
    fonds = create_fonds(instance, operator)
    item = add_items(instance, operator, create_series(instance, operator, fonds.id).id, 1)[0]
    seq = last_event(instance).seq
    with pytest.raises(ValidationFailed, match="只能按全宗、类别或案卷导出") as exc:
        export_directory(instance, operator, item.id, tmp_path / "x.pdf", "pdf")
    assert exc.value.problems[0].field == "著录层级"
    assert not (tmp_path / "x.pdf").exists()
    assert last_event(instance).seq == seq


def test_export_needs_the_permission(instance: Instance, operator: Actor, tmp_path: Path) -> None:
    fonds = create_fonds(instance, operator)
    reader = Actor(
        username="r",
        display_name="读者",
        user_id=8,
        permissions=frozenset({Perm.CATALOGUE_RECORD_READ}),
    )
    with pytest.raises(PermissionDenied):
        export_directory(instance, reader, fonds.id, tmp_path / "x.xlsx", "xlsx")


def test_depth_first_order_follows_positions() -> None:
    outline = [(1, None, 1), (3, 1, 2), (2, 1, 1), (5, 3, 1), (4, 2, 2), (6, 2, 1), (9, None, 2)]
    assert list(depth_first(outline, 1)) == [1, 2, 6, 4, 3, 5]
    assert list(depth_first(outline, 42)) == []


# -- PDF ------------------------------------------------------------------------------------------


def pdf_texts(path: Path) -> list[str]:
    return [p.extract_text() for p in PdfReader(path).pages]


def test_pdf_of_a_small_series_is_one_page(
    any_instance: Instance, operator: Actor, tree: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "目录.pdf"
    result = export_directory(any_instance, operator, tree["s2011"].id, out, "pdf")
    assert (result.rows, result.pages) == (3, 1)
    texts = pdf_texts(out)
    assert len(texts) == 1
    text = texts[0]
    assert "归档文件目录" in text
    assert "全宗名称：某市人民政府办公室" in text
    assert tree["a"][0].archival_code in text
    assert "关于印发2011年工作要点的通知（之1）" in text
    assert "第 1 页" in text and "共 1 页" in text
    reader = PdfReader(out)
    assert reader.pages[0].mediabox.width > reader.pages[0].mediabox.height  # landscape
    assert reader.metadata is not None and reader.metadata.title.startswith("归档文件目录")


def test_pdf_repeats_the_header_and_numbers_pages(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    fonds = create_fonds(instance, operator)
    series = create_series(instance, operator, fonds.id)
    made = add_items(instance, operator, series.id, 70)
    out = tmp_path / "long.pdf"
    result = export_directory(instance, operator, series.id, out, "pdf")
    texts = pdf_texts(out)
    pages = len(texts)
    assert pages == result.pages and pages >= 3
    for n, text in enumerate(texts, start=1):
        assert "归档文件目录" in text
        assert all(col in text for col in ("序号", "档号", "文号", "责任者", "题名", "备注"))
        assert f"第 {n} 页" in text and f"共 {pages} 页" in text
    assert made[0].archival_code in texts[0]
    assert made[-1].archival_code in texts[-1]
    # every item appears exactly once across the pages
    codes = re.findall(r"Z109-WS·2011-Y-BGS-\d{4}", "".join(texts))
    assert codes == [r.archival_code for r in made]


def test_pdf_clips_a_cell_taller_than_a_page(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    fonds = create_fonds(instance, operator)
    series = create_series(instance, operator, fonds.id)
    add_items(instance, operator, series.id, 1, notes="详见附件。" * 400)
    result = export_directory(instance, operator, series.id, tmp_path / "x.pdf", "pdf")
    assert result.pages == 1
    assert "…" in pdf_texts(tmp_path / "x.pdf")[0]


def test_pdf_falls_back_to_the_builtin_cid_font(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    fonds = create_fonds(instance, operator)
    series = create_series(instance, operator, fonds.id)
    add_items(instance, operator, series.id, 2)
    out = tmp_path / "cid.pdf"
    result = export_directory(
        instance, operator, series.id, out, "pdf", pdf_font=tmp_path / "no-such-font.ttc"
    )
    assert result.pages == 1 and len(PdfReader(out).pages) == 1
    assert b"STSong-Light" in out.read_bytes()


# -- the command line -----------------------------------------------------------------------------


@pytest.fixture
def cli(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("LANTAI_HOME", str(instance.home))
    monkeypatch.delenv("LANTAI_DATABASE_URL", raising=False)
    yield CliRunner()


def test_cli_exports_by_fonds_code_and_by_id(
    cli: CliRunner, instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    fonds = create_fonds(instance, operator)
    series = create_series(instance, operator, fonds.id)
    add_items(instance, operator, series.id, 2)
    app = Typer()
    app.command()(export_directory_command)
    res = cli.invoke(app, ["Z109", "--out", str(tmp_path / "z.pdf")])
    assert res.exit_code == 0, res.output
    assert "2 件" in res.stdout and "共 1 页" in res.stdout
    assert len(PdfReader(tmp_path / "z.pdf").pages) == 1
    res = cli.invoke(app, [str(series.id), "-o", str(tmp_path / "s.xlsx")])
    assert res.exit_code == 0, res.output
    assert len(xlsx_rows(tmp_path / "s.xlsx")) == 5
    res = cli.invoke(app, ["Q999", "-o", str(tmp_path / "q.xlsx")])
    assert res.exit_code == 1 and "Q999" in res.stderr
