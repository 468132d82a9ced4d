"""Dashboard providers for the work in progress around the holdings: 专题库挂接, OCR, 开放审核,
上网公布 and backups.

Each reads the tables its capability maintains (``linking_stats``, ``scan_pages`` /
``scan_page_texts``, ``review_*``, ``published_records``, ``backups``) and drills down to the rows
it counted — records, scan pages, review batches or backups — with the same condition, so
:meth:`lantai.dashboard.DashboardService.verify` recounts every figure from its rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session

from lantai.dashboard.figures import Context, Drill, Figure, Point, Provider, _holding, _pct
from lantai.dashboard.holdings import Holdings
from lantai.digitisation.linking import linkable
from lantai.store import (
    Backup,
    BackupVerification,
    LinkingStat,
    PublicationState,
    PublishedRecord,
    Record,
    ReviewBatch,
    ReviewDecision,
    ReviewItem,
    ScanPage,
    ScanPageText,
)

__all__ = [
    "backup_last",
    "backup_tested",
    "item",
    "linking_ratio",
    "ocr_backlog",
    "published",
    "published_this_year",
    "review_batches",
    "review_items",
]

REVIEWING = "reviewing"
OPEN = "开放"
_PUBLISHABLE = ("file", "item", "file_item")


def _days(today: date, when: datetime) -> int:
    return max(0, (today - when.date()).days)


# -- 专题库挂接率 ------------------------------------------------------------------------------


def in_collections(session: Session, names: list[str]) -> ColumnElement[bool]:
    """The record's 「专题库」 (``fields.collections``, a list or one string) names one of ``names``."""
    if not names:
        return false()
    if session.get_bind().dialect.name == "postgresql":
        value = cast(Record.fields["collections"], JSONB)
        return value.op("?|", is_comparison=True)(cast(names, ARRAY(String)))
    each = func.json_each(Record.fields, "$.collections").table_valued("value")
    return exists(select(literal(1)).select_from(each).where(each.c.value.in_(names)))


def _has_pages() -> ColumnElement[bool]:
    return exists().where(ScanPage.record_id == Record.id)


def linking_ratio() -> Provider:
    def rows(ctx: Context) -> list[LinkingStat]:
        q = select(LinkingStat).where(LinkingStat.scope == "collection")
        return list(ctx.session.scalars(q.order_by(LinkingStat.value)))

    def compute(ctx: Context, fig: Figure) -> None:
        stats = rows(ctx)
        target = ctx.targets.value("linking")
        fig.series = [
            Point(r.value, r.value, _pct(r.linked, r.records), r.linked, {"collection": r.value})
            for r in stats
        ]
        linked, total = sum(r.linked for r in stats), sum(r.records for r in stats)
        below = sum(1 for p in fig.series if target is not None and p.value < target)
        fig.value, fig.target = _pct(linked, total), target
        fig.parts = {"linked": linked, "records": total, "collections": len(stats)}
        fig.parts["below_target"] = below
        if not stats:
            fig.note = "尚无专题库挂接统计：条目著录「专题库」并完成原文挂接后计入"

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        names = [params["collection"]] if params.get("collection") else [r.value for r in rows(ctx)]
        where = and_(linkable(), _has_pages(), in_collections(ctx.session, names))
        return Drill("record", where=where)

    return Provider(
        "linking.ratio",
        "专题库挂接率",
        "%",
        "数字化",
        compute,
        drill,
        "各专题库应挂接条目（件，及不含件的案卷）中已挂接扫描页的比例（每次挂接后更新）",
    )


# -- OCR ---------------------------------------------------------------------------------------

_OCR_STATES = {"pending": "待识别", "low_confidence": "待校对（低置信度）"}


def _ocr_where(state: str) -> ColumnElement[bool]:
    text = select(ScanPageText.id).where(ScanPageText.page_id == ScanPage.id)
    if state == "pending":
        return and_(ScanPage.decodes.is_(True), ~text.exists())
    return text.where(
        ScanPageText.low_confidence.is_(True), ScanPageText.corrected_text.is_(None)
    ).exists()


def ocr_backlog() -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        points = []
        for key, label in _OCR_STATES.items():
            n = int(ctx.session.scalar(select(func.count()).where(_ocr_where(key))) or 0)
            points.append(Point(key, label, n, n, {"state": key}))
        fig.series = points
        fig.count = fig.value = sum(p.count for p in points)
        fig.parts = {p.key: p.count for p in points}

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        state = params.get("state")
        where = _ocr_where(state) if state in _OCR_STATES else or_(*map(_ocr_where, _OCR_STATES))
        return Drill("page", where=where)

    return Provider(
        "ocr.backlog",
        "OCR 待处理",
        "页",
        "数字化",
        compute,
        drill,
        "尚未识别的扫描页，及识别置信度低、尚未校对的页",
    )


# -- 开放审核 ----------------------------------------------------------------------------------


def _current_round(batch: ReviewBatch) -> tuple[str, str]:
    rounds = batch.rounds or []
    if 0 <= batch.round_index < len(rounds):
        r = rounds[batch.round_index]
        return str(r.get("id", batch.round_index)), str(r.get("name", r.get("id", "")))
    return str(batch.round_index), f"第{batch.round_index + 1}轮"


def _reviewing(session: Session) -> list[ReviewBatch]:
    q = select(ReviewBatch).where(ReviewBatch.state == REVIEWING).order_by(ReviewBatch.id)
    return list(session.scalars(q))


def review_batches() -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        by_round: dict[str, list[Any]] = {}
        for b in _reviewing(ctx.session):
            rid, name = _current_round(b)
            by_round.setdefault(rid, [name, 0])[1] += 1
        fig.series = [Point(k, v[0], v[1], v[1], {"round": k}) for k, v in by_round.items()]
        fig.count = fig.value = sum(p.count for p in fig.series)

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        batches = _reviewing(ctx.session)
        if params.get("round"):
            batches = [b for b in batches if _current_round(b)[0] == params["round"]]
        return Drill("review_batch", where=ReviewBatch.id.in_([b.id for b in batches]))

    return Provider(
        "review.batches",
        "开放审核中批次",
        "批",
        "开放",
        compute,
        drill,
        "尚未办结（未写入开放标识）的开放审核批次，按当前审核轮次",
    )


def _decided(batches: list[ReviewBatch]) -> ColumnElement[bool]:
    """The item has a decision in its batch's current round."""
    per = [
        and_(ReviewDecision.batch_id == b.id, ReviewDecision.round == _current_round(b)[0])
        for b in batches
    ]
    if not per:
        return false()
    return (
        select(ReviewDecision.id).where(ReviewDecision.item_id == ReviewItem.id, or_(*per)).exists()
    )


def _items_where(batches: list[ReviewBatch], state: str | None) -> ColumnElement[bool]:
    cond: ColumnElement[bool] = ReviewItem.batch_id.in_([b.id for b in batches])
    if state == "decided":
        cond = and_(cond, _decided(batches))
    elif state == "undecided":
        cond = and_(cond, ~_decided(batches))
    return Record.id.in_(select(ReviewItem.record_id).where(cond))


def review_items() -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        batches = _reviewing(ctx.session)
        points = []
        for key, label in (("decided", "本轮已作结论"), ("undecided", "本轮待审")):
            n = int(ctx.session.scalar(select(func.count()).where(_items_where(batches, key))) or 0)
            points.append(Point(key, label, n, n, {"state": key}))
        fig.series = points
        fig.count = fig.value = sum(p.count for p in points)
        fig.parts = {p.key: p.count for p in points}

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        return Drill("record", where=_items_where(_reviewing(ctx.session), params.get("state")))

    return Provider(
        "review.items",
        "开放审核中条目",
        "卷、件",
        "开放",
        compute,
        drill,
        "审核中批次的条目；「已作结论」指在批次当前轮次已有结论",
    )


# -- 上网公布 ----------------------------------------------------------------------------------


def online(*, upto: datetime | None = None, since: datetime | None = None) -> ColumnElement[bool]:
    """Records on the public portal: published (上网审查 approved), still 开放 and active."""
    cond: list[ColumnElement[bool]] = [PublishedRecord.state == PublicationState.PUBLISHED.value]
    if since is not None:
        cond.append(PublishedRecord.published_at >= since)
    if upto is not None:
        cond.append(PublishedRecord.published_at < upto)
    ids = select(PublishedRecord.record_id).where(*cond)
    return and_(Record.id.in_(ids), Record.open_status == OPEN, Record.lifecycle == "active")


def published() -> Provider:
    """From the summary (``published`` measure): fast at any size, exact through the
    ``catalogue:records:published``/``unpublished`` events that name their records."""
    online_now = Holdings(units=_PUBLISHABLE, open_status=OPEN, published_only=True)
    return _holding(
        "publication.online",
        "网上公布开放档案目录",
        "条",
        online_now,
        note="经上网审查公布、仍为开放且有效的案卷、件（含卷内文件）",
        group="开放",
    )


def published_this_year() -> Provider:
    """From the summary (the ``published_year`` dimension): this year's publications still online."""

    def base(ctx: Context) -> Holdings:
        return Holdings(units=_PUBLISHABLE, open_status=OPEN, published_year=ctx.year)

    def compute(ctx: Context, fig: Figure) -> None:
        fig.count = fig.value = base(ctx).total(ctx.session)

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        return Drill("record", holdings=base(ctx))

    return Provider(
        "publication.this_year",
        "本年公布",
        "条",
        "开放",
        compute,
        drill,
        "本年经上网审查公布、仍在网上的案卷、件（含卷内文件）",
    )


# -- backups -----------------------------------------------------------------------------------


def backup_last() -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        s = ctx.session
        fig.count = int(s.scalar(select(func.count()).select_from(Backup)) or 0)
        last = s.scalars(
            select(Backup).order_by(Backup.created_at.desc(), Backup.id.desc())
        ).first()
        fig.parts = {"backups": fig.count}
        if last is None:
            fig.note = "尚无备份（lantai backup create）"
            return
        fig.value = _days(ctx.today, last.created_at)
        content = "含原文" if last.with_content else "不含原文"
        fig.note = f"最近备份 {last.created_at:%Y-%m-%d %H:%M}（{content}）"

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        return Drill("backup", where=true())

    return Provider("backup.last", "最近备份", "天前", "系统", compute, drill)


def backup_tested() -> Provider:
    ok = Backup.id.in_(select(BackupVerification.backup_id).where(BackupVerification.ok.is_(True)))

    def compute(ctx: Context, fig: Figure) -> None:
        s = ctx.session
        fig.count = int(s.scalar(select(func.count()).select_from(Backup).where(ok)) or 0)
        tests = dict(
            s.execute(
                select(BackupVerification.ok, func.count()).group_by(BackupVerification.ok)
            ).all()
        )
        fig.parts = {"passed": int(tests.get(True, 0)), "failed": int(tests.get(False, 0))}
        last = s.scalars(
            select(BackupVerification)
            .where(BackupVerification.ok.is_(True))
            .order_by(BackupVerification.finished_at.desc())
        ).first()
        if last is None:
            fig.note = "尚无通过的恢复测试（lantai backup verify）"
            return
        fig.value = _days(ctx.today, last.finished_at)
        fig.note = f"最近一次通过的恢复测试 {last.finished_at:%Y-%m-%d %H:%M}"

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        return Drill("backup", where=ok)

    return Provider(
        "backup.tested",
        "最近恢复测试通过",
        "天前",
        "系统",
        compute,
        drill,
        "备份可恢复性测试（DA/T 70）；明细为通过测试的备份",
    )


# -- drill-down rows ---------------------------------------------------------------------------


def item(row: Any) -> dict[str, Any]:
    """A drill-down row other than a record or a transfer."""
    if isinstance(row, ScanPage):
        return {
            "id": row.id,
            "archival_code": row.archival_code,
            "page_no": row.page_no,
            "file": row.source_name,
            "batch_id": row.batch_id,
            "record_id": row.record_id,
            "href": f"/records/{row.record_id}" if row.record_id else None,
        }
    if isinstance(row, ReviewBatch):
        return {
            "id": row.id,
            "title": row.title,
            "round": _current_round(row)[1],
            "items": row.item_count,
            "state": row.state,
            "created_at": row.created_at.isoformat(timespec="seconds"),
            "href": f"/appraisal/batches/{row.id}",
        }
    if isinstance(row, Backup):
        return {
            "id": row.id,
            "uid": row.uid,
            "title": f"备份 {row.created_at:%Y-%m-%d %H:%M}",
            "created_at": row.created_at.isoformat(timespec="seconds"),
            "with_content": row.with_content,
            "files": row.files,
            "bytes": row.bytes,
            "verified_at": row.verified_at.isoformat(timespec="seconds")
            if row.verified_at
            else None,
            "verified_ok": row.verified_ok,
            "href": None,
        }
    raise TypeError(f"no drill-down row for {type(row).__name__}")
