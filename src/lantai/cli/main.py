"""The ``lantai`` command: init, serve, fonds, users, audit, import/export, demo, settings."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Column, Table
from sqlalchemy import select

from lantai.archival import Level
from lantai.audit import EventType
from lantai.cli.common import console, err_console, fail, open_instance, run
from lantai.errors import NotFound
from lantai.instance import Instance
from lantai.malloc import limit_arenas
from lantai.security import Actor
from lantai.settings import Settings
from lantai.store import Record

app = typer.Typer(
    help="兰台 Lantai 数字档案馆系统", no_args_is_help=True, pretty_exceptions_enable=False
)
fonds_app = typer.Typer(help="全宗管理", no_args_is_help=True)
users_app = typer.Typer(help="用户与角色（本机操作员）", no_args_is_help=True)
audit_app = typer.Typer(help="审计日志", no_args_is_help=True)
config_app = typer.Typer(
    help="业务配置（代码表、档号规则、著录方案、三合一）", no_args_is_help=True
)
app.add_typer(fonds_app, name="fonds")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(config_app, name="config")


@app.command()
def init(
    archive_code: Annotated[
        str | None, typer.Option(help="档案馆代码（6 位数字，DA/T 18）")
    ] = None,
    archive_name: Annotated[str | None, typer.Option(help="档案馆名称")] = None,
) -> None:
    """创建实例目录、密钥和数据库结构（可重复运行）；档案馆代码与名称记入 <home>/lantai.env。"""
    settings = Settings.load()
    values = {
        k: v for k, v in {"archive_code": archive_code, "archive_name": archive_name}.items() if v
    }
    if values:
        try:
            Settings(**{**settings.model_dump(), **values})
        except ValueError as exc:
            fail(f"设置无效：{exc}")
        settings.save_instance_values(values)
        settings = Settings.load()
    inst = run(lambda: Instance.initialise(settings))
    console.print(f"实例已就绪：{inst.home}（数据库：{inst.db.dialect}）")
    if not inst.settings.archive_code:
        err_console.print(
            "提示：尚未设置档案馆代码，新建全宗时为必著项。请运行 `lantai init --archive-code 六位代码`。"
        )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口")] = 8000,
    background: Annotated[bool, typer.Option(help="同时运行后台任务（移交接收等）")] = True,
    workers: Annotated[
        int, typer.Option(min=1, help="Web 进程数（大于 1 时须加 --no-background）")
    ] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            help="逐条记录 HTTP 访问日志（通常由前置的 nginx 记录；操作审计另有审计日志）"
        ),
    ] = False,
) -> None:
    """启动 Web 服务（默认一个进程；--workers N 在同一端口运行 N 个，见 docs/operations.md）。"""
    import uvicorn

    from lantai.web.app import create_app

    if workers > 1 and background:
        fail(
            "--workers 大于 1 时须加 --no-background：后台任务（检索索引、作业）只能由一个进程运行，"
            "请另起一个 `lantai serve` 单进程（或 Redis 作业后端的 `lantai worker`）"
        )
    inst = open_instance()
    limit_arenas(inst.settings.malloc_arena_max)  # before any server thread (lantai.malloc)
    console.print(f"兰台已启动：http://{host}:{port}  （接口文档 http://{host}:{port}/api/docs）")
    if workers > 1:
        inst.close()  # each worker process opens its own (lantai.web.asgi)
    uvicorn.run(
        "lantai.web.asgi:app" if workers > 1 else create_app(inst, background=background),
        factory=workers > 1,
        workers=workers if workers > 1 else None,
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
        # a worker process must answer the supervisor's first ping within this many seconds; it
        # imports the whole CLI and opens the instance first (5 s, uvicorn's default, was too
        # short on a loaded 2-core machine: every worker was killed and restarted forever)
        timeout_worker_healthcheck=60,
        proxy_headers=False,
        server_header=False,  # no software name in responses (issue 11)
    )


@app.command("settings")
def show_settings() -> None:
    """列出全部设置项、当前值与说明。"""
    s = Settings.load()
    table = Table("当前值", "说明", title="设置（LANTAI_* 环境变量或 <home>/lantai.env）")
    table.columns.insert(0, Column("设置", no_wrap=True))
    for name, field in Settings.model_fields.items():
        table.add_row(f"LANTAI_{name.upper()}", str(getattr(s, name)), field.description or "")
    console.print(table)


# -- fonds ----------------------------------------------------------------------------------------


@fonds_app.command("list")
def fonds_list() -> None:
    """列出全宗。"""
    inst = open_instance()
    with inst.db.read() as s:
        rows = s.scalars(
            select(Record).where(Record.level == Level.FONDS.value).order_by(Record.position)
        ).all()
        table = Table("ID", "全宗号", "全宗名称", "立档单位", "下级条目数")
        for r in rows:
            table.add_row(
                str(r.id),
                r.archival_code or "",
                r.title,
                r.responsible or "",
                str(inst.catalogue.subtree_size(s, r.id) - 1),
            )
    console.print(table)


@fonds_app.command("create")
def fonds_create(
    code: Annotated[str, typer.Argument(help="全宗号，如 Z109")],
    name: Annotated[str, typer.Option(help="全宗名称")],
    unit: Annotated[str, typer.Option(help="立档单位名称")],
    dates: Annotated[str, typer.Option(help="起止年度，如 1949-2024")],
    history: Annotated[str, typer.Option(help="档案保管沿革")],
) -> None:
    """新建全宗（DA/T 18-2022 全宗级必著项均须提供）。"""
    inst = open_instance()

    def go() -> Record:
        with inst.db.write() as s:
            return inst.catalogue.create_fonds(
                s,
                Actor.operator(),
                code=code,
                name=name,
                responsible=unit,
                values={"date": dates, "custody_history": history},
            )

    rec = run(go)
    console.print(f"已新建全宗 {rec.archival_code}（ID {rec.id}）：{rec.title}")


# -- users ----------------------------------------------------------------------------------------


@users_app.command("list")
def users_list() -> None:
    """列出用户。"""
    inst = open_instance()
    with inst.db.read() as s:
        table = Table("用户名", "姓名", "角色", "密级授权", "状态")
        for u, roles in inst.users.list_users(s):
            table.add_row(
                u.username,
                u.display_name,
                "、".join(inst.roles.label(r) for r in roles),
                u.clearance,
                "启用" if u.is_active else "停用",
            )
    console.print(table)


@users_app.command("create")
def users_create(
    username: str,
    display_name: Annotated[str, typer.Option("--name", help="姓名")],
    role: Annotated[
        list[str] | None,
        typer.Option(help="角色：sysadmin、secadmin、auditor、archivist、reader、agency（可多次）"),
    ] = None,
    clearance: Annotated[str, typer.Option(help="密级授权")] = "公开",
    password: Annotated[str | None, typer.Option(help="口令（不提供则交互输入）")] = None,
) -> None:
    """创建用户（本机操作员，可同时分配角色；三员互斥规则同样适用）。"""
    inst = open_instance()
    pw = password or typer.prompt("口令", hide_input=True, confirmation_prompt=True)

    def go() -> None:
        with inst.db.write() as s:
            inst.users.create(
                s,
                Actor.operator(),
                username=username,
                display_name=display_name,
                password=pw,
                roles=tuple(role or ()),
                clearance=clearance,
            )

    run(go)
    console.print(f"已创建用户 {username}")


@users_app.command("grant")
def users_grant(
    username: str, role: Annotated[list[str], typer.Option(help="新的完整角色列表（可多次）")]
) -> None:
    """设置用户的角色（替换原有角色）。"""
    inst = open_instance()

    def go() -> list[str]:
        with inst.db.write() as s:
            return inst.users.set_roles(s, Actor.operator(), username, tuple(role))

    roles = run(go)
    console.print(f"{username} 的角色：{'、'.join(inst.roles.label(r) for r in roles) or '（无）'}")


@users_app.command("password")
def users_password(username: str) -> None:
    """重置用户口令。"""
    inst = open_instance()
    pw = typer.prompt("新口令", hide_input=True, confirmation_prompt=True)

    def go() -> None:
        with inst.db.write() as s:
            inst.users.set_password(s, Actor.operator(), username, pw)

    run(go)
    console.print("口令已重置")


# -- audit ----------------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify() -> None:
    """校验审计日志哈希链：发现被改动、删除、插入或截断的事件。"""
    inst = open_instance()
    with inst.db.read() as s:
        report = inst.audit.verify(s)
    with inst.db.write() as s:
        inst.audit.append(
            s,
            actor=Actor.operator().username,
            action=EventType.AUDIT_CHAIN_VERIFIED,
            object_type="audit",
            object_id="events",
            detail={"checked": report.checked, "ok": report.ok, "problems": len(report.problems)},
        )
    if report.ok:
        console.print(f"[green]校验通过[/]：共 {report.checked} 条事件，哈希链完整。")
        return
    err_console.print(
        f"[bold red]校验失败[/]：共 {report.checked} 条事件，发现 {len(report.problems)} 处问题："
    )
    for p in report.problems[:100]:
        err_console.print(f"  第 {p.seq} 条：{p.message}")
    raise typer.Exit(2)


# -- config ---------------------------------------------------------------------------------------


@config_app.command("check")
def config_check() -> None:
    """校验业务配置文件（内置 + 实例目录），列出所有问题。"""
    from lantai.archival import load_domain

    s = Settings.load()
    domain = run(lambda: load_domain(s.resolved_config_dir))
    console.print(
        f"配置有效：{len(domain.tables)} 个代码表，{len(domain.codes.rules)} 条档号规则，"
        f"{len({id(x) for x in domain.schemes.values()})} 个著录方案，三合一表 {', '.join(domain.classifications.ids())}"
    )


@config_app.command("suggest")
def config_suggest(
    title: Annotated[str, typer.Argument(help="题名")],
    doc_type: Annotated[str | None, typer.Option(help="文种")] = None,
    responsible: Annotated[str | None, typer.Option(help="责任者")] = None,
    table: Annotated[str, typer.Option(help="三合一表")] = "municipal-office",
) -> None:
    """按三合一表为一份文件建议类目、门类和保管期限，并说明匹配依据。"""
    from lantai.archival import load_domain

    domain = run(lambda: load_domain(Settings.load().resolved_config_dir))
    t = domain.classifications.table(table)
    if t is None:
        fail(f"三合一表「{table}」不存在")
    out = Table("类目", "归档范围", "门类", "保管期限", "依据")
    for sug in t.suggest(title=title, doc_type=doc_type, responsible=responsible)[:5]:
        out.add_row(
            sug.entry_code,
            sug.scope,
            sug.category,
            domain.table("retention").label(sug.retention),
            "；".join(sug.reasons),
        )
    console.print(out)


def resolve_node(inst: Instance, node: str) -> int:
    """A record given by 档号 (tried first: a 全宗号 may be all digits) or by numeric ID."""
    with inst.db.read() as s:
        rid = s.scalar(select(Record.id).where(Record.archival_code == node))
    if rid is not None:
        return int(rid)
    if node.isdigit():
        return int(node)
    raise NotFound(f"档号「{node}」不存在")


def _register_optional() -> None:
    """Commands whose modules live beside this one (import/export, EAD, demo)."""
    from lantai.cli import (
        appraisal,
        demo,
        ead,
        ingest,
        publication,
        search,
        spreadsheet,
        stats,
        storage,
    )
    from lantai.cli import backup as backup_cli
    from lantai.cli import disposal as disposal_cli

    app.command(
        "import", help="导入机构报送的目录电子表格（XLSX/CSV），整批校验，全部通过才写入。"
    )(spreadsheet.import_command)
    export_app = typer.Typer(help="导出目录", no_args_is_help=True)
    export_app.command("directory", help="导出归档文件目录（XLSX 或 PDF）。")(
        spreadsheet.export_directory_command
    )
    export_app.command("ead3", help="导出 EAD3 XML。")(ead.export_ead3_command)
    app.add_typer(export_app, name="export")
    app.command("import-ead", help="导入 EAD 2002 XML（须通过 XSD 校验）。")(ead.import_ead_command)
    app.add_typer(demo.demo_app, name="demo")
    app.add_typer(ingest.ingest_app, name="ingest")
    app.add_typer(search.search_app, name="search")
    app.add_typer(stats.stats_app, name="stats")
    app.add_typer(appraisal.appraisal_app, name="appraisal")
    app.add_typer(storage.storage_app, name="storage")
    audit_app.command("fixity", help="固定性检测：复核 SHA-256 与 SM3，自动从完好副本修复。")(
        storage.fixity_command
    )
    app.add_typer(backup_cli.backup_app, name="backup")
    app.command("restore", help="从备份恢复到空实例（先校验清单，恢复后比对）。")(
        backup_cli.restore_command
    )
    app.add_typer(disposal_cli.disposal_app, name="disposal")
    from lantai.cli import preserve as preserve_cli

    app.add_typer(preserve_cli.preserve_app, name="preserve")
    app.add_typer(publication.publication_app, name="publication")
    from lantai.cli import scan as scan_cli

    app.add_typer(scan_cli.scan_app, name="scan")
    from lantai.cli import certificate as certificate_cli

    app.add_typer(certificate_cli.certificate_app, name="certificate")
    from lantai.cli import jobs as jobs_cli

    app.add_typer(jobs_cli.jobs_app, name="jobs")
    from lantai.cli import oai as oai_cli

    app.add_typer(oai_cli.oai_app, name="oai")
    from lantai.cli import node as node_cli

    app.add_typer(node_cli.node_app, name="node")
    app.command("worker")(jobs_cli.worker_command)


_register_optional()
