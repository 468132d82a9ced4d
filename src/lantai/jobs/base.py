"""Persistent jobs: kinds, the registry, enqueueing after commit, claiming with leases.

A job is a row of ``jobs`` (:class:`lantai.store.Job`) naming a *kind* and carrying IDs only.
Everything a worker pool needs is here, over the database, so the in-process pool
(:mod:`lantai.jobs.inprocess`) and the Redis-fed workers (:mod:`lantai.jobs.redisqueue`) share
the same semantics:

- :func:`enqueue` adds a job in the caller's transaction; the optional ``wake`` callback runs
  only after that transaction commits, so no worker ever sees an uncommitted job. With a ``key``,
  enqueueing is idempotent (the existing job is returned).
- :func:`claim` takes the oldest runnable job in one write transaction and gives it a lease
  (owner + expiry). :func:`renew` extends leases while the job runs.
- :func:`recover` re-queues jobs whose lease expired, or whose owner process on this host is
  gone, so a pool that starts after ``kill -9`` resumes them. Job functions must therefore be
  idempotent: they may run again from the start after a crash.
- :func:`finish` records the outcome: succeeded; queued again with a delay (an error with
  attempts left); or failed (no attempts left, or :class:`PermanentJobError`), in which case the
  kind's ``on_give_up`` runs so the job's subject can record the failure.

Kinds are registered in a :class:`JobRegistry` that the application builds (see
:func:`lantai.jobs.default_registry`); there is no import-time registry.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lantai.errors import NotFound
from lantai.store import Job, after_commit, utcnow

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = [
    "JobContext",
    "JobKind",
    "JobRegistry",
    "JobState",
    "LeaseLost",
    "PermanentJobError",
    "claim",
    "enqueue",
    "finish",
    "new_owner",
    "recover",
    "renew",
]

log = logging.getLogger("lantai.jobs")


class JobState(StrEnum):
    QUEUED = "queued"  # waiting; any worker may claim it once run_after has passed
    RUNNING = "running"  # leased by lease_owner until lease_expires; the owner finishes it
    SUCCEEDED = "succeeded"  # terminal
    FAILED = "failed"  # terminal: attempts exhausted or a permanent error (error recorded)
    CANCELLED = "cancelled"  # terminal: cancelled by a person (a running one stops at its next
    # progress report, which finds its lease revoked)

    @property
    def label(self) -> str:
        return {
            "queued": "排队中",
            "running": "运行中",
            "succeeded": "已完成",
            "failed": "失败",
            "cancelled": "已取消",
        }[self.value]


class PermanentJobError(Exception):
    """Raised by a job function for an error that retrying cannot fix (no further attempts)."""


class LeaseLost(Exception):
    """The job's lease was taken over by another worker; stop working on it."""


@dataclass(frozen=True, kw_only=True)
class JobKind:
    """One kind of job: its function and retry policy."""

    name: str
    run: Callable[[JobContext], None]
    max_attempts: int = 3
    retry_seconds: float = 5.0  # delay before attempt n+1 is n × retry_seconds
    on_give_up: Callable[[Instance, int, Mapping[str, Any], str], None] | None = None


class JobRegistry:
    """The job kinds one application runs (built by the app or CLI, passed to the pool)."""

    def __init__(self, kinds: Iterable[JobKind] = ()) -> None:
        self._kinds: dict[str, JobKind] = {}
        for kind in kinds:
            self.add(kind)

    def add(self, kind: JobKind) -> None:
        if kind.name in self._kinds:
            raise ValueError(f"job kind {kind.name} registered twice")
        self._kinds[kind.name] = kind

    def get(self, name: str) -> JobKind:
        try:
            return self._kinds[name]
        except KeyError:
            raise NotFound(f"没有名为「{name}」的后台作业类型") from None

    def names(self) -> list[str]:
        return sorted(self._kinds)


@dataclass
class JobContext:
    """What a running job sees: the instance, its IDs, and a way to report progress."""

    inst: Instance
    job_id: int
    kind: str
    params: dict[str, Any]
    attempt: int
    owner: str
    lease_seconds: float
    observer: Callable[[str, int | None, int | None, str], None] | None = None
    _last_write: float = 0.0
    _progress: dict[str, Any] = field(default_factory=dict)
    _step_since: tuple[float, int] = (0.0, 0)

    def progress(
        self,
        step: str,
        done: int | None = None,
        total: int | None = None,
        *,
        message: str = "",
        force: bool = False,
        persist: bool = True,
    ) -> None:
        """Record progress (written at most twice a second unless ``force``); renews the lease.

        The runner's ``observer`` (a CLI progress bar) sees every call, unthrottled. Pass
        ``persist=False`` while the caller holds a write transaction: on SQLite a second writer
        would wait for it (and this thread would wait for itself).
        """
        wall = time.time()
        if step != self._progress.get("step"):  # a new step: rate and ETA count from here
            self._step_since = (wall, done or 0)
        self._progress = {
            "step": step,
            "done": done,
            "total": total,
            "message": message,
            "since": self._step_since[0],
            "done_at_since": self._step_since[1],
            "at": wall,
        }
        if self.observer is not None:
            self.observer(step, done, total, message)
        now = time.monotonic()
        if not persist or (not force and now - self._last_write < 0.5):
            return
        self._last_write = now
        with self.inst.db.write() as s:
            found = s.execute(
                update(Job)
                .where(Job.id == self.job_id, Job.lease_owner == self.owner)
                .values(
                    progress=self._progress,
                    lease_expires=utcnow() + timedelta(seconds=self.lease_seconds),
                    updated_at=utcnow(),
                )
            ).rowcount  # type: ignore[attr-defined]
        if not found:
            raise LeaseLost(f"job {self.job_id} is no longer leased by {self.owner}")


def new_owner() -> str:
    """A worker identity: host, process id and a random part (pids are reused)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def enqueue(
    session: Session,
    kind: str,
    params: Mapping[str, Any],
    *,
    key: str | None = None,
    created_by: str = "",
    max_attempts: int = 3,
    wake: Callable[[], None] | None = None,
) -> Job:
    """Add a job in ``session``'s transaction; ``wake`` runs after commit. Idempotent by ``key``."""
    if key is not None:
        existing = session.scalar(select(Job).where(Job.key == key))
        if existing is not None:
            return existing
    job = Job(
        kind=kind,
        key=key,
        params=dict(params),
        state=JobState.QUEUED.value,
        attempts=0,
        max_attempts=max_attempts,
        progress={},
        run_after=utcnow(),
        created_by=created_by,
    )
    session.add(job)
    session.flush()
    if wake is not None:
        after_commit(session, wake)
    return job


def claim(
    inst: Instance,
    owner: str,
    kinds: Iterable[str],
    *,
    lease_seconds: float,
    job_id: int | None = None,
    due_only: bool = False,
) -> Job | None:
    """Lease the oldest runnable job of ``kinds`` (or exactly ``job_id``) to ``owner``.

    A job asked for by id is claimed even before its ``run_after`` unless ``due_only`` (a broker
    message that arrives early for a job waiting to be retried must not run it early).
    """
    now = utcnow()
    with inst.db.write() as s:
        q = select(Job).where(Job.state == JobState.QUEUED.value, Job.kind.in_(list(kinds)))
        if job_id is not None:
            q = q.where(Job.id == job_id)
        if job_id is None or due_only:
            q = q.where(Job.run_after <= now)
        q = q.order_by(Job.run_after, Job.id).limit(1)
        if not inst.db.is_sqlite:  # SQLite write transactions are already exclusive
            q = q.with_for_update(skip_locked=True)
        job = s.scalar(q)
        if job is None:
            return None
        job.state = JobState.RUNNING.value
        job.lease_owner = owner
        job.lease_expires = now + timedelta(seconds=lease_seconds)
        job.attempts += 1
        job.started_at = job.started_at or now
        job.updated_at = now
        job.error = None
        return job


def renew(inst: Instance, owner: str, job_ids: Iterable[int], *, lease_seconds: float) -> set[int]:
    """Extend the leases ``owner`` holds; returns the ids whose lease was lost."""
    ids = list(job_ids)
    if not ids:
        return set()
    with inst.db.write() as s:
        held = set(
            s.scalars(
                select(Job.id).where(
                    Job.id.in_(ids), Job.lease_owner == owner, Job.state == JobState.RUNNING.value
                )
            )
        )
        if held:
            s.execute(
                update(Job)
                .where(Job.id.in_(held))
                .values(lease_expires=utcnow() + timedelta(seconds=lease_seconds))
            )
    return set(ids) - held


def _owner_gone(owner: str | None) -> bool:
    """True when ``owner`` was a process on this host that no longer exists."""
    if not owner:
        return True
    parts = owner.split(":")
    if len(parts) != 3 or parts[0] != socket.gethostname()[:60] or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def recover(inst: Instance, registry: JobRegistry | None = None) -> list[int]:
    """Re-queue running jobs whose lease expired or whose owner died; returns their ids.

    A recovered job that has used all its attempts is failed instead (and its kind's
    ``on_give_up`` runs) — a job that crashes its worker every time must not loop forever.
    """
    now = utcnow()
    requeued: list[int] = []
    given_up: list[tuple[int, str, dict[str, Any]]] = []
    with inst.db.write() as s:
        rows = s.scalars(select(Job).where(Job.state == JobState.RUNNING.value)).all()
        for job in rows:
            expired = job.lease_expires is None or job.lease_expires < now
            if not (expired or _owner_gone(job.lease_owner)):
                continue
            note = f"作业执行者 {job.lease_owner} 已中断（第 {job.attempts} 次尝试）"
            job.lease_owner = None
            job.lease_expires = None
            job.updated_at = now
            if job.attempts >= job.max_attempts:
                job.state = JobState.FAILED.value
                job.error = note + "，已达最大尝试次数"
                job.finished_at = now
                given_up.append((job.id, job.kind, dict(job.params)))
            else:
                job.state = JobState.QUEUED.value
                job.error = note
                job.run_after = now
                requeued.append(job.id)
    for job_id, kind, params in given_up:
        _give_up(inst, registry, job_id, kind, params, "作业多次中断，已放弃")
    if requeued or given_up:
        log.warning("recovered jobs %s (gave up on %s)", requeued, [g[0] for g in given_up])
    return requeued


def finish(
    inst: Instance,
    registry: JobRegistry | None,
    job_id: int,
    owner: str,
    *,
    error: BaseException | None = None,
) -> JobState:
    """Record how a run ended (only if ``owner`` still holds the lease); returns the new state."""
    now = utcnow()
    give_up: tuple[str, dict[str, Any], str] | None = None
    with inst.db.write() as s:
        job = s.get(Job, job_id)
        if job is None or job.lease_owner != owner:
            return JobState(job.state) if job is not None else JobState.FAILED
        job.lease_owner = None
        job.lease_expires = None
        job.updated_at = now
        if error is None:
            job.state = JobState.SUCCEEDED.value
            job.finished_at = now
            job.error = None
        else:
            text = f"{type(error).__name__}: {error}"[:4000]
            permanent = isinstance(error, PermanentJobError)
            if permanent or job.attempts >= job.max_attempts:
                job.state = JobState.FAILED.value
                job.finished_at = now
                job.error = text
                give_up = (job.kind, dict(job.params), text)
            else:
                delay = _retry_delay(registry, job.kind) * job.attempts
                job.state = JobState.QUEUED.value
                job.run_after = now + timedelta(seconds=delay)
                job.error = text
        state = JobState(job.state)
    if give_up is not None:
        _give_up(inst, registry, job_id, *give_up)
    return state


def _retry_delay(registry: JobRegistry | None, kind: str) -> float:
    if registry is None:
        return 5.0
    try:
        return registry.get(kind).retry_seconds
    except NotFound:
        return 5.0


def _give_up(
    inst: Instance,
    registry: JobRegistry | None,
    job_id: int,
    kind: str,
    params: Mapping[str, Any],
    error: str,
) -> None:
    if registry is None:
        return
    try:
        hook = registry.get(kind).on_give_up
    except NotFound:
        return
    if hook is None:
        return
    try:
        hook(inst, job_id, params, error)
    except Exception:  # the job is already failed; its subject stays as it was
        log.exception("on_give_up of job %s (%s) failed", job_id, kind)
