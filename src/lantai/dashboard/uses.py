"""Dashboard providers for 利用 (use of the archives), read from the 利用登记 (``use_log``).

Definitions follow :mod:`lantai.access.uselog` (the source of annual codes 134–143):

* 人次 = distinct (person, day) pairs in the year. The drill-down lists one row per 人次 — the
  first use of that person on that day — so its total equals the figure;
* 卷（件）次 = use rows of the year that name a record.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

from lantai.dashboard.figures import Context, Drill, Figure, Point, Provider
from lantai.store import UseLog

__all__ = ["item", "use_items", "use_purposes", "use_visits"]

CHANNELS = ("网上", "到馆")
KINDS = {
    "view": "网上查阅",
    "download": "下载",
    "visit": "到馆阅览",
    "copy": "复制",
    "certificate": "出具证明",
}
PERSON_KINDS = {"user": "实名账号", "visitor": "门户访客", "walkin": "到馆登记"}


def _span(ctx: Context) -> ColumnElement[bool]:
    return and_(UseLog.day >= date(ctx.year, 1, 1), UseLog.day <= date(ctx.year, 12, 31))


def _visits(cond: ColumnElement[bool]) -> ColumnElement[bool]:
    """One use row per (person, day) among the rows matching ``cond``: the first of the day."""
    first = select(func.min(UseLog.id)).where(cond).group_by(UseLog.person, UseLog.day)
    return UseLog.id.in_(first)


def _count(ctx: Context, where: ColumnElement[bool]) -> int:
    return int(ctx.session.scalar(select(func.count()).select_from(UseLog).where(where)) or 0)


def _purpose(params: Mapping[str, str]) -> ColumnElement[bool] | None:
    value = params.get("purpose", "")
    if "·" not in value:
        return None
    user_type, purpose = value.split("·", 1)
    return and_(UseLog.user_type == user_type, UseLog.purpose == purpose)


def use_visits() -> Provider:
    def where(ctx: Context, params: Mapping[str, str]) -> ColumnElement[bool]:
        cond = _span(ctx)
        if params.get("channel"):
            cond = and_(cond, UseLog.channel == params["channel"])
        return _visits(cond)

    def compute(ctx: Context, fig: Figure) -> None:
        fig.count = fig.value = _count(ctx, where(ctx, {}))
        fig.series = [
            Point(c, c, n, n, {"channel": c})
            for c in CHANNELS
            if (n := _count(ctx, where(ctx, {"channel": c})))
        ]

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        return Drill("use", where=where(ctx, params))

    return Provider(
        "use.visits",
        "本年利用人次",
        "人次",
        "利用",
        compute,
        drill,
        "同一人同一天利用计 1 人次（按渠道：网上、到馆；两种渠道都用的在各渠道各计一次）",
    )


def use_items() -> Provider:
    def where(ctx: Context, params: Mapping[str, str]) -> ColumnElement[bool]:
        cond = and_(_span(ctx), UseLog.record_id.is_not(None))
        if params.get("kind"):
            cond = and_(cond, UseLog.kind == params["kind"])
        return cond

    def compute(ctx: Context, fig: Figure) -> None:
        fig.count = fig.value = _count(ctx, where(ctx, {}))
        fig.series = [
            Point(k, label, n, n, {"kind": k})
            for k, label in KINDS.items()
            if (n := _count(ctx, where(ctx, {"kind": k})))
        ]

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        return Drill("use", where=where(ctx, params))

    return Provider(
        "use.items",
        "本年利用卷（件）次",
        "卷（件）次",
        "利用",
        compute,
        drill,
        "本年利用登记中指明条目的次数（按方式：网上查阅、下载、到馆阅览、复制、出证）",
    )


def use_purposes() -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        pairs = ctx.session.execute(
            select(UseLog.user_type, UseLog.purpose)
            .where(_span(ctx))
            .distinct()
            .order_by(UseLog.user_type, UseLog.purpose)
        )
        points = []
        for user_type, purpose in pairs:
            key = f"{user_type}·{purpose}"
            cond = and_(_span(ctx), UseLog.user_type == user_type, UseLog.purpose == purpose)
            n = _count(ctx, _visits(cond))
            points.append(Point(key, key, n, n, {"purpose": key}))
        fig.series = points
        fig.count = fig.value = _count(ctx, _visits(_span(ctx)))

    def drill(ctx: Context, params: Mapping[str, str]) -> Drill:
        narrow = _purpose(params)
        cond = _span(ctx) if narrow is None else and_(_span(ctx), narrow)
        return Drill("use", where=_visits(cond))

    return Provider(
        "use.purposes",
        "本年利用目的",
        "人次",
        "利用",
        compute,
        drill,
        "按用户类型与利用目的统计的人次（单位：工作查考、其他；个人：学术研究、权益维护、其他）",
    )


def item(row: UseLog) -> dict[str, Any]:
    """A drill-down row of the 利用登记 (the person shown by kind only, never by name)."""
    who = PERSON_KINDS.get(row.person.split(":", 1)[0], "其他")
    return {
        "id": row.id,
        "day": row.day.isoformat(),
        "person": who,
        "user_type": row.user_type,
        "purpose": row.purpose,
        "channel": row.channel,
        "kind": row.kind,
        "kind_label": KINDS.get(row.kind, row.kind),
        "record_id": row.record_id,
        "title": f"{row.user_type}·{row.purpose}（{who}）",
        "href": f"/records/{row.record_id}" if row.record_id else None,
    }
