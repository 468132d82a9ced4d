"""``lantai preserve …``: format migration (格式迁移) to long-term formats."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from lantai.cli.common import console, fail, open_instance, run
from lantai.preservation import list_migrations, migrate
from lantai.preservation.tasks import enqueue_migration

__all__ = ["preserve_app"]

preserve_app = typer.Typer(
    help="长期保存处置：格式迁移（转换为 PDF/A，保留原件）", no_args_is_help=True
)


@preserve_app.command("migrate")
def migrate_command(
    transfer: Annotated[str | None, typer.Option("--transfer", help="移交 ID")] = None,
    record: Annotated[int | None, typer.Option("--record", help="档案 ID（含其下各级）")] = None,
    everything: Annotated[bool, typer.Option("--all", help="全部馆藏")] = False,
    queue: Annotated[bool, typer.Option("--queue", help="作为后台作业排队，不在此运行")] = False,
    actor: Annotated[
        str, typer.Option("--as", help="记录在事件中的操作人")
    ] = "system:preservation",
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
) -> None:
    """按格式迁移策略把 DOCX/DOC/XLSX/XLS/PPTX/RTF/ODT 等转换为 PDF/A-2b（原件保留）。"""
    if sum((transfer is not None, record is not None, everything)) != 1:
        fail("请指定且只指定一个范围：--transfer、--record 或 --all")
    inst = open_instance()
    try:
        if queue:
            with inst.db.write() as s:
                job = enqueue_migration(
                    s, actor=actor, transfer_uid=transfer, record_id=record, everything=everything
                )
                job_id = job.id
            console.print(f"已排队格式迁移作业 {job_id}（lantai serve / lantai worker 执行）")
            return
        summary = run(
            lambda: migrate(
                inst, actor, transfer_uid=transfer, record_id=record, everything=everything
            )
        )
    finally:
        inst.close()
    if as_json:
        console.print_json(json.dumps(summary.as_dict(), ensure_ascii=False))
        return
    console.print(
        f"文件 {summary.files} 个：已迁移 {summary.converted}，此前已迁移 {summary.already}，"
        f"长期保存格式保留 {summary.kept}，无适用规则 {summary.unmatched}，"
        f"未转换 {summary.skipped}，转换失败 {summary.failed}",
        highlight=False,
    )
    for p in summary.packages:
        console.print(f"  派生件信息包：{p}", highlight=False)
    for item in summary.listed:
        console.print(f"  [{item['state']}] 档案 {item['record']} {item['file']}：{item['reason']}")


@preserve_app.command("list")
def list_command(
    state: Annotated[
        str | None, typer.Option("--state", help="done（已迁移）| skipped | failed")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
) -> None:
    """列出格式迁移记录：派生件与原件的对应，以及未能转换的文件和原因。"""
    if state is not None and state not in ("done", "skipped", "failed"):
        fail("--state 应为 done、skipped 或 failed")
    inst = open_instance()
    try:
        with inst.db.read() as s:
            rows = list_migrations(s, state=state)
    finally:
        inst.close()
    if as_json:
        console.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("档号", "原件", "状态", "派生件 / 原因")
    for r in rows:
        table.add_row(
            r["archival_code"] or str(r["record_id"]),
            r["original"],
            r["state_label"],
            r["derivative"] or r["reason"] or "",
        )
    console.print(table)
