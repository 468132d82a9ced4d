"""Persistent jobs: enqueue after commit, claim with leases, retries, recovery after a crash."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from lantai.instance import Instance
from lantai.jobs import (
    InProcessRunner,
    JobContext,
    JobKind,
    JobRegistry,
    JobState,
    PermanentJobError,
    claim,
    enqueue,
    new_owner,
    recover,
    renew,
)
from lantai.store import Job, utcnow


def _registry(calls: list[Any], **kinds: Any) -> JobRegistry:
    def ok(ctx: JobContext) -> None:
        ctx.progress("work", 1, 2, force=True)
        calls.append(("ok", ctx.params, ctx.attempt))

    def flaky(ctx: JobContext) -> None:
        calls.append(("flaky", ctx.attempt))
        if ctx.attempt < 2:
            raise RuntimeError("temporary")

    def broken(ctx: JobContext) -> None:
        calls.append(("broken", ctx.attempt))
        raise RuntimeError("always")

    def permanent(ctx: JobContext) -> None:
        calls.append(("permanent", ctx.attempt))
        raise PermanentJobError("cannot be fixed by retrying")

    def gave_up(inst: Instance, job_id: int, params: Mapping[str, Any], error: str) -> None:
        calls.append(("gave_up", job_id, error))

    reg = JobRegistry()
    reg.add(JobKind(name="ok", run=ok))
    reg.add(JobKind(name="flaky", run=flaky, retry_seconds=0))
    reg.add(JobKind(name="broken", run=broken, retry_seconds=0, on_give_up=gave_up))
    reg.add(JobKind(name="permanent", run=permanent, on_give_up=gave_up))
    for name, fn in kinds.items():
        reg.add(JobKind(name=name, run=fn))
    return reg


def _job(inst: Instance, job_id: int) -> Job:
    with inst.db.read() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def test_enqueue_wakes_only_after_commit(any_instance: Instance) -> None:
    woken: list[int] = []
    with any_instance.db.write() as s:
        job = enqueue(s, "ok", {"id": 1}, wake=lambda: woken.append(1))
        assert woken == []
    assert woken == [1]
    assert _job(any_instance, job.id).state == JobState.QUEUED
    with pytest.raises(RuntimeError), any_instance.db.write() as s:
        enqueue(s, "ok", {"id": 2}, wake=lambda: woken.append(2))
        raise RuntimeError("rolled back")
    assert woken == [1]
    with any_instance.db.read() as s:
        assert s.query(Job).count() == 1


def test_enqueue_is_idempotent_by_key(any_instance: Instance) -> None:
    with any_instance.db.write() as s:
        a = enqueue(s, "ok", {"id": 1}, key="transfer:1")
    with any_instance.db.write() as s:
        b = enqueue(s, "ok", {"id": 1}, key="transfer:1")
    assert a.id == b.id
    with any_instance.db.read() as s:
        assert s.query(Job).count() == 1


def test_run_until_idle_runs_and_records_progress(any_instance: Instance) -> None:
    calls: list[Any] = []
    runner = InProcessRunner(any_instance, _registry(calls))
    with any_instance.db.write() as s:
        job = enqueue(s, "ok", {"transfer_id": 7})
    assert runner.run_until_idle() == 1
    assert calls == [("ok", {"transfer_id": 7}, 1)]
    done = _job(any_instance, job.id)
    assert done.state == JobState.SUCCEEDED
    p = done.progress
    assert (p["step"], p["done"], p["total"], p["message"]) == ("work", 1, 2, "")
    assert p["since"] <= p["at"]  # the step's start: rate and ETA are counted from it
    assert done.lease_owner is None and done.finished_at is not None
    assert runner.run_until_idle() == 0


def test_errors_are_retried_then_given_up(any_instance: Instance) -> None:
    calls: list[Any] = []
    runner = InProcessRunner(any_instance, _registry(calls))
    with any_instance.db.write() as s:
        flaky = enqueue(s, "flaky", {})
        broken = enqueue(s, "broken", {}, max_attempts=2)
        permanent = enqueue(s, "permanent", {})
    runner.run_until_idle()
    assert _job(any_instance, flaky.id).state == JobState.SUCCEEDED
    assert ("flaky", 1) in calls and ("flaky", 2) in calls
    b = _job(any_instance, broken.id)
    assert b.state == JobState.FAILED and b.attempts == 2 and "always" in (b.error or "")
    p = _job(any_instance, permanent.id)
    assert p.state == JobState.FAILED and p.attempts == 1
    gave_up = sorted(c[1] for c in calls if c[0] == "gave_up")
    assert gave_up == sorted([broken.id, permanent.id])


def test_recover_requeues_expired_and_dead_owners_only(any_instance: Instance) -> None:
    with any_instance.db.write() as s:
        expired = enqueue(s, "ok", {"n": 1})
        dead = enqueue(s, "ok", {"n": 2})
        alive = enqueue(s, "ok", {"n": 3})
    # A process that has exited: its pid no longer exists.
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host_owner = new_owner().split(":")[0]
    with any_instance.db.write() as s:
        for job_id, owner, delta in (
            (expired.id, "otherhost:1:aa", -5),
            (dead.id, f"{host_owner}:{proc.stdout.strip()}:bb", 60),
            (alive.id, new_owner(), 60),
        ):
            job = s.get(Job, job_id)
            assert job is not None
            job.state = JobState.RUNNING.value
            job.lease_owner = owner
            job.lease_expires = utcnow() + timedelta(seconds=delta)
            job.attempts = 1
    assert sorted(recover(any_instance)) == sorted([expired.id, dead.id])
    assert _job(any_instance, expired.id).state == JobState.QUEUED
    assert "中断" in (_job(any_instance, dead.id).error or "")
    assert _job(any_instance, alive.id).state == JobState.RUNNING


def test_recover_gives_up_after_max_attempts(any_instance: Instance) -> None:
    calls: list[Any] = []
    reg = _registry(calls)
    with any_instance.db.write() as s:
        job = enqueue(s, "broken", {}, max_attempts=1)
    with any_instance.db.write() as s:
        row = s.get(Job, job.id)
        assert row is not None
        row.state, row.attempts = JobState.RUNNING.value, 1
        row.lease_owner, row.lease_expires = "gone:1:x", utcnow() - timedelta(seconds=1)
    assert recover(any_instance, reg) == []
    assert _job(any_instance, job.id).state == JobState.FAILED
    assert calls and calls[0][0] == "gave_up"


def test_a_job_is_claimed_by_one_worker_only(any_instance: Instance) -> None:
    with any_instance.db.write() as s:
        ids = [enqueue(s, "ok", {"n": i}).id for i in range(12)]
    claimed: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        owner = new_owner()
        while True:
            job = claim(any_instance, owner, ["ok"], lease_seconds=30)
            if job is None:
                return
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == ids


def test_renew_reports_lost_leases(any_instance: Instance) -> None:
    with any_instance.db.write() as s:
        job = enqueue(s, "ok", {})
    me = new_owner()
    claimed = claim(any_instance, me, ["ok"], lease_seconds=1)
    assert claimed is not None
    assert renew(any_instance, me, [job.id], lease_seconds=30) == set()
    assert _job(any_instance, job.id).lease_expires > utcnow() + timedelta(seconds=20)  # type: ignore[operator]
    with any_instance.db.write() as s:
        row = s.get(Job, job.id)
        assert row is not None
        row.lease_owner = "someone-else"
    assert renew(any_instance, me, [job.id], lease_seconds=30) == {job.id}


def test_started_pool_runs_woken_jobs(instance: Instance) -> None:
    calls: list[Any] = []
    done = threading.Event()

    def signal(ctx: JobContext) -> None:
        calls.append(ctx.params["n"])
        done.set()

    runner = InProcessRunner(instance, _registry(calls, signal=signal), poll_seconds=30)
    runner.start()
    try:
        with instance.db.write() as s:
            enqueue(s, "signal", {"n": 5}, wake=runner.wake)
        assert done.wait(10), "the woken pool did not run the job"
    finally:
        runner.stop()
    assert calls == [5]
    assert not runner.running


def test_heartbeat_keeps_a_long_job_leased(instance: Instance) -> None:
    seen: list[Any] = []

    def slow(ctx: JobContext) -> None:
        time.sleep(1.5)
        with instance.db.read() as s:
            row = s.get(Job, ctx.job_id)
            assert row is not None
            seen.append(row.lease_expires)

    runner = InProcessRunner(instance, _registry([], slow=slow), lease_seconds=0.9)
    with instance.db.write() as s:
        job = enqueue(s, "slow", {})
    started = utcnow()
    assert runner.run_job(job.id) == JobState.SUCCEEDED
    # The lease was renewed while the job ran: claimed for 0.9 s, still valid after 1.5 s.
    assert seen and seen[0] is not None
    assert seen[0] > started + timedelta(seconds=1.5)
    assert runner.run_job(job.id) is None  # finished jobs are not runnable


def test_heartbeat_warns_only_of_jobs_really_taken_over(
    instance: Instance, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A job that ends while the heartbeat's renewal waits for the database was not taken over
    (bench/soak.py found such false warnings in the server log); one whose lease another worker
    holds is reported."""
    from lantai.jobs import inprocess
    from lantai.jobs.base import finish

    runner = InProcessRunner(instance, _registry([]), lease_seconds=0.3)
    with instance.db.write() as s:
        ends, lost = enqueue(s, "ok", {}), enqueue(s, "ok", {})
    for job in (ends, lost):
        assert claim(instance, runner.owner, ["ok"], lease_seconds=60, job_id=job.id)
        runner._active.add(job.id)
    other = new_owner()
    with instance.db.write() as s:
        row = s.get(Job, lost.id)
        assert row is not None
        row.lease_owner = other
    stop = threading.Event()
    reported: list[set[int]] = []

    def renew_as_the_job_ends(*args: Any, **kw: Any) -> set[int]:
        with runner._lock:  # as _execute does when the job returns, then finish()
            runner._active.discard(ends.id)
        assert finish(instance, None, ends.id, runner.owner) == JobState.SUCCEEDED
        stop.set()  # one beat only
        lost_ids = renew(*args, **kw)
        reported.append(set(lost_ids))
        return lost_ids

    monkeypatch.setattr(inprocess, "renew", renew_as_the_job_ends)
    with caplog.at_level("WARNING", logger="lantai.jobs"):
        runner._beat_loop(stop)
    assert reported == [{ends.id, lost.id}]  # renew() no longer holds either lease
    warned = [r.getMessage() for r in caplog.records if "taken over" in r.getMessage()]
    assert warned == [f"lease of job {lost.id} was taken over by another worker"]
