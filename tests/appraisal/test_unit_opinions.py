"""Unit opinions (档案法第三十条): from the unit's XLSX, and kept when sent with a transfer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from factories import create_fonds
from ingest.builders import make_offline, sample_items
from lantai.appraisal.review import (
    create_batch,
    export_unit_list,
    get_batch,
    import_unit_opinions,
    items_page,
    parse_opinion,
    record_transfer_opinions,
)
from lantai.appraisal.review.decisions import ItemFilter
from lantai.errors import ValidationFailed
from lantai.ingest.service import Submission, submit
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, default_registry
from lantai.security import Actor
from lantai.store import Event, IngestTransfer, Record, UnitOpinion
from review_support import OP, populate_1999

RESULTS = ("开放", "控制", "延期开放")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("开放", "开放"),
        ("同意开放", "开放"),
        ("建议延期开放，至2030年复审", "延期开放"),
        ("暂不开放：涉及个人隐私", "控制"),
        ("控制使用", "控制"),
        ("请档案馆酌定", None),
    ],
)
def test_parse_opinion(text: str, expected: str | None) -> None:
    assert parse_opinion(text, RESULTS) == (expected, text)


def _batch(inst: Instance, ids: dict[str, int]) -> int:
    with inst.db.write() as s:
        keys = ("clean1", "idcard", "file")
        return create_batch(inst, s, OP, [ids[k] for k in keys], unit="某市城建局").id


def _sheet(inst: Instance, bid: int, tmp_path: Path) -> tuple[Path, list[str]]:
    with inst.db.write() as s:
        data = export_unit_list(inst, s, OP, bid)
    path = tmp_path / "意见.xlsx"
    path.write_bytes(data)
    wb = load_workbook(path)
    ws = wb.active
    assert ws is not None
    codes = [str(r[1].value) for r in ws.iter_rows(min_row=4)]
    return path, codes


def _write(path: Path, rows: list[tuple[str, str, str]]) -> None:
    wb = load_workbook(path)
    ws = wb.active
    assert ws is not None
    by_code = {r[1].value: r for r in ws.iter_rows(min_row=4)}
    for code, opinion, reason in rows:
        if code in by_code:
            by_code[code][7].value, by_code[code][8].value = opinion, reason
        else:
            ws.append([None, code, "", None, "", "", "", opinion, reason])
    wb.save(path)


def test_export_then_import_round_trip(instance: Instance, tmp_path: Path) -> None:
    ids = populate_1999(instance)
    bid = _batch(instance, ids)
    path, codes = _sheet(instance, bid, tmp_path)
    assert len(codes) == 3
    _write(path, [(codes[0], "开放", ""), (codes[1], "控制", "含身份证号")])  # third left blank
    with instance.db.write() as s:
        assert import_unit_opinions(instance, s, OP, bid, path) == 2
    # importing again replaces the unit's opinions, never duplicates them
    _write(path, [(codes[0], "延期开放", "待城建规划公布后")])
    with instance.db.write() as s:
        assert import_unit_opinions(instance, s, OP, bid, path) == 2
    with instance.db.read() as s:
        rows = s.scalars(select(UnitOpinion).order_by(UnitOpinion.record_id)).all()
        assert [(r.record_id, r.opinion, r.unit) for r in rows] == [
            (ids["clean1"], "延期开放", "某市城建局"),
            (ids["idcard"], "控制", "某市城建局"),
        ]
        page = items_page(s, OP, get_batch(s, bid), ItemFilter(unit_opinion="控制"))
        assert [i["record_id"] for i in page["items"]] == [ids["idcard"]]
        assert page["items"][0]["unit_opinions"][0]["reason"] == "含身份证号"
        events = s.scalars(select(Event.action).where(Event.object_type == "review_batch")).all()
        assert events.count("appraisal:opinions:recorded") == 2
        assert "appraisal:list:exported" in events


def test_bad_rows_are_all_reported_and_nothing_written(instance: Instance, tmp_path: Path) -> None:
    ids = populate_1999(instance)
    bid = _batch(instance, ids)
    path, codes = _sheet(instance, bid, tmp_path)
    _write(
        path,
        [
            (codes[0], "开放", ""),
            (codes[1], "公开", ""),  # not a result
            (codes[2], "控制", ""),  # no reason
            ("Z109-WS-1999-Y-BGS-0999", "开放", ""),  # not in the batch
        ],
    )
    with pytest.raises(ValidationFailed) as e, instance.db.write() as s:
        import_unit_opinions(instance, s, OP, bid, path)
    got = [(p.row, p.field) for p in e.value.problems]
    assert got == [(5, "单位意见（H列）"), (6, "理由（I列）"), (7, "档号（B列）")]
    assert "未导入任何意见" in e.value.message
    with instance.db.read() as s:
        assert s.scalar(select(UnitOpinion.id)) is None


def test_missing_column_is_named(instance: Instance, tmp_path: Path) -> None:
    ids = populate_1999(instance)
    bid = _batch(instance, ids)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["档号", "单位意见"])
    ws.append(["Z109-WS-1999-Y-BGS-0001", "开放"])
    path = tmp_path / "缺列.xlsx"
    wb.save(path)
    with pytest.raises(ValidationFailed) as e, instance.db.write() as s:
        import_unit_opinions(instance, s, OP, bid, path)
    assert [p.field for p in e.value.problems] == ["理由"]


def test_transfer_opinions_are_kept_and_shown(instance: Instance) -> None:
    ids = populate_1999(instance)
    with instance.db.write() as s:
        n = record_transfer_opinions(
            instance,
            s,
            OP,
            transfer_id=None,
            unit="某市城建局",
            opinions=[(ids["idcard"], "暂不开放：含身份证号"), (ids["clean1"], "  ")],
        )
    assert n == 1
    bid = _batch(instance, ids)
    with instance.db.read() as s:
        page = items_page(s, OP, get_batch(s, bid), ItemFilter(record_ids=(ids["idcard"],)))
        op = page["items"][0]["unit_opinions"][0]
        assert (op["source"], op["opinion"], op["unit"]) == ("transfer", "控制", "某市城建局")


def test_ingest_keeps_the_opinions_a_transfer_carries(instance: Instance, tmp_path: Path) -> None:
    create_fonds(instance, OP, code="Z109")
    items = sample_items(2)
    root = make_offline(tmp_path / "off", items)
    table = root / "目录.xlsx"
    wb = load_workbook(table)
    ws = wb.active
    assert ws is not None
    ws.cell(row=1, column=ws.max_column + 1, value="开放审核意见")
    ws.cell(row=2, column=ws.max_column, value="建议控制：涉及个人隐私")
    wb.save(table)
    with instance.db.write() as s:
        row, _ = submit(
            instance,
            s,
            Actor.operator(),
            Submission(source=root, fonds_code="Z109", category="WS"),
        )
    InProcessRunner(instance, default_registry()).run_until_idle()
    with instance.db.read() as s:
        final = s.get(IngestTransfer, row.id)
        assert final is not None and final.record_count == 2, final and final.error
        ops = s.scalars(select(UnitOpinion)).all()
        assert len(ops) == 1
        op = ops[0]
        rec = s.get(Record, op.record_id)
        assert rec is not None and rec.title == items[0].values["title"]
        assert (op.source, op.opinion, op.transfer_id) == ("transfer", "控制", final.id)
        assert op.unit  # the 单位名称 of the 登记表
        ev = s.scalars(select(Event).where(Event.action == "appraisal:opinions:recorded")).one()
        assert ev.object_type == "transfer" and json.loads(ev.detail)["count"] == 1
