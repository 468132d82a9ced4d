"""Job kinds of digitisation: ``digitisation.qc``, ``digitisation.ocr`` (one job per batch), ``digitisation.asr``.

``register(registry)`` is called by :func:`lantai.jobs.default_registry`. Both jobs carry only the
batch id (and the OCR engine / script); both are resumable: QC commits each page's measures and
skips measured pages, OCR commits each page's text and skips recognised pages, so a job re-queued
after a crash continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from lantai.digitisation.ocr_run import ocr_batch
from lantai.digitisation.qc import qc_batch
from lantai.jobs import JobContext, JobKind, JobRegistry, PermanentJobError, enqueue
from lantai.store import Job

__all__ = ["ASR_JOB", "OCR_JOB", "QC_JOB", "enqueue_asr", "enqueue_ocr", "enqueue_qc", "register"]

QC_JOB = "digitisation.qc"
OCR_JOB = "digitisation.ocr"
ASR_JOB = "digitisation.asr"


def run_qc(ctx: JobContext) -> None:
    qc_batch(
        ctx.inst,
        int(ctx.params["batch_id"]),
        actor_name=str(ctx.params.get("actor") or "system:qc"),
        force=bool(ctx.params.get("force", False)),
        progress=ctx.progress,
    )


def run_ocr(ctx: JobContext) -> None:
    ocr_batch(
        ctx.inst,
        int(ctx.params["batch_id"]),
        actor_name=str(ctx.params.get("actor") or "system:ocr"),
        engine_name=ctx.params.get("engine"),
        script=str(ctx.params.get("script") or "simplified"),
        progress=ctx.progress,
    )


def enqueue_qc(
    session: Session, batch_id: int, actor: str, *, force: bool = False, wake: Any = None
) -> Job:
    return enqueue(
        session,
        QC_JOB,
        {"batch_id": batch_id, "actor": actor, "force": force},
        created_by=actor,
        wake=wake,
    )


def enqueue_ocr(
    session: Session,
    batch_id: int,
    actor: str,
    *,
    engine: str | None = None,
    script: str = "simplified",
    wake: Any = None,
) -> Job:
    params: Mapping[str, Any] = {
        "batch_id": batch_id,
        "actor": actor,
        "engine": engine,
        "script": script,
    }
    return enqueue(session, OCR_JOB, params, created_by=actor, wake=wake)


def run_asr(ctx: JobContext) -> None:
    from lantai.digitisation.asr import AsrModelError
    from lantai.digitisation.asr_run import transcribe_pending

    ids = ctx.params.get("record_ids") or None
    try:
        transcribe_pending(ctx.inst, record_ids=ids, progress=ctx.progress)
    except AsrModelError as exc:  # retrying cannot fix a model directory
        raise PermanentJobError(str(exc)) from exc


def enqueue_asr(
    session: Session, actor: str, *, record_ids: list[int] | None = None, wake: Any = None
) -> Job:
    params = {"record_ids": record_ids or [], "actor": actor}
    return enqueue(session, ASR_JOB, params, created_by=actor, wake=wake)


def register(registry: JobRegistry) -> None:
    registry.add(JobKind(name=ASR_JOB, run=run_asr, max_attempts=2, retry_seconds=30.0))
    registry.add(JobKind(name=QC_JOB, run=run_qc, max_attempts=3, retry_seconds=10.0))
    registry.add(JobKind(name=OCR_JOB, run=run_ocr, max_attempts=3, retry_seconds=10.0))
