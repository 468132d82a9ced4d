"""一屏掌控 figures of long-term preservation: copies satisfying the storage policy, the last
fixity audit, open storage alerts, records destroyed this year (到期鉴定)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from lantai.dashboard.figures import Context, Figure, Provider, _pct
from lantai.storage.ledger import CopyState
from lantai.storage.policy import load_policy
from lantai.store import Alert, DisposalItem, FixityRun, StorageCopy

__all__ = ["copies_satisfied", "destroyed_this_year", "fixity_last", "open_alerts"]


def copies_satisfied() -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        policy = load_policy(ctx.inst.settings.resolved_config_dir)
        required = set(policy.required)
        rows = ctx.session.execute(
            select(
                StorageCopy.package_id,
                StorageCopy.location,
                StorageCopy.state,
                StorageCopy.package_digest,
            )
        )
        packages: dict[str, dict[str, tuple[str, str | None]]] = {}
        for pid, loc, state, digest in rows:
            packages.setdefault(pid, {})[loc] = (state, digest)
        ok = 0
        for copies in packages.values():
            primary = copies.get(policy.primary.name)
            if primary is None or primary[0] != CopyState.PRESENT or not primary[1]:
                continue
            if all(
                copies.get(name, ("", None)) == (CopyState.PRESENT.value, primary[1])
                for name in required
            ):
                ok += 1
        fig.count = ok
        fig.parts = {"satisfied": ok, "packages": len(packages)}
        fig.value = _pct(ok, len(packages)) if packages else None
        if not packages:
            fig.note = "副本台账中尚无信息包"

    return Provider(
        "storage.copies",
        "存储副本达标",
        "%",
        "存储",
        compute,
        None,
        "存储策略要求的每个副本都已写入并与主存储一致的信息包占比",
    )


def fixity_last() -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        last = ctx.session.scalars(
            select(FixityRun)
            .where(FixityRun.finished_at.is_not(None))
            .order_by(FixityRun.finished_at.desc(), FixityRun.id.desc())
        ).first()
        failing = int(
            ctx.session.scalar(
                select(func.count()).select_from(FixityRun).where(FixityRun.unrecoverable > 0)
            )
            or 0
        )
        fig.parts = {"runs_with_unrecoverable": failing}
        if last is None or last.finished_at is None:
            fig.note = "尚未进行固定性检测（lantai audit fixity）"
            return
        fig.value = fig.count = max(0, (ctx.today - last.finished_at.date()).days)
        result = (
            "未能进行"
            if last.state == "failed"
            else f"不可恢复 {last.unrecoverable}"
            if last.unrecoverable
            else f"发现 {last.failures}，已修复 {last.repaired}"
            if last.failures
            else "通过"
        )
        fig.note = (
            f"最近一次：{last.location}，{last.finished_at:%Y-%m-%d %H:%M}，"
            f"{last.objects} 个对象，{result}"
        )

    return Provider("storage.fixity", "最近固定性检测", "天前", "存储", compute)


def open_alerts() -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        rows = ctx.session.execute(
            select(Alert.severity, func.count())
            .where(Alert.resolved_at.is_(None), Alert.kind.like("storage.%"))
            .group_by(Alert.severity)
        ).all()
        counts = {str(k): int(v) for k, v in rows}
        fig.value = fig.count = sum(counts.values())
        fig.parts = {"critical": counts.get("critical", 0), "warning": counts.get("warning", 0)}

    return Provider(
        "storage.alerts", "存储告警", "条", "存储", compute, None, "未处理的存储告警（严重/警告）"
    )


def destroyed_this_year() -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        lo = datetime(ctx.year, 1, 1, tzinfo=UTC)
        hi = datetime(ctx.year + 1, 1, 1, tzinfo=UTC)
        q = select(func.count(), func.coalesce(func.sum(DisposalItem.files), 0)).where(
            DisposalItem.state == "destroyed", DisposalItem.done_at >= lo, DisposalItem.done_at < hi
        )
        n, files = ctx.session.execute(q).one()
        fig.value = fig.count = int(n)
        fig.parts = {"units": int(n), "files": int(files)}

    return Provider(
        "disposal.destroyed",
        "本年销毁",
        "卷（件）",
        "存储",
        compute,
        None,
        "经到期鉴定批准、本年执行销毁的卷、件（目录与销毁清册永久保存）",
    )
