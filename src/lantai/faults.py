"""Named fault points for the fault-injection suite (``tests/faults``, ``bench/faults.py``).

Code calls :func:`point` at the boundaries where a crash matters (a state committed, a package
renamed into place, a page recognised …). It is a no-op unless the environment asks for a fault::

    LANTAI_FAULT_POINT="ingest.aip_committed:3"          # SIGKILL this process at the 3rd hit
    LANTAI_FAULT_POINT="storage.local.put:2:enospc"      # raise OSError(ENOSPC) at the 2nd hit
    LANTAI_FAULT_POINT="a:1,b:2"                          # several points
    LANTAI_FAULT_TRACE=/tmp/hits.txt                      # append every hit's name to this file

The kill is a real ``kill -9`` of the whole process (no clean-up, no flush, no atexit), so a
test sees exactly what a power cut or the OOM killer would leave. Hits are counted per process.
Every point name is listed in :data:`POINTS` (the suite checks that each one is reached).
"""

from __future__ import annotations

import errno
import os
import signal
import threading
from collections import Counter

__all__ = ["ENV_POINT", "ENV_TRACE", "POINTS", "point"]

ENV_POINT = "LANTAI_FAULT_POINT"
ENV_TRACE = "LANTAI_FAULT_TRACE"

# Every point placed in the code, with where it is.
POINTS: dict[str, str] = {
    "ingest.stage.read": "ingest/pipeline.py: package read into staging, nothing committed",
    "ingest.stage.snapshot": "ingest/pipeline.py: snapshot written, `staged` not committed",
    "ingest.staged": "ingest/pipeline.py: `staged` committed",
    "ingest.check.reports": "ingest/pipeline.py: 四性检测 report written, `checked` not committed",
    "ingest.checked": "ingest/pipeline.py: `checked` committed (decision, AIP id)",
    "ingest.reject.report_stored": "ingest/pipeline.py: report package committed, `rejected` not",
    "ingest.aip_committed": "ingest/pipeline.py: AIP committed in the store, `stored` not",
    "ingest.stored": "ingest/pipeline.py: `stored` committed",
    "ingest.catalogue.written": "ingest/pipeline.py: records written, catalogue not committed",
    "ingest.catalogued": "ingest/pipeline.py: catalogue transaction committed",
    "ingest.finish.cleaned": "ingest/pipeline.py: staging removed, `done` not committed",
    "catalogue.records.created": "ingest/cataloguing.py: records inserted (uncommitted)",
    "storage.local.put": "storage/local.py: one object written into incoming/",
    "storage.local.renamed": "storage/local.py: package renamed into place, index not written",
    "storage.local.destroy.index": "storage/local.py: tombstones committed, files not removed",
    "storage.tar.volumes": "storage/tarvolume.py: volumes moved into place, index not written",
    "replication.copied": "storage/replication.py: replica committed, ledger not updated",
    "replication.recorded": "storage/replication.py: ledger row of one location committed",
    "ocr.page.recognised": "digitisation/ocr_run.py: page recognised, text not committed",
    "ocr.page.committed": "digitisation/ocr_run.py: page text committed",
    "ocr.texts.added": "digitisation/ocr_run.py: full texts committed, PDFs not made",
    "ocr.pdf.stored": "digitisation/ocr_run.py: searchable PDF stored, its row not committed",
    "disposal.location.destroyed": "storage/destruction.py: one location destroyed (tx open)",
    "disposal.item.destroyed": "disposal/service.py: one item carried out (tx open)",
    "disposal.register.stored": "disposal/service.py: 销毁清册 stored, batch not committed",
    "search.index.committed": "search/indexer.py: index commit done, high-water mark not saved",
    "jobs.claimed": "jobs/inprocess.py: job claimed (lease held), not started",
    "jobs.ran": "jobs/inprocess.py: job function returned, outcome not recorded",
    "federation.outbox.sending": "federation/outbox.py: message committed and signed, not sent",
    "federation.outbox.acknowledged": "federation/outbox.py: partner's ack checked, not recorded",
    "federation.inbox.applied": "federation/service.py: message applied, no idempotency record",
    "federation.inbox.committed": "federation/service.py: receipt committed, ack not returned",
    "livelihood.step.recorded": "federation/livelihood.py: state and step written, no event",
    "livelihood.certificate.received": "federation/livelihood.py: certificate kept, no step",
    "certificates.signed": "certificates/service.py: PDF signed, row not written (tx open)",
    "certificates.registered": "certificates/service.py: row and event written, caller's tx open",
    "access.certified": "access/requests.py: certificate issued, approval event not written",
}

_lock = threading.Lock()
_hits: Counter[str] = Counter()
_parsed: tuple[str, dict[str, tuple[int, str]]] = ("", {})


def _plan(spec: str) -> dict[str, tuple[int, str]]:
    global _parsed
    if _parsed[0] == spec:
        return _parsed[1]
    plan: dict[str, tuple[int, str]] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, rest = part.partition(":")
        count, _, action = rest.partition(":")
        plan[name] = (int(count or "1"), action or "kill")
    _parsed = (spec, plan)
    return plan


def point(name: str) -> None:
    """A fault point: kill the process (or raise ENOSPC) here when the environment says so."""
    spec = os.environ.get(ENV_POINT)
    trace = os.environ.get(ENV_TRACE)
    if not spec and not trace:
        return
    with _lock:
        _hits[name] += 1
        n = _hits[name]
        if trace:
            with open(trace, "a", encoding="utf-8") as f:
                f.write(f"{os.getpid()} {name} {n}\n")
        wanted = _plan(spec).get(name) if spec else None
    if wanted is None or wanted[0] != n:
        return
    if wanted[1] == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)
    os.kill(os.getpid(), signal.SIGKILL)
