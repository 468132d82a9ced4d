"""``lantai catalogue import`` and ``lantai catalogue directory``: spreadsheets in, 归档文件目录 out.

Two plain functions with typer annotations; ``cli/main.py`` registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from lantai.catalogue.directory import DirectoryExport, DirectoryFormat, export_directory
from lantai.catalogue.importer import (
    ImportRejected,
    ImportResult,
    import_spreadsheet,
    report_to_xlsx,
)
from lantai.cli.common import console, err_console, open_instance, progress, run
from lantai.errors import NotFound, Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import Record

__all__ = ["export_directory_command", "import_command"]


class _Bar:
    """Adapts :func:`lantai.cli.common.progress` (which wants the total up front)."""

    def __init__(self, stack: ExitStack, description: str) -> None:
        self._stack = stack
        self._description = description
        self._advance: Callable[[int], None] | None = None

    def start(self, total: int | None) -> None:
        self._advance = self._stack.enter_context(progress(self._description, total))

    def advance(self, n: int) -> None:
        if self._advance is not None:
            self._advance(n)


def _find_fonds(inst: Instance, actor: Actor, code: str) -> Record:
    with inst.db.read() as s:
        rec = inst.catalogue.get_by_code(s, actor, code.strip().upper())
    if rec.level != "fonds":
        raise ValidationFailed(
            f"「{code}」不是全宗号",
            [Problem(field="全宗号", value=code, message="请给出全宗号（如 Z109）")],
        )
    return rec


def import_command(
    path: Annotated[
        Path, typer.Argument(help="目录电子表格（.xlsx 或 .csv，UTF-8/GBK）", show_default=False)
    ],
    fonds: Annotated[str, typer.Option("--fonds", help="导入到的全宗号，如 Z109")],
    category: Annotated[
        str | None,
        typer.Option("--category", help="门类代码或名称（如 WS 或 文书）；不给则按表中「门类」列"),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="被拒绝时把逐行问题报告另存为此 XLSX 文件"),
    ] = None,
) -> None:
    """导入目录电子表格（件级）：全部行通过校验才写入，否则一行也不写，并列出逐行问题。"""
    inst = open_instance()
    actor = Actor.operator()

    def go() -> ImportResult:
        target = _find_fonds(inst, actor, fonds)
        with ExitStack() as stack:
            bar = _Bar(stack, "校验并导入")
            try:
                return import_spreadsheet(
                    inst, actor, path, fonds_id=target.id, category=category, progress=bar
                )
            except ImportRejected as exc:
                stack.close()
                if report is not None:
                    report_to_xlsx(exc.problems, report)
                    err_console.print(f"问题报告已保存：{report}", highlight=False, soft_wrap=True)
                raise

    try:
        result = run(go)
    finally:
        inst.close()
    console.print(
        f"[green]导入完成[/]：「{result.filename}」共 {result.rows} 行，新建 {result.imported} 件"
        f"（自动编档号 {result.codes_assigned} 件，沿用表中档号 {result.codes_kept} 件），"
        f"用时 {result.seconds:.1f} 秒",
        highlight=False,
        soft_wrap=True,
    )
    for sid, title in result.series:
        console.print(f"  类别 {sid}：{title}", highlight=False, soft_wrap=True)
    if result.skipped_rows:
        console.print(
            f"  跳过只有序号等辅助列的空行 {result.skipped_rows} 行",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"  批次 {result.batch_uid}（SHA-256 {result.sha256}）", highlight=False, soft_wrap=True
    )


def export_directory_command(
    node: Annotated[
        str, typer.Argument(help="全宗、类别或案卷的档号（或条目编号）", show_default=False)
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="输出文件（.xlsx 或 .pdf）")],
    fmt: Annotated[
        DirectoryFormat | None,
        typer.Option("--format", help="xlsx 或 pdf；不给则按输出文件扩展名"),
    ] = None,
) -> None:
    """导出归档文件目录（DA/T 22-2015）：XLSX 或 PDF（A4 横向，每页重复表头）。"""
    inst = open_instance()
    actor = Actor.operator()
    chosen = fmt or (DirectoryFormat.PDF if out.suffix.lower() == ".pdf" else DirectoryFormat.XLSX)

    def go() -> DirectoryExport:
        with inst.db.read() as s:
            try:
                rec = inst.catalogue.get_by_code(s, actor, node)
            except NotFound:
                if not node.strip().isdigit():
                    raise
                rec = inst.catalogue.get(s, actor, int(node))
        return export_directory(inst, actor, rec.id, out, chosen)

    try:
        result = run(go)
    finally:
        inst.close()
    pages = f"，共 {result.pages} 页" if result.pages is not None else ""
    console.print(
        f"[green]已导出[/]归档文件目录 {result.rows} 件{pages}：{result.path}",
        highlight=False,
        soft_wrap=True,
    )
