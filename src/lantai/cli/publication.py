"""``lantai publication``: 上网审查 batches and decisions, the 开放档案目录 export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lantai.appraisal.publication import FORMATS, PublicationService, export_open_catalogue
from lantai.cli.common import console, fail, open_instance, run
from lantai.security import Actor
from lantai.store import PublicationDecision

__all__ = ["publication_app"]

publication_app = typer.Typer(
    help="上网审查：批次、准予或不予上网、撤下、导出开放档案目录", no_args_is_help=True
)
_LEVELS = {
    "file": "file",
    "item": "item",
    "案卷级": "file",
    "文件级": "item",
    "案卷": "file",
    "件": "item",
}


def _level(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in _LEVELS:
        fail(f"层级「{value}」不对，应为 file（案卷级）或 item（文件级）")
    return _LEVELS[value]


@publication_app.command("batch")
def batch(
    title: Annotated[str, typer.Option("--title", help="批次名称")],
    fonds: Annotated[
        str | None, typer.Option("--fonds", help="全宗号：取其尚未公布的开放案卷与件")
    ] = None,
    year: Annotated[int | None, typer.Option("--year", help="只取此年度")] = None,
    level: Annotated[
        str | None, typer.Option("--level", help="file（案卷级）或 item（文件级）")
    ] = None,
    record: Annotated[list[int] | None, typer.Option("--record", help="条目 id（可重复）")] = None,
    note: Annotated[str, typer.Option("--note", help="备注")] = "",
) -> None:
    """创建上网审查批次（只收开放、未撤销、尚未公布的案卷与件；案卷带上其开放的件）。"""
    inst = open_instance()
    svc = PublicationService(inst)

    def work() -> tuple[int, int]:
        with inst.db.write() as s:
            b = svc.create_batch(
                s,
                Actor.operator(),
                title=title,
                record_ids=record or [],
                fonds=fonds,
                year=year,
                level=_level(level),  # type: ignore[arg-type]
                note=note,
            )
            return b.id, len(svc.items(s, Actor.operator(), b.id))

    bid, n = run(work)
    console.print(f"已创建上网审查批次 {bid}：{n} 条待审查")


def _decide(batch_id: int, decision: str, reason: str, record: list[int] | None) -> None:
    inst = open_instance()
    svc = PublicationService(inst)

    def work() -> tuple[list[int], int]:
        with inst.db.write() as s:
            rep = svc.decide(
                s,
                Actor.operator(),
                batch_id,
                "approve" if decision == "approve" else "reject",
                reason=reason,
                record_ids=record or None,
            )
            return rep.record_ids, rep.masked_spans

    ids, spans = run(work)
    if decision == "approve":
        console.print(f"已准予上网 {len(ids)} 条（遮蔽个人信息 {spans} 处）")
    else:
        console.print(f"已不予上网 {len(ids)} 条")


@publication_app.command("approve")
def approve(
    batch_id: Annotated[int, typer.Argument(help="批次号")],
    reason: Annotated[str, typer.Option("--reason", help="理由")] = "",
    record: Annotated[
        list[int] | None, typer.Option("--record", help="只审这些条目（可重复）")
    ] = None,
) -> None:
    """准予上网：批次中全部待审条目，或 --record 指定的条目。控制的档案一律拒绝。"""
    _decide(batch_id, "approve", reason, record)


@publication_app.command("reject")
def reject(
    batch_id: Annotated[int, typer.Argument(help="批次号")],
    reason: Annotated[str, typer.Option("--reason", help="理由（必填）")],
    record: Annotated[
        list[int] | None, typer.Option("--record", help="只审这些条目（可重复）")
    ] = None,
) -> None:
    """不予上网（须说明理由）。"""
    _decide(batch_id, "reject", reason, record)


@publication_app.command("unpublish")
def unpublish(
    record: Annotated[list[int], typer.Option("--record", help="条目 id（可重复）")],
    reason: Annotated[str, typer.Option("--reason", help="理由（必填）")],
) -> None:
    """撤下已公布的条目。"""
    inst = open_instance()
    svc = PublicationService(inst)

    def work() -> list[int]:
        with inst.db.write() as s:
            return svc.unpublish(s, Actor.operator(), record, reason=reason)

    console.print(f"已撤下 {len(run(work))} 条")


@publication_app.command("reconcile")
def reconcile() -> None:
    """撤下开放标识已不是「开放」或已撤销的已公布条目。"""
    inst = open_instance()
    svc = PublicationService(inst)

    def work() -> list[int]:
        with inst.db.write() as s:
            return svc.reconcile(s, Actor.operator())

    console.print(f"已自动撤下 {len(run(work))} 条")


@publication_app.command("list")
def list_batches(
    batch_id: Annotated[int | None, typer.Argument(help="批次号：列出其条目")] = None,
) -> None:
    """列出上网审查批次，或一个批次的条目及审查结论。"""
    inst = open_instance()
    svc = PublicationService(inst)
    op = Actor.operator()

    def work() -> Table:
        with inst.db.read() as s:
            if batch_id is None:
                table = Table("批次", "名称", "创建人", "创建时间", "待审", "准予", "不予")
                for b in svc.batches(s, op):
                    items = [i for i, _ in svc.items(s, op, b.id)]
                    n = {
                        d: sum(1 for i in items if i.decision == d.value)
                        for d in PublicationDecision
                    }
                    table.add_row(
                        str(b.id),
                        b.title,
                        b.created_by,
                        f"{b.created_at:%Y-%m-%d %H:%M}",
                        str(n[PublicationDecision.PENDING]),
                        str(n[PublicationDecision.APPROVED]),
                        str(n[PublicationDecision.REJECTED]),
                    )
                return table
            table = Table("条目", "档号", "题名", "开放标识", "结论", "审查人", "理由", "遮蔽")
            for i, r in svc.items(s, op, batch_id):
                table.add_row(
                    str(r.id),
                    r.archival_code or "",
                    r.title[:40],
                    r.open_status or "",
                    PublicationDecision(i.decision).label,
                    i.reviewer or "",
                    i.reason,
                    str(i.masked_spans),
                )
            return table

    console.print(run(work))


@publication_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="输出文件（.xlsx 或 .pdf）")],
    level: Annotated[str, typer.Option("--level", help="file（案卷级）或 item（文件级）")] = "item",
    fonds: Annotated[str | None, typer.Option("--fonds", help="只导出此全宗")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="xlsx 或 pdf（默认按扩展名）")] = None,
) -> None:
    """导出开放档案目录（只含已公布、仍为开放的条目，个人信息已遮蔽）。"""
    fmt = fmt or out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        fail(f"格式「{fmt}」不对，应为 xlsx 或 pdf")
    inst = open_instance()
    svc = PublicationService(inst)
    lvl = _level(level) or "item"
    res = run(
        lambda: export_open_catalogue(
            inst, svc.config, out, level=lvl, fmt=fmt, fonds=fonds, actor=Actor.operator()
        )
    )
    console.print(f"已导出开放档案目录 {res.rows} 条：{res.path}")
