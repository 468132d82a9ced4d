"""kill -9 of an archive's server at each fault point of a cross-archive request (跨馆出证) and of
a citizen's 出具证明 approval, then restart: nothing lost, nothing done twice, both archives agree.

Each test sets up the two archives of :mod:`faults.crossarchive` (受理馆 A, 出证馆 B), starts
both servers — one of them with ``LANTAI_FAULT_POINT`` — and runs one request from application
to collection through the HTTP API. The server dies at the point; its archive is checked at once
(the instance invariants and :func:`~faults.crossarchive.node_violations`), it is restarted
without the fault, and the request is carried on (a request the server died under is sent again,
as a person would). At the end, with both outboxes empty: :func:`pair_violations` (every message
delivered and applied once, the same six steps at both archives, the same certificate bytes) and
the settled instance invariants with both servers stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from faults.crossarchive import (
    ACCEPTING,
    HOLDING,
    CrossArchiveWork,
    node_violations,
    pair_violations,
)
from lantai.federation.reminders import REMIND_KIND
from lantai.store import Job
from lantai.store.federation import FederationOutbox, LivelihoodRequest, LivelihoodStep

pytestmark = [pytest.mark.faults, pytest.mark.slow]

# (point:hit, archive whose server dies there): the most dangerous moment of each point
KILLS = [
    # A's `forwarded` message committed with its step and signed: the server dies before sending
    pytest.param("federation.outbox.sending:1", ACCEPTING, id="outbox-committed-not-sent"),
    # B's `issued` message (the certificate) reached A and was acknowledged; B has not recorded it
    # and sends it again: A must answer `duplicate` and not record a second certificate
    pytest.param("federation.outbox.acknowledged:2", HOLDING, id="acked-not-recorded"),
    # B applied the forwarded request but dies before writing the idempotency record
    pytest.param("federation.inbox.applied:1", HOLDING, id="applied-no-idempotency-record"),
    # A committed the arriving certificate and dies before the acknowledgement leaves
    pytest.param("federation.inbox.committed:2", ACCEPTING, id="committed-no-ack"),
    # B's clerk issues: state and step written, the event not (B's 3rd step, after arrival)
    pytest.param("livelihood.step.recorded:3", HOLDING, id="step-without-event"),
    # A verified the certificate and kept it on the request; the `issued` step is not recorded
    pytest.param("livelihood.certificate.received:1", ACCEPTING, id="certificate-kept-no-step"),
    # B's certificate PDF signed, its row not written
    pytest.param("certificates.signed:1", HOLDING, id="certificate-signed-not-registered"),
    # A's 出具证明 certificate registered (row, PDF, event), the approval not committed
    pytest.param("certificates.registered:1", ACCEPTING, id="certificate-registered-not-approved"),
    # A's approval: grants and certificate written, the approval event not
    pytest.param("access.certified:1", ACCEPTING, id="approval-without-event"),
]


@pytest.fixture
def work(tmp_path: Path) -> Iterator[CrossArchiveWork]:
    done = CrossArchiveWork(tmp_path)
    yield done
    done.close()


@pytest.mark.parametrize(("fault", "archive"), KILLS)
def test_cross_archive_request_killed_at_a_point(
    work: CrossArchiveWork, fault: str, archive: str
) -> None:
    with work.running(archive, fault):
        work.round()
        work.check()
    assert dict(work.points) == {fault.split(":")[0]: 1}, work.report()  # died there, once
    work.settled_check()
    assert work.violations == [], work.violations[:20]


def test_daily_deadline_check_killed_after_it_ran_stays_one_daily_job(
    work: CrossArchiveWork,
) -> None:
    """A's server dies after the daily 跨馆查档 deadline check ran (its next day already queued),
    before the run was recorded. The restarted server fails the run (``max_attempts`` 1) and its
    give-up hook queues the next day again: it must not become two daily checks (it did; every
    such crash added one more, each re-queuing itself)."""

    def daily() -> list[tuple[int, str]]:
        with work.instance(work.a) as a, a.db.read() as s:
            return [
                (j.id, j.state)
                for j in s.scalars(select(Job).where(Job.kind == REMIND_KIND).order_by(Job.id))
            ]

    assert [state for _id, state in daily()] == ["queued"]  # queued by `node init`
    first = daily()[0][0]
    with work.running(ACCEPTING, "jobs.ran:1"):  # the first job A runs is that check
        work.wait_until(lambda: (first, "failed") in daily(), "the interrupted check recovered")
    assert dict(work.points) == {"jobs.ran": 1}, work.report()
    assert [state for _id, state in daily()] == ["failed", "queued"], daily()
    work.settled_check()
    assert work.violations == [], work.violations[:20]


def test_the_checks_see_a_step_twice_and_a_lost_message(work: CrossArchiveWork) -> None:
    """The invariants are not vacuous: after a clean round, a step recorded twice at B (without
    its event) and a message deleted from A's outbox are both reported."""
    with work.running():
        ref = work.round()
    assert work.settled_check() == []
    with work.instance(work.b) as b, b.db.write() as s:
        req = s.scalar(select(LivelihoodRequest).where(LivelihoodRequest.ref == ref))
        assert req is not None
        step = s.scalar(
            select(LivelihoodStep).where(
                LivelihoodStep.request_id == req.id, LivelihoodStep.state == "issued"
            )
        )
        assert step is not None
        s.add(
            LivelihoodStep(request_id=req.id, state="issued", node=HOLDING, actor="x", at=step.at)
        )
    with work.instance(work.a) as a, a.db.write() as s:
        s.execute(
            delete(FederationOutbox).where(
                FederationOutbox.ref == ref,
                FederationOutbox.body["state"].as_string() == "notified",
            )
        )
    with work.instance(work.a) as a, work.instance(work.b) as b:
        at_b = node_violations(b)
        at_a = node_violations(a)
        between = pair_violations(a, b, refs=[ref], access_ids=work.access_ids)
    assert any("not a path" in v for v in at_b) and any("event" in v for v in at_b), at_b
    assert any("notified taken here, 0 message" in v for v in at_a), at_a
    assert any("applied" in v and "never sent" in v for v in between), between
