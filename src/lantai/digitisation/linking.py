"""挂接: attaching a batch's page images to catalogue records by 档号, and the 挂接率 statistics.

:func:`link_batch` sets ``scan_pages.record_id`` for every page whose 档号 names an active record
and writes the 原文挂接记录 (``scan_batches.linking``): records linked with their image and
著录页数 counts, images without a record, and records without images in the batch's scope (its
全宗, and 门类 when the batch names one; without a 全宗, the 全宗 of the records it linked).
Running it again gives the same result (a record created since is linked then).

:func:`refresh_stats` recomputes ``linking_stats`` — records that should carry images (件, and
案卷 without 件), how many do, and their page images — for each 全宗, 门类 and 专题库
(``fields.collections``) the batch touches; the dashboard reads that table.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from lantai.audit import EventType
from lantai.catalogue import Lifecycle
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import LinkingStat, Record, ScanBatch, ScanPage, utcnow

__all__ = ["link_batch", "linkable", "linking_stats", "refresh_stats"]

LIST_LIMIT = 2000  # entries listed per kind in the stored report (counts are always complete)


def linkable() -> ColumnElement[bool]:
    """Active records that should carry page images: 件, and 案卷 without 件 below them."""
    child = aliased(Record)
    has_items = exists().where(child.parent_id == Record.id, child.level == "item")
    return and_(
        Record.lifecycle == Lifecycle.ACTIVE,
        Record.archival_code.is_not(None),
        or_(Record.level == "item", and_(Record.level == "file", ~has_items)),
    )


def _has_images() -> ColumnElement[bool]:
    return exists().where(ScanPage.record_id == Record.id)


def link_batch(inst: Instance, actor: Actor, batch_id: int) -> dict[str, Any]:
    actor.require(Perm.DIGITISATION_RUN)
    with inst.db.write() as s:
        batch = s.get(ScanBatch, batch_id)
        if batch is None:
            raise ValueError(f"scan batch {batch_id} not found")
        pages = list(s.scalars(select(ScanPage).where(ScanPage.batch_id == batch.id)))
        by_code: dict[str, list[ScanPage]] = defaultdict(list)
        for p in pages:
            by_code[p.archival_code].append(p)
        codes = sorted(by_code)
        records: dict[str, Record] = {}
        for i in range(0, len(codes), 500):
            q = select(Record).where(
                Record.archival_code.in_(codes[i : i + 500]), Record.lifecycle == Lifecycle.ACTIVE
            )
            records.update({r.archival_code: r for r in s.scalars(q) if r.archival_code})
        linked: list[dict[str, Any]] = []
        orphans: list[dict[str, Any]] = []
        for code in codes:
            rec = records.get(code)
            for p in by_code[code]:
                p.record_id = rec.id if rec is not None else None
            files = sorted({p.source_name for p in by_code[code]})
            if rec is None:
                orphans.append(
                    {"archival_code": code, "pages": len(by_code[code]), "files": files[:20]}
                )
            else:
                linked.append(
                    {
                        "archival_code": code,
                        "record_id": rec.id,
                        "title": rec.title,
                        "pages": len(by_code[code]),
                        "declared_pages": rec.pages,
                        "pages_match": rec.pages is None or rec.pages == len(by_code[code]),
                    }
                )
        s.flush()
        scope = _scope(batch, {r.fonds_id for r in records.values() if r.fonds_id})
        missing_q = (
            select(Record.archival_code, Record.title, Record.pages)
            .where(scope, linkable(), ~_has_images())
            .order_by(Record.archival_code)
        )
        missing = [
            {"archival_code": c, "title": t, "declared_pages": n}
            for c, t, n in s.execute(missing_q.limit(LIST_LIMIT))
        ]
        missing_total = s.scalar(
            select(func.count()).select_from(missing_q.order_by(None).subquery())
        )
        summary = {
            "codes": len(codes),
            "pages": len(pages),
            "linked_records": len(linked),
            "linked_pages": sum(x["pages"] for x in linked),
            "images_without_record": len(orphans),
            "orphan_pages": sum(x["pages"] for x in orphans),
            "records_without_images": int(missing_total or 0),
            "page_count_mismatches": sum(1 for x in linked if not x["pages_match"]),
            "linked_at": utcnow().isoformat(),
            "linked_by": actor.username,
        }
        batch.linking = {
            "summary": summary,
            "linked": linked[:LIST_LIMIT],
            "images_without_record": orphans[:LIST_LIMIT],
            "records_without_images": missing,
        }
        batch.updated_at = utcnow()
        stats = refresh_stats(s, batch, records.values())
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.DIGITISATION_BATCH_LINKED,
            object_type="scan_batch",
            object_id=batch.uid,
            detail={
                **{k: v for k, v in summary.items() if k not in ("linked_at", "linked_by")},
                "stats": [[x["scope"], x["value"], x["ratio"]] for x in stats],
            },
        )
        return batch.linking


def _scope(batch: ScanBatch, fonds_ids: set[int]) -> ColumnElement[bool]:
    if batch.fonds_id is not None:
        cond: ColumnElement[bool] = Record.fonds_id == batch.fonds_id
    elif fonds_ids:
        cond = Record.fonds_id.in_(sorted(fonds_ids))
    else:
        return Record.id.is_(None)  # nothing is in scope
    if batch.category:
        cond = and_(cond, Record.category == batch.category)
    return cond


def _collections(fields: dict[str, Any] | None) -> list[str]:
    value = (fields or {}).get("collections")
    if isinstance(value, str):
        value = [value]
    return [v.strip() for v in value or [] if isinstance(v, str) and v.strip()]


def refresh_stats(session: Session, batch: ScanBatch, records: Any) -> list[dict[str, Any]]:
    """Recompute the 挂接率 of every 全宗, 门类 and 专题库 that ``batch``'s records belong to."""
    fonds_ids = {r.fonds_id for r in records if r.fonds_id}
    if batch.fonds_id:
        fonds_ids.add(batch.fonds_id)
    categories = {r.category for r in records if r.category} | (
        {batch.category} if batch.category else set()
    )
    collections = {c for r in records for c in _collections(r.fields)}
    if batch.collection:
        collections.add(batch.collection)
    out: list[dict[str, Any]] = []
    for fid in sorted(fonds_ids):
        code = session.scalar(select(Record.archival_code).where(Record.id == fid)) or str(fid)
        out.append(_store(session, "fonds", code, Record.fonds_id == fid))
    for cat in sorted(categories):
        out.append(_store(session, "category", cat, Record.category == cat))
    if collections:
        counts = {c: [0, 0] for c in collections}
        q = select(Record.fields, _has_images()).where(linkable(), Record.fields.is_not(None))
        if fonds_ids:
            q = q.where(Record.fonds_id.in_(sorted(fonds_ids)))
        for fields, has in session.execute(q):
            for c in _collections(fields):
                if c in counts:
                    counts[c][0] += 1
                    counts[c][1] += int(bool(has))
        for c in sorted(collections):
            total, linked = counts[c]
            out.append(_upsert(session, "collection", c, total, linked, None))
    return out


def _store(session: Session, scope: str, value: str, cond: ColumnElement[bool]) -> dict[str, Any]:
    total = session.scalar(select(func.count()).select_from(Record).where(cond, linkable())) or 0
    linked = (
        session.scalar(
            select(func.count()).select_from(Record).where(cond, linkable(), _has_images())
        )
        or 0
    )
    pages = (
        session.scalar(
            select(func.count())
            .select_from(ScanPage)
            .join(Record, Record.id == ScanPage.record_id)
            .where(cond)
        )
        or 0
    )
    return _upsert(session, scope, value, int(total), int(linked), int(pages))


def _upsert(
    session: Session, scope: str, value: str, total: int, linked: int, pages: int | None
) -> dict[str, Any]:
    if pages is None:
        pages = 0
    row = session.scalar(
        select(LinkingStat).where(LinkingStat.scope == scope, LinkingStat.value == value)
    )
    ratio = round(linked / total, 4) if total else 0.0
    if row is None:
        row = LinkingStat(
            scope=scope, value=value, records=total, linked=linked, pages=pages, ratio=ratio
        )
        session.add(row)
    else:
        row.records, row.linked, row.pages, row.ratio, row.updated_at = (
            total,
            linked,
            pages,
            ratio,
            utcnow(),
        )
    return {
        "scope": scope,
        "value": value,
        "records": total,
        "linked": linked,
        "pages": pages,
        "ratio": ratio,
    }


def linking_stats(session: Session, actor: Actor) -> list[dict[str, Any]]:
    actor.require(Perm.DIGITISATION_READ)
    rows = session.scalars(select(LinkingStat).order_by(LinkingStat.scope, LinkingStat.value))
    return [
        {
            "scope": r.scope,
            "value": r.value,
            "records": r.records,
            "linked": r.linked,
            "pages": r.pages,
            "ratio": r.ratio,
            "updated_at": r.updated_at.isoformat(),
        }
        for r in rows
    ]
