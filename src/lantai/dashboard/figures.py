"""Dashboard figures as a registry of providers.

A :class:`Provider` declares a figure's key, zh-CN label and unit and computes it; when it can
also name the rows behind the figure it has a ``drill`` that returns a :class:`Drill` — the same
condition the figure was counted with, so the drill-down lists exactly what the figure counts and
:meth:`DashboardService.verify` can recount every figure from its rows. A capability that does not
exist yet is a provider without ``compute``: its figure says 未启用, never a zero.

Add a figure by appending a provider to the tuple passed to :class:`DashboardService`
(``default_providers()`` plus yours); nothing else changes — the API, the page and the checks
read the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from lantai.archival.levels import Level
from lantai.dashboard import aggregates
from lantai.dashboard.holdings import Holdings, Measure
from lantai.datafiles import load_model
from lantai.errors import NotFound
from lantai.instance import Instance
from lantai.store import (
    Backup,
    DashboardTransition,
    IngestTransfer,
    Record,
    ReviewBatch,
    ScanPage,
    TransferState,
    UseLog,
)

__all__ = [
    "DISABLED",
    "OK",
    "Context",
    "DashboardService",
    "Drill",
    "Figure",
    "Point",
    "Provider",
    "Targets",
    "default_providers",
    "load_targets",
]

OK = "ok"
DISABLED = "disabled"
GIB = 1024**3
_TERMINAL = (TransferState.REJECTED.value, TransferState.DONE.value, TransferState.FAILED.value)
_RECEIVED = (TransferState.CATALOGUED.value, TransferState.DONE.value)
_NO_CARRIER = "未著录"


# -- targets (data) ----------------------------------------------------------------------------


class Target(BaseModel):
    value: float = Field(ge=0, le=100)
    label: str
    note: str = ""


class Targets(BaseModel):
    version: int = 1
    targets: dict[str, Target]

    def value(self, key: str) -> float | None:
        t = self.targets.get(key)
        return t.value if t is not None else None


def load_targets(home: Path | None = None) -> Targets:
    """The packaged targets, or ``<home>/config/dashboard_targets.yaml`` when the instance has one."""
    own = home / "config" / "dashboard_targets.yaml" if home is not None else None
    path = (
        own if own is not None and own.exists() else Path(__file__).parent / "data" / "targets.yaml"
    )
    return load_model(path, Targets, title="一屏掌控目标值配置")


# -- figures -----------------------------------------------------------------------------------


@dataclass
class Point:
    """One bar/slice of a breakdown figure; ``params`` narrow the figure's drill-down."""

    key: str
    label: str
    value: float
    count: int
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Figure:
    key: str
    label: str
    unit: str
    group: str
    status: str = OK
    value: float | None = None
    count: int | None = None  # the integer the drill-down reproduces (records, bytes, numerator)
    measure: str = "records"
    target: float | None = None
    note: str = ""
    drill: str | None = None
    series: list[Point] = field(default_factory=list)
    parts: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["status_label"] = "未启用" if self.status == DISABLED else "正常"
        for p in out["series"]:
            p["drill"] = _drill_url(self.key, p["params"]) if self.drill else None
        return out


# The rows a drill-down can list: records, transfers, scan pages, review batches, backups, uses.
DRILL_MODELS: dict[str, Any] = {
    "record": Record,
    "transfer": IngestTransfer,
    "page": ScanPage,
    "review_batch": ReviewBatch,
    "backup": Backup,
    "use": UseLog,
}


@dataclass(frozen=True)
class Drill:
    """The rows behind a figure: records (a :class:`Holdings` filter or a condition) or the rows
    of another kind (:data:`DRILL_MODELS`) matching ``where``."""

    kind: str  # a key of DRILL_MODELS
    holdings: Holdings | None = None
    measure: Measure = "records"
    where: ColumnElement[bool] | None = None
    column: str | None = None  # the column the figure sums (None: counts rows)

    def query(self) -> Select[Any]:
        if self.holdings is not None:
            return self.holdings.records()
        assert self.where is not None
        model = DRILL_MODELS[self.kind]
        return select(model).where(self.where).order_by(model.id)

    def recount(self, session: Session) -> int:
        """The figure's integer recomputed from the rows themselves."""
        if self.holdings is not None:
            return self.holdings.recount(session, self.measure)
        if self.column is not None:
            col = getattr(DRILL_MODELS[self.kind], self.column)
            q = select(func.coalesce(func.sum(col), 0)).where(self.where)  # type: ignore[arg-type]
            return int(session.scalar(q) or 0)
        return int(session.scalar(select(func.count()).select_from(self.query().subquery())) or 0)


@dataclass
class Context:
    inst: Instance
    session: Session
    year: int
    targets: Targets
    today: date


Compute = Callable[[Context], Figure]
DrillFor = Callable[[Context, Mapping[str, str]], Drill]


@dataclass(frozen=True)
class Provider:
    key: str
    label: str
    unit: str
    group: str
    compute: Callable[[Context, Figure], None] | None = None
    drill: DrillFor | None = None
    note: str = ""

    def figure(self, ctx: Context) -> Figure:
        fig = Figure(self.key, self.label, self.unit, self.group, note=self.note)
        if self.compute is None:
            fig.status = DISABLED
            return fig
        self.compute(ctx, fig)
        if self.drill is not None:
            fig.drill = _drill_url(self.key, {})
        return fig


def _drill_url(key: str, params: Mapping[str, str]) -> str:
    q = urlencode(params)
    return f"/api/dashboard/drill/{key}" + (f"?{q}" if q else "")


def _pct(n: int, d: int) -> float:
    return round(100.0 * n / d, 2) if d else 0.0


# -- holdings providers ------------------------------------------------------------------------


def _narrow(base: Holdings, params: Mapping[str, str]) -> Holdings:
    """A drill-down narrowed by query parameters (category, year, carrier, created_year)."""
    h = base
    if params.get("category"):
        h = h.narrow(categories=(params["category"],))
    if params.get("year"):
        h = h.narrow(year=int(params["year"]))
    if "carrier" in params:
        c = params["carrier"]
        h = h.narrow(carrier="" if c == _NO_CARRIER else c)
    return h


def _holding(
    key: str,
    label: str,
    unit: str,
    base: Holdings,
    measure: Measure = "records",
    scale: float = 1.0,
    note: str = "",
    group: str = "馆藏",
) -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        n = base.total(ctx.session, measure)
        fig.count, fig.measure = n, measure
        fig.value = round(n / scale, 6) if scale != 1.0 else n

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        return Drill("record", holdings=_narrow(base, params), measure=measure)

    return Provider(key, label, unit, group, compute, drill, note)


def _breakdown(key: str, label: str, dim: str) -> Provider:
    base = Holdings()

    def compute(ctx: Context, fig: Figure) -> None:
        rows = base.grouped(ctx.session, dim)
        points: list[Point] = []
        for v, n in sorted(rows, key=lambda r: str(r[0]) if dim != "year" else r[0]):
            if not n:
                continue
            if dim == "category":
                name = ctx.inst.domain.category_label(v) or "未分类"
                points.append(Point(str(v), f"{name}（{v}）" if v else name, n, n, {"category": v}))
            elif dim == "year":
                points.append(Point(str(v), f"{v}" if v else "未著录", n, n, {"year": str(v)}))
            else:
                name = v or _NO_CARRIER
                points.append(Point(name, name, n, n, {"carrier": name}))
        fig.series = points
        fig.count = sum(p.count for p in points)
        fig.value = fig.count

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        return Drill("record", holdings=_narrow(base, params))

    return Provider(key, label, "卷、件", "馆藏", compute, drill)


def _growth() -> Provider:
    def parts(ctx: Context) -> tuple[Holdings, Holdings]:
        return Holdings(created_year=ctx.year), Holdings(created_before=ctx.year)

    def compute(ctx: Context, fig: Figure) -> None:
        new, old = parts(ctx)
        n, d = new.total(ctx.session), old.total(ctx.session)
        fig.count, fig.parts = n, {"added": n, "start_of_year": d}
        fig.value, fig.target = _pct(n, d), ctx.targets.value("growth")

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        return Drill("record", holdings=_narrow(parts(ctx)[0], params))

    return Provider(
        "growth.this_year",
        "本年馆藏增长率",
        "%",
        "增长",
        compute,
        drill,
        "本年新增卷、件（入库日期在本年）占年初馆藏卷、件的百分比",
    )


def _ratio(
    key: str, label: str, group: str, numerator: Holdings, target: str, note: str
) -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        n, d = numerator.total(ctx.session), Holdings().total(ctx.session)
        fig.count, fig.parts = n, {"numerator": n, "holdings": d}
        fig.value, fig.target = _pct(n, d), ctx.targets.value(target)

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        return Drill("record", holdings=_narrow(numerator, params))

    return Provider(key, label, "%", group, compute, drill, note)


def _opened_this_year() -> Provider:
    def where(ctx: Context) -> ColumnElement[bool]:
        ids = select(DashboardTransition.record_id).where(
            DashboardTransition.kind == aggregates.OPENED, DashboardTransition.year == ctx.year
        )
        return Record.id.in_(ids)

    def compute(ctx: Context, fig: Figure) -> None:
        n = ctx.session.scalar(
            select(func.count(func.distinct(DashboardTransition.record_id))).where(
                DashboardTransition.kind == aggregates.OPENED, DashboardTransition.year == ctx.year
            )
        )
        fig.count = fig.value = int(n or 0)

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        return Drill("record", where=where(ctx))

    return Provider(
        "open.this_year",
        "本年开放",
        "条",
        "开放",
        compute,
        drill,
        "本年由「未开放」改为「开放」的条目（按审计日志）",
    )


# -- ingest and system providers ---------------------------------------------------------------


def _year_range(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def _received(ctx: Context) -> ColumnElement[bool]:
    lo, hi = _year_range(ctx.year)
    return and_(
        IngestTransfer.state.in_(_RECEIVED),
        IngestTransfer.created_at >= lo,
        IngestTransfer.created_at < hi,
    )


def _ingest_queue() -> Provider:
    where = IngestTransfer.state.not_in(_TERMINAL)

    def compute(ctx: Context, fig: Figure) -> None:
        rows = ctx.session.execute(
            select(IngestTransfer.state, func.count()).where(where).group_by(IngestTransfer.state)
        )
        points = [Point(s, TransferState(s).label, int(n), int(n), {"state": s}) for s, n in rows]
        fig.series = sorted(points, key=lambda p: list(TransferState).index(TransferState(p.key)))
        fig.count = sum(p.count for p in points)
        fig.value = fig.count

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        cond: ColumnElement[bool] = where
        if params.get("state"):
            cond = and_(cond, IngestTransfer.state == params["state"])
        return Drill("transfer", where=cond)

    return Provider("ingest.queue", "待处理移交", "批", "接收", compute, drill)


def _ingest_sum(key: str, label: str, unit: str, column: str, scale: float = 1.0) -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        col = getattr(IngestTransfer, column) if column != "count" else None
        expr = func.count() if col is None else func.coalesce(func.sum(col), 0)
        n = int(ctx.session.scalar(select(expr).where(_received(ctx))) or 0)
        fig.count, fig.measure = n, column
        fig.value = round(n / scale, 6) if scale != 1.0 else n

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        return Drill("transfer", where=_received(ctx), column=None if column == "count" else column)

    return Provider(
        key, label, unit, "接收", compute, drill, "本年接收入库（已编目、已完成）的移交"
    )


def _search_lag() -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        from lantai.search.runtime import search_home

        head = aggregates.head(ctx.session)
        gen = search_home(ctx.inst).current()
        state = gen.read_state() if gen is not None else None
        fig.value = fig.count = head - (state.seq if state is not None else 0)
        fig.parts = {"head": head, "indexed": state.seq if state is not None else 0}
        if state is None:
            fig.note = "检索索引尚未建立"

    return Provider(
        "search.lag",
        "检索索引滞后",
        "条事件",
        "系统",
        compute,
        None,
        "审计日志中尚未写入检索索引的事件数",
    )


def _summary_lag() -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        head, seq = aggregates.head(ctx.session), aggregates.cursor(ctx.session)
        fig.value = fig.count = head - seq
        fig.parts = {"head": head, "applied": seq}

    return Provider(
        "summary.lag",
        "统计汇总滞后",
        "条事件",
        "系统",
        compute,
        None,
        "审计日志中尚未计入统计汇总的事件数",
    )


def _disabled(key: str, label: str, unit: str, group: str, note: str) -> Provider:
    return Provider(key, label, unit, group, note=note)


def default_providers() -> tuple[Provider, ...]:
    """The built-in figures, in display order."""
    from lantai.dashboard import (  # their providers are built on this module's types
        preservation,
        progress,
        uses,
        xarchive,
    )

    av = ("LY", "LX")
    return (
        _holding("holdings.fonds", "全宗", "个", Holdings(units=(Level.FONDS.value,))),
        _holding("holdings.files", "案卷", "卷", Holdings(units=("file",))),
        _holding(
            "holdings.items",
            "以件为保管单位档案",
            "件",
            Holdings(units=("item",)),
            note="不含卷内文件",
        ),
        _holding(
            "holdings.gb",
            "电子文件容量",
            "GB",
            Holdings(units=("fonds", "series", "file", "item", "file_item")),
            "bytes",
            GIB,
            "全部条目挂接的原文文件字节数（1 GB = 1024³ 字节）",
        ),
        _holding(
            "holdings.photos",
            "照片档案",
            "张",
            Holdings(units=("item", "file_item"), categories=("ZP",)),
        ),
        _holding(
            "holdings.minutes",
            "录音录像时长",
            "分钟",
            Holdings(units=("item", "file_item"), categories=av),
            "minutes",
            note="录音（LY）、录像（LX）档案的「时长（分钟）」之和",
        ),
        _disabled("holdings.frames", "缩微品", "画幅", "馆藏", "著录方案中没有画幅数著录项"),
        _breakdown("holdings.by_category", "馆藏（按门类）", "category"),
        _breakdown("holdings.by_year", "馆藏（按年度）", "year"),
        _breakdown("holdings.by_carrier", "馆藏（按载体形态）", "carrier"),
        _growth(),
        _ratio(
            "digitisation.ratio",
            "电子原文覆盖率",
            "数字化",
            Holdings(digitised_only=True),
            "digitisation",
            "有电子原文（原文文件）的卷、件占卷+件总数",
        ),
        _ratio(
            "digitisation.scanned",
            "馆藏数字化率（扫描）",
            "数字化",
            Holdings(scanned_only=True),
            "digitisation",
            "已挂接扫描页的卷、件（卷内文件有扫描页时不计其卷）占卷+件总数",
        ),
        _holding(
            "digitisation.frames",
            "数字化画幅",
            "画幅",
            Holdings(units=("fonds", "series", "file", "item", "file_item"), scanned_only=True),
            "frames",
            note="已挂接到条目的扫描页数（一页一画幅）",
            group="数字化",
        ),
        _ratio(
            "open.rate",
            "开放率",
            "开放",
            Holdings(open_status=aggregates.OPEN),
            "open",
            "开放标识为「开放」的卷、件占卷+件总数",
        ),
        _opened_this_year(),
        _ingest_queue(),
        _ingest_sum("ingest.transfers", "本年接收移交", "批", "count"),
        _ingest_sum("ingest.files", "本年接收文件", "个", "actual_files"),
        _ingest_sum("ingest.gb", "本年接收容量", "GB", "actual_bytes", GIB),
        progress.linking_ratio(),
        progress.ocr_backlog(),
        uses.use_visits(),
        uses.use_items(),
        uses.use_purposes(),
        preservation.copies_satisfied(),
        preservation.fixity_last(),
        preservation.open_alerts(),
        preservation.destroyed_this_year(),
        xarchive.xarchive_open(),
        progress.review_batches(),
        progress.review_items(),
        progress.published(),
        progress.published_this_year(),
        progress.backup_last(),
        progress.backup_tested(),
        _search_lag(),
        _summary_lag(),
    )


# -- the service -------------------------------------------------------------------------------


class DashboardService:
    """Computes the figures of one instance from its registry of providers."""

    def __init__(
        self,
        inst: Instance,
        providers: Sequence[Provider] | None = None,
        *,
        today: Callable[[], date] | None = None,
    ) -> None:
        self.inst = inst
        self.providers = tuple(providers if providers is not None else default_providers())
        self._by_key = {p.key: p for p in self.providers}
        if len(self._by_key) != len(self.providers):
            raise ValueError("duplicate figure keys")
        self.today = today or inst.catalogue.today
        self.targets = load_targets(inst.home)

    def provider(self, key: str) -> Provider:
        try:
            return self._by_key[key]
        except KeyError:
            raise NotFound(f"没有统计项「{key}」") from None

    def _ctx(self, session: Session) -> Context:
        today = self.today()
        return Context(self.inst, session, today.year, self.targets, today)

    def figures(self, *, refresh: bool = True, budget_seconds: float = 0.15) -> dict[str, Any]:
        """Every figure (after applying pending events within ``budget_seconds``)."""
        if refresh:
            aggregates.catch_up(self.inst.db, budget_seconds=budget_seconds)
        with self.inst.db.read() as s:
            ctx = self._ctx(s)
            figs = [p.figure(ctx) for p in self.providers]
            seq = aggregates.cursor(s)
        return {
            "year": ctx.year,
            "seq": seq,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "figures": [f.as_json() for f in figs],
        }

    def drill_page(
        self, key: str, params: Mapping[str, str], *, offset: int, limit: int, clearance: int
    ) -> dict[str, Any]:
        """One page of the rows behind ``key``; titles above ``clearance`` are masked."""
        p = self.provider(key)
        if p.drill is None:
            raise NotFound(f"统计项「{p.label}」没有明细")
        with self.inst.db.read() as s:
            d = p.drill(self._ctx(s), params)
            total = int(s.scalar(select(func.count()).select_from(d.query().subquery())) or 0)
            rows = list(s.scalars(d.query().offset(offset).limit(limit)))
            items = [_item(r, clearance) for r in rows]
        return {
            "figure": key,
            "label": p.label,
            "kind": d.kind,
            "params": dict(params),
            "total": total,
            "offset": offset,
            "limit": limit,
            "items": items,
        }

    def verify(self) -> list[str]:
        """Problems found recounting every figure (and breakdown point) from its rows."""
        aggregates.catch_up(self.inst.db)
        problems: list[str] = []
        with self.inst.db.read() as s:
            ctx = self._ctx(s)
            for p in self.providers:
                if p.compute is None or p.drill is None:
                    continue
                fig = p.figure(ctx)
                checks: list[tuple[dict[str, str], int | None]] = [({}, fig.count)] + [
                    (pt.params, pt.count) for pt in fig.series
                ]
                for params, expected in checks:
                    if expected is None:  # a ratio of sums with no single set of rows
                        continue
                    got = p.drill(ctx, params).recount(s)
                    if got != expected:
                        problems.append(f"{p.key} {params}: 汇总 {expected}，明细 {got}")
        return problems


def _item(row: Any, clearance: int) -> dict[str, Any]:
    if isinstance(row, UseLog):
        from lantai.dashboard import uses

        return uses.item(row)
    if not isinstance(row, (IngestTransfer, Record)):
        from lantai.dashboard import progress

        return progress.item(row)
    if isinstance(row, IngestTransfer):
        return {
            "id": row.id,
            "uid": row.uid,
            "source_name": row.source_name,
            "state": row.state,
            "state_label": TransferState(row.state).label,
            "files": row.actual_files,
            "bytes": row.actual_bytes,
            "created_at": row.created_at.isoformat(timespec="seconds"),
            "href": f"/transfers/{row.uid}",
        }
    hidden = row.security_rank > clearance
    return {
        "id": row.id,
        "archival_code": row.archival_code,
        "title": "（密级高于本人授权，仅计数）" if hidden else row.title,
        "level": row.level,
        "category": row.category,
        "year": row.year,
        "open_status": row.open_status,
        "href": None if hidden else f"/records/{row.id}",
    }
