"""``lantai disposal``: 到期鉴定 candidates, batches, round decisions, execution, 销毁清册."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from lantai.cli.common import console, fail, open_instance, run
from lantai.disposal import (
    Decision,
    batch_json,
    create_batch,
    decide,
    execute,
    find_expired,
    get_batch,
)
from lantai.disposal.service import REGISTER_FILES
from lantai.errors import NotFound
from lantai.instance import Instance
from lantai.security import Actor
from lantai.storage import open_store
from lantai.store import DisposalBatch

__all__ = ["disposal_app"]

disposal_app = typer.Typer(help="到期鉴定与销毁", no_args_is_help=True)

AsUser = Annotated[
    str | None,
    typer.Option("--as", help="以此用户的身份与权限操作（记为鉴定人）；默认命令行操作员"),
]


def _date(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else date.today()
    except ValueError:
        fail(f"日期「{value}」格式不对，应为 YYYY-MM-DD")


def _actor(inst: Instance, username: str | None) -> Actor:
    if username is None:
        return Actor.operator()
    with inst.db.read() as s:
        user = inst.users.get(s, username)
        return inst.users.actor_for(s, user)


@disposal_app.command("candidates")
def candidates(
    as_of: Annotated[str | None, typer.Option("--as-of", help="按此日期计算（YYYY-MM-DD）")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
) -> None:
    """列出保管期限已到期的条目（形成年度 + 保管期限 ≤ 当年；永久不列）。"""
    inst = open_instance()
    try:
        with inst.db.read() as s:
            found = find_expired(s, inst.domain.table("retention"), as_of=_date(as_of))
    finally:
        inst.close()
    if as_json:
        console.print_json(json.dumps([e.to_dict() for e in found], ensure_ascii=False))
        return
    table = Table("ID", "档号", "题名", "形成年度", "保管期限", "到期年度")
    for e in found:
        table.add_row(
            str(e.record_id),
            e.archival_code or "",
            e.title,
            str(e.formation_year),
            e.retention,
            str(e.expiry_year),
        )
    console.print(table)
    console.print(f"共 {len(found)} 项到期")


@disposal_app.command("batch")
def batch(
    title: Annotated[str, typer.Option("--title", help="批次名称")],
    record: Annotated[
        list[int] | None, typer.Option("--record", help="条目 ID（可重复）；不填则全部到期条目")
    ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="按此日期计算（YYYY-MM-DD）")] = None,
    user: AsUser = None,
) -> None:
    """创建到期鉴定批次。"""
    inst = open_instance()
    try:
        actor = run(lambda: _actor(inst, user))

        def work() -> str:
            with inst.db.write() as s:
                b = create_batch(inst, s, actor, title=title, record_ids=record, as_of=_date(as_of))
                return f"{b.uid}（{len(batch_json(s, b)['items'])} 项）"

        console.print(f"已创建鉴定批次 {run(work)}")
    finally:
        inst.close()


@disposal_app.command("show")
def show(uid: Annotated[str, typer.Argument(help="批次 ID")]) -> None:
    """显示批次条目与逐轮鉴定意见（JSON）。"""
    inst = open_instance()
    try:
        with inst.db.read() as s:
            doc = run(lambda: batch_json(s, get_batch(s, uid)))
    finally:
        inst.close()
    console.print_json(json.dumps(doc, ensure_ascii=False))


@disposal_app.command("decide")
def decide_command(
    uid: Annotated[str, typer.Argument(help="批次 ID")],
    round_no: Annotated[int, typer.Option("--round", help="轮次（1 起）")],
    record: Annotated[list[int], typer.Option("--record", help="条目 ID（可重复）")],
    reason: Annotated[str, typer.Option("--reason", help="鉴定理由")],
    destroy: Annotated[bool, typer.Option("--destroy", help="结论：销毁")] = False,
    extend: Annotated[
        str | None, typer.Option("--extend", help="结论：延长保管期限至此代码（如 D30、Y）")
    ] = None,
    user: AsUser = None,
) -> None:
    """记录一轮鉴定意见：--destroy 或 --extend 新保管期限。"""
    if destroy == (extend is not None):
        fail("须且只能选择 --destroy 或 --extend 之一")
    inst = open_instance()
    try:
        actor = run(lambda: _actor(inst, user))
        decisions = [
            Decision(r, "destroy", reason) if destroy else Decision(r, "extend", reason, extend)
            for r in record
        ]

        def work() -> None:
            with inst.db.write() as s:
                decide(inst, s, actor, uid, round_no, decisions)

        run(work)
        console.print(f"已记录第 {round_no} 轮意见 {len(decisions)} 项（鉴定人 {actor.username}）")
    finally:
        inst.close()


@disposal_app.command("execute")
def execute_command(
    uid: Annotated[str, typer.Argument(help="批次 ID")],
    user: AsUser = None,
) -> None:
    """执行审批结论：销毁（移除电子文件，保留目录）与延长保管期限；生成并保存销毁清册。"""
    inst = open_instance()
    try:
        actor = run(lambda: _actor(inst, user))
        summary = run(lambda: execute(inst, actor, uid))
    finally:
        inst.close()
    console.print(
        f"已销毁 {summary['destroyed']} 项（电子文件 {summary['files']} 个），延长保管期限 {summary['extended']} 项"
    )
    for key in summary["register"]:
        console.print(f"  销毁清册：{key}")


@disposal_app.command("register")
def register(
    uid: Annotated[str | None, typer.Argument(help="批次 ID；不填则列出全部销毁清册")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="把该批次的销毁清册（XLSX、PDF）导出到此目录")
    ] = None,
) -> None:
    """列出销毁清册（永久保存），或导出某批次的清册文件。"""
    inst = open_instance()
    try:
        with inst.db.read() as s:
            if uid is None:
                rows = s.scalars(
                    select(DisposalBatch)
                    .where(DisposalBatch.state == "executed")
                    .order_by(DisposalBatch.executed_at)
                ).all()
                table = Table("批次", "名称", "执行时间", "销毁", "延期", "清册")
                for b in rows:
                    table.add_row(
                        b.uid[:8],
                        b.title,
                        b.executed_at.strftime("%Y-%m-%d %H:%M") if b.executed_at else "",
                        str(b.summary.get("destroyed", 0)),
                        str(b.summary.get("extended", 0)),
                        "；".join(b.summary.get("register", [])),
                    )
                console.print(table)
                return
            b = run(lambda: get_batch(s, uid))
        if not b.register_package:
            run(lambda: (_ for _ in ()).throw(NotFound("该批次尚未执行，没有销毁清册")))
        store = open_store(inst.settings)
        target = out or Path(".")
        target.mkdir(parents=True, exist_ok=True)
        for name in REGISTER_FILES:
            with store.open(f"{b.register_package}/{name}") as f:
                (target / name).write_bytes(f.read())
            console.print(f"已导出 {target / name}")
    finally:
        inst.close()
