"""Catalogue spreadsheet import: realistic agency files in, all rows or none.

``write_agency_sheet`` generates the kind of 归档文件目录 spreadsheet an agency's records office
sends (a title line, 序号, 全宗号, 年度, 档号, 文号, 责任者, 题名, 成文日期, 保管期限, 机构（问题）,
密级, 页数, 备注) as XLSX or as CSV in UTF-8, UTF-8 with BOM or GBK. Every rejection test asserts
the problem's file, row, field and rule, and that nothing but the rejection record was written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from typer import Typer
from typer.testing import CliRunner

from factories import create_fonds, create_series, item_values
from hostile import make_zip_bomb
from lantai.archival import Level
from lantai.audit import EventType
from lantai.catalogue.importer import ImportRejected, import_spreadsheet, report_to_xlsx
from lantai.cli.spreadsheet import import_command
from lantai.errors import Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import CodeCounter, Event, ImportBatch, Record, RecordClosure

# -- the sample agency spreadsheet ----------------------------------------------------------------

AGENCY_HEADER = [
    "序号",
    "全宗号",
    "年度",
    "档号",
    "文号",
    "责任者",
    "题名",
    "成文日期",
    "保管期限",
    "机构（问题）",
    "密级",
    "页数",
    "备注",
]
_TITLES = [
    "关于印发《{y}年全市档案工作要点》的通知",
    "关于做好{y}年春节期间安全生产工作的通知",
    "市人民政府办公室关于{y}年度政务公开工作情况的报告",
    "关于召开全市数字档案馆建设推进会的通知",
    "关于进一步加强机关档案工作的意见",
    "关于{y}年市政府重点工作任务分解的通知",
    "市人民政府常务会议纪要（第{n}次）",
    "关于同意设立市档案馆城东分馆的批复",
    "关于开展档案安全大检查工作的通知",
    "关于表彰{y}年度档案工作先进集体和先进个人的决定",
]
_RETENTION = [("永久", "Y"), ("定期30年", "D30"), ("定期10年", "D10")]


def agency_rows(
    n: int = 12, *, year: int = 2011, fonds: str = "Z109", with_codes: bool = False
) -> list[dict[str, Any]]:
    """``n`` realistic 件 of a municipal government office, one 年度."""
    rows: list[dict[str, Any]] = []
    counters: dict[str, int] = {}
    for i in range(n):
        label, code = _RETENTION[i % 3]
        counters[code] = counters.get(code, 0) + 1
        rows.append(
            {
                "序号": i + 1,
                "全宗号": fonds,
                "年度": year,
                "档号": f"{fonds}-WS·{year}-{code}-BGS-{counters[code]:04d}"
                if with_codes
                else None,
                "文号": f"市府办发〔{year}〕{i + 1}号",
                "责任者": "某市人民政府办公室",
                "题名": _TITLES[i % len(_TITLES)].format(y=year, n=i + 1),
                "成文日期": date(year, 1 + i % 12, 1 + (i * 7) % 28),
                "保管期限": label,
                "机构（问题）": "BGS",
                "密级": "内部" if i % 5 == 4 else "公开",
                "页数": 2 + i % 9,
                "备注": "附件1份" if i % 4 == 3 else None,
            }
        )
    return rows


def write_agency_sheet(
    path: Path,
    rows: list[dict[str, Any]],
    *,
    header: list[str] | None = None,
    encoding: str = "utf-8",
    title: str | None = "某市人民政府办公室归档文件目录",
) -> Path:
    """Write ``rows`` as the agency would: XLSX (with a title line) or CSV in ``encoding``."""
    header = header or list(rows[0].keys())
    if path.suffix == ".xlsx":
        wb = Workbook()
        ws = wb.active
        if title:
            ws.append([title])
        ws.append(header)
        for row in rows:
            ws.append([row.get(h) for h in header])
        wb.save(path)
        return path
    lines = [header] + [[_csv_text(row.get(h), i) for h in header] for i, row in enumerate(rows)]
    text = "".join(",".join(_quote(c) for c in line) + "\r\n" for line in lines)
    path.write_bytes(text.encode(encoding))
    return path


def _csv_text(value: Any, i: int) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        # agencies write dates every which way
        forms = ("{y}{m:02d}{d:02d}", "{y}-{m}-{d}", "{y}年{m}月{d}日", "{y}/{m:02d}/{d:02d}")
        return forms[i % 4].format(y=value.year, m=value.month, d=value.day)
    return str(value)


def _quote(s: str) -> str:
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\r\n') else s


# -- helpers --------------------------------------------------------------------------------------


def snapshot(inst: Instance) -> dict[str, Any]:
    with inst.db.read() as s:

        def count(model: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)

        return {
            "records": count(Record),
            "closure": count(RecordClosure),
            "counters": sorted(s.execute(select(CodeCounter.group_key, CodeCounter.value)).all()),
            "record_events": int(
                s.scalar(select(func.count()).where(Event.object_type == "record")) or 0
            ),
            "last_seq": int(s.scalar(select(func.max(Event.seq))) or 0),
            "batches": count(ImportBatch),
        }


def assert_only_rejection_written(inst: Instance, before: dict[str, Any]) -> ImportBatch:
    after = snapshot(inst)
    for key in ("records", "closure", "counters", "record_events"):
        assert after[key] == before[key], key
    assert after["batches"] == before["batches"] + 1
    with inst.db.read() as s:
        new_events = list(s.scalars(select(Event).where(Event.seq > before["last_seq"])))
        batch = s.scalars(select(ImportBatch).order_by(ImportBatch.id.desc())).first()
    assert [e.action for e in new_events] == [EventType.CATALOGUE_IMPORT_REJECTED.value]
    assert new_events[0].outcome == "failure"
    assert batch is not None and batch.status == "rejected"
    assert new_events[0].object_id == str(batch.id)
    assert batch.imported_count == 0
    return batch


def find(problems: list[Problem], **want: Any) -> Problem:
    """The one problem whose attributes equal ``want`` (``rule`` and ``message`` by substring)."""
    hits = [
        p
        for p in problems
        if all(
            (w in getattr(p, k)) if k in ("rule", "message") else getattr(p, k) == w
            for k, w in want.items()
        )
    ]
    assert hits, f"no problem like {want} in:\n" + "\n".join(map(str, problems))
    return hits[0]


@pytest.fixture
def fonds(any_instance: Instance, operator: Actor) -> Record:
    return create_fonds(any_instance, operator)


@pytest.fixture
def sqlite_fonds(instance: Instance, operator: Actor) -> Record:
    return create_fonds(instance, operator)


def items(inst: Instance) -> list[Record]:
    with inst.db.read() as s:
        return list(
            s.scalars(select(Record).where(Record.level == Level.ITEM.value).order_by(Record.id))
        )


# -- good files (SQLite and PostgreSQL) -----------------------------------------------------------


def test_agency_xlsx_imports_with_codes_assigned(
    any_instance: Instance, operator: Actor, fonds: Record, tmp_path: Path
) -> None:
    inst = any_instance
    rows = agency_rows(12)
    path = write_agency_sheet(tmp_path / "2011年归档文件目录.xlsx", rows)
    before = snapshot(inst)

    result = import_spreadsheet(inst, operator, path, fonds_id=fonds.id, category="WS")

    assert (result.rows, result.imported, result.codes_assigned, result.codes_kept) == (
        12,
        12,
        12,
        0,
    )
    assert [t for _, t in result.series] == ["文书档案 2011年"]
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    got = items(inst)
    assert len(got) == 12
    # 档号 by DA/T 22: 全宗号-门类·年度-保管期限-机构-件号, numbered per 保管期限 in file order
    assert [r.archival_code for r in got[:4]] == [
        "Z109-WS·2011-Y-BGS-0001",
        "Z109-WS·2011-D30-BGS-0001",
        "Z109-WS·2011-D10-BGS-0001",
        "Z109-WS·2011-Y-BGS-0002",
    ]
    first = got[0]
    assert first.title == "关于印发《2011年全市档案工作要点》的通知"
    assert first.doc_number == "市府办发〔2011〕1号"
    assert first.responsible == "某市人民政府办公室"
    assert first.date == "20110101"
    assert (first.year, first.retention, first.org_code) == (2011, "Y", "BGS")
    assert (first.security_level, first.pages, first.category) == ("公开", 2, "WS")
    assert got[3].fields.get("notes") == "附件1份"
    assert got[4].security_level == "内部"
    series_id = result.series[0][0]
    assert {r.parent_id for r in got} == {series_id}
    assert [r.position for r in got] == list(range(1, 13))

    after = snapshot(inst)
    assert after["records"] == before["records"] + 13  # 12 件 + 1 类别
    assert after["closure"] == before["closure"] + 2 + 12 * 3  # self, 类别, 全宗
    with inst.db.read() as s:
        events = list(s.scalars(select(Event).where(Event.seq > before["last_seq"])))
        batch = s.get(ImportBatch, result.batch_id)
    created = [e for e in events if e.action == EventType.CATALOGUE_RECORD_CREATED.value]
    from_batch = [
        e for e in created if json.loads(e.detail).get("import_batch") == result.batch_uid
    ]
    assert len(created) == 13 and len(from_batch) == 13  # the 类别 created by the import too
    rows = [json.loads(e.detail)["row"] for e in from_batch if "row" in json.loads(e.detail)]
    assert len(rows) == 12 and rows[0] == 3  # title line, header, then data
    assert events[-1].action == EventType.CATALOGUE_IMPORT_COMPLETED.value
    assert batch is not None
    assert (batch.status, batch.row_count, batch.imported_count) == ("imported", 12, 12)
    assert (batch.file_format, batch.sha256, batch.size) == (
        "xlsx",
        result.sha256,
        path.stat().st_size,
    )
    assert batch.filename == "2011年归档文件目录.xlsx"
    assert batch.problems == []


def test_csv_codes_are_kept_and_counters_advance(
    any_instance: Instance, operator: Actor, fonds: Record, tmp_path: Path
) -> None:
    inst = any_instance
    rows = agency_rows(6, with_codes=True)
    rows[-1]["档号"] = "Z109-WS·2011-D10-BGS-0007"  # a gap is allowed
    path = write_agency_sheet(tmp_path / "目录.csv", rows, encoding="gbk")

    result = import_spreadsheet(inst, operator, path, fonds_id=fonds.id, category="文书")

    assert (result.imported, result.codes_kept, result.codes_assigned) == (6, 6, 0)
    codes = [r.archival_code for r in items(inst)]
    assert codes == [row["档号"] for row in rows]
    # the next item of the D10 group continues after the highest imported number
    with inst.db.write() as s:
        rec = inst.catalogue.create_record(
            s,
            operator,
            parent_id=result.series[0][0],
            level=Level.ITEM,
            values=item_values(retention="D10"),
        )
    assert rec.archival_code == "Z109-WS·2011-D10-BGS-0008"
    with inst.db.read() as s:
        batch = s.get(ImportBatch, result.batch_id)
    assert batch is not None and (batch.encoding, batch.category) == ("gb18030", "WS")


def test_second_import_of_the_same_year_reuses_the_series(
    any_instance: Instance, operator: Actor, fonds: Record, tmp_path: Path
) -> None:
    inst = any_instance
    first = import_spreadsheet(
        inst,
        operator,
        write_agency_sheet(tmp_path / "a.xlsx", agency_rows(3)),
        fonds_id=fonds.id,
        category="WS",
    )
    second = import_spreadsheet(
        inst,
        operator,
        write_agency_sheet(tmp_path / "b.xlsx", agency_rows(3, year=2012) + agency_rows(2)),
        fonds_id=fonds.id,
        category="WS",
    )
    titles = dict((t, i) for i, t in second.series)
    assert titles["文书档案 2011年"] == first.series[0][0]
    assert "文书档案 2012年" in titles
    codes = [r.archival_code for r in items(inst)]
    assert codes[-2:] == ["Z109-WS·2011-Y-BGS-0002", "Z109-WS·2011-D30-BGS-0002"]


# -- rejected rows (SQLite and PostgreSQL) --------------------------------------------------------


def test_every_bad_row_is_reported_and_nothing_is_written(
    any_instance: Instance, operator: Actor, fonds: Record, tmp_path: Path
) -> None:
    inst = any_instance
    series = create_series(inst, operator, fonds.id, "文书档案 2011年")
    with inst.db.write() as s:
        inst.catalogue.create_record(
            s,
            operator,
            parent_id=series.id,
            level=Level.ITEM,
            values=item_values(archival_code="Z109-WS·2011-Y-BGS-0001"),
        )
    rows = agency_rows(11, with_codes=True)
    for row in rows:
        row["档号"] = None
    rows[0]["题名"] = None  # row 3: 必著 missing
    rows[1]["保管期限"] = "五十年"  # row 4
    rows[2]["成文日期"] = "2011-13-45"  # row 5
    rows[3]["密级"] = "超密"  # row 6
    rows[4]["全宗号"] = "Z110"  # row 7
    rows[5]["档号"] = "Z109-WS·2011-D10-BGS-0005"  # row 8
    rows[6]["档号"] = "Z109-WS·2011-D10-BGS-0005"  # row 9: duplicate of row 8
    rows[6]["保管期限"] = "定期10年"
    rows[7]["档号"] = "Z109-WS-2011-D30-BGS-5"  # row 10: not the rule's form
    rows[8]["档号"] = "Z109-WS·2011-Y-BGS-0001"  # row 11: already in the database
    rows[8]["保管期限"] = "永久"
    rows[9]["责任者"] = "  "  # row 12: blank counts as missing
    path = write_agency_sheet(tmp_path / "有问题的目录.xlsx", rows)
    before = snapshot(inst)

    with pytest.raises(ImportRejected) as exc:
        import_spreadsheet(inst, operator, path, fonds_id=fonds.id, category="WS")

    err = exc.value
    assert isinstance(err, ValidationFailed)
    probs = err.problems
    assert all(p.file == "有问题的目录.xlsx" for p in probs)
    find(probs, row=3, field="题名", rule="GD-2-4 必著项")
    find(probs, row=4, field="保管期限", value="五十年", rule="GD-1-4 值域")
    find(probs, row=5, field="日期", value="2011-13-45", rule="GD-1-3")
    find(probs, row=6, field="密级", value="超密", rule="GD-1-4 值域")
    find(probs, row=7, field="全宗号", value="Z110", rule="全宗号一致性")
    find(probs, row=9, field="档号", value="Z109-WS·2011-D10-BGS-0005", message="第 8 行重复")
    find(probs, row=10, field="档号", rule="GD-1-7 档号规范性")
    find(probs, row=11, field="档号", value="Z109-WS·2011-Y-BGS-0001", rule="GD-1-8 重复性")
    find(probs, row=12, field="责任者", rule="GD-2-4 必著项")
    assert {p.row for p in probs} == {3, 4, 5, 6, 7, 9, 10, 11, 12}
    assert "9 行有问题" in err.message and "整个文件均未写入" in err.message

    batch = assert_only_rejection_written(inst, before)
    assert batch.id == err.batch_id
    assert batch.row_count == 11
    assert len(batch.problems) == len(probs)
    assert batch.problems[0]["file"] == "有问题的目录.xlsx" and batch.problems[0]["row"] == 3
    assert batch.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_unknown_headers_are_listed_and_nothing_is_imported(
    any_instance: Instance, operator: Actor, fonds: Record, tmp_path: Path
) -> None:
    rows = agency_rows(3)
    for row in rows:
        row["经办人"] = "张三"
        row["存放地点"] = "3号库"
    path = write_agency_sheet(tmp_path / "a.csv", rows, encoding="utf-8-sig")
    before = snapshot(any_instance)
    with pytest.raises(ImportRejected, match="表头有误") as exc:
        import_spreadsheet(any_instance, operator, path, fonds_id=fonds.id, category="WS")
    probs = exc.value.problems
    assert [p.field for p in probs] == ["经办人", "存放地点"]
    assert all(p.row == 1 and p.rule == "表头" and p.file == "a.csv" for p in probs)
    assert "未知的表头「经办人」" in probs[0].message
    batch = assert_only_rejection_written(any_instance, before)
    assert batch.row_count == 0


def test_zip_bomb_disguised_as_xlsx(
    any_instance: Instance, operator: Actor, fonds: Record, tmp_path: Path
) -> None:

    path = make_zip_bomb(tmp_path / "目录.xlsx")
    before = snapshot(any_instance)
    with pytest.raises(ImportRejected, match="疑似压缩炸弹") as exc:
        import_spreadsheet(any_instance, operator, path, fonds_id=fonds.id, category="WS")
    find(exc.value.problems, file="目录.xlsx", rule="XLSX 压缩包安全检查")
    batch = assert_only_rejection_written(any_instance, before)
    assert batch.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert batch.file_format == "xlsx"


# -- more rejections (SQLite) ---------------------------------------------------------------------


def _reject(
    inst: Instance, actor: Actor, fonds: Record, path: Path, **kw: Any
) -> tuple[ImportRejected, ImportBatch]:
    before = snapshot(inst)
    with pytest.raises(ImportRejected) as exc:
        import_spreadsheet(inst, actor, path, fonds_id=fonds.id, **{"category": "WS", **kw})
    return exc.value, assert_only_rejection_written(inst, before)


def test_undecodable_csv(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    path = write_agency_sheet(tmp_path / "a.csv", agency_rows(2))
    data = path.read_bytes()
    path.write_bytes(data + b"3,Z109,2011,,\xff\xfe\n")
    err, batch = _reject(instance, operator, sqlite_fonds, path)
    p = find(err.problems, file="a.csv", row=4, rule="字符编码")
    assert p.value == f"第 {len(data) + 13} 字节"
    assert "看似 UTF-8 编码" in p.message
    assert batch.encoding is None and batch.file_format == "csv"


def test_wrong_encoding_latin1_is_not_guessed(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes("题名\n".encode() + "Café Müller".encode("latin-1") + b"\xff\n")
    err, _ = _reject(instance, operator, sqlite_fonds, path)
    find(err.problems, file="a.csv", rule="字符编码")


def test_cell_too_long(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    instance.settings.import_max_cell_chars = 300
    rows = agency_rows(4)
    rows[2]["备注"] = "很长的备注" * 70
    err, _ = _reject(
        instance, operator, sqlite_fonds, write_agency_sheet(tmp_path / "a.xlsx", rows)
    )
    find(err.problems, file="a.xlsx", row=5, field="备注", rule="单元格长度上限")


def test_too_many_rows(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    instance.settings.import_max_rows = 5
    err, _ = _reject(
        instance,
        operator,
        sqlite_fonds,
        write_agency_sheet(tmp_path / "a.csv", agency_rows(7)),
    )
    p = find(err.problems, file="a.csv", row=7, rule="行数上限")
    assert "上限 5 行" in p.message


def test_duplicate_headers(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("题名,责任者,题名\n关于,办公室,关于\n", encoding="utf-8")
    err, _ = _reject(instance, operator, sqlite_fonds, path)
    find(err.problems, file="a.csv", row=1, field="题名", rule="表头")


def test_two_headers_for_one_element(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    rows = agency_rows(2)
    for row in rows:
        row["附注"] = "x"
        row["备注"] = "y"
    err, _ = _reject(
        instance, operator, sqlite_fonds, write_agency_sheet(tmp_path / "a.xlsx", rows)
    )
    p = find(err.problems, row=2, rule="表头")
    assert "「附注」" in p.message and "「备注」" in p.message


def test_column_not_used_for_items(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    rows = agency_rows(2)
    rows[0]["组织机构沿革"] = "1949年成立"
    err, _ = _reject(
        instance, operator, sqlite_fonds, write_agency_sheet(tmp_path / "a.xlsx", rows)
    )
    find(err.problems, field="组织机构沿革", rule="表头", message="不适用于件级")


def test_empty_file(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    path = tmp_path / "空.xlsx"
    path.write_bytes(b"")
    err, batch = _reject(instance, operator, sqlite_fonds, path)
    find(err.problems, file="空.xlsx", rule="文件格式", message="为空")
    assert batch.size == 0 and batch.sha256 == hashlib.sha256(b"").hexdigest()


def test_random_bytes_named_xlsx(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(hashlib.sha512(b"x").digest() * 100)
    err, _ = _reject(instance, operator, sqlite_fonds, path)
    find(err.problems, file="a.xlsx", rule="文件格式", message="不是 XLSX")


def test_required_column_values_missing_on_every_row(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    rows = agency_rows(3)
    header = [h for h in AGENCY_HEADER if h != "责任者"]
    err, _ = _reject(
        instance,
        operator,
        sqlite_fonds,
        write_agency_sheet(tmp_path / "a.xlsx", rows, header=header),
    )
    assert [p.row for p in err.problems if p.field == "责任者"] == [3, 4, 5]
    assert all("必著" in p.rule for p in err.problems if p.field == "责任者")


def test_code_from_another_fonds_or_year(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    rows = agency_rows(2, with_codes=True)
    rows[1]["档号"] = "Z109-WS·2012-D30-BGS-0001"  # row says 2011
    err, _ = _reject(
        instance, operator, sqlite_fonds, write_agency_sheet(tmp_path / "a.xlsx", rows)
    )
    p = find(err.problems, row=4, rule="GD-1-7 档号规范性")
    assert "2012" in p.message


def test_category_column_without_category_argument(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    rows = agency_rows(3)
    for row in rows:
        row["门类"] = "文书"
    rows[2]["门类"] = "档案"
    err, _ = _reject(
        instance,
        operator,
        sqlite_fonds,
        write_agency_sheet(tmp_path / "a.xlsx", rows),
        category=None,
    )
    p = find(err.problems, row=5, field="门类", rule="门类代码表")
    assert p.value == "档案"
    assert {q.row for q in err.problems} == {5}


def test_category_column_matches_argument(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    rows = agency_rows(2)
    rows[0]["门类"] = "WS"
    rows[1]["门类"] = "KU"
    err, _ = _reject(
        instance, operator, sqlite_fonds, write_agency_sheet(tmp_path / "a.xlsx", rows)
    )
    find(err.problems, row=4, field="门类", value="KU", message="不一致")


def test_no_category_at_all(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    err, _ = _reject(
        instance,
        operator,
        sqlite_fonds,
        write_agency_sheet(tmp_path / "a.xlsx", agency_rows(2)),
        category=None,
    )
    find(err.problems, field="门类", message="未指定门类")


def test_problem_list_is_capped_in_the_batch(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("门类,题名\n" + "".join(f"XX,题名{i}\n" for i in range(2100)), encoding="utf-8")
    err, batch = _reject(instance, operator, sqlite_fonds, path, category=None)
    assert err.total_problems == 2100 and len(err.problems) == 2100
    assert len(batch.problems) == 2001
    assert batch.problems[-1]["message"] == "另有 100 处问题未列出"


def test_bad_arguments_write_nothing(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    path = write_agency_sheet(tmp_path / "a.xlsx", agency_rows(2))
    before = snapshot(instance)
    with pytest.raises(ValidationFailed, match="导入参数有误") as exc:
        import_spreadsheet(
            instance, operator, path, fonds_id=sqlite_fonds.id, category="XX", series_by=("month",)
        )
    assert [p.field for p in exc.value.problems] == ["门类", "分组"]
    series = create_series(instance, operator, sqlite_fonds.id)
    with pytest.raises(ValidationFailed, match="不是全宗"):
        import_spreadsheet(instance, operator, path, fonds_id=series.id, category="WS")
    after = snapshot(instance)
    assert after["batches"] == before["batches"]


def test_actor_without_import_permission(
    instance: Instance, sqlite_fonds: Record, tmp_path: Path
) -> None:
    from lantai.errors import PermissionDenied

    reader = Actor(username="reader", display_name="读者")
    with pytest.raises(PermissionDenied):
        import_spreadsheet(
            instance,
            reader,
            write_agency_sheet(tmp_path / "a.xlsx", agency_rows(1)),
            fonds_id=sqlite_fonds.id,
        )


# -- more good files (SQLite) ---------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_each_encoding_imports(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path, encoding: str
) -> None:
    rows = agency_rows(8)
    path = write_agency_sheet(tmp_path / "目录.csv", rows, encoding=encoding)
    result = import_spreadsheet(instance, operator, path, fonds_id=sqlite_fonds.id, category="WS")
    got = items(instance)
    assert result.imported == 8
    assert [r.title for r in got] == [r["题名"] for r in rows]
    # the four date spellings all become YYYYMMDD
    assert [r.date for r in got[:4]] == ["20110101", "20110208", "20110315", "20110422"]


def test_category_from_column_and_series_by_retention(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    rows = agency_rows(6)
    for row in rows:
        row["门类"] = "文书"
    path = write_agency_sheet(tmp_path / "a.xlsx", rows)
    result = import_spreadsheet(
        instance,
        operator,
        path,
        fonds_id=sqlite_fonds.id,
        category=None,
        series_by=("year", "retention"),
    )
    assert [t for _, t in result.series] == [
        "文书档案 2011年 永久",
        "文书档案 2011年 定期30年",
        "文书档案 2011年 定期10年",
    ]
    assert {r.category for r in items(instance)} == {"WS"}


def test_one_series_per_category(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    rows = agency_rows(2) + agency_rows(2, year=2012)
    path = write_agency_sheet(tmp_path / "a.xlsx", rows)
    result = import_spreadsheet(
        instance, operator, path, fonds_id=sqlite_fonds.id, category="WS", series_by=()
    )
    assert [t for _, t in result.series] == ["文书档案"]


@pytest.mark.parametrize("category", ["WS", None])
def test_rows_with_only_running_numbers_are_skipped(
    instance: Instance,
    operator: Actor,
    sqlite_fonds: Record,
    tmp_path: Path,
    category: str | None,
) -> None:
    rows = [dict(r, 门类="文书") for r in agency_rows(2)]
    rows += [{"序号": 3, "全宗号": "Z109", "门类": "文书"}, {"序号": 4}]
    path = write_agency_sheet(tmp_path / "a.xlsx", rows, header=[*AGENCY_HEADER, "门类"])
    result = import_spreadsheet(
        instance, operator, path, fonds_id=sqlite_fonds.id, category=category
    )
    assert (result.rows, result.imported, result.skipped_rows) == (2, 2, 2)


def test_rows_that_cannot_be_grouped(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    rows = agency_rows(3)
    rows[1]["机构（问题）"] = None  # optional for the item, needed for the grouping asked for
    path = write_agency_sheet(tmp_path / "a.xlsx", rows)
    err, _ = _reject(instance, operator, sqlite_fonds, path, series_by=("year", "org_code"))
    p = find(err.problems, row=4, field="机构或问题", rule="导入分组")
    assert "无法确定本行应归入的类别" in p.message
    assert {q.row for q in err.problems} == {4}


def test_year_in_the_future_is_reported_for_the_row(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    rows = agency_rows(2)
    rows[1]["年度"] = 2031
    rows[1]["成文日期"] = date(2031, 1, 5)
    err, _ = _reject(
        instance, operator, sqlite_fonds, write_agency_sheet(tmp_path / "a.xlsx", rows)
    )
    find(err.problems, row=4, field="年度", rule="GD-1-5", message="晚于今年")


class _Progress:
    def __init__(self) -> None:
        self.total: int | None = -1
        self.done = 0

    def start(self, total: int | None) -> None:
        self.total = total

    def advance(self, n: int) -> None:
        self.done += n


def test_progress_is_reported(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    path = write_agency_sheet(tmp_path / "a.xlsx", agency_rows(120))
    bar = _Progress()
    import_spreadsheet(
        instance, operator, path, fonds_id=sqlite_fonds.id, category="WS", progress=bar
    )
    assert bar.total == 121  # declared sheet size minus one: title line counted, an estimate
    assert bar.done == 120


def test_report_to_xlsx(tmp_path: Path) -> None:
    problems = [
        Problem(file="a.xlsx", row=3, field="题名", rule="GD-2-4 必著项", message="件级必著项为空"),
        Problem(
            file="a.xlsx", row=5, field="日期", value="2011-13-45", rule="GD-1-3", message="无效"
        ),
        Problem(file="a.xlsx", message="含控制字符", value="a\x07b"),
    ]
    out = report_to_xlsx(problems, tmp_path / "reports" / "问题报告.xlsx")
    ws = load_workbook(out).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("文件", "行号", "字段", "值", "问题", "规则")
    assert rows[1] == ("a.xlsx", 3, "题名", None, "件级必著项为空", "GD-2-4 必著项")
    assert rows[2] == ("a.xlsx", 5, "日期", "2011-13-45", "无效", "GD-1-3")
    assert rows[3][3] == "aU+0007b"
    assert ws["A1"].font.bold
    assert not list(tmp_path.joinpath("reports").glob(".*.tmp"))


# -- the command line -----------------------------------------------------------------------------


@pytest.fixture
def cli(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("LANTAI_HOME", str(instance.home))
    monkeypatch.delenv("LANTAI_DATABASE_URL", raising=False)
    yield CliRunner()


def _app() -> Typer:
    app = Typer()
    app.command()(import_command)
    return app


def test_cli_import_prints_a_summary(
    cli: CliRunner, instance: Instance, sqlite_fonds: Record, tmp_path: Path
) -> None:
    path = write_agency_sheet(tmp_path / "a.xlsx", agency_rows(4))
    res = cli.invoke(_app(), [str(path), "--fonds", "z109", "--category", "WS"])
    assert res.exit_code == 0, res.output
    assert "导入完成" in res.stdout and "新建 4 件" in res.stdout
    assert "文书档案 2011年" in res.stdout
    assert len(items(instance)) == 4


def test_cli_rejection_lists_rows_writes_report_and_exits_1(
    cli: CliRunner, instance: Instance, sqlite_fonds: Record, tmp_path: Path
) -> None:
    rows = agency_rows(3)
    rows[1]["题名"] = None
    path = write_agency_sheet(tmp_path / "a.xlsx", rows)
    report = tmp_path / "report.xlsx"
    res = cli.invoke(
        _app(), [str(path), "--fonds", "Z109", "--category", "WS", "--report", str(report)]
    )
    assert res.exit_code == 1
    assert "a.xlsx，第4行，字段「题名」" in res.stderr
    assert "GD-2-4 必著项" in res.stderr
    assert load_workbook(report).active["B2"].value == 4
    assert items(instance) == []


def test_cli_unknown_fonds(cli: CliRunner, sqlite_fonds: Record, tmp_path: Path) -> None:
    path = write_agency_sheet(tmp_path / "a.xlsx", agency_rows(1))
    res = cli.invoke(_app(), [str(path), "--fonds", "Q999"])
    assert res.exit_code == 1 and "Q999" in res.stderr


def test_dates_from_datetime_cells(
    instance: Instance, operator: Actor, sqlite_fonds: Record, tmp_path: Path
) -> None:
    rows = agency_rows(1)
    rows[0]["成文日期"] = datetime(2011, 12, 31, 15, 30)
    path = write_agency_sheet(tmp_path / "a.xlsx", rows)
    import_spreadsheet(instance, operator, path, fonds_id=sqlite_fonds.id, category="WS")
    assert items(instance)[0].date == "20111231"
