"""``lantai demo load`` and ``lantai demo generate``: the demo instance and synthetic records."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from lantai.cli.common import console, open_instance, progress, run
from lantai.demo.generator import GenerateSummary, generate_records, generate_wide_series
from lantai.demo.sample import DemoSummary, load_demo
from lantai.instance import Instance
from lantai.security import Actor
from lantai.settings import Settings

__all__ = ["demo_app"]

demo_app = typer.Typer(help="演示数据：示例实例与批量生成的目录条目", no_args_is_help=True)


@demo_app.command("load")
def load() -> None:
    """载入演示数据（用户、两个全宗、五篇真实讲话文本）；可重复运行，不会重复创建。"""

    def work() -> tuple[Instance, DemoSummary]:
        inst = Instance.initialise(Settings.load())
        return inst, load_demo(inst, actor=Actor.operator())

    inst, summary = run(work)
    try:
        table = Table("用户名", "姓名", "角色", "密级授权", "口令", "状态", title="演示账号")
        for login in summary.logins:
            table.add_row(
                login.username,
                login.display_name,
                login.role_label,
                login.clearance,
                login.password if login.created else "（已存在，口令未重置）",
                "新建" if login.created else "已存在",
            )
        console.print(table)
        fonds = "、".join(f"{code}（ID {rid}）" for code, rid in summary.fonds_ids.items())
        console.print(
            f"全宗：{fonds}；本次新建 {summary.created_records} 个条目"
            f"（其中批量生成 {summary.generated_records} 个）。",
            highlight=False,
        )
        if summary.published_records:
            console.print(
                f"本次上网公布开放档案 {summary.published_records} 件，"
                f"公众可在门户 {summary.url}/portal 检索。",
                highlight=False,
            )
        console.print(f"实例目录：{inst.home}")
        console.print(f"启动后访问：[bold]{summary.url}[/]（`lantai serve` 或 `make demo`）")
    finally:
        inst.close()


@demo_app.command("generate")
def generate(
    records: Annotated[int, typer.Option("--records", "-n", help="生成的条目数")],
    fonds: Annotated[str, typer.Option("--fonds", help="全宗号（不存在时自动创建）")] = "Z109",
    seed: Annotated[int, typer.Option("--seed", help="随机种子：相同种子生成相同内容")] = 0,
    batch: Annotated[int, typer.Option("--batch", help="每个事务写入的条目数")] = 5000,
    wide: Annotated[
        bool,
        typer.Option("--wide", help="全部作为同一个类别的直接下级（用于大节点分页测试）"),
    ] = False,
) -> None:
    """批量生成逼真的文书档案目录条目（用于性能测试）；每批记录一条审计事件。"""
    inst = open_instance()
    try:

        def work() -> GenerateSummary:
            with progress("生成条目", records) as advance:
                if wide:
                    return generate_wide_series(
                        inst,
                        children=records,
                        fonds_code=fonds,
                        seed=seed,
                        batch=batch,
                        progress=advance,
                    )
                return generate_records(
                    inst,
                    records=records,
                    fonds_code=fonds,
                    seed=seed,
                    batch=batch,
                    progress=advance,
                )

        result = run(work)
        console.print(
            f"已生成 {result.count:,} 个条目（全宗 {result.fonds_code}，"
            f"{result.years[0]}—{result.years[1]} 年，{len(result.series_ids)} 个类别，"
            f"{result.batches} 批），用时 {result.seconds:.1f} 秒，"
            f"每秒 {result.per_second:,.0f} 条。",
            highlight=False,
        )
    finally:
        inst.close()
