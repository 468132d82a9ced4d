"""Catalogue.create_records: the rules of create_record, all or nothing, bulk 档号, one event."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select, text

from factories import create_fonds, create_series, item_values
from lantai.archival import Level
from lantai.catalogue.service import NewRecord
from lantai.errors import ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import CodeCounter, Event, Record, RecordClosure

GROUP_CODE = "Z109-WS·2011-Y-BGS-{:04d}"


def counts(inst: Instance) -> tuple[int, int, int, int]:
    with inst.db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(Record)) or 0,
            s.scalar(select(func.count()).select_from(RecordClosure)) or 0,
            s.scalar(select(func.count()).select_from(CodeCounter)) or 0,
            s.scalar(select(func.count()).select_from(Event)) or 0,
        )


def drafts(parent_id: int, n: int, **overrides: object) -> list[NewRecord]:
    return [
        NewRecord(
            parent_id=parent_id,
            level=Level.ITEM,
            values=item_values(title=f"关于第{i}号事项的通知", **overrides),
            key=f"K-{i}",
        )
        for i in range(n)
    ]


def batch_events(inst: Instance) -> list[dict[str, object]]:
    with inst.db.read() as s:
        rows = s.scalars(
            select(Event.detail)
            .where(Event.action == "catalogue:records:created")
            .order_by(Event.seq)
        ).all()
    return [json.loads(d) for d in rows]


def test_records_codes_closure_and_one_event(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    fonds = create_fonds(inst, operator)
    series = create_series(inst, operator, fonds.id, "文书档案 2011年")
    with inst.db.write() as s:
        first = inst.catalogue.create_record(
            s, operator, parent_id=series.id, level=Level.ITEM, values=item_values()
        )
    before = counts(inst)
    with inst.db.write() as s:
        made = inst.catalogue.create_records(
            s, operator, drafts(series.id, 4), event_detail={"transfer": "T-1"}
        )
    # Numbered after the record created one by one, consecutively, in draft order.
    assert first.archival_code == GROUP_CODE.format(1)
    assert [m.archival_code for m in made] == [GROUP_CODE.format(n) for n in (2, 3, 4, 5)]
    assert [m.key for m in made] == ["K-0", "K-1", "K-2", "K-3"]
    after = counts(inst)
    assert after[0] - before[0] == 4 and after[1] - before[1] == 4 * 3  # self, series, fonds
    assert after[3] - before[3] == 1  # ONE event for the batch
    with inst.db.read() as s:
        rows = [s.get(Record, m.id) for m in made]
        assert all(r is not None for r in rows)
        rec = rows[0]
        assert rec is not None
        assert (rec.title, rec.year, rec.open_status, rec.security_level) == (
            "关于第0号事项的通知",
            2011,
            "未审核",
            "公开",
        )
        assert rec.fields == {} and rec.created_by == operator.username and rec.version == 1
        assert [r.position for r in rows if r is not None] == [2, 3, 4, 5]
        assert [a.id for a in inst.catalogue.ancestors(s, rec.id)] == [fonds.id, series.id]
        assert s.scalars(select(CodeCounter.value)).all() == [5]  # the one group's counter
        assert inst.audit.verify(s).ok
    (event,) = batch_events(inst)
    assert event["transfer"] == "T-1" and event["count"] == 4
    assert (event["first_id"], event["last_id"]) == (made[0].id, made[-1].id)
    assert event["records"] == [[m.id, m.key, m.archival_code] for m in made]
    # A record created afterwards one by one continues the sequence.
    with inst.db.write() as s:
        nxt = inst.catalogue.create_record(
            s, operator, parent_id=series.id, level=Level.ITEM, values=item_values()
        )
    assert nxt.archival_code == GROUP_CODE.format(6)


def test_any_invalid_draft_writes_nothing(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    series = create_series(inst, operator, create_fonds(inst, operator).id, "文书档案 2011年")
    with inst.db.write() as s:
        inst.catalogue.create_record(
            s,
            operator,
            parent_id=series.id,
            level=Level.ITEM,
            values=item_values(archival_code=GROUP_CODE.format(7)),
        )
    before = counts(inst)
    batch = drafts(series.id, 3)
    batch[1] = NewRecord(
        parent_id=series.id,
        level=Level.ITEM,
        values={**item_values(), "title": "", "retention": "X"},
        where="目录.csv 第3行",
    )
    batch.append(  # already in the database
        NewRecord(
            parent_id=series.id,
            level=Level.ITEM,
            values=item_values(archival_code=GROUP_CODE.format(7)),
        )
    )
    batch += [  # twice in the batch
        NewRecord(
            parent_id=series.id,
            level=Level.ITEM,
            values=item_values(archival_code=GROUP_CODE.format(9)),
        )
        for _ in range(2)
    ]
    with pytest.raises(ValidationFailed) as info, inst.db.write() as s:
        inst.catalogue.create_records(s, operator, batch)
    problems = info.value.problems
    # The same problems create_record reports, placed by ``where`` or by position.
    with pytest.raises(ValidationFailed) as single, inst.db.write() as s:
        inst.catalogue.create_record(
            s, operator, parent_id=series.id, level=Level.ITEM, values=batch[1].values
        )
    assert {(p.field, p.message) for p in problems if p.file == "目录.csv 第3行"} == {
        (p.field, p.message) for p in single.value.problems
    }
    assert all(p.row is None for p in problems if p.file == "目录.csv 第3行")
    taken = [(p.row, p.value) for p in problems if p.rule == "GD-1-8 重复性"]
    assert taken == [(4, GROUP_CODE.format(7)), (6, GROUP_CODE.format(9))]
    assert counts(inst) == before  # no record, closure row, counter or event
    with inst.db.read() as s:
        assert s.scalars(select(CodeCounter.value)).all() == [7]  # no number was taken


def test_a_number_in_use_is_skipped_and_logged(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    series = create_series(inst, operator, create_fonds(inst, operator).id, "文书档案 2011年")
    with inst.db.write() as s:  # a 档号 written outside the counter (another rule, an edit)
        rec = inst.catalogue.create_record(
            s, operator, parent_id=series.id, level=Level.SERIES, values={"title": "其他"}
        )
        s.execute(
            text("UPDATE records SET archival_code = :c WHERE id = :i"),
            {"c": GROUP_CODE.format(2), "i": rec.id},
        )
    with inst.db.write() as s:
        made = inst.catalogue.create_records(s, operator, drafts(series.id, 3))
    assert [m.archival_code for m in made] == [GROUP_CODE.format(n) for n in (1, 3, 4)]
    (event,) = batch_events(inst)
    assert event["skipped_codes"] == {GROUP_CODE.format(3): [GROUP_CODE.format(2)]}


def test_given_codes_advance_the_counter_in_order(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    series = create_series(inst, operator, create_fonds(inst, operator).id, "文书档案 2011年")
    batch = drafts(series.id, 1)
    batch.append(
        NewRecord(
            parent_id=series.id,
            level=Level.ITEM,
            values=item_values(archival_code=GROUP_CODE.format(5)),
        )
    )
    batch += drafts(series.id, 1)
    with inst.db.write() as s:
        made = inst.catalogue.create_records(s, operator, batch)
    # As if created one by one: 1, then the given 5, then 6.
    assert [m.archival_code for m in made] == [GROUP_CODE.format(n) for n in (1, 5, 6)]


def test_concurrent_bulk_writers_get_distinct_consecutive_codes(
    any_instance: Instance, operator: Actor
) -> None:
    inst = any_instance
    series = create_series(inst, operator, create_fonds(inst, operator).id, "文书档案 2011年")
    threads, batches, per_batch = 4, 3, 10
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for b in range(batches):
                with inst.db.write() as s:
                    if b == 1:  # one by one in between: the two paths share the counter
                        inst.catalogue.create_record(
                            s,
                            operator,
                            parent_id=series.id,
                            level=Level.ITEM,
                            values=item_values(title=f"线程{n}单件"),
                        )
                    inst.catalogue.create_records(s, operator, drafts(series.id, per_batch))
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    with inst.db.read() as s:
        codes = s.scalars(select(Record.archival_code).where(Record.parent_id == series.id)).all()
        assert inst.audit.verify(s).ok
    numbers = sorted(int(str(c).rsplit("-", 1)[1]) for c in codes)
    assert numbers == list(range(1, threads * (batches * per_batch + 1) + 1))
    assert len(batch_events(inst)) == threads * batches


def test_empty_batch_writes_nothing(instance: Instance, operator: Actor) -> None:
    series = create_series(instance, operator, create_fonds(instance, operator).id)
    before = counts(instance)
    with instance.db.write() as s:
        assert instance.catalogue.create_records(s, operator, []) == []
    assert counts(instance) == before
    assert series.id
