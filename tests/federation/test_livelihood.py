"""跨馆查档: the state machine across two in-process nodes, deadlines, outbox resilience."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from conftest import make_settings  # noqa: F401  (fixtures path)
from federation.conftest import ACCEPTING, APPLICANT_ID, HOLDING, OP, Network, citizen, holdings
from lantai.certificates import key_ring, verify_pdf
from lantai.certificates.verify import Verdict
from lantai.errors import Conflict, InputError, PermissionDenied
from lantai.federation import livelihood as lh
from lantai.federation.livelihood import State
from lantai.federation.outbox import deliver_due
from lantai.store import Event
from lantai.store.federation import (
    FederationInbox,
    FederationOutbox,
    LivelihoodRequest,
    LivelihoodStep,
)


def _apply(net: Network, **kw: object) -> str:
    a = net.nodes[ACCEPTING]
    actor = citizen(a)
    app = lh.Application(
        kw.get("holding", HOLDING),
        kw.get("type", "婚姻登记"),
        kw.get("idn", APPLICANT_ID),
        "办理房产继承公证",  # type: ignore[arg-type]
    )
    with a.db.write() as s:
        return lh.submit(a, s, actor, app).ref


def _state(inst: object, ref: str) -> tuple[str, str | None]:
    with inst.db.read() as s:  # type: ignore[attr-defined]
        req = lh.get_request(s, ref)
        return req.state, req.due_side


def _events(inst: object, ref: str) -> list[str]:
    with inst.db.read() as s:  # type: ignore[attr-defined]
        return list(
            s.scalars(select(Event.action).where(Event.object_id == ref).order_by(Event.seq))
        )


def test_transitions_are_data() -> None:
    assert lh.can_move(State.SUBMITTED, State.FORWARDED, has_certificate=False)
    assert not lh.can_move(State.SUBMITTED, State.ISSUED, has_certificate=False)
    assert not lh.can_move(State.NOTIFIED, State.COLLECTED, has_certificate=False)
    assert lh.can_move(State.NOTIFIED, State.COLLECTED, has_certificate=True)
    assert {s.side for s in (State.RECEIVED, State.ISSUED, State.NOT_FOUND)} == {lh.Side.HOLDING}
    for state in State:
        assert state.event.value == f"livelihood:request:{state.value}"


def test_full_request_across_two_nodes(network: Network) -> None:
    a, b = network.nodes[ACCEPTING], network.nodes[HOLDING]
    recs = holdings(b)
    ref = _apply(network)
    assert _state(a, ref) == ("submitted", "accepting")
    with a.db.write() as s:
        lh.forward(a, s, OP, ref, "身份与范围核对无误")
    network.pump()
    assert _state(b, ref) == ("received", "holding")
    assert _state(a, ref) == ("received", "holding")  # the 受理馆 sees the 协办馆's deadline
    with b.db.read() as s:
        req = lh.get_request(s, ref)
        assert req.applicant_id == APPLICANT_ID and req.side == "holding"
        found = lh.candidates(b, s, OP, ref)
    by_id = {c.record_id: c for c in found}
    assert set(by_id) == {recs["own"], recs["namesake"]}
    assert by_id[recs["own"]].matched == ("身份证号", "姓名") and found[0].record_id == recs["own"]
    with b.db.write() as s, pytest.raises(InputError, match="查档候选"):
        lh.issue(b, s, OP, ref, [recs["other"]])
    with b.db.write() as s:
        lh.issue(b, s, OP, ref, [recs["own"]], "婚姻登记档案一件")
    network.pump()
    state, side = _state(a, ref)
    assert (state, side) == ("issued", "accepting")
    with a.db.read() as s:
        pdf = s.scalar(
            select(LivelihoodRequest.certificate_pdf).where(LivelihoodRequest.ref == ref)
        )
        assert pdf is not None
        check = verify_pdf(pdf, key_ring(s))  # the 受理馆 trusts the partner key from the registry
    assert check.verdict is Verdict.VALID and check.issuer is not None
    assert check.issuer.issuer_code == HOLDING and not check.issuer.own
    with b.db.read() as s:
        assert verify_pdf(pdf, key_ring(s)).verdict is Verdict.VALID
    applicant = citizen_actor(a)
    with a.db.write() as s, pytest.raises(Conflict, match="还不能领取"):
        lh.collect(a, s, applicant, ref)
    with a.db.write() as s:
        lh.notify(a, s, OP, ref, "已短信告知")
    with a.db.write() as s:
        lh.collect(a, s, applicant, ref)
    network.pump()
    for inst in (a, b):
        assert _state(inst, ref)[0] == "collected"
        with inst.db.read() as s:
            req = lh.get_request(s, ref)
            assert req.closed_at is not None and req.applicant_id == req.applicant_id_masked
            steps = [
                st.state
                for st in s.scalars(
                    select(LivelihoodStep)
                    .where(LivelihoodStep.request_id == req.id)
                    .order_by(LivelihoodStep.id)
                )
            ]
        assert steps == ["submitted", "forwarded", "received", "issued", "notified", "collected"]
    # every step is an event at both ends (the 协办馆 never hears of "submitted" on its own)
    assert _events(a, ref) == [
        f"livelihood:request:{s}"
        for s in ("submitted", "forwarded", "received", "issued", "notified", "collected")
    ]
    assert _events(b, ref) == [
        f"livelihood:request:{s}"
        for s in ("forwarded", "received", "issued", "notified", "collected")
    ]


def citizen_actor(inst: object):  # type: ignore[no-untyped-def]
    from lantai.store import User

    with inst.db.read() as s:  # type: ignore[attr-defined]
        user = s.scalar(select(User).where(User.username == "13800138000"))
        return inst.users.actor_for(s, user)  # type: ignore[attr-defined]


def test_application_checks_identity_type_and_partner(network: Network) -> None:
    a = network.nodes[ACCEPTING]
    actor = citizen(a)
    with a.db.write() as s, pytest.raises(InputError) as exc:
        lh.submit(a, s, actor, lh.Application(ACCEPTING, "族谱", "110105198001011234", ""))
    assert {p.field for p in exc.value.problems} == {
        "holding_code",
        "record_type",
        "id_number",
        "purpose",
    }
    with a.db.write() as s, pytest.raises(PermissionDenied):
        lh.submit(a, s, OP, lh.Application(HOLDING, "婚姻登记", APPLICANT_ID, "x"))


def test_not_found_closes_the_request_and_refusal_stays_local(network: Network) -> None:
    a, b = network.nodes[ACCEPTING], network.nodes[HOLDING]
    ref = _apply(network)
    with a.db.write() as s:
        lh.forward(a, s, OP, ref)
    network.pump()
    with b.db.write() as s:
        lh.not_found(b, s, OP, ref, "1980–1990 年婚姻登记档案中未查到")
    network.pump()
    with a.db.write() as s:
        lh.notify(a, s, OP, ref)
    network.pump()
    for inst in (a, b):
        with inst.db.read() as s:
            req = lh.get_request(s, ref)
            assert req.state == "notified" and req.closed_at is not None
    second = _apply(network, idn=APPLICANT_ID)
    with a.db.write() as s:
        lh.refuse(a, s, OP, second, "所需档案不属民生档案范围")
    network.pump()
    with b.db.read() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(LivelihoodRequest)
                .where(LivelihoodRequest.ref == second)
            )
            == 0
        )


def test_a_node_that_was_down_catches_up_and_duplicates_are_harmless(network: Network) -> None:
    a, b = network.nodes[ACCEPTING], network.nodes[HOLDING]
    ref = _apply(network)
    network.down.add(HOLDING)
    with a.db.write() as s:
        lh.forward(a, s, OP, ref)
    report = deliver_due(a)
    assert report.failed and not report.delivered
    with a.db.read() as s:
        row = s.scalar(select(FederationOutbox))
        assert (
            row is not None
            and row.state == "pending"
            and row.attempts == 1
            and "refused" in row.last_error
        )
        first_retry = row.next_attempt_at
    network.down.clear()
    # the partner is back; its own message to us makes our pending messages due at once
    with a.db.write() as s:
        row = s.scalar(select(FederationOutbox))
        assert row is not None
        row.next_attempt_at = first_retry  # still in back-off
    network.pump()  # still in back-off: not sent yet
    with b.db.read() as s:
        assert s.scalar(select(func.count()).select_from(LivelihoodRequest)) == 0
    with a.db.write() as s:
        from lantai.federation.outbox import retry_now

        retry_now(s, HOLDING)
    network.pump()
    assert _state(b, ref) == ("received", "holding") and _state(a, ref)[0] == "received"
    # deliver the forward message again: acknowledged as a duplicate, applied once
    with a.db.read() as s:
        row = s.scalar(
            select(FederationOutbox)
            .where(FederationOutbox.type == "livelihood.step")
            .order_by(FederationOutbox.id)
        )
        assert row is not None and row.state == "delivered"
        msg_id, body = row.message_id, dict(row.body)
    from lantai.federation.identity import node_key
    from lantai.federation.messages import sign
    from lantai.federation.service import receive

    with a.db.read() as s:
        wire = sign(
            node_key(a, s),
            sender=ACCEPTING,
            recipient=HOLDING,
            type="livelihood.step",
            body=body,
            message_id=msg_id,
        )
    ack = receive(b, wire)
    assert ack["body"] == {"ack": msg_id, "status": "duplicate", "error": ""}
    with b.db.read() as s:
        assert s.scalar(select(func.count()).select_from(LivelihoodRequest)) == 1
        assert s.scalar(select(func.count()).select_from(FederationInbox)) == 1
    # the exact same transmission again is a replay
    from lantai.federation.messages import MessageRejected

    with pytest.raises(MessageRejected) as exc:
        receive(b, wire)
    assert exc.value.reason.value == "replayed"
    assert "federation:message:rejected" in _all_events(b)


def _all_events(inst: object) -> list[str]:
    with inst.db.read() as s:  # type: ignore[attr-defined]
        return list(s.scalars(select(Event.action)))


def test_deadlines_and_overdue_flags(network: Network) -> None:
    a = network.nodes[ACCEPTING]
    ref = _apply(network)
    with a.db.read() as s:
        req = lh.get_request(s, ref)
        created = lh.today()
        assert req.due_on == lh.work_calendar(a).add_workdays(created, 2)
        due = req.due_on
        assert due is not None
        assert not lh.deadline_flag(a, req, created).overdue
        late = lh.deadline_flag(a, req, date.fromordinal(due.toordinal() + 1))
        assert late.overdue
        summary = lh.deadline_summary(a, s, date.fromordinal(due.toordinal() + 1))
    assert summary["open"] == 1 and summary["overdue"] == 1
    assert summary["by_side"]["accepting"] == {"open": 1, "overdue": 1, "due_soon": 0}
