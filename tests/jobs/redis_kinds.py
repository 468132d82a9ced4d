"""Job kinds the Redis worker tests load with ``lantai worker --kinds redis_kinds:register``.

Each run appends a line to the file named in its params (O_APPEND: whole lines from several
processes), so the tests can count how often a job started and finished, and in which process.
"""

from __future__ import annotations

import os
import time

from lantai.jobs import JobContext, JobKind, JobRegistry, PermanentJobError


def _note(ctx: JobContext, what: str) -> None:
    line = f"{what} {ctx.job_id} {os.getpid()} {ctx.attempt}\n"
    fd = os.open(ctx.params["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _steps(ctx: JobContext) -> None:
    """``steps`` steps of ``sleep`` seconds each, reporting progress after each one."""
    _note(ctx, "start")
    steps = int(ctx.params.get("steps", 1))
    for i in range(steps):
        time.sleep(float(ctx.params.get("sleep", 0.05)))
        ctx.progress("work", i + 1, steps, force=True)
    _note(ctx, "done")


def _permanent(ctx: JobContext) -> None:
    _note(ctx, "start")
    raise PermanentJobError("测试：无法重试的错误")


def _broken(ctx: JobContext) -> None:
    _note(ctx, "start")
    raise RuntimeError("测试：每次都失败")


def register(registry: JobRegistry) -> None:
    registry.add(JobKind(name="test.steps", run=_steps))
    registry.add(JobKind(name="test.permanent", run=_permanent))
    registry.add(JobKind(name="test.broken", run=_broken, max_attempts=2, retry_seconds=0.2))
