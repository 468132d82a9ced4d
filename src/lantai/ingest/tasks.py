"""The ingest job kind (``ingest.transfer``): run a transfer's remaining pipeline steps.

``register(registry)`` is called by :func:`lantai.jobs.default_registry`. The job carries only
the transfer id; its function is idempotent (the pipeline resumes from the last committed state),
so a re-queued job after a crash simply continues. When the job gives up (attempts exhausted, or
a permanent error such as a catalogue the records cannot be written into), the transfer is
marked ``failed`` and what it left behind is removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lantai.ingest.pipeline import Pipeline
from lantai.ingest.service import JOB_KIND, mark_failed
from lantai.instance import Instance
from lantai.jobs import JobContext, JobKind, JobRegistry

__all__ = ["register", "run_transfer_job"]


def run_transfer_job(ctx: JobContext) -> None:
    Pipeline(ctx.inst, progress=ctx.progress).run(int(ctx.params["transfer_id"]))


def _give_up(inst: Instance, job_id: int, params: Mapping[str, Any], error: str) -> None:
    mark_failed(inst, int(params["transfer_id"]), error)


def register(registry: JobRegistry) -> None:
    registry.add(
        JobKind(
            name=JOB_KIND,
            run=run_transfer_job,
            max_attempts=3,
            retry_seconds=10.0,
            on_give_up=_give_up,
        )
    )
