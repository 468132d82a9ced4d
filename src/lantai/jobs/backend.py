"""Which background machinery ``lantai serve`` runs, from ``LANTAI_JOBS_BACKEND``.

- ``inprocess`` (default): an :class:`~lantai.jobs.InProcessRunner` pool inside the web process.
- ``redis``: no job runs in the web process; a :class:`~lantai.jobs.redisqueue.Dispatcher` sends
  "run job N" messages to Redis for ``lantai worker`` processes on any host.

Both have ``start()``, ``stop()`` and ``wake()`` (called after a job is committed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from lantai.jobs.inprocess import InProcessRunner

if TYPE_CHECKING:
    from lantai.instance import Instance
    from lantai.jobs.base import JobRegistry

__all__ = ["Background", "make_background"]


class Background(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def wake(self) -> None: ...


class _RedisBackground:
    """The dispatcher plus its Redis connection (closed on stop)."""

    def __init__(self, inst: Instance, registry: JobRegistry) -> None:
        from lantai.jobs.redisqueue import Dispatcher, RedisQueue

        self.queue = RedisQueue.from_instance(inst)
        self.dispatcher = Dispatcher(inst, self.queue, registry)

    def start(self) -> None:
        self.dispatcher.start()

    def stop(self) -> None:
        self.dispatcher.stop()
        self.queue.close()

    def wake(self) -> None:
        self.dispatcher.wake()


def make_background(inst: Instance, registry: JobRegistry) -> Background:
    settings = inst.settings
    if settings.jobs_backend == "redis":
        return _RedisBackground(inst, registry)
    return InProcessRunner(
        inst, registry, workers=settings.jobs_workers, lease_seconds=settings.jobs_lease_seconds
    )
