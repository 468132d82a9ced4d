"""``lantai search``: rebuild, status, catch up and query the full-text index."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select

from lantai.cli.common import console, err_console, fail, open_instance, progress, run
from lantai.instance import Instance
from lantai.search import (
    Indexer,
    IndexStatus,
    RebuildReport,
    SearchParams,
    SearchResults,
    SearchRuntime,
    add_text,
    search_home,
)
from lantai.search.highlight import Segment
from lantai.search.query import FACET_NAMES
from lantai.security import Actor
from lantai.store import Record

__all__ = ["search_app"]

search_app = typer.Typer(help="全文检索索引（一网通查）", no_args_is_help=True)


def _indexer(inst: Instance, workers: int = 1) -> Indexer:
    return Indexer(inst, search_home(inst), workers=workers)


@search_app.command("rebuild")
def rebuild(
    workers: Annotated[
        int, typer.Option("--workers", "-w", help="分析进程数（条目多于 20 万时使用）")
    ] = 1,
) -> None:
    """重建检索索引：在现有索引旁新建一代，追上事件日志后切换，期间检索不中断。"""
    inst = open_instance()
    try:
        ix = _indexer(inst, workers)
        if not ix.acquire():
            search_home(inst).request_rebuild()
            console.print(
                f"索引由正在运行的服务（进程 {ix.lock.holder() or '未知'}）维护，"
                "已请求它在后台重建；用 `lantai search status` 查看进度。"
            )
            return
        try:
            with inst.db.read() as s:
                total = int(s.scalar(select(func.count()).select_from(Record)) or 0)

            def work() -> RebuildReport:
                with progress("建立索引", total) as advance:
                    return ix.rebuild(progress=advance)

            report = run(work)
        finally:
            ix.release()
        console.print(
            f"索引 {report.generation} 已启用：{report.records:,} 个条目，"
            f"用时 {report.seconds:.1f} 秒（每秒 {report.per_second:,.0f} 条），"
            f"追加事件 {report.caught_up_events} 条，大小 {report.size_bytes / 2**20:.1f} MiB。",
            highlight=False,
        )
    finally:
        inst.close()


@search_app.command("catchup")
def catchup() -> None:
    """按事件日志补齐索引（服务未运行时使用；索引不存在时会新建）。"""
    inst = open_instance()
    try:
        ix = _indexer(inst)
        if not ix.acquire():
            console.print(
                f"索引由正在运行的服务（进程 {ix.lock.holder() or '未知'}）维护，无需手动补齐。"
            )
            return
        try:
            before = ix.status()
            run(ix.ensure)
            after = ix.status()
        finally:
            ix.release()
        console.print(
            f"索引 {after.generation} 已补齐到事件 {after.seq}（补齐前为 {before.seq}），"
            f"共 {after.records:,} 个条目。",
            highlight=False,
        )
    finally:
        inst.close()


def _status_table(st: IndexStatus) -> Table:
    table = Table("项目", "值", title="检索索引状态")
    table.add_row("当前索引代", st.generation or "（尚未建立）")
    table.add_row("已应用事件", f"{st.seq:,} / {st.head:,}（落后 {st.lag:,}）")
    table.add_row("条目数", f"{st.records:,}")
    table.add_row("索引大小", f"{st.size_bytes / 2**20:.1f} MiB")
    table.add_row("结构版本", "一致" if st.schema_ok else "需要重建")
    table.add_row("维护进程", st.writer_pid or "（无）")
    return table


@search_app.command("status")
def status() -> None:
    """显示索引状态：当前代、已应用的事件、条目数、大小、维护进程。"""
    inst = open_instance()
    try:
        console.print(_status_table(_indexer(inst).status()))
    finally:
        inst.close()


def _plain(segs: list[Segment]) -> str:
    return "".join(f"[bold red]{s.text}[/]" if s.mark else s.text.replace("[", r"\[") for s in segs)


@search_app.command("query")
def query(
    q: Annotated[str, typer.Argument(help="检索式，如：檔案館 年度:2010..2015")],
    size: Annotated[int, typer.Option("--size", "-n", help="显示条数")] = 10,
    public: Annotated[
        bool, typer.Option("--public", help="按公众身份检索（只含开放条目）")
    ] = False,
    sort: Annotated[
        str, typer.Option("--sort", help="relevance | date_desc | date_asc")
    ] = "relevance",
) -> None:
    """在命令行检索（操作员身份，或 --public 按公众身份）。"""
    inst = open_instance()
    runtime = SearchRuntime.start(inst, index=False)
    try:
        actor = Actor.anonymous() if public else Actor.operator()

        def work() -> SearchResults:
            return runtime.service.search(actor, SearchParams(q=q, size=size, sort=sort))

        res = run(work)
        table = Table(
            "档号", "题名", "责任者", "日期", title=f"共 {res.total:,} 条（{res.took_ms:.0f} 毫秒）"
        )
        for h in res.hits:
            table.add_row(
                h.archival_code or "",
                _plain(h.highlights.get("title", [Segment(h.title)])),
                h.responsible or "",
                h.date or "",
            )
        console.print(table)
        for name, values in res.facets.items():
            if values:
                shown = "，".join(f"{v.label} {v.count:,}" for v in values[:8])
                console.print(f"[dim]{FACET_NAMES.get(name, name)}[/]：{shown}", highlight=False)
    finally:
        runtime.stop()
        inst.close()


@search_app.command("add-text")
def add_text_command(
    record: Annotated[int, typer.Argument(help="条目 ID")],
    path: Annotated[Path, typer.Argument(help="UTF-8 文本文件", exists=True, dir_okay=False)],
    part: Annotated[str | None, typer.Option("--part", help="部分名称（默认为文件名）")] = None,
    source: Annotated[
        str, typer.Option("--source", help="extracted | ocr | asr | seed | manual")
    ] = "extracted",
) -> None:
    """为条目添加全文（TXT）。"""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(f"{path} 不是 UTF-8 文本")
    inst = open_instance()
    try:
        row = run(lambda: add_text(inst, Actor.operator(), record, part or path.name, source, text))
        console.print(
            f"已保存条目 {record} 的全文「{row.part}」（{len(text):,} 字）。", highlight=False
        )
    finally:
        inst.close()
    err_console.print(
        "提示：运行中的服务会在约一秒内将其编入索引；否则请运行 `lantai search catchup`。"
    )
