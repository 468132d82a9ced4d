"""Importing a scan batch: masters preserved unchanged as one package, one row per page image.

``import_batch(inst, actor, folder, …)`` reads the folder (see :mod:`lantai.digitisation.naming`
for the names it understands and :mod:`lantai.digitisation.sidecar` for process metadata), copies
every file byte for byte into the object-store package ``scan-<batch uid>`` under ``masters/``
(digests checked while writing; the package is immutable once committed), then records the batch
and its pages with their DA/T 46 数字化属性 in one transaction with a
``digitisation:batch:imported`` event. A file that cannot be read is still preserved and gets a
page row with ``decodes = False`` and the reason: QC lists it, nothing is dropped silently.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lantai.audit import EventType
from lantai.crypto.digest import digest_file
from lantai.digitisation.config import load_config
from lantai.digitisation.images import page_count, page_meta
from lantai.digitisation.naming import ScanFile, plan_batch
from lantai.digitisation.sidecar import read_sidecar
from lantai.errors import InputError, NotFound
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.storage import open_store
from lantai.store import Record, ScanBatch, ScanPage, utcnow

__all__ = ["MASTERS", "import_batch", "master_path"]

MASTERS = "masters"


def master_path(page: ScanPage) -> str:
    return page.object_key.partition("/")[2]


def _frames(path: Path) -> int:
    try:
        return page_count(path)
    except Exception:
        return 1


def _fonds(inst: Instance, actor: Actor, fonds_code: str | None) -> Record | None:
    if not fonds_code:
        return None
    with inst.db.read() as s:
        try:
            rec = inst.catalogue.get_by_code(s, actor, fonds_code.strip().upper())
        except NotFound:
            raise InputError(f"全宗号「{fonds_code}」不存在或无权查看") from None
        if rec.level != "fonds":
            raise InputError(f"「{fonds_code}」不是全宗号")
        s.expunge(rec)
        return rec


def _known_codes(inst: Instance, candidates: set[str]) -> set[str]:
    found: set[str] = set()
    items = sorted(candidates)
    with inst.db.read() as s:
        for i in range(0, len(items), 500):
            q = select(Record.archival_code).where(Record.archival_code.in_(items[i : i + 500]))
            found.update(c for c in s.scalars(q) if c)
    return found


def _pages(f: ScanFile, process: dict[str, str]) -> list[dict[str, Any]]:
    """Page rows of one file (header metadata; unreadable → one row with the error)."""
    try:
        n = page_count(f.path)
    except Exception as exc:
        return [
            {
                "frame": 0,
                "page_no": f.first_page,
                "decodes": False,
                "error": f"文件无法读取：{exc}",
                "meta": {**process},
            }
        ]
    rows: list[dict[str, Any]] = []
    for frame in range(n):
        try:
            meta = page_meta(f.path, frame)
            rows.append(
                {
                    "frame": frame,
                    "page_no": f.first_page + frame,
                    "decodes": True,
                    "error": None,
                    "meta": {**meta, **process},
                }
            )
        except Exception as exc:
            rows.append(
                {
                    "frame": frame,
                    "page_no": f.first_page + frame,
                    "decodes": False,
                    "error": f"第 {frame + 1} 帧无法读取：{exc}",
                    "meta": {**process},
                }
            )
    return rows


def import_batch(
    inst: Instance,
    actor: Actor,
    folder: Path,
    *,
    fonds_code: str | None = None,
    category: str | None = None,
    collection: str | None = None,
    profile: str = "general",
    name: str | None = None,
) -> ScanBatch:
    """Preserve the masters of ``folder`` and record its pages; returns the new batch."""
    actor.require(Perm.DIGITISATION_RUN)
    config = load_config(config_dir=inst.settings.resolved_config_dir)
    config.profile(profile)
    folder = folder.resolve()
    if not folder.is_dir():
        raise InputError(f"扫描批次目录「{folder}」不存在或不是目录")
    fonds = _fonds(inst, actor, fonds_code)
    sidecar = read_sidecar(folder)
    plan = plan_batch(folder, lambda c: _known_codes(inst, c), _frames)
    pages = [f for f in plan if f.archival_code is not None]
    if not pages:
        raise InputError(f"扫描批次目录「{folder}」中没有可导入的图像（TIFF/JPEG/JP2/PNG/PDF）")
    uid = str(uuid.uuid4())
    package_id = f"scan-{uid}"
    store = open_store(inst.settings)
    rows: list[tuple[ScanFile, str, int, str, list[dict[str, Any]]]] = []
    with store.begin(package_id) as writer:
        for f in plan:
            d = digest_file(f.path)
            path = f"{MASTERS}/{f.rel}"
            writer.put_file(path, f.path, size=d.size, sha256=d.sha256, sm3=d.sm3)
            if f.archival_code is not None:
                rows.append(
                    (
                        f,
                        f"{package_id}/{path}",
                        d.size,
                        d.sha256,
                        _pages(f, sidecar.for_file(f.rel)),
                    )
                )
        writer.commit()
    skipped = [f.rel for f in plan if f.archival_code is None]
    try:
        with inst.db.write() as s:
            batch = ScanBatch(
                uid=uid,
                name=(name or folder.name)[:300],
                source_path=str(folder),
                package_id=package_id,
                fonds_id=fonds.id if fonds else None,
                category=category,
                collection=collection,
                profile=profile,
                process={**sidecar.batch, "未导入文件": skipped},
                file_count=len(plan),
                page_count=sum(len(r[4]) for r in rows),
                qc={},
                linking={},
                ocr={},
                created_by=actor.username,
            )
            s.add(batch)
            s.flush()
            for f, key, size, sha256, page_rows in rows:
                for p in page_rows:
                    s.add(
                        ScanPage(
                            batch_id=batch.id,
                            archival_code=f.archival_code or "",
                            page_no=p["page_no"],
                            source_name=f.rel,
                            object_key=key,
                            frame=p["frame"],
                            size=size,
                            sha256=sha256,
                            decodes=p["decodes"],
                            error=p["error"],
                            meta=p["meta"],
                            findings=[],
                            checked=False,
                        )
                    )
            batch.updated_at = utcnow()
            inst.audit.append(
                s,
                actor=actor.username,
                action=EventType.DIGITISATION_BATCH_IMPORTED,
                object_type="scan_batch",
                object_id=uid,
                detail={
                    "package_id": package_id,
                    "files": len(plan),
                    "pages": batch.page_count,
                    "codes": len({r[0].archival_code for r in rows}),
                    "skipped": skipped[:100],
                    "profile": profile,
                },
            )
        return batch
    except BaseException:
        store.discard_uncommitted(
            package_id, reason="扫描批次登记未完成", referenced=lambda pid: _referenced(inst, pid)
        )
        raise


def _referenced(inst: Instance, package_id: str) -> bool:
    with inst.db.read() as s:
        return s.scalar(select(ScanBatch.id).where(ScanBatch.package_id == package_id)) is not None
