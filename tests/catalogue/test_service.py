"""The catalogue service on SQLite and PostgreSQL: levels, 必著, 档号, edits, paging, clearance."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from factories import create_fonds, create_series, item_values
from lantai.archival import Level
from lantai.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import CodeCounter, Event, Record, RecordClosure


def counts(inst: Instance) -> tuple[int, int, int, int]:
    with inst.db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(Record)) or 0,
            s.scalar(select(func.count()).select_from(RecordClosure)) or 0,
            s.scalar(select(func.count()).select_from(CodeCounter)) or 0,
            s.scalar(select(func.count()).select_from(Event)) or 0,
        )


def add_item(inst: Instance, actor: Actor, parent_id: int, **overrides: object) -> Record:
    with inst.db.write() as s:
        return inst.catalogue.create_record(
            s, actor, parent_id=parent_id, level=Level.ITEM, values=item_values(**overrides)
        )


def test_hierarchy_codes_and_events(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    fonds = create_fonds(inst, operator)
    series = create_series(inst, operator, fonds.id, "文书档案 2011年")
    items = [add_item(inst, operator, series.id) for _ in range(3)]
    assert [i.archival_code for i in items] == [f"Z109-WS·2011-Y-BGS-000{n}" for n in (1, 2, 3)]
    assert (
        items[0].year == 2011
        and items[0].open_status == "未审核"
        and items[0].security_level == "公开"
    )
    assert items[0].fields == {}  # every given element is a column
    with inst.db.read() as s:
        assert [a.id for a in inst.catalogue.ancestors(s, items[0].id)] == [fonds.id, series.id]
        assert inst.catalogue.subtree_size(s, fonds.id) == 5
        actions = s.scalars(select(Event.action).order_by(Event.seq)).all()
    assert actions[-5:] == ["catalogue:fonds:created"] + ["catalogue:record:created"] * 4
    with inst.db.read() as s:
        assert inst.audit.verify(s).ok


def test_given_code_is_checked_and_advances_counter(
    any_instance: Instance, operator: Actor
) -> None:
    inst = any_instance
    fonds = create_fonds(inst, operator)
    series = create_series(inst, operator, fonds.id)
    rec = add_item(inst, operator, series.id, archival_code="Z109-WS·2011-Y-BGS-0007")
    assert rec.archival_code == "Z109-WS·2011-Y-BGS-0007"
    nxt = add_item(inst, operator, series.id)
    assert nxt.archival_code == "Z109-WS·2011-Y-BGS-0008"
    before = counts(inst)
    with pytest.raises(ValidationFailed) as dup:
        add_item(inst, operator, series.id, archival_code="Z109-WS·2011-Y-BGS-0007")
    assert any(p.rule.startswith("GD-1-8") for p in dup.value.problems)
    with pytest.raises(ValidationFailed) as bad:
        add_item(inst, operator, series.id, archival_code="Z109-WS·2012-Y-BGS-0009")
    assert any(p.field == "年度" for p in bad.value.problems)
    assert counts(inst) == before


def test_invalid_item_writes_nothing(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    series = create_series(inst, operator, create_fonds(inst, operator).id)
    before = counts(inst)
    with pytest.raises(ValidationFailed) as err:
        add_item(
            inst,
            operator,
            series.id,
            title="",
            responsible="",
            retention="5年",
            date="20111340",
            pages=-1,
            bogus="x",
        )
    fields = {p.field for p in err.value.problems}
    assert {"题名", "责任者", "保管期限", "日期", "页数", "bogus"} <= fields
    assert counts(inst) == before


def test_levels_must_nest(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    fonds = create_fonds(inst, operator)
    with pytest.raises(ValidationFailed, match="条目未保存") as err, inst.db.write() as s:
        inst.catalogue.create_record(
            s,
            operator,
            parent_id=fonds.id,
            level=Level.ITEM,
            values=item_values(),
            category="WS",
        )
    assert "全宗下不能直接建立件" in str(err.value)
    series = create_series(inst, operator, fonds.id, category=None)
    with pytest.raises(ValidationFailed) as err2:
        add_item(inst, operator, series.id)
    assert any(p.field == "门类" for p in err2.value.problems)


def test_volume_and_items_in_volume(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    fonds = create_fonds(inst, operator, code="J019")
    series = create_series(inst, operator, fonds.id, "专业档案", category="ZY")
    with inst.db.write() as s:
        vol = inst.catalogue.create_record(
            s,
            operator,
            parent_id=series.id,
            level=Level.FILE,
            values={
                "title": "城市基础设施检查卷",
                "responsible": "某市城建局",
                "date": "20190101-20191231",
                "year": 2019,
                "retention": "D30",
                "class_code": "JC",
                "subclass_code": "CC",
            },
        )
        inner = [
            inst.catalogue.create_record(
                s,
                operator,
                parent_id=vol.id,
                level=Level.ITEM,
                values=item_values(date="20190310", retention="D30", org_code=None),
            )
            for _ in range(2)
        ]
    assert vol.archival_code == "J019-ZY·JC·CC·2019·D30-001"
    assert [i.archival_code for i in inner] == [
        "J019-ZY·JC·CC·2019·D30-001-001",
        "J019-ZY·JC·CC·2019·D30-001-002",
    ]


def test_update_records_diff_and_version(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    series = create_series(inst, operator, create_fonds(inst, operator).id)
    rec = add_item(inst, operator, series.id)
    with inst.db.write() as s:
        updated = inst.catalogue.update_record(
            s,
            operator,
            rec.id,
            {"title": "关于印发2011年工作要点的通知（更正）", "keywords": "工作要点"},
            expected_version=1,
        )
    assert updated.version == 2 and updated.fields == {"keywords": "工作要点"}
    with inst.db.read() as s:
        ev = s.scalars(
            select(Event).where(Event.object_id == str(rec.id)).order_by(Event.seq.desc())
        ).first()
    assert ev is not None and ev.action == "catalogue:record:updated"
    assert "更正" in ev.detail and "keywords" in ev.detail
    with pytest.raises(Conflict, match="版本"), inst.db.write() as s:
        inst.catalogue.update_record(s, operator, rec.id, {"title": "x"}, expected_version=1)
    with pytest.raises(ValidationFailed) as err, inst.db.write() as s:
        inst.catalogue.update_record(s, operator, rec.id, {"year": 2012})
    assert any(p.rule.startswith("GD-1-7") for p in err.value.problems)


def test_withdraw_never_deletes(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    series = create_series(inst, operator, create_fonds(inst, operator).id)
    rec = add_item(inst, operator, series.id)
    with pytest.raises(Conflict), inst.db.write() as s:
        inst.catalogue.withdraw(s, operator, series.id, reason="误建")
    with inst.db.write() as s:
        inst.catalogue.withdraw(s, operator, rec.id, reason="重复著录")
    with inst.db.read() as s:
        assert s.get(Record, rec.id) is not None
        with pytest.raises(NotFound):
            inst.catalogue.get(s, operator, rec.id)
        assert inst.catalogue.children(s, operator, series.id).total == 0
    with inst.db.write() as s:
        inst.catalogue.restore(s, operator, rec.id)
    nxt = add_item(inst, operator, series.id)
    assert nxt.archival_code == "Z109-WS·2011-Y-BGS-0002"  # numbers are never reused


def test_children_pages_in_order(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    series = create_series(inst, operator, create_fonds(inst, operator).id)
    ids = [add_item(inst, operator, series.id, title=f"第{i}号文件").id for i in range(7)]
    seen: list[int] = []
    cursor = None
    with inst.db.read() as s:
        while True:
            page = inst.catalogue.children(s, operator, series.id, cursor=cursor, limit=3)
            assert page.total == 7
            seen += [r.id for r in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == ids
    with pytest.raises(ValidationFailed), inst.db.read() as s:
        inst.catalogue.children(s, operator, series.id, cursor="!!notacursor")


def test_clearance_hides_records(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    series = create_series(inst, operator, create_fonds(inst, operator).id)
    open_rec = add_item(inst, operator, series.id)
    secret = add_item(inst, operator, series.id, security_level="机密★10年")
    assert secret.security_rank == 3
    reader = Actor(
        username="r",
        display_name="查阅",
        user_id=99,
        permissions=frozenset({Perm.CATALOGUE_RECORD_READ}),
        clearance="秘密",
        clearance_rank=2,
    )
    with inst.db.read() as s:
        page = inst.catalogue.children(s, reader, series.id)
        assert [r.id for r in page.items] == [open_rec.id] and page.total == 1
        with pytest.raises(NotFound):
            inst.catalogue.get(s, reader, secret.id)
        with pytest.raises(NotFound):
            inst.catalogue.get_by_code(s, reader, secret.archival_code or "")
    with pytest.raises(PermissionDenied), inst.db.write() as s:
        inst.catalogue.update_record(s, reader, open_rec.id, {"title": "x"})


def test_fonds_rules(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    create_fonds(inst, operator, code="Z109")
    with pytest.raises(ValidationFailed) as err:
        create_fonds(inst, operator, code="Z109")
    assert any("已存在" in p.message for p in err.value.problems)
    with pytest.raises(ValidationFailed) as err2:
        create_fonds(inst, operator, code="ZZ-1")
    assert any(p.field == "全宗号" for p in err2.value.problems)
