"""档号 counters under concurrent writers: consecutive, unique, never reused (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

from sqlalchemy import select

from factories import create_fonds, create_series, item_values
from lantai.archival import Level
from lantai.catalogue.counters import current_counter, next_counter
from lantai.errors import ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import Record


def test_concurrent_writers_get_consecutive_codes(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    series = create_series(inst, operator, create_fonds(inst, operator).id)
    threads, per_thread = 6, 15
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with inst.db.write() as s:
                    inst.catalogue.create_record(
                        s,
                        operator,
                        parent_id=series.id,
                        level=Level.ITEM,
                        values=item_values(title=f"线程{n}第{i}件"),
                    )
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
    numbers = sorted(int(str(c).rsplit("-", 1)[1]) for c in codes)
    assert numbers == list(range(1, threads * per_thread + 1))
    with inst.db.read() as s:
        assert inst.audit.verify(s).ok


def test_rolled_back_insert_does_not_consume_a_number(
    any_instance: Instance, operator: Actor
) -> None:
    inst = any_instance
    series = create_series(inst, operator, create_fonds(inst, operator).id)
    try:
        with inst.db.write() as s:
            inst.catalogue.create_record(
                s, operator, parent_id=series.id, level=Level.ITEM, values=item_values()
            )
            raise ValidationFailed("模拟后续步骤失败")
    except ValidationFailed:
        pass
    with inst.db.write() as s:
        rec = inst.catalogue.create_record(
            s, operator, parent_id=series.id, level=Level.ITEM, values=item_values()
        )
    assert rec.archival_code == "Z109-WS·2011-Y-BGS-0001"


def test_counter_primitives(any_instance: Instance) -> None:
    inst = any_instance
    with inst.db.write() as s:
        assert [next_counter(s, "g", start=5) for _ in range(3)] == [5, 6, 7]
        assert current_counter(s, "g") == 7
        assert current_counter(s, "missing") is None
