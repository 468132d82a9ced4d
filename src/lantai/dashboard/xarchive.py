"""一屏掌控 figure of 跨馆查档出证 (issue 9): requests open at this node, overdue, due soon.

The counts are :func:`lantai.federation.livelihood.deadline_summary` on the dashboard's day:
``open`` is every request not closed, on either side; ``overdue`` and ``due_soon`` count only
the requests whose running deadline is this node's (a request waiting on the partner is open
here but its lateness is the partner's). The parts split them by side (受理馆 / 出证馆).
"""

from __future__ import annotations

from lantai.dashboard.figures import Context, Figure, Provider

__all__ = ["xarchive_open"]


def xarchive_open() -> Provider:
    def compute(ctx: Context, fig: Figure) -> None:
        from lantai.federation.livelihood import deadline_summary

        summary = deadline_summary(ctx.inst, ctx.session, ctx.today)
        fig.value = fig.count = int(summary["open"])
        sides = summary["by_side"]
        fig.parts = {
            "open": int(summary["open"]),
            "overdue": int(summary["overdue"]),
            "due_soon": int(summary["due_soon"]),
            **{
                f"{side}_{k}": int(sides.get(side, {}).get(k, 0))
                for side in ("accepting", "holding")
                for k in ("open", "overdue")
            },
        }
        if summary["total"] == 0:
            fig.note = "尚无跨馆查档申请"
        else:
            fig.note = (
                f"办理中 {summary['open']} 件，其中本馆逾期 {summary['overdue']} 件、"
                f"即将到期 {summary['due_soon']} 件（工作日计）"
            )

    return Provider(
        "xarchive.open",
        "跨馆利用申请（办理中/超期）",
        "件",
        "利用",
        compute,
        None,
        "跨馆查档出证：未办结的申请（受理与出证两侧），本馆逾期与即将到期件数",
    )
