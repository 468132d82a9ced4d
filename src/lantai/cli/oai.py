"""``lantai oai``: harvest partner OAI-PMH endpoints into the union catalogue, list it, partners.

lantai oai harvest https://partner.example.cn/oai --name 某市档案馆 [--set S] [--from D]
lantai oai union list                 # records per source; --q 青铜鼎 searches
lantai oai partner add 某市档案馆 https://partner.example.cn/oai --code 136102
lantai oai partner list
lantai oai schedule --hours 24        # queue the scheduled harvest of every enabled partner
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import typer
from sqlalchemy import select

from lantai.cli.common import console, fail, open_instance, run
from lantai.oai.harvester import Harvester
from lantai.oai.tasks import schedule_harvests
from lantai.oai.union import search_union, union_summary
from lantai.security import Actor
from lantai.store import OaiPartner

__all__ = ["oai_app"]

oai_app = typer.Typer(help="OAI-PMH 收割与联合目录", no_args_is_help=True)
union_app = typer.Typer(help="联合目录", no_args_is_help=True)
partner_app = typer.Typer(help="收割的合作馆 OAI-PMH 地址", no_args_is_help=True)
oai_app.add_typer(union_app, name="union")
oai_app.add_typer(partner_app, name="partner")


@oai_app.command(
    "harvest", help="收割一个 OAI-PMH 地址（ListRecords oai_dc，默认从上次的日期增量）。"
)
def harvest_command(
    url: Annotated[str, typer.Argument(help="OAI-PMH baseURL")],
    name: Annotated[str | None, typer.Option("--name", help="来源名称（默认取主机名）")] = None,
    set_spec: Annotated[str | None, typer.Option("--set", help="只收割此集合")] = None,
    since: Annotated[str | None, typer.Option("--from", help="起始日期 YYYY-MM-DD")] = None,
    full: Annotated[bool, typer.Option("--full", help="全量收割（不从上次日期增量）")] = False,
) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        fail(f"地址「{url}」不是 http(s) 地址")
    source = name or urlsplit(url).hostname or url

    def go() -> None:
        inst = open_instance()
        rep = Harvester(inst).harvest(
            source,
            url,
            set_spec=set_spec,
            since=since,
            actor=Actor.operator().username,
            incremental=not full,
        )
        console.print(
            f"来源「{source}」：{rep.pages} 页，{rep.records} 条（其中删除 {rep.deleted}），"
            f"跳过 {rep.rejected} 条，结果 {rep.state}"
        )
        for p in rep.problems:
            console.print(f"  - {p['message']}")
        if rep.state == "failed":
            raise typer.Exit(1)

    run(go)


@union_app.command("list", help="联合目录各来源的条目数；--q 检索。")
def union_list_command(
    q: Annotated[str | None, typer.Option("--q", help="检索词（繁简、全半角等同）")] = None,
    source: Annotated[str | None, typer.Option("--source")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 20,
) -> None:
    def go() -> None:
        inst = open_instance()
        with inst.db.read() as s:
            if q is None:
                for row in union_summary(s):
                    console.print(
                        f"{row.source}\t{row.records} 条（删除 {row.deleted}）\t最新 {row.last_datestamp}"
                    )
                return
            total, rows = search_union(s, q, source=source, limit=limit)
            console.print(f"共 {total} 条")
            for r in rows:
                console.print(f"[{r.source}] {r.identifier}\t{r.title}")

    run(go)


@partner_app.command("add", help="登记一个合作馆的 OAI-PMH 地址。")
def partner_add_command(
    name: str,
    url: str,
    code: Annotated[str, typer.Option("--code", help="档案馆代码")] = "",
    set_spec: Annotated[str | None, typer.Option("--set")] = None,
) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        fail(f"地址「{url}」不是 http(s) 地址")

    def go() -> None:
        inst = open_instance()
        with inst.db.write() as s:
            if s.scalar(select(OaiPartner.id).where(OaiPartner.name == name)) is not None:
                fail(f"合作馆「{name}」已登记")
            s.add(
                OaiPartner(
                    name=name,
                    archive_code=code,
                    base_url=url,
                    set_spec=set_spec,
                    created_by=Actor.operator().username,
                )
            )
        console.print(f"已登记合作馆「{name}」：{url}")

    run(go)


@partner_app.command("list", help="列出合作馆 OAI-PMH 地址。")
def partner_list_command() -> None:
    def go() -> None:
        inst = open_instance()
        with inst.db.read() as s:
            for p in s.scalars(select(OaiPartner).order_by(OaiPartner.name)):
                state = "启用" if p.enabled else "停用"
                console.print(
                    f"{p.name}\t{p.archive_code}\t{p.base_url}\t{p.set_spec or ''}\t{state}"
                )

    run(go)


@oai_app.command("schedule", help="排定定期收割所有启用的合作馆（任务 oai.harvest）。")
def schedule_command(
    hours: Annotated[float, typer.Option("--hours", min=0.1, help="间隔小时数")] = 24.0,
) -> None:
    def go() -> None:
        added = schedule_harvests(open_instance(), hours)
        console.print("已排定定期收割" if added else "已有排定的定期收割")

    run(go)
