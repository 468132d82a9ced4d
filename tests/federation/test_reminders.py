"""Deadlines on the dashboard (figure ``xarchive.open``) and the daily overdue alerts."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from federation.conftest import ACCEPTING, HOLDING, OP, Network, citizen
from lantai.dashboard.figures import DashboardService
from lantai.federation import livelihood as lh
from lantai.federation.config import work_calendar
from lantai.federation.reminders import REMIND_KIND, check_deadlines, ensure_schedule
from lantai.instance import Instance
from lantai.jobs import JobState, default_registry
from lantai.jobs.inprocess import InProcessRunner
from lantai.store import Alert, Event, Job


def _apply(net: Network) -> str:
    a = net.nodes[ACCEPTING]
    from federation.conftest import APPLICANT_ID

    app = lh.Application(HOLDING, "婚姻登记", APPLICANT_ID, "办理房产继承公证")
    with a.db.write() as s:
        return lh.submit(a, s, citizen(a), app).ref


def _figure(inst: Instance, day: date) -> dict[str, Any]:
    figs = DashboardService(inst, today=lambda: day).figures(refresh=False)["figures"]
    return dict(next(f for f in figs if f["key"] == "xarchive.open"))


def _alerts(inst: Instance, *, open_only: bool = True) -> list[Alert]:
    with inst.db.read() as s:
        q = select(Alert).where(Alert.kind == "livelihood.overdue")
        if open_only:
            q = q.where(Alert.resolved_at.is_(None))
        rows = list(s.scalars(q))
        for r in rows:
            s.expunge(r)
        return rows


def test_figure_counts_open_overdue_and_due_soon_requests(network: Network) -> None:
    a = network.nodes[ACCEPTING]
    today = lh.today()
    fig = _figure(a, today)
    assert fig["status"] == "ok" and fig["value"] == 0 and fig["note"] == "尚无跨馆查档申请"
    ref = _apply(network)
    with a.db.read() as s:
        due = lh.get_request(s, ref).due_on
    assert due is not None
    cal = work_calendar(a)
    day_before = due - timedelta(days=1)
    while not cal.is_workday(day_before):
        day_before -= timedelta(days=1)
    fig = _figure(a, day_before)
    assert fig["value"] == 1 and fig["parts"]["open"] == 1
    assert fig["parts"]["due_soon"] == 1 and fig["parts"]["overdue"] == 0
    late = cal.add_workdays(due, 1)
    fig = _figure(a, late)
    assert fig["parts"] == {
        "open": 1,
        "overdue": 1,
        "due_soon": 0,
        "accepting_open": 1,
        "accepting_overdue": 1,
        "holding_open": 0,
        "holding_overdue": 0,
    }
    assert "逾期 1 件" in str(fig["note"])


def test_overdue_requests_raise_one_alert_until_the_step_is_taken(network: Network) -> None:
    a, b = network.nodes[ACCEPTING], network.nodes[HOLDING]
    ref = _apply(network)
    with a.db.read() as s:
        due = lh.get_request(s, ref).due_on
    assert due is not None
    cal = work_calendar(a)
    # on the due day itself nothing is overdue yet
    report = check_deadlines(a, on=due)
    assert report.overdue == [] and _alerts(a) == []
    late = cal.add_workdays(due, 1)
    report = check_deadlines(a, on=late)
    assert report.overdue == [ref] and report.raised == [ref]
    (alert,) = _alerts(a)
    assert alert.object_key == f"livelihood:{ref}" and "已逾期" in alert.message
    assert alert.detail["side"] == "accepting" and alert.detail["state"] == "submitted"
    # the next day: the same alert, bumped; no second one
    report = check_deadlines(a, on=cal.add_workdays(late, 1))
    assert report.raised == [] and [x.count for x in _alerts(a)] == [2]
    with a.db.read() as s:
        raised = s.scalars(select(Event.action).where(Event.action == "storage:alert:raised")).all()
    assert len(raised) == 1
    # the 受理馆 forwards: the deadline is now the 协办馆's; A's alert is resolved
    with a.db.write() as s:
        lh.forward(a, s, OP, ref)
    network.pump()
    report = check_deadlines(a, on=late)
    assert report.overdue == [] and report.resolved == 1 and _alerts(a) == []
    (done,) = _alerts(a, open_only=False)
    assert done.resolution == "已办理或已办结"
    # the 协办馆 late with its answer: its own alert, not the 受理馆's
    with b.db.read() as s:
        b_due = lh.get_request(s, ref).due_on
    assert b_due is not None
    b_late = cal.add_workdays(b_due, 1)
    assert check_deadlines(a, on=b_late).overdue == []
    assert check_deadlines(b, on=b_late).raised == [ref]
    assert _alerts(b)[0].detail["side"] == "holding"


def test_the_daily_job_is_scheduled_at_node_setup_and_requeues_itself(network: Network) -> None:
    a = network.nodes[ACCEPTING]
    assert REMIND_KIND in default_registry().names()
    with a.db.write() as s:
        assert ensure_schedule(s) is False  # node init queued the first run
        job = s.scalar(select(Job).where(Job.kind == REMIND_KIND))
        assert job is not None and job.state == JobState.QUEUED.value
        job_id = job.id
    runner = InProcessRunner(a, default_registry())
    assert runner.run_job(job_id) is JobState.SUCCEEDED
    with a.db.read() as s:
        queued = s.scalars(
            select(Job).where(Job.kind == REMIND_KIND, Job.state == JobState.QUEUED.value)
        ).all()
        assert len(queued) == 1
        nxt = queued[0].run_after
    from lantai.store import utcnow

    aware = nxt if nxt.tzinfo else nxt.replace(tzinfo=utcnow().tzinfo)
    assert timedelta(hours=23) < aware - utcnow() <= timedelta(hours=24)
