"""The event log is append-only and tamper-evident: edits, deletions, insertions, truncation."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from factories import create_fonds
from lantai.instance import Instance
from lantai.security import Actor


def _events(inst: Instance, actor: Actor, n: int = 4) -> None:
    for i in range(n):
        create_fonds(inst, actor, code=f"A{i:03d}")


def _disable_guards(inst: Instance) -> None:
    """What an attacker with database rights does first."""
    with inst.db.engine.begin() as c:
        if inst.db.is_sqlite:
            c.exec_driver_sql("DROP TRIGGER events_no_update")
            c.exec_driver_sql("DROP TRIGGER events_no_delete")
        else:
            c.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER USER")


def test_updates_and_deletes_are_refused(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    _events(inst, operator, 1)
    for sql in ("UPDATE events SET actor = 'x' WHERE seq = 1", "DELETE FROM events WHERE seq = 1"):
        with pytest.raises(DBAPIError, match="append-only"), inst.db.engine.begin() as c:
            c.execute(text(sql))
    with inst.db.read() as s:
        assert inst.audit.verify(s).ok


def test_edit_is_detected(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    _events(inst, operator)
    _disable_guards(inst)
    with inst.db.engine.begin() as c:
        c.execute(text("UPDATE events SET detail = replace(detail, 'A001', 'B001') WHERE seq = 3"))
    with inst.db.read() as s:
        report = inst.audit.verify(s)
    assert not report.ok
    assert [p.seq for p in report.problems] == [3]
    assert "改动" in report.problems[0].message


def test_recomputing_without_the_key_is_detected(any_instance: Instance, operator: Actor) -> None:
    """An attacker who re-chains with a plain hash (no key) is still caught."""
    import hashlib

    inst = any_instance
    _events(inst, operator)
    _disable_guards(inst)
    with inst.db.engine.begin() as c:
        c.execute(
            text("UPDATE events SET actor = 'mallory', hash = :h WHERE seq = 2"),
            {"h": hashlib.sha256(b"forged").hexdigest()},
        )
    with inst.db.read() as s:
        report = inst.audit.verify(s)
    assert {p.seq for p in report.problems} >= {2, 3}


def test_deletion_in_the_middle_is_detected(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    _events(inst, operator)
    _disable_guards(inst)
    with inst.db.engine.begin() as c:
        c.execute(text("DELETE FROM events WHERE seq = 3"))
    with inst.db.read() as s:
        report = inst.audit.verify(s)
    assert any("缺少第 3" in p.message for p in report.problems)


def test_truncated_tail_is_detected_by_the_witness(any_instance: Instance, operator: Actor) -> None:
    inst = any_instance
    _events(inst, operator)
    _disable_guards(inst)
    with inst.db.engine.begin() as c:
        c.execute(text("DELETE FROM events WHERE seq >= 4"))
    with inst.db.read() as s:
        report = inst.audit.verify(s)
    assert not report.ok
    assert any("末尾事件已被删除" in p.message for p in report.problems)


def test_failed_transaction_leaves_no_event_and_no_witness(
    instance: Instance, operator: Actor
) -> None:
    inst = instance
    witness = inst.settings.audit_witness_path
    before = witness.read_text()
    with pytest.raises(RuntimeError), inst.db.write() as s:
        inst.catalogue.create_fonds(
            s,
            operator,
            code="Q001",
            name="回滚全宗",
            responsible="某单位",
            values={"date": "2000", "custody_history": "x"},
        )
        raise RuntimeError("boom")
    assert witness.read_text() == before
    create_fonds(inst, operator, code="Q002")
    with inst.db.read() as s:
        assert inst.audit.verify(s).ok
