"""``lantai export ead3`` and ``lantai import-ead``: plain functions registered by ``cli.main``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from lantai.catalogue.ead3 import export_ead3
from lantai.catalogue.ead2002 import import_ead2002
from lantai.cli.common import console, open_instance, run
from lantai.errors import NotFound
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import Record

__all__ = ["export_ead3_command", "import_ead_command"]


def _resolve(inst: Instance, node: str) -> int:
    """A record by 档号 (tried first: a 全宗号 may be all digits) or by numeric ID."""
    node = node.strip()
    with inst.db.read() as s:
        rid = s.scalar(select(Record.id).where(Record.archival_code == node))
    if rid is not None:
        return int(rid)
    if node.isdigit():
        return int(node)
    raise NotFound(f"档号「{node}」不存在")


def export_ead3_command(
    node: Annotated[str, typer.Argument(help="要导出的条目：档号（如全宗号 Z109）或条目 ID")],
    out: Annotated[Path, typer.Option("--out", "-o", help="输出的 EAD3 XML 文件路径")],
) -> None:
    """Export a fonds (or any unit) and everything under it as EAD3 XML."""
    inst = open_instance()
    try:

        def work() -> None:
            actor = Actor.operator()
            result = export_ead3(inst, actor, _resolve(inst, node), out)
            console.print(
                f"已导出 EAD3：{result.records} 个著录单元（{result.components} 个 <c>），"
                f"{result.size:,} 字节 → {out}\nSHA-256：{result.sha256}",
                highlight=False,
                soft_wrap=True,
            )

        run(work)
    finally:
        inst.close()


def import_ead_command(
    path: Annotated[Path, typer.Argument(help="EAD 2002 XML 文件（XSD 命名空间版本）")],
    fonds_code: Annotated[
        str | None,
        typer.Option(
            "--fonds-code", help="新全宗的全宗号；不填时使用 archdesc 的 unitid（须为 4 位）"
        ),
    ] = None,
    category: Annotated[
        str, typer.Option("--category", help="组件所属门类代码（默认 WS 文书）")
    ] = "WS",
) -> None:
    """Import an EAD 2002 finding aid as a new fonds; all or nothing."""
    inst = open_instance()
    try:

        def work() -> None:
            result = import_ead2002(
                inst, Actor.operator(), path, fonds_code=fonds_code, category=category
            )
            levels = "，".join(f"{k} {v}" for k, v in sorted(result.levels.items()))
            console.print(
                f"已导入全宗 {result.fonds_code}：{result.components} 个 EAD 组件，"
                f"新建 {result.records} 条（{levels}）",
                highlight=False,
                soft_wrap=True,
            )
            if result.notes:
                console.print("导入时的著录调整：", highlight=False, soft_wrap=True)
                for note in result.notes:
                    console.print(f"  - {note}", highlight=False, soft_wrap=True)

        run(work)
    finally:
        inst.close()
