"""``lantai node``: this archive as a federation node, its partner registry and the outbox."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select

from lantai.cli.common import console, fail, open_instance, run
from lantai.federation.identity import get_node, init_node, node_info
from lantai.federation.livelihood import deadline_summary
from lantai.federation.outbox import deliver_due
from lantai.federation.registry import list_partners, set_enabled, trust_partner_keys
from lantai.security import Actor
from lantai.store.federation import FederationOutbox

__all__ = ["node_app"]

node_app = typer.Typer(help="跨馆协作节点：本馆身份、协作馆登记、消息送达", no_args_is_help=True)


@node_app.command("init")
def init(
    url: Annotated[
        str | None,
        typer.Option("--url", help="协作馆访问本馆的地址（缺省为 LANTAI_PUBLIC_BASE_URL）"),
    ] = None,
) -> None:
    """设置本馆节点（档案馆代码与名称取 `lantai init` 的设置；签名密钥即证明签名密钥）。"""
    inst = open_instance()

    def go() -> dict[str, Any]:
        with inst.db.write() as s:
            init_node(inst, s, Actor.operator(), base_url=url)
        with inst.db.read() as s:
            return node_info(s)

    info = run(go)
    console.print(f"本馆节点：{info['archive_code']} {info['name']}  {info['base_url']}")
    for k in info["keys"]["keys"]:
        console.print(f"  签名公钥 {k['key_id']}（{k['algorithm']}）")


@node_app.command("show")
def show(
    as_json: Annotated[
        bool, typer.Option("--json", help="输出节点文档（含公钥，可交协作馆登记）")
    ] = False,
) -> None:
    """显示本馆节点、协作馆数与跨馆查档的未办结/逾期件数。"""
    inst = open_instance()
    with inst.db.read() as s:
        if get_node(s) is None:
            fail("本馆尚未设置跨馆协作节点：请运行 `lantai node init --url 本馆地址`")
        info = node_info(s)
        summary = deadline_summary(inst, s)
        n_partners = len(list_partners(s))
    if as_json:
        console.print_json(json.dumps(info, ensure_ascii=False))
        return
    console.print(f"本馆节点：{info['archive_code']} {info['name']}  {info['base_url']}")
    console.print(
        f"协作馆 {n_partners} 个；跨馆查档未办结 {summary['open']} 件，逾期 {summary['overdue']} 件，即将到期 {summary['due_soon']} 件"
    )


@node_app.command("add-partner")
def add_partner_command(
    url: Annotated[str, typer.Option("--url", help="协作馆地址")],
    code: Annotated[
        str | None, typer.Option("--code", help="协作馆档案馆代码（缺省取对方节点信息）")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="协作馆名称（缺省取对方节点信息）")
    ] = None,
    keys: Annotated[
        Path | None, typer.Option("--keys", help="对方导出的公钥集文件（缺省从对方节点读取）")
    ] = None,
) -> None:
    """登记协作馆：地址、档案馆代码与待核公钥（并登记其 OAI-PMH 地址）；信任公钥另用 `lantai node trust`。"""
    from lantai.web.api.federation import PartnerIn, register_partner

    inst = open_instance()
    doc = None
    if keys is not None:
        try:
            doc = json.loads(keys.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            fail(f"读取公钥集 {keys} 失败：{exc}")
    body = PartnerIn(base_url=url, archive_code=code, name=name, keys=doc)
    row = run(lambda: register_partner(inst, Actor.operator(), body))
    console.print(f"已登记协作馆 {row['archive_code']} {row['name']}  {row['base_url']}")
    for key_id in row["key_ids"]:
        console.print(f"  受信任公钥 {key_id}")
    for k in row["offered_keys"]:
        console.print(f"  待核公钥 {k['key_id']}（{k['algorithm']}）")
    if row["offered_keys"]:
        console.print(
            "请与对方当面或电话核对以上指纹，再由安全保密员信任："
            f"lantai node trust {row['archive_code']} --key <指纹>"
        )


@node_app.command("trust")
def trust(
    code: Annotated[str, typer.Argument(help="协作馆档案馆代码")],
    key: Annotated[
        list[str], typer.Option("--key", help="要信任的公钥指纹（key_id，须已与对方核对）")
    ],
) -> None:
    """信任协作馆提交的公钥（安全保密员的决定；与网页上的「信任公钥」相同）。"""
    inst = open_instance()

    def go() -> list[str]:
        with inst.db.write() as s:
            return list(trust_partner_keys(inst, s, Actor.operator(), code, key).key_ids)

    ids = run(go)
    console.print(f"协作馆 {code} 受信任公钥：{'、'.join(ids)}")


@node_app.command("list")
def list_command() -> None:
    """列出协作馆。"""
    inst = open_instance()
    with inst.db.read() as s:
        rows = list_partners(s)
        table = Table("档案馆代码", "名称", "地址", "状态", "最近联系", "公钥")
        for p in rows:
            table.add_row(
                p.archive_code,
                p.name,
                p.base_url,
                "启用" if p.enabled else "停用",
                f"{p.last_seen_at:%Y-%m-%d %H:%M}" if p.last_seen_at else "—",
                str(len(p.key_ids)),
            )
    console.print(table)


@node_app.command("disable")
def disable(code: Annotated[str, typer.Argument(help="协作馆档案馆代码")]) -> None:
    """停用协作馆（不再收发消息）。"""
    inst = open_instance()

    def go() -> None:
        with inst.db.write() as s:
            set_enabled(inst, s, Actor.operator(), code, False)

    run(go)
    console.print(f"已停用协作馆 {code}")


@node_app.command("enable")
def enable(code: Annotated[str, typer.Argument(help="协作馆档案馆代码")]) -> None:
    """重新启用协作馆。"""
    inst = open_instance()

    def go() -> None:
        with inst.db.write() as s:
            set_enabled(inst, s, Actor.operator(), code, True)

    run(go)
    console.print(f"已启用协作馆 {code}")


@node_app.command("outbox")
def outbox(
    pending: Annotated[bool, typer.Option("--pending", help="只列待送达的消息")] = False,
) -> None:
    """列出发往协作馆的消息（待送达、已送达、被拒收）。"""
    inst = open_instance()
    with inst.db.read() as s:
        q = select(FederationOutbox).order_by(FederationOutbox.id.desc()).limit(100)
        if pending:
            q = q.where(FederationOutbox.state == "pending")
        table = Table("消息", "收件馆", "类型", "申请", "状态", "尝试", "下次尝试", "错误")
        for r in s.scalars(q):
            table.add_row(
                r.message_id[:12],
                r.recipient,
                r.type,
                r.ref,
                {"pending": "待送达", "delivered": "已送达", "rejected": "被拒收"}.get(
                    r.state, r.state
                ),
                str(r.attempts),
                f"{r.next_attempt_at:%H:%M:%S}" if r.state == "pending" else "—",
                r.last_error[:60],
            )
    console.print(table)


@node_app.command("deliver")
def deliver() -> None:
    """立即送达到期的待送达消息（后台作业也会按退避间隔重试）。"""
    inst = open_instance()
    report = run(lambda: deliver_due(inst))
    console.print(
        f"送达 {len(report.delivered)} 条，失败待重试 {len(report.failed)} 条，被拒收 {len(report.refused)} 条"
    )


@node_app.command("remind")
def remind() -> None:
    """立即检查跨馆查档期限：逾期的申请产生告警（每日作业也会检查）。"""
    from lantai.federation.reminders import check_deadlines, ensure_schedule

    inst = open_instance()
    report = run(lambda: check_deadlines(inst))
    with inst.db.write() as s:
        ensure_schedule(s, delay=timedelta(hours=24))
    console.print(
        f"逾期 {len(report.overdue)} 件（新告警 {len(report.raised)} 条），"
        f"即将到期 {len(report.due_soon)} 件，已解除告警 {report.resolved} 条"
    )
    for ref in report.overdue:
        console.print(f"  逾期：{ref}")
