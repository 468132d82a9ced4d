"""Background work: persistent jobs (``jobs`` table) and the embedded in-process worker pool.

Other capabilities import only these names. A capability declares its job kinds in a
``register(registry)`` function; :func:`default_registry` calls them from one fixed list, so the
whole set of background work can be read in one place.
"""

from lantai.jobs.base import (
    JobContext,
    JobKind,
    JobRegistry,
    JobState,
    LeaseLost,
    PermanentJobError,
    claim,
    enqueue,
    finish,
    new_owner,
    recover,
    renew,
)
from lantai.jobs.inprocess import InProcessRunner

__all__ = [
    "InProcessRunner",
    "JobContext",
    "JobKind",
    "JobRegistry",
    "JobState",
    "LeaseLost",
    "PermanentJobError",
    "claim",
    "default_registry",
    "enqueue",
    "finish",
    "new_owner",
    "recover",
    "renew",
]


def default_registry() -> JobRegistry:
    """Every built-in job kind: the fixed list of capabilities that run background work."""
    from lantai.backup import verify as backup_verify
    from lantai.digitisation import tasks as digitisation_tasks
    from lantai.federation import outbox as federation_outbox
    from lantai.federation import reminders as federation_reminders
    from lantai.ingest import tasks as ingest_tasks
    from lantai.oai import tasks as oai_tasks
    from lantai.preservation import tasks as preservation_tasks
    from lantai.storage import tasks as storage_tasks

    registry = JobRegistry()
    for register in (
        ingest_tasks.register,
        backup_verify.register,
        storage_tasks.register,
        digitisation_tasks.register,
        oai_tasks.register,
        federation_outbox.register,
        federation_reminders.register,
        preservation_tasks.register,
    ):
        register(registry)
    return registry
