"""Writing an accepted transfer into the catalogue, inside the caller's one transaction.

Public API: :func:`write_catalogue` → :class:`CatalogueResult`.

Every record the sender declared becomes a catalogue row through
:meth:`lantai.catalogue.Catalogue.create_records` — the scheme, 必著 and 档号 rules of
``create_record`` apply to each, the 档号 are numbered in bulk, and the whole transfer is logged
by ONE ``catalogue:records:created`` event (transfer, AIP, id range and ``[id, 电子文件号, 档号]``
of every record) — under a 类别 obtained with :meth:`~lantai.catalogue.Catalogue.ensure_series`
exactly as the spreadsheet importer groups rows: one series per 门类 and 年度, titled "文书档案
2011年". Each record's files are linked to their place in the AIP (``record_files``: AIP id,
path, size, SHA-256, SM3, format) in one statement, and the full texts extracted during the
checks are stored with :func:`lantai.search.texts.add_texts` (one ``catalogue:texts:added`` event).

Like the importer, every record is checked so that the problem list is complete; if any failed,
:class:`~lantai.errors.ValidationFailed` is raised with all of them and nothing is written (the
caller's transaction must be rolled back all the same: a 类别 may have been created).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lantai import faults
from lantai.archival import Level
from lantai.catalogue.service import NewRecord
from lantai.errors import Problem, ValidationFailed
from lantai.ingest.transfer import Transfer
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import Record, RecordFile

__all__ = ["CatalogueResult", "write_catalogue"]

# Values decided by the target of the transfer, not by the sender's record.
_TARGET_KEYS = frozenset({"fonds_code", "category"})
_LEVELS = (Level.ITEM, Level.FILE)


@dataclass
class CatalogueResult:
    fonds_id: int
    records: list[tuple[str, int, str | None]] = field(default_factory=list)  # key, id, 档号
    series: dict[str, int] = field(default_factory=dict)  # title → id
    files: int = 0
    texts: int = 0
    skipped_values: dict[str, int] = field(default_factory=dict)  # element key → records


def _year(values: Mapping[str, Any]) -> int | None:
    raw = values.get("year")
    if raw is not None and str(raw).strip().isdigit():
        return int(str(raw).strip())
    date = str(values.get("date") or "").strip().strip("[]")
    return int(date[:4]) if len(date) >= 4 and date[:4].isdigit() else None


def target_of(
    inst: Instance, s: Session, transfer: Transfer, fonds_code: str | None, category: str | None
) -> tuple[Record, str]:
    """The 全宗 and 门类 the transfer goes into; ValidationFailed when either is unknown."""
    problems: list[Problem] = []
    code = fonds_code or transfer.fonds_code
    fonds = None
    if code:
        code = unicodedata.normalize("NFKC", code).strip().upper()
        fonds = s.scalar(
            select(Record).where(Record.archival_code == code, Record.level == Level.FONDS.value)
        )
    if fonds is None:
        problems.append(
            Problem(
                field="全宗号",
                value=code,
                rule="接收目标",
                message=f"全宗「{code}」不存在" if code else "未指定接收的全宗（--fonds）",
            )
        )
    table = inst.domain.table("category")
    raw_cat = (
        category or transfer.category or (transfer.register.category if transfer.register else None)
    )
    cat = table.normalize(raw_cat) if raw_cat else None
    if cat is None:
        problems.append(
            Problem(
                field="门类",
                value=raw_cat,
                rule="门类代码表（DA/T 13-2022）",
                message="未指定门类（--category）" if not raw_cat else "不是有效的门类代码或名称",
            )
        )
    if problems or fonds is None or cat is None:
        raise ValidationFailed("移交未编目：接收目标不明确", problems)
    return fonds, cat


def write_catalogue(
    inst: Instance,
    s: Session,
    actor: Actor,
    transfer: Transfer,
    *,
    transfer_uid: str,
    transfer_id: int,
    aip_id: str,
    fonds_code: str | None,
    category: str | None,
    submitted_by: str,
    texts: Mapping[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CatalogueResult:
    """Create the transfer's records, their file links and texts in ``s`` (see module doc)."""
    from lantai.search.texts import TextSource, add_texts

    fonds, cat = target_of(inst, s, transfer, fonds_code, category)
    scheme = inst.domain.scheme_for(cat)
    label = inst.domain.category_label(cat)
    files = {f.path: f for f in transfer.files}
    texts = texts or {}
    result = CatalogueResult(fonds_id=fonds.id)
    problems: list[Problem] = []
    drafts: list[NewRecord] = []
    sources = []
    total = len(transfer.records)
    for rec in transfer.records:
        values: dict[str, Any] = {}
        for key, value in rec.values.items():
            if value is None or value == "" or key in _TARGET_KEYS:
                continue
            if scheme.element(key) is None:
                result.skipped_values[key] = result.skipped_values.get(key, 0) + 1
                continue
            values[key] = value
        year = _year(values)
        title = f"{label}档案 {year}年" if year else f"{label}档案"
        where = rec.location or rec.key
        series_id = result.series.get(title)
        if series_id is None:
            try:
                series = inst.catalogue.ensure_series(
                    s,
                    actor,
                    fonds.id,
                    title,
                    category=cat,
                    year=year,
                    event_detail={"transfer": transfer_uid},
                )
            except ValidationFailed as exc:
                problems.extend(replace(p, file=p.file or where) for p in exc.problems)
                continue
            series_id = result.series[title] = series.id
        level = rec.level if rec.level in _LEVELS else Level.ITEM
        drafts.append(
            NewRecord(
                parent_id=series_id,
                level=level,
                values=values,
                category=cat,
                key=rec.key,
                where=where,
            )
        )
        sources.append(rec)
    if progress is not None:
        progress(0, total)
    created = []
    try:
        created = inst.catalogue.create_records(
            s,
            actor,
            drafts,
            event_detail={
                "transfer": transfer_uid,
                "aip": aip_id,
                "submitted_by": submitted_by,
            },
        )
    except ValidationFailed as exc:
        problems.extend(exc.problems)
    if problems:
        raise ValidationFailed("移交未编目：部分条目不符合著录规则", problems)
    faults.point("catalogue.records.created")
    links: list[dict[str, Any]] = []
    pending_texts: list[tuple[int, str, str, str]] = []
    for rec, record in zip(sources, created, strict=True):
        result.records.append((rec.key, record.id, record.archival_code))
        for position, path in enumerate(rec.files):
            f = files.get(path)
            if f is None or f.sha256 is None or f.sm3 is None:
                continue  # reported by the checks (GD-1-11); nothing to link
            fmt = f.format
            links.append(
                {
                    "record_id": record.id,
                    "transfer_id": transfer_id,
                    "aip_id": aip_id,
                    "path": f"data/objects/{path}",
                    "position": position,
                    "size": f.size,
                    "sha256": f.sha256,
                    "sm3": f.sm3,
                    "puid": fmt.puid if fmt else None,
                    "format_name": (fmt.name[:200] if fmt and fmt.name else None),
                    "mime": fmt.mime if fmt else None,
                }
            )
            text = texts.get(path)
            if text and text.strip():
                pending_texts.append((record.id, path[-200:], TextSource.EXTRACTED.value, text))
    if links:
        s.execute(insert(RecordFile), links)
    result.files = len(links)
    add_texts(inst, actor, pending_texts, session=s, event_detail={"transfer": transfer_uid})
    result.texts = len(pending_texts)
    _keep_opinions(inst, s, actor, transfer, sources, created, transfer_id, transfer_uid)
    s.flush()
    if progress is not None:
        progress(total, total)
    return result


def _keep_opinions(
    inst: Instance,
    s: Session,
    actor: Actor,
    transfer: Transfer,
    sources: list[Any],
    created: list[Any],
    transfer_id: int,
    transfer_uid: str,
) -> None:
    """Keep the 开放审核意见 sent with the transfer (档案法第三十条) for the review rounds."""
    from lantai.appraisal.review.opinions import record_transfer_opinions

    opinions = [
        (record.id, rec.open_review_opinion)
        for rec, record in zip(sources, created, strict=True)
        if rec.open_review_opinion
    ]
    if opinions:
        unit = transfer.register.unit if transfer.register is not None else ""
        record_transfer_opinions(
            inst,
            s,
            actor,
            transfer_id=transfer_id,
            unit=unit,
            opinions=opinions,
            transfer_uid=transfer_uid,
        )
