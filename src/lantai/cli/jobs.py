"""``lantai jobs list|show|retry|cancel`` and ``lantai worker`` (Redis-fed worker process)."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from lantai.cli.common import console, err_console, fail, open_instance, run
from lantai.jobs import JobState, default_registry
from lantai.jobs.admin import JobView, cancel_job, job_counts, job_view, list_jobs, retry_job
from lantai.malloc import limit_arenas
from lantai.security import Actor
from lantai.store import Job

__all__ = ["jobs_app", "worker_command"]

jobs_app = typer.Typer(
    help="后台作业：进度、速率、预计剩余时间、错误；重试与取消", no_args_is_help=True
)

_STATE_STYLE = {
    "queued": "cyan",
    "running": "yellow",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "dim",
}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600} 时 {s % 3600 // 60} 分"
    if s >= 60:
        return f"{s // 60} 分 {s % 60} 秒"
    return f"{s} 秒"


def _progress_text(v: JobView) -> str:
    if v.done is None:
        return v.step
    total = f"/{v.total}" if v.total is not None else ""
    pct = f"（{v.percent:g}%）" if v.percent is not None else ""
    return f"{v.step} {v.done}{total}{pct}"


@jobs_app.command("list")
def list_command(
    state: Annotated[
        str | None, typer.Option(help="状态：queued、running、succeeded、failed、cancelled")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="作业类型，如 digitisation.ocr")] = None,
    limit: Annotated[int, typer.Option(help="最多列出条数")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """列出后台作业（新的在前）及各状态计数。"""
    inst = open_instance()

    def go() -> tuple[list[JobView], dict[str, dict[str, int]]]:
        with inst.db.read() as s:
            return list_jobs(s, state=state, kind=kind, limit=limit), job_counts(s)

    views, counts = run(go)
    if as_json:
        print(
            json.dumps(
                {"counts": counts, "jobs": [v.as_json() for v in views]},
                ensure_ascii=False,
                indent=1,
            )
        )
        return
    total = counts["*"]
    console.print(
        "  ".join(f"{JobState(k).label} {n}" for k, n in total.items()),
        highlight=False,
    )
    table = Table("ID", "类型", "状态", "尝试", "进度", "速率", "预计剩余", "错误")
    for v in views:
        table.add_row(
            str(v.id),
            v.kind_label,
            f"[{_STATE_STYLE.get(v.state, '')}]{v.state_label}[/]",
            f"{v.attempts}/{v.max_attempts}",
            _progress_text(v),
            f"{v.rate:.2f}/秒" if v.rate is not None else "",
            _duration(v.eta_seconds),
            (v.error or "")[:80],
        )
    console.print(table)


def _load(inst_job_id: int) -> JobView:
    inst = open_instance()

    def go() -> JobView:
        with inst.db.read() as s:
            job = s.get(Job, inst_job_id)
            if job is None:
                fail(f"后台作业 {inst_job_id} 不存在")
            return job_view(job)

    return run(go)


@jobs_app.command("show")
def show_command(
    job_id: int,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="跟踪进度直到作业结束")] = False,
    interval: Annotated[float, typer.Option(help="--follow 的刷新间隔（秒）")] = 1.0,
) -> None:
    """显示一个作业：进度、速率、预计剩余时间、错误（--follow 显示进度条直到结束）。"""
    v = _load(job_id)
    if follow and v.state in (JobState.QUEUED.value, JobState.RUNNING.value):
        bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=err_console,
            disable=not sys.stderr.isatty(),
        )
        tasks: dict[str, TaskID] = {}
        with bars:
            while v.state in (JobState.QUEUED.value, JobState.RUNNING.value):
                key = v.step or v.state_label
                if key not in tasks:
                    tasks[key] = bars.add_task(f"{v.kind_label} {key}", total=v.total, rate="")
                rate = f"{v.rate:.2f}/秒" if v.rate is not None else ""
                bars.update(tasks[key], total=v.total, completed=v.done or 0, rate=rate)
                time.sleep(interval)
                v = _load(job_id)
    lines = [
        f"作业 {v.id}：{v.kind_label}（{v.kind}）  {v.state_label}",
        f"  尝试：{v.attempts}/{v.max_attempts}   提交人：{v.created_by or '—'}",
        f"  进度：{_progress_text(v) or '—'}",
    ]
    if v.rate is not None:
        lines.append(f"  速率：{v.rate:.2f}/秒   预计剩余：{_duration(v.eta_seconds) or '—'}")
    if v.message:
        lines.append(f"  说明：{v.message}")
    if v.owner:
        lines.append(f"  执行者：{v.owner}")
    lines.append(
        f"  创建：{v.created_at:%Y-%m-%d %H:%M:%S}"
        + (f"   开始：{v.started_at:%H:%M:%S}" if v.started_at else "")
        + (f"   结束：{v.finished_at:%H:%M:%S}" if v.finished_at else "")
    )
    if v.error:
        lines.append(f"  错误：{v.error}")
    console.print("\n".join(lines), highlight=False)
    if follow and v.state == JobState.FAILED.value:
        raise typer.Exit(1)


@jobs_app.command("retry")
def retry_command(job_id: int) -> None:
    """重新排队一个失败或已取消的作业（尝试次数重新计算；记入审计日志）。"""
    inst = open_instance()

    def go() -> None:
        with inst.db.write() as s:
            retry_job(inst, s, Actor.operator(), job_id)

    run(go)
    console.print(f"作业 {job_id} 已重新排队")


@jobs_app.command("cancel")
def cancel_command(job_id: int) -> None:
    """取消排队中的作业；运行中的作业在下次报告进度时停止（记入审计日志）。"""
    inst = open_instance()

    def go() -> None:
        with inst.db.write() as s:
            cancel_job(inst, s, Actor.operator(), job_id)

    run(go)
    console.print(f"作业 {job_id} 已取消")


def worker_command(
    threads: Annotated[int, typer.Option(help="本进程同时运行的作业数（线程）")] = 1,
    kinds: Annotated[
        list[str] | None,
        typer.Option("--kinds", help="另加的作业类型插件（模块:函数，可多次）"),
    ] = None,
    poll: Annotated[float, typer.Option(help="派发排队作业的间隔（秒）")] = 2.0,
) -> None:
    """启动后台作业执行进程（LANTAI_JOBS_BACKEND=redis）：从 Redis 领取作业，可在多台主机各运行多个。"""
    from lantai.jobs.redisqueue import RedisWorker, load_kinds

    inst = open_instance()
    limit_arenas(inst.settings.malloc_arena_max)  # before the worker threads (lantai.malloc)
    if inst.settings.jobs_backend != "redis":
        fail("lantai worker 需要 LANTAI_JOBS_BACKEND=redis（内嵌模式下作业在 lantai serve 内运行）")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        registry = load_kinds(default_registry(), kinds or ())
    except (ImportError, AttributeError, ValueError) as exc:
        fail(f"作业类型插件无法加载：{exc}")
    worker = RedisWorker(inst, registry, threads=max(1, threads), poll_seconds=poll)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    err_console.print(
        f"作业执行进程已启动：{worker.runner.owner}，{threads} 线程，"
        f"Redis {inst.settings.redis_url}（前缀 {inst.settings.redis_namespace}）"
    )
    stop.wait()
    err_console.print("正在停止：等待运行中的作业结束（最长 30 秒，其余作业由其他进程接手）")
    worker.stop()
