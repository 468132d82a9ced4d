"""阅览预约: reading-room slots (data: ``reading_room.slots``) with a capacity each.

A booking increments the slot's counter with one conditional statement —
``UPDATE reading_slot_loads SET booked = booked + 1 WHERE … AND booked < capacity`` — inside the
transaction that inserts the appointment, so two visitors racing for the last seat cannot both get
it (PostgreSQL serialises on the row lock; SQLite write transactions are exclusive).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lantai.access.config import AccessConfig
from lantai.audit import EventType
from lantai.errors import Conflict, NotFound, Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import ReadingAppointment, ReadingSlotLoad

__all__ = ["SlotDay", "book", "cancel", "open_slots"]


@dataclass(frozen=True)
class SlotDay:
    day: date
    code: str
    label: str
    capacity: int
    booked: int

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.booked)


def open_slots(session: Session, config: AccessConfig, today: date) -> list[SlotDay]:
    """Every bookable slot from tomorrow to ``days_ahead`` days on, with its bookings."""
    days = [today + timedelta(days=i) for i in range(1, config.reading_room.days_ahead + 1)]
    loads = {
        (r.day, r.slot): r.booked
        for r in session.scalars(
            select(ReadingSlotLoad).where(ReadingSlotLoad.day.between(days[0], days[-1]))
        )
    }
    return [
        SlotDay(d, s.code, s.label, s.capacity, loads.get((d, s.code), 0))
        for d in days
        for s in config.reading_room.slots
        if d.isoweekday() in s.weekdays
    ]


def _ensure_row(session: Session, day: date, code: str) -> None:
    dialect = session.get_bind().dialect.name
    mod = postgresql if dialect == "postgresql" else sqlite
    stmt = mod.insert(ReadingSlotLoad).values(day=day, slot=code, booked=0)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["day", "slot"]))


def book(
    inst: Instance,
    session: Session,
    actor: Actor,
    day: date,
    code: str,
    config: AccessConfig,
    *,
    today: date,
    request_id: int | None = None,
) -> ReadingAppointment:
    slot = config.slot(code)
    bookable = {(s.day, s.code) for s in open_slots(session, config, today)}
    if slot is None or (day, code) not in bookable:
        raise ValidationFailed(
            "预约时段无效",
            [
                Problem(
                    field="slot",
                    value=f"{day} {code}",
                    rule="阅览时段",
                    message="请选择开放预约的日期和时段",
                )
            ],
        )
    assert actor.user_id is not None
    mine = session.scalar(
        select(ReadingAppointment.id).where(
            ReadingAppointment.user_id == actor.user_id,
            ReadingAppointment.day == day,
            ReadingAppointment.slot == code,
            ReadingAppointment.status == "booked",
        )
    )
    if mine is not None:
        raise Conflict("您已预约该时段")
    _ensure_row(session, day, code)
    taken = session.execute(
        update(ReadingSlotLoad)
        .where(
            ReadingSlotLoad.day == day,
            ReadingSlotLoad.slot == code,
            ReadingSlotLoad.booked < slot.capacity,
        )
        .values(booked=ReadingSlotLoad.booked + 1)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"{day} {slot.label} 已约满，请选择其他时段")
    appt = ReadingAppointment(
        user_id=actor.user_id, day=day, slot=code, request_id=request_id, status="booked"
    )
    session.add(appt)
    session.flush()
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.ACCESS_APPOINTMENT_BOOKED,
        object_type="appointment",
        object_id=str(appt.id),
        detail={"day": day.isoformat(), "slot": code},
    )
    return appt


def cancel(inst: Instance, session: Session, actor: Actor, appointment_id: int) -> None:
    appt = session.get(ReadingAppointment, appointment_id, with_for_update=True)
    if appt is None or appt.user_id != actor.user_id:
        raise NotFound(f"预约 {appointment_id} 不存在")
    if appt.status != "booked":
        raise Conflict("该预约已取消或已到馆")
    appt.status = "cancelled"
    session.execute(
        update(ReadingSlotLoad)
        .where(ReadingSlotLoad.day == appt.day, ReadingSlotLoad.slot == appt.slot)
        .values(booked=ReadingSlotLoad.booked - 1)
    )
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.ACCESS_APPOINTMENT_CANCELLED,
        object_type="appointment",
        object_id=str(appt.id),
    )
