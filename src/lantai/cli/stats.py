"""``lantai stats``: the dashboard summary and the annual statistics form (档案馆基本情况表)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lantai.cli.common import console, err_console, fail, open_instance, run
from lantai.dashboard import annual_form, catch_up, check, rebuild, write_xlsx

__all__ = ["stats_app"]

stats_app = typer.Typer(help="统计：一屏掌控汇总与档案馆基本情况表", no_args_is_help=True)


@stats_app.command("annual")
def annual(
    year: Annotated[int, typer.Option("--year", "-y", help="统计年度")],
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="导出为 XLSX（官方表式）")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="逐项按条目重新计数核对")] = False,
) -> None:
    """计算某年度的档案馆基本情况表各项指标；--xlsx 导出，--verify 核对每项等于其条目之和。"""
    inst = open_instance()
    try:
        form = run(lambda: annual_form(inst, year, verify=verify))
        table = Table("代码", "名称", "计量单位", "数量", "说明")
        for r in form.rows:
            value = "" if r.value is None else str(r.value)
            table.add_row(
                str(r.code),
                r.name,
                r.unit,
                value,
                r.note if r.status == "ok" else f"未启用：{r.note}",
            )
        console.print(table)
        if xlsx is not None:
            write_xlsx(form, xlsx, archive_name=inst.settings.archive_name or "")
            console.print(f"已导出：{xlsx}")
        if form.problems:
            for p in form.problems:
                err_console.print(f"[bold red]核对不符：[/]{p}", highlight=False)
            raise typer.Exit(1)
        if verify:
            console.print("核对通过：每项指标都等于其条目之和。")
    finally:
        inst.close()


@stats_app.command("refresh")
def refresh() -> None:
    """把审计日志中尚未计入的事件计入统计汇总。"""
    inst = open_instance()
    try:
        done = run(lambda: catch_up(inst.db, max_events=5000))
        console.print(
            f"已计入 {done.events} 条事件（重算 {done.partitions} 个分区，新增 {done.delta_records} 条），"
            f"汇总至第 {done.seq} 条，耗时 {done.seconds:.2f} 秒"
        )
    finally:
        inst.close()


@stats_app.command("rebuild")
def rebuild_command() -> None:
    """按全部条目重新计算统计汇总（导入数据库、直接改库之后使用）。"""
    inst = open_instance()
    try:
        done = run(lambda: rebuild(inst.db))
        console.print(
            f"已重算 {done.partitions} 个分区，汇总至第 {done.seq} 条事件，耗时 {done.seconds:.1f} 秒"
        )
    finally:
        inst.close()


@stats_app.command("check")
def check_command() -> None:
    """核对统计汇总与条目是否一致（不一致则列出并以状态 1 退出）。"""
    inst = open_instance()
    try:
        catch_up(inst.db, max_events=5000)
        bad = check(inst.db)
        if bad:
            for m in bad[:50]:
                err_console.print(
                    f"分区 {m.partition}：汇总 {m.summary}，条目 {m.records}", highlight=False
                )
            fail(f"统计汇总与条目不一致：{len(bad)} 处（运行 `lantai stats rebuild` 重算）")
        console.print("统计汇总与条目一致。")
    finally:
        inst.close()
