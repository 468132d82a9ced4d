"""``lantai backup create|list|verify`` and ``lantai restore``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from lantai.backup import create_backup, restore_backup, verify_backup
from lantai.cli.common import console, fail, open_instance, run
from lantai.security import Actor
from lantai.settings import Settings
from lantai.store import Backup

__all__ = ["backup_app", "restore_command"]

backup_app = typer.Typer(help="备份与可恢复性检测（备份含密钥，须妥善保管）", no_args_is_help=True)


@backup_app.command("create")
def create(
    dest: Annotated[Path, typer.Option("--dest", help="备份存放目录（不能在实例目录内）")],
    content: Annotated[
        bool, typer.Option("--content", help="同时备份本地存储中的全部信息包（电子文件）")
    ] = False,
) -> None:
    """创建备份：数据库（SQLite 在线备份 / pg_dump）、配置、审计密钥与见证文件、清单（SHA-256 + SM3）。"""
    inst = open_instance()
    try:
        row = run(lambda: create_backup(inst, dest, Actor.operator(), content=content))
        head = row.counts["audit_head"]
        console.print(f"备份已创建：{row.path}")
        console.print(
            f"  文件 {row.files} 个，{row.bytes} 字节；审计链末条 #{head['seq']}；清单 SHA-256 {row.manifest_sha256}"
        )
        console.print("  [bold]备份含审计密钥，请按涉密介质妥善保管。[/]")
    finally:
        inst.close()


@backup_app.command("list")
def list_backups() -> None:
    """列出备份登记及最近一次可恢复性检测结果。"""
    inst = open_instance()
    try:
        with inst.db.read() as s:
            rows = s.scalars(select(Backup).order_by(Backup.id.desc())).all()
        table = Table("ID", "时间", "数据库", "含电子文件", "文件数", "检测", "位置")
        for r in rows:
            verdict = {None: "未检测", True: "可恢复", False: "失败"}[r.verified_ok]
            table.add_row(
                r.uid[:8],
                r.created_at.strftime("%Y-%m-%d %H:%M"),
                r.database,
                "是" if r.with_content else "否",
                str(r.files),
                verdict,
                r.path,
            )
        console.print(table)
    finally:
        inst.close()


@backup_app.command("verify")
def verify(
    backup: Annotated[str, typer.Argument(help="备份 ID、路径或 latest")] = "latest",
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
) -> None:
    """可恢复性检测（DA/T 70 BC-3-4）：恢复到临时实例，比对数量、审计链末条与摘要并登记结果。"""
    inst = open_instance()
    try:
        row = run(lambda: verify_backup(inst, backup, Actor.operator()))
    finally:
        inst.close()
    if as_json:
        console.print_json(json.dumps({"ok": row.ok, **row.detail}, ensure_ascii=False))
    elif row.ok:
        console.print(f"可恢复：数量、审计链末条与摘要一致（{row.detail.get('seconds')} 秒）")
    else:
        for p in row.detail.get("problems", []):
            console.print(f"  - {p}", highlight=False)
        fail("备份不可恢复或与登记不符")
    if not row.ok:
        raise typer.Exit(1)


def restore_command(
    backup: Annotated[Path, typer.Argument(help="备份目录")],
    home: Annotated[Path, typer.Option("--home", help="新实例目录（须不存在或为空）")],
    database_url: Annotated[
        str, typer.Option("--database-url", help="PostgreSQL 备份：恢复到此空数据库")
    ] = "",
) -> None:
    """从备份恢复到一个空实例；先校验备份清单，恢复后比对审计链、数量与摘要。"""
    settings = Settings(home=home, database_url=database_url, config_dir=None)
    report = run(lambda: restore_backup(backup, settings))
    if report.ok:
        console.print(f"已恢复到 {report.home}：审计链、数量与摘要与备份一致")
        if report.files_checked:
            console.print(f"  电子文件 {report.files_checked} 个，摘要一致")
        console.print(f"  使用：export LANTAI_HOME={report.home}")
    else:
        for p in report.problems:
            console.print(f"  - {p}", highlight=False)
        fail("已恢复，但与备份清单不一致（见上）")
