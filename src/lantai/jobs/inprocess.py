"""The embedded job pool: worker threads in this process, over the ``jobs`` table.

::

    runner = InProcessRunner(inst, default_registry(), workers=1)
    runner.start()          # re-queues jobs left running by a dead process, then polls
    ...                     # enqueue(session, kind, params, wake=runner.wake)
    runner.stop()

Tests and the CLI drive it synchronously instead: :meth:`InProcessRunner.run_job` claims one
given job and runs it in the calling thread; :meth:`InProcessRunner.run_until_idle` runs queued
jobs until none is left. Either way a heartbeat thread keeps the leases of running jobs alive,
so a job is only taken over when its worker really stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from lantai import faults
from lantai.jobs.base import (
    JobContext,
    JobRegistry,
    JobState,
    claim,
    finish,
    new_owner,
    recover,
    renew,
)

if TYPE_CHECKING:
    from lantai.instance import Instance
    from lantai.store import Job

__all__ = ["InProcessRunner"]

log = logging.getLogger("lantai.jobs")


class InProcessRunner:
    """A pool of ``workers`` threads running jobs of the registry's kinds."""

    def __init__(
        self,
        inst: Instance,
        registry: JobRegistry,
        *,
        workers: int = 1,
        lease_seconds: float = 300.0,
        poll_seconds: float = 2.0,
        owner: str | None = None,
        observer: Callable[[str, int | None, int | None, str], None] | None = None,
    ) -> None:
        self.inst = inst
        self.registry = registry
        self.workers = max(1, workers)
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.owner = owner or new_owner()
        self.observer = observer
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._active: set[int] = set()
        self._lock = threading.Lock()
        self._beat: threading.Thread | None = None
        self._beat_users = 0

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Recover abandoned jobs, then start the worker threads (idempotent)."""
        if self._threads:
            return
        self._stop.clear()
        recover(self.inst, self.registry)
        self._start_heartbeat()
        for i in range(self.workers):
            t = threading.Thread(target=self._loop, name=f"lantai-job-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking jobs and wait up to ``timeout`` s for running ones (the rest resume later)."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
        self._stop_heartbeat()

    def wake(self) -> None:
        """Tell idle workers a job was just committed (pass as ``enqueue(..., wake=runner.wake)``)."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return bool(self._threads)

    # -- synchronous use (CLI, tests) ------------------------------------------------------------

    def run_job(self, job_id: int, *, due_only: bool = False) -> JobState | None:
        """Claim ``job_id`` (if queued) and run it in this thread; None when it was not runnable."""
        job = claim(
            self.inst,
            self.owner,
            self.registry.names(),
            lease_seconds=self.lease_seconds,
            job_id=job_id,
            due_only=due_only,
        )
        if job is None:
            return None
        with self._heartbeat():
            return self._execute(job)

    def run_until_idle(self, *, max_jobs: int | None = None) -> int:
        """Run runnable jobs one after another in this thread; returns how many ran."""
        recover(self.inst, self.registry)
        ran = 0
        with self._heartbeat():
            while max_jobs is None or ran < max_jobs:
                job = claim(
                    self.inst, self.owner, self.registry.names(), lease_seconds=self.lease_seconds
                )
                if job is None:
                    break
                self._execute(job)
                ran += 1
        return ran

    # -- internals -------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = claim(
                    self.inst, self.owner, self.registry.names(), lease_seconds=self.lease_seconds
                )
            except Exception:  # database briefly unavailable: try again later
                log.exception("claiming a job failed")
                job = None
            if job is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            self._execute(job)

    def _execute(self, job: Job) -> JobState:
        kind = self.registry.get(job.kind)
        ctx = JobContext(
            inst=self.inst,
            job_id=job.id,
            kind=job.kind,
            params=dict(job.params),
            attempt=job.attempts,
            owner=self.owner,
            lease_seconds=self.lease_seconds,
            observer=self.observer,
        )
        with self._lock:
            self._active.add(job.id)
        error: BaseException | None = None
        faults.point("jobs.claimed")
        try:
            kind.run(ctx)
        except Exception as exc:  # recorded on the job; retried or given up by finish()
            log.exception("job %s (%s) attempt %s failed", job.id, job.kind, job.attempts)
            error = exc
        finally:
            with self._lock:
                self._active.discard(job.id)
        faults.point("jobs.ran")
        return finish(self.inst, self.registry, job.id, self.owner, error=error)

    @contextmanager
    def _heartbeat(self) -> Iterator[None]:
        self._start_heartbeat()
        try:
            yield
        finally:
            self._stop_heartbeat()

    def _start_heartbeat(self) -> None:
        with self._lock:
            self._beat_users += 1
            if self._beat is not None:
                return
            stop = threading.Event()
            self._beat_stop = stop
            self._beat = threading.Thread(
                target=self._beat_loop, args=(stop,), name="lantai-job-heartbeat", daemon=True
            )
            self._beat.start()

    def _stop_heartbeat(self) -> None:
        with self._lock:
            self._beat_users = max(0, self._beat_users - 1)
            if self._beat_users or self._beat is None:
                return
            beat, self._beat = self._beat, None
            self._beat_stop.set()
        beat.join(5)

    def _beat_loop(self, stop: threading.Event) -> None:
        interval = max(0.2, self.lease_seconds / 3)
        while not stop.wait(interval):
            with self._lock:
                active = set(self._active)
            if not active:
                continue
            try:
                lost = renew(self.inst, self.owner, active, lease_seconds=self.lease_seconds)
            except Exception:
                log.exception("renewing job leases failed")
                continue
            with self._lock:  # a job that ended while renew() waited was not taken over
                lost &= self._active
            for job_id in sorted(lost):
                log.warning("lease of job %s was taken over by another worker", job_id)
