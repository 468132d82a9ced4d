"""Format migration (格式迁移) as a preservation action.

:func:`migrate` walks the preserved files of a transfer, a record (and the units below it) or the
whole holdings, and applies the migration policy: ``keep`` formats are left as they are;
``convert`` formats are exported to PDF/A-2b by LibreOffice headless. The **original is never
touched**: the derivatives of one AIP go into a new package ``deriv-<aip>`` (with a
``migration.json`` naming each derivative's original, digests, tool and rule), written through the
object store and queued for replication like every package. Each derivative is a
``format_migrations`` row linked to the original ``record_files`` row and a
``preservation:format:migrated`` event (PREMIS *migration*). A missing or failing converter
makes a ``skipped`` / ``failed`` row with the reason in Chinese — listed, never a failed job.
Already migrated files are not converted again.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.audit import EventType
from lantai.crypto.digest import digest_file
from lantai.errors import InputError, LantaiError, NotFound
from lantai.preservation.converters import ConversionFailed, Converted, LibreOffice
from lantai.preservation.policy import MigrationPolicy, Rule, load_migration_policy
from lantai.storage.system import StorageSystem
from lantai.storage.tasks import enqueue_replication
from lantai.store import FormatMigration, IngestTransfer, Record, RecordClosure, RecordFile, utcnow

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = ["MigrationSummary", "derivative_package_id", "list_migrations", "migrate"]

log = logging.getLogger("lantai.preservation")
TARGET_FORMAT = "PDF/A-2b"


@dataclass
class MigrationSummary:
    files: int = 0
    converted: int = 0
    kept: int = 0
    unmatched: int = 0
    already: int = 0
    skipped: int = 0
    failed: int = 0
    packages: list[str] = field(default_factory=list)
    listed: list[dict[str, Any]] = field(default_factory=list)  # skipped / failed, with reasons

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def derivative_package_id(aip_id: str, n: int = 1) -> str:
    base = f"deriv-{aip_id}"[:60]
    return base if n == 1 else f"{base}-{n}"


def _files(
    s: Session, transfer_uid: str | None, record_id: int | None, everything: bool
) -> list[RecordFile]:
    if sum((transfer_uid is not None, record_id is not None, everything)) != 1:
        raise InputError("请指定且只指定一个范围：--transfer、--record 或 --all")
    q = (
        select(RecordFile)
        .join(Record, Record.id == RecordFile.record_id)
        .where(Record.lifecycle != "destroyed")
        .order_by(RecordFile.aip_id, RecordFile.id)
    )
    if transfer_uid is not None:
        transfer = s.scalar(select(IngestTransfer).where(IngestTransfer.uid == transfer_uid))
        if transfer is None:
            raise NotFound(f"移交 {transfer_uid} 不存在")
        q = q.where(RecordFile.transfer_id == transfer.id)
    elif record_id is not None:
        if s.get(Record, record_id) is None:
            raise NotFound(f"档案 {record_id} 不存在")
        below = select(RecordClosure.descendant_id).where(RecordClosure.ancestor_id == record_id)
        q = q.where(RecordFile.record_id.in_(below))
    return list(s.scalars(q))


@dataclass
class _Planned:
    file: RecordFile
    rule: Rule


def migrate(
    inst: Instance,
    actor: str,
    *,
    transfer_uid: str | None = None,
    record_id: int | None = None,
    everything: bool = False,
    policy: MigrationPolicy | None = None,
    converter: LibreOffice | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MigrationSummary:
    """Migrate the files in scope; see the module docstring for what is written and recorded."""
    policy = policy or load_migration_policy(inst.settings.resolved_config_dir)
    converter = converter or LibreOffice()
    system = StorageSystem(inst)
    primary = system.store(system.policy.primary.name)
    summary = MigrationSummary()
    with inst.db.read() as s:
        files = _files(s, transfer_uid, record_id, everything)
        done = {
            (m.record_file_id, m.rule)
            for m in s.scalars(select(FormatMigration).where(FormatMigration.state == "done"))
        }
        for f in files:
            s.expunge(f)
    summary.files = len(files)
    by_aip: dict[str, list[_Planned]] = {}
    for f in files:
        rule = policy.rule_for(f.puid, f.path, f.mime)
        if rule is None:
            summary.unmatched += 1
        elif rule.action == "keep":
            summary.kept += 1
        elif (f.id, rule.name) in done:
            summary.already += 1
        else:
            by_aip.setdefault(f.aip_id, []).append(_Planned(f, rule))
    total = sum(len(v) for v in by_aip.values())
    n = 0
    missing = converter.missing_reason()
    for aip_id, planned in sorted(by_aip.items()):
        results: list[tuple[_Planned, Converted | None, str | None]] = []
        with tempfile.TemporaryDirectory(prefix="lantai-migrate-") as tmp:
            work = Path(tmp)
            for i, p in enumerate(planned):
                n += 1
                if missing is not None:
                    results.append((p, None, missing))
                    continue
                src_dir, out_dir = work / f"src{i}", work / f"out{i}"
                src_dir.mkdir()
                out_dir.mkdir()
                name = p.file.path.rpartition("/")[2]
                source = src_dir / f"original{Path(name).suffix.lower()}"
                try:
                    with primary.open(f"{aip_id}/{p.file.path}") as fin, source.open("wb") as out:
                        shutil.copyfileobj(fin, out, 1 << 20)
                    results.append(
                        (p, converter.convert(source, out_dir, p.rule.filter or ""), None)
                    )
                except ConversionFailed as exc:
                    results.append((p, None, exc.message))
                except (LantaiError, OSError) as exc:
                    msg = exc.message if isinstance(exc, LantaiError) else str(exc)
                    results.append((p, None, f"读取原件失败：{msg}"))
                if progress is not None:
                    progress(n, total)
            package = (
                _store(inst, system, aip_id, results) if any(c for _, c, _ in results) else None
            )
        _record(inst, actor, aip_id, package, results, summary)
        if package:
            summary.packages.append(package)
    return summary


def _derivative_path(original: str) -> str:
    return f"data/{original}.pdf"


def _store(
    inst: Instance,
    system: StorageSystem,
    aip_id: str,
    results: list[tuple[_Planned, Converted | None, str | None]],
) -> str:
    primary = system.store(system.policy.primary.name)
    n = 1
    while primary.package(derivative_package_id(aip_id, n)) is not None:
        n += 1
    package = derivative_package_id(aip_id, n)
    manifest: list[dict[str, Any]] = []
    with primary.begin(package) as w:
        for p, conv, _ in results:
            if conv is None:
                continue
            d = digest_file(conv.path)
            path = _derivative_path(p.file.path)
            w.put_file(path, conv.path, size=d.size, sha256=d.sha256, sm3=d.sm3, verified=True)
            manifest.append(
                {
                    "derivative": path,
                    "format": TARGET_FORMAT,
                    "size": d.size,
                    "sha256": d.sha256,
                    "sm3": d.sm3,
                    "original": f"{aip_id}/{p.file.path}",
                    "original_sha256": p.file.sha256,
                    "original_puid": p.file.puid,
                    "rule": p.rule.name,
                    "tool": conv.tool,
                    "pdfa_validation": conv.verdict,
                }
            )
        doc = {"package": package, "source_aip": aip_id, "derivatives": manifest}
        w.put_bytes("migration.json", json.dumps(doc, ensure_ascii=False, indent=1).encode())
        w.commit()
    with inst.db.write() as s:
        enqueue_replication(inst, s, package)
    return package


def _record(
    inst: Instance,
    actor: str,
    aip_id: str,
    package: str | None,
    results: list[tuple[_Planned, Converted | None, str | None]],
    summary: MigrationSummary,
) -> None:
    primary_store = StorageSystem(inst)
    store = primary_store.store(primary_store.policy.primary.name)
    with inst.db.write() as s:
        for p, conv, reason in results:
            row = s.scalar(
                select(FormatMigration).where(
                    FormatMigration.record_file_id == p.file.id, FormatMigration.rule == p.rule.name
                )
            )
            if row is None:
                row = FormatMigration(
                    record_file_id=p.file.id,
                    record_id=p.file.record_id,
                    rule=p.rule.name,
                    detail={},
                    created_by=actor,
                )
                s.add(row)
            row.source_format = p.file.puid or p.file.format_name or p.file.mime
            row.target_format = TARGET_FORMAT
            row.created_at, row.created_by = utcnow(), actor
            if conv is None:
                state = "skipped" if LibreOffice.binary() is None else "failed"
                row.state, row.reason = state, reason
                if state == "skipped":
                    summary.skipped += 1
                else:
                    summary.failed += 1
                summary.listed.append(
                    {
                        "record": p.file.record_id,
                        "file": p.file.path,
                        "state": state,
                        "reason": reason,
                    }
                )
                continue
            path = _derivative_path(p.file.path)
            info = store.stat(f"{package}/{path}")
            row.state, row.reason = "done", None
            row.derivative_package, row.derivative_path = package, path
            row.size, row.sha256, row.sm3 = info.size, info.sha256, info.sm3
            row.tool = conv.tool[:200]
            row.detail = {"pdfa": conv.pdfa, "validation": conv.verdict}
            summary.converted += 1
            inst.audit.append(
                s,
                actor=actor,
                action=EventType.PRESERVATION_FORMAT_MIGRATED,
                object_type="record",
                object_id=p.file.record_id,
                detail={
                    "original": f"{aip_id}/{p.file.path}",
                    "original_sha256": p.file.sha256,
                    "original_format": row.source_format,
                    "derivative": f"{package}/{path}",
                    "derivative_sha256": info.sha256,
                    "format": TARGET_FORMAT,
                    "rule": p.rule.name,
                    "tool": conv.tool,
                },
            )


def list_migrations(
    s: Session, *, state: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    q = (
        select(FormatMigration, RecordFile, Record)
        .join(RecordFile, RecordFile.id == FormatMigration.record_file_id)
        .join(Record, Record.id == FormatMigration.record_id)
        .order_by(FormatMigration.id.desc())
        .limit(limit)
    )
    if state is not None:
        q = q.where(FormatMigration.state == state)
    return [
        {
            "id": m.id,
            "record_id": m.record_id,
            "archival_code": r.archival_code,
            "title": r.title,
            "original": f"{f.aip_id}/{f.path}",
            "source_format": m.source_format,
            "rule": m.rule,
            "state": m.state,
            "state_label": STATE_LABELS.get(m.state, m.state),
            "reason": m.reason,
            "derivative": f"{m.derivative_package}/{m.derivative_path}"
            if m.derivative_package
            else None,
            "sha256": m.sha256,
            "tool": m.tool,
            "at": m.created_at.isoformat(),
        }
        for m, f, r in s.execute(q)
    ]


STATE_LABELS = {"done": "已迁移", "skipped": "未转换（缺少转换工具）", "failed": "转换失败"}
