"""Fixity audit of one storage location (DA/T 70 BC stage), with automatic repair.

Order, cheapest first: the location must answer (else one 不可访问 alert, nothing else); then per
package its **package digest** (SHA-256 of the index) is compared with the ledger; then every
object is read once, hashing SHA-256 and SM3 together, several objects in parallel (threads:
``hashlib`` releases the GIL while hashing buffers over 2 KiB, for SHA-256 and OpenSSL's SM3
alike). Each object is classified: ``missing`` (listed in the index, absent), ``truncated``
(shorter), ``oversized`` (longer), ``mismatch`` (same size, other digest).

Each finding is an audit event ``storage:fixity:failed`` (PREMIS "fixity check", failure) and an
alert, and is then repaired from another location: that copy's bytes stream into
:meth:`~lantai.storage.base.ObjectStore.repair_object`, which refuses anything but the indexed
digests, and the repaired object is read and verified again. A repair is an event
``storage:object:repaired`` (PREMIS "replication"). When no location holds good bytes the object
is reported 不可恢复 (critical alert, ``storage:object:unrecoverable``) and left as it is.
A package whose index is gone is copied again whole from a good location.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from lantai.audit import EventType, Outcome
from lantai.errors import LantaiError
from lantai.storage.alerts import AlertKind, Severity, raise_alert, resolve_alerts
from lantai.storage.base import ObjectInfo, ObjectNotFound, ObjectStore
from lantai.storage.destruction import complete_destruction, destroyed_packages, destroyed_paths
from lantai.storage.ledger import CopyState, record_copy
from lantai.storage.replication import copy_package
from lantai.storage.system import STORAGE_ACTOR, StorageSystem
from lantai.storage.verified import hash_chunks
from lantai.store import FixityRun, StorageCopy, utcnow

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = ["Finding", "audit_location", "verify_object"]

log = logging.getLogger("lantai.storage")

PROBLEM_LABELS = {
    "missing": "对象缺失",
    "truncated": "对象被截短",
    "oversized": "对象大小超出",
    "mismatch": "摘要不符（内容被改动）",
    "package_missing": "信息包索引缺失",
    "package_digest": "信息包摘要与台账不符",
}
MAX_FINDINGS_STORED = 1000


@dataclass
class Finding:
    package_id: str
    key: str
    problem: str
    expected: str = ""
    found: str = ""
    action: str = ""  # repaired | unrecoverable | reported
    source: str = ""  # the location repaired from

    @property
    def message(self) -> str:
        return (
            f"{PROBLEM_LABELS[self.problem]}：{self.key}（应为 {self.expected}，实际 {self.found}）"
        )


def verify_object(store: ObjectStore, info: ObjectInfo) -> tuple[Finding | None, int]:
    """Read ``info.key`` once; (a finding or None, bytes read)."""
    pid = info.key.partition("/")[0]
    try:
        f = store.open(info.key)
    except ObjectNotFound:
        return Finding(pid, info.key, "missing", f"{info.size} 字节", "无"), 0
    with f:
        size, sha, sm3 = hash_chunks(f, limit=info.size)
    if size < info.size:
        return Finding(pid, info.key, "truncated", f"{info.size} 字节", f"{size} 字节"), size
    if size > info.size:
        return Finding(
            pid, info.key, "oversized", f"{info.size} 字节", f"超过 {info.size} 字节"
        ), size
    if sha != info.sha256 or sm3 != info.sm3:
        return (
            Finding(
                pid,
                info.key,
                "mismatch",
                f"SHA-256 {info.sha256} / SM3 {info.sm3}",
                f"SHA-256 {sha} / SM3 {sm3}",
            ),
            size,
        )
    return None, size


@dataclass
class _Run:
    packages: int = 0
    objects: int = 0
    bytes: int = 0
    failures: int = 0
    repaired: int = 0
    unrecoverable: int = 0


def _packages_to_audit(
    inst: Instance, location: str, store: ObjectStore, package_id: str | None
) -> tuple[list[str], dict[str, StorageCopy]]:
    with inst.db.read() as s:
        q = select(StorageCopy).where(StorageCopy.location == location)
        if package_id is not None:
            q = q.where(StorageCopy.package_id == package_id)
        ledger = {r.package_id: r for r in s.scalars(q)}
        for r in ledger.values():
            s.expunge(r)
    if package_id is not None:
        return [package_id], ledger
    listed = set(store.packages())
    expected = {p for p, r in ledger.items() if r.state != CopyState.PENDING}
    return sorted(listed | expected), ledger


def audit_location(
    inst: Instance,
    location: str,
    *,
    package_id: str | None = None,
    actor: str = STORAGE_ACTOR,
    trigger: str = "manual",
    repair: bool = True,
    workers: int | None = None,
    system: StorageSystem | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FixityRun:
    """Audit one location (or one package in it); returns the finished FixityRun row."""
    system = system or StorageSystem(inst)
    loc = system.policy.location(location)
    workers = workers or system.policy.fixity.workers
    with inst.db.write() as s:
        run = FixityRun(
            location=location,
            package_id=package_id,
            trigger=trigger,
            actor=actor,
            state="running",
            started_at=utcnow(),
            findings=[],
            packages=0,
            objects=0,
            bytes=0,
            failures=0,
            repaired=0,
            unrecoverable=0,
            seconds=0.0,
        )
        s.add(run)
        s.flush()
        run_id = run.id
    t0 = time.perf_counter()
    counts = _Run()
    findings: list[Finding] = []
    error: str | None = None
    try:
        store = system.store(location)
        store.probe()
    except (LantaiError, OSError) as exc:
        error = exc.message if isinstance(exc, LantaiError) else str(exc)
        with inst.db.write() as s:
            raise_alert(
                inst,
                s,
                actor=actor,
                kind=AlertKind.LOCATION_UNREACHABLE,
                severity=Severity.CRITICAL,
                location=location,
                message=f"存储位置「{loc.label}」不可访问，固定性检测未能进行：{error}",
            )
        return _finish(inst, run_id, counts, findings, t0, error=error)

    # An approved 销毁 this location missed is completed first: a destroyed object is neither
    # "missing" nor ever repaired back from a replica that still holds it.
    for pid in sorted(destroyed_packages(inst)):
        if package_id is not None and pid != package_id:
            continue
        try:
            complete_destruction(inst, system, pid, location, actor=actor)
        except (LantaiError, OSError) as exc:
            log.warning("completing destruction of %s at %s failed: %s", pid, location, exc)
    pids, ledger = _packages_to_audit(inst, location, store, package_id)
    # Package level first: the index digest against the ledger, before any object is read.
    objects: list[ObjectInfo] = []
    damaged_packages: set[str] = set()
    for pid in pids:
        counts.packages += 1
        info = store.package(pid)
        row = ledger.get(pid)
        if info is None:
            findings.append(
                Finding(pid, f"{pid}/", "package_missing", row.package_digest or "", "无")
                if row
                else Finding(pid, f"{pid}/", "package_missing", "", "无")
            )
            damaged_packages.add(pid)
            continue
        if row is not None and row.package_digest and row.package_digest != info.digest:
            findings.append(
                Finding(pid, f"{pid}/", "package_digest", row.package_digest, info.digest)
            )
            damaged_packages.add(pid)
            continue  # the index itself changed: its object digests cannot be trusted
        objects.extend(store.list(f"{pid}/"))

    total = len(objects)
    done = 0

    def check(info: ObjectInfo) -> tuple[Finding | None, int]:
        return verify_object(store, info)

    threads = max(workers, store.read_parallelism)
    with ThreadPoolExecutor(threads, thread_name_prefix="lantai-fixity") as pool:
        for finding, size in pool.map(check, objects):
            counts.objects += 1
            counts.bytes += size
            done += 1
            if finding is not None:
                findings.append(finding)
            if progress is not None:
                progress(done, total)

    counts.failures = len(findings)
    for finding in findings:
        _detected(inst, loc.name, finding, actor)
        if repair:
            _repair(inst, system, loc.name, store, finding, ledger, actor)
        else:
            finding.action = "reported"
        if finding.action == "repaired":
            counts.repaired += 1
        elif finding.action == "unrecoverable":
            counts.unrecoverable += 1

    _update_ledger(inst, system, loc.name, store, pids, findings)
    return _finish(inst, run_id, counts, findings, t0, error=None)


def _detected(inst: Instance, location: str, finding: Finding, actor: str) -> None:
    with inst.db.write() as s:
        inst.audit.append(
            s,
            actor=actor,
            action=EventType.STORAGE_FIXITY_FAILED,
            object_type="package",
            object_id=finding.package_id,
            outcome=Outcome.FAILURE,
            detail={"location": location, **asdict(finding)},
        )
        raise_alert(
            inst,
            s,
            actor=actor,
            kind=AlertKind.FIXITY_FAILED,
            severity=Severity.WARNING,
            location=location,
            package_id=finding.package_id,
            object_key=finding.key,
            message=f"固定性检测未通过（{location}）：{finding.message}",
            detail={"problem": finding.problem},
        )


def _good_sources(
    system: StorageSystem, location: str, finding: Finding
) -> Iterable[tuple[str, ObjectStore]]:
    for other in system.others(location):
        try:
            store = system.store(other.name)
            store.probe()
        except (LantaiError, OSError):
            continue
        yield other.name, store


def _repair(
    inst: Instance,
    system: StorageSystem,
    location: str,
    store: ObjectStore,
    finding: Finding,
    ledger: dict[str, StorageCopy],
    actor: str,
) -> None:
    tried: list[str] = []
    for name, source in _good_sources(system, location, finding):
        tried.append(name)
        try:
            if finding.problem in ("package_missing", "package_digest"):
                if finding.problem == "package_digest":
                    break  # an altered index is not replaced automatically: escalate
                row = ledger.get(finding.package_id)
                src_info = source.package(finding.package_id)
                if src_info is None or (
                    row and row.package_digest and src_info.digest != row.package_digest
                ):
                    continue
                with inst.db.read() as s:
                    gone = destroyed_paths(s, finding.package_id)
                copy_package(source, store, finding.package_id, destroyed=gone)
                ok = _package_intact(store, finding.package_id)
            else:
                info = store.stat(finding.key)
                src_check, _ = verify_object(source, info)  # the source must be good first
                if src_check is not None:
                    continue
                with source.open(finding.key) as f:
                    store.repair_object(
                        finding.key, f, size=info.size, sha256=info.sha256, sm3=info.sm3
                    )
                ok = verify_object(store, info)[0] is None  # re-verified after repair
        except (LantaiError, OSError) as exc:
            log.warning("repair of %s from %s failed: %s", finding.key, name, exc)
            continue
        if ok:
            finding.action = "repaired"
            finding.source = name
            with inst.db.write() as s:
                inst.audit.append(
                    s,
                    actor=actor,
                    action=EventType.STORAGE_OBJECT_REPAIRED,
                    object_type="package",
                    object_id=finding.package_id,
                    detail={
                        "location": location,
                        "object": finding.key,
                        "problem": finding.problem,
                        "source": name,
                    },
                )
                resolve_alerts(
                    inst,
                    s,
                    actor=actor,
                    kind=AlertKind.FIXITY_FAILED,
                    location=location,
                    package_id=finding.package_id,
                    object_key=finding.key,
                    resolution=f"已从存储位置「{name}」的完好副本修复并复核",
                )
            return
    finding.action = "unrecoverable"
    with inst.db.write() as s:
        inst.audit.append(
            s,
            actor=actor,
            action=EventType.STORAGE_OBJECT_UNRECOVERABLE,
            object_type="package",
            object_id=finding.package_id,
            outcome=Outcome.FAILURE,
            detail={"location": location, "object": finding.key, "tried": tried},
        )
        raise_alert(
            inst,
            s,
            actor=actor,
            kind=AlertKind.UNRECOVERABLE,
            severity=Severity.CRITICAL,
            location=location,
            package_id=finding.package_id,
            object_key=finding.key,
            message=(
                f"不可恢复：{finding.message}；"
                + (
                    f"其他存储位置（{'、'.join(tried)}）均无完好副本"
                    if tried
                    else "没有可用的其他副本"
                )
            ),
            detail={"problem": finding.problem, "tried": tried},
        )


def _package_intact(store: ObjectStore, package_id: str) -> bool:
    return all(verify_object(store, o)[0] is None for o in store.list(f"{package_id}/"))


def _update_ledger(
    inst: Instance,
    system: StorageSystem,
    location: str,
    store: ObjectStore,
    pids: list[str],
    findings: list[Finding],
) -> None:
    by_package: dict[str, list[Finding]] = {}
    for f in findings:
        by_package.setdefault(f.package_id, []).append(f)
    now = utcnow()
    with inst.db.write() as s:
        for pid in pids:
            found = by_package.get(pid, [])
            row = s.scalar(
                select(StorageCopy).where(
                    StorageCopy.package_id == pid, StorageCopy.location == location
                )
            )
            if row is None:
                info = store.package(pid)
                if info is None:
                    continue
                row = record_copy(s, pid, location, info)
            row.verified_at = now
            if not found:
                row.verify_result = "ok"
                row.verify_detail = {}
                if row.state == CopyState.DAMAGED:
                    row.state = CopyState.PRESENT
            elif all(f.action == "repaired" for f in found):
                row.verify_result = "repaired"
                row.state = CopyState.PRESENT
                row.verify_detail = {"findings": [asdict(f) for f in found[:50]]}
            else:
                row.verify_result = "failed"
                bad = any(f.action == "unrecoverable" for f in found)
                row.state = CopyState.UNRECOVERABLE if bad else CopyState.DAMAGED
                row.verify_detail = {"findings": [asdict(f) for f in found[:50]]}


def _finish(
    inst: Instance,
    run_id: int,
    counts: _Run,
    findings: list[Finding],
    t0: float,
    *,
    error: str | None,
) -> FixityRun:
    seconds = time.perf_counter() - t0
    with inst.db.write() as s:
        run = s.get(FixityRun, run_id)
        assert run is not None
        run.state = "failed" if error else "done"
        run.error = error
        run.finished_at = utcnow()
        run.seconds = round(seconds, 3)
        run.packages = counts.packages
        run.objects = counts.objects
        run.bytes = counts.bytes
        run.failures = counts.failures
        run.repaired = counts.repaired
        run.unrecoverable = counts.unrecoverable
        run.findings = [asdict(f) for f in findings[:MAX_FINDINGS_STORED]]
        inst.audit.append(
            s,
            actor=run.actor,
            action=EventType.STORAGE_FIXITY_CHECKED,
            object_type="storage_location",
            object_id=run.location,
            outcome=Outcome.SUCCESS if not error and not counts.unrecoverable else Outcome.FAILURE,
            detail={
                "run": run.id,
                "package": run.package_id,
                "trigger": run.trigger,
                "packages": counts.packages,
                "objects": counts.objects,
                "bytes": counts.bytes,
                "failures": counts.failures,
                "repaired": counts.repaired,
                "unrecoverable": counts.unrecoverable,
                "seconds": run.seconds,
                "error": error,
            },
        )
        s.flush()
        s.expunge(run)
    return run


def run_summary(run: FixityRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "location": run.location,
        "package": run.package_id,
        "trigger": run.trigger,
        "state": run.state,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "packages": run.packages,
        "objects": run.objects,
        "bytes": run.bytes,
        "failures": run.failures,
        "repaired": run.repaired,
        "unrecoverable": run.unrecoverable,
        "seconds": run.seconds,
        "error": run.error,
        "findings": run.findings,
    }
