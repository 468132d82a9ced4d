"""Records and texts written in bulk (as an ingest writes them) reach the search index."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from factories import create_fonds, create_series, item_values
from lantai.archival import Level
from lantai.catalogue.service import NewRecord
from lantai.errors import NotFound, ValidationFailed
from lantai.instance import Instance
from lantai.search.texts import add_texts
from lantai.security import Actor
from lantai.store import Event, RecordText
from search_support import SearchKit, make_kit


@pytest.fixture
def kit(instance: Instance) -> Iterator[SearchKit]:
    k = make_kit(instance)
    yield k
    k.indexer.release()


def test_bulk_records_then_bulk_texts_are_indexed(kit: SearchKit, operator: Actor) -> None:
    inst = kit.inst
    series = create_series(inst, operator, create_fonds(inst, operator).id, "文书档案 2011年")
    kit.sync()
    with inst.db.write() as s:
        made = inst.catalogue.create_records(
            s,
            operator,
            [
                NewRecord(
                    parent_id=series.id,
                    level=Level.ITEM,
                    values=item_values(title=f"关于{topic}的通知"),
                )
                for topic in ("防汛抗旱", "植树造林", "安全生产")
            ],
        )
    kit.sync()  # the catalogue:records:created range
    assert kit.ids("植树造林") == [made[1].id]
    assert kit.ids("候鸟迁徙") == []
    add_texts(
        inst,
        operator,
        [
            (made[0].id, "正文", "extracted", "各地要做好候鸟迁徙期间的保护工作。"),
            (made[2].id, "正文", "extracted", "候鸟迁徙监测纳入年度考核。"),
        ],
    )
    kit.sync()  # the catalogue:texts:added record ids
    assert sorted(kit.ids("候鸟迁徙")) == [made[0].id, made[2].id]


def _texts_state(inst: Instance) -> tuple[list[tuple[int, str, str, str]], int]:
    with inst.db.read() as s:
        rows = [
            (t.record_id, t.part, t.source, t.text)
            for t in s.scalars(select(RecordText).order_by(RecordText.id))
        ]
        events = s.scalar(select(func.count()).where(Event.action == "catalogue:texts:added"))
    return rows, int(events or 0)


def test_add_texts_checks_everything_first_and_logs_once(
    instance: Instance, operator: Actor
) -> None:
    series = create_series(instance, operator, create_fonds(instance, operator).id)
    with instance.db.write() as s:
        a, b = (
            instance.catalogue.create_record(
                s, operator, parent_id=series.id, level=Level.ITEM, values=item_values()
            )
            for _ in range(2)
        )
    bad = [
        (a.id, "正文", "extracted", "好的全文"),
        (b.id, " ", "extracted", "没有部分名称"),
        (b.id, "附件", "scanner", "来源不对"),
        (a.id, "正文", "extracted", "同一部分第二次"),
    ]
    with pytest.raises(ValidationFailed) as info:
        add_texts(instance, operator, bad)
    assert sorted({p.row for p in info.value.problems if p.row}) == [2, 3, 4]
    with pytest.raises(NotFound):
        add_texts(
            instance, operator, [(a.id, "正文", "extracted", "x"), (99999, "正文", "ocr", "y")]
        )
    assert _texts_state(instance) == ([], 0)  # nothing written, nothing logged

    first = [(a.id, "正文", "extracted", "甲"), (b.id, "正文", "extracted", "乙")]
    assert add_texts(instance, operator, first, event_detail={"transfer": "T-9"}) == 2
    again = [(a.id, "正文", "extracted", "甲"), (b.id, "正文", "ocr", "乙（识别）")]
    assert add_texts(instance, operator, again) == 1  # the same text again changes nothing
    assert add_texts(instance, operator, first[:1]) == 0
    rows, events = _texts_state(instance)
    assert rows == [(a.id, "正文", "extracted", "甲"), (b.id, "正文", "ocr", "乙（识别）")]
    assert events == 2
    with instance.db.read() as s:
        details = [
            json.loads(d)
            for d in s.scalars(
                select(Event.detail)
                .where(Event.action == "catalogue:texts:added")
                .order_by(Event.seq)
            )
        ]
        assert instance.audit.verify(s).ok
    assert details[0]["transfer"] == "T-9" and details[0]["record_ids"] == [a.id, b.id]
    assert details[1]["record_ids"] == [b.id]
    (entry,) = details[1]["texts"]
    assert entry[:3] == [b.id, "正文", "ocr"] and entry[5] == details[0]["texts"][1][3]
