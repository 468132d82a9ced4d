"""Workers on any number of hosts, fed through Redis (dramatiq), over the same ``jobs`` table.

The database stays the source of truth (state, progress, attempts, errors, leases), so the UI and
CLI show the same thing for both backends. Redis only carries "run job N" messages:

- A :class:`Dispatcher` (in every ``lantai worker`` and in ``lantai serve`` with the redis
  backend) re-queues jobs whose lease expired or whose owner died (:func:`~lantai.jobs.recover`),
  then sends a message for every due queued job. ``SET NX`` on ``sent:<job>:<attempt>`` (expiring
  after the lease time) keeps several dispatchers from flooding the queue, and lets a message that
  was lost be sent again later.
- A :class:`RedisWorker` consumes messages with dramatiq (acknowledged after the job ran; a
  worker whose heartbeat stops has its unacknowledged messages re-delivered) and runs the job with
  the in-process runner's ``run_job``: the job is *claimed in the database*, so a duplicate or
  late message is harmless (it finds the job running or finished and does nothing).
- Job errors are recorded on the job (retried by the job's own policy, ``failed`` when
  exhausted: the dead letters an archivist sees). A message whose handling itself fails (the
  database unreachable) is retried by dramatiq with backoff and then dead-lettered in Redis
  (``<namespace>:jobs.XQ``), which :func:`queue_stats` reports.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dramatiq
import redis
from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker
from dramatiq.middleware import Retries
from sqlalchemy import select

from lantai.jobs.base import JobRegistry, JobState, recover
from lantai.jobs.inprocess import InProcessRunner
from lantai.store import Job, utcnow

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = [
    "QUEUE",
    "Dispatcher",
    "QueueStats",
    "RedisQueue",
    "RedisWorker",
    "load_kinds",
    "queue_stats",
]

log = logging.getLogger("lantai.jobs")

QUEUE = "jobs"
ACTOR = "lantai.run_job"


class RedisQueue:
    """The broker connection of one instance: sends "run job N", counts what Redis holds."""

    def __init__(self, url: str, namespace: str, *, lease_seconds: float) -> None:
        self.url = url
        self.namespace = namespace
        self.lease_seconds = lease_seconds
        self.client = redis.Redis.from_url(url)
        self.broker = RedisBroker(  # type: ignore[no-untyped-call]
            client=self.client,
            namespace=namespace,
            middleware=[Retries(max_retries=5, min_backoff=2_000, max_backoff=120_000)],
            # a consumer whose heartbeat is older than this has its unacked messages re-queued;
            # every fetch checks (cheap: one sorted-set range)
            heartbeat_timeout=int(max(5.0, lease_seconds) * 1000),
            maintenance_chance=MAINTENANCE_SCALE,
        )
        self._handler: Any = None
        self.actor: dramatiq.Actor[Any, Any] = dramatiq.Actor(
            self._handle,
            broker=self.broker,
            actor_name=ACTOR,
            queue_name=QUEUE,
            priority=0,
            options={},
        )

    @classmethod
    def from_instance(cls, inst: Instance) -> RedisQueue:
        s = inst.settings
        return cls(s.redis_url, s.redis_namespace, lease_seconds=s.jobs_lease_seconds)

    def _handle(self, job_id: int) -> None:
        if self._handler is None:  # a sender-only queue never consumes
            raise RuntimeError("this RedisQueue has no worker attached")
        self._handler(job_id)

    def send(self, job_id: int) -> None:
        self.actor.send(job_id)

    def mark_sent(self, job_id: int, attempts: int) -> bool:
        """True when no message for this attempt was sent within the lease time."""
        key = f"{self.namespace}:lantai:sent:{job_id}:{attempts}"
        return bool(self.client.set(key, "1", nx=True, ex=max(5, int(self.lease_seconds))))

    def close(self) -> None:
        self.broker.close()
        self.client.close()


@dataclass(frozen=True)
class QueueStats:
    """What Redis holds: waiting messages, unacknowledged ones, dead letters, live consumers."""

    waiting: int
    unacked: int
    dead_letters: int
    consumers: int


def queue_stats(queue: RedisQueue) -> QueueStats:
    ns, c = queue.namespace, queue.client
    acks = list(c.scan_iter(match=f"{ns}:__acks__.*.{QUEUE}"))
    return QueueStats(
        waiting=int(c.llen(f"{ns}:{QUEUE}")),
        unacked=sum(int(c.scard(k)) for k in acks),
        dead_letters=int(c.zcard(f"{ns}:{QUEUE}.XQ")),
        consumers=int(c.zcard(f"{ns}:__heartbeats__")),
    )


class Dispatcher:
    """Recovers abandoned jobs and sends messages for due queued ones, every ``poll_seconds``."""

    def __init__(
        self,
        inst: Instance,
        queue: RedisQueue,
        registry: JobRegistry | None = None,
        *,
        poll_seconds: float = 2.0,
    ) -> None:
        self.inst = inst
        self.queue = queue
        self.registry = registry
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> list[int]:
        """One pass; returns the ids of jobs a message was sent for."""
        recover(self.inst, self.registry)
        with self.inst.db.read() as s:
            rows = s.execute(
                select(Job.id, Job.attempts)
                .where(Job.state == JobState.QUEUED.value, Job.run_after <= utcnow())
                .order_by(Job.run_after, Job.id)
                .limit(1000)
            ).all()
        sent = []
        for job_id, attempts in rows:
            if self.queue.mark_sent(job_id, attempts):
                self.queue.send(job_id)
                sent.append(job_id)
        return sent

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="lantai-dispatch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def wake(self) -> None:
        """A job was just committed: sweep now (same signature as ``InProcessRunner.wake``)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:  # Redis or the database briefly away: try again next round
                log.exception("dispatching jobs to Redis failed")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()


class RedisWorker:
    """One worker process: ``threads`` dramatiq consumer threads plus a dispatcher."""

    def __init__(
        self,
        inst: Instance,
        registry: JobRegistry,
        *,
        threads: int = 1,
        poll_seconds: float = 2.0,
    ) -> None:
        self.inst = inst
        self.registry = registry
        self.queue = RedisQueue.from_instance(inst)
        self.runner = InProcessRunner(
            inst, registry, workers=threads, lease_seconds=inst.settings.jobs_lease_seconds
        )
        self.queue._handler = self._run
        self.dispatcher = Dispatcher(inst, self.queue, registry, poll_seconds=poll_seconds)
        self.worker = dramatiq.Worker(self.queue.broker, worker_threads=threads)
        # one message per thread: a long OCR job must not hold messages other hosts could run
        self.worker.queue_prefetch = threads

    def _run(self, job_id: int) -> None:
        state = self.runner.run_job(job_id, due_only=True)
        if state is None:
            log.info("message for job %s ignored: not queued and due (duplicate or late)", job_id)
        else:
            log.info("job %s ran: %s", job_id, state.value)

    def start(self) -> None:
        self.dispatcher.start()
        self.worker.start()

    def stop(self, timeout_ms: int = 30_000) -> None:
        self.dispatcher.stop()
        self.worker.stop(timeout=timeout_ms)
        self.queue.close()


def load_kinds(registry: JobRegistry, specs: Iterable[str]) -> JobRegistry:
    """Add job kinds from ``module:function`` plug-ins (a site's own background work)."""
    for spec in specs:
        module, _, func = spec.partition(":")
        if not module or not func:
            raise ValueError(f"作业类型插件「{spec}」应写作 模块:函数")
        getattr(importlib.import_module(module), func)(registry)
    return registry
