"""``lantai ingest``: receive a transfer from the command line, watch it, resume, reconcile.

::

    lantai ingest PATH [--fonds Z109] [--category WS] [--stage YJ|GD] [--quick] [--key K]
    lantai ingest status [UID] [--limit N]
    lantai ingest resume          # re-queue jobs whose worker died, run every queued job
    lantai ingest reconcile       # remove what transfers that never committed left behind
    lantai ingest report UID [--format html|json|pdf] [--out FILE]
    lantai ingest review UID --reason "…"

``lantai ingest PATH`` registers the transfer and runs its job in this process with progress
bars; it is the same resumable job the web app runs, so if the command is killed, ``lantai
ingest resume`` (or a running web app) finishes it. Exit status: 0 accepted (including accepted
with items flagged for review), 2 rejected, 1 failed or refused.

``cli/main.py`` registers :data:`ingest_app` as the ``ingest`` sub-command.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import select, update
from typer.core import TyperGroup

from lantai.cli.common import console, err_console, fail, open_instance, run
from lantai.ingest.pipeline import STEP_LABELS
from lantai.ingest.service import (
    JOB_KIND,
    Submission,
    get_transfer,
    list_transfers,
    review,
    submit,
    transfer_json,
)
from lantai.ingest.transfer import SourceKind
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, default_registry, recover
from lantai.security import Actor
from lantai.storage import open_store, policy_satisfied
from lantai.storage.tasks import REPLICATE_KIND
from lantai.store import IngestTransfer, Job, TransferState, utcnow

__all__ = ["ingest_app"]


class _IngestGroup(TyperGroup):
    """``lantai ingest PATH …`` is ``lantai ingest run PATH …`` (PATH is not a sub-command)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's vendored click Context
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


ingest_app = typer.Typer(
    cls=_IngestGroup,
    help="一键归档：接收移交包（BagIt、EEP、离线文件夹+目录表），四性检测，生成 AIP，编目入库。",
    no_args_is_help=True,
)


class _Bars:
    """Rich progress bars fed by the job's progress reports (one bar per pipeline step)."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=err_console,
            disable=not sys.stderr.isatty(),
        )
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, step: str, done: int | None, total: int | None, message: str) -> None:
        task = self.tasks.get(step)
        if task is None:
            task = self.progress.add_task(STEP_LABELS.get(step, step), total=total)
            for other, tid in self.tasks.items():  # earlier steps are finished
                t = self.progress.tasks[tid]
                if t.total is not None and other != step:
                    self.progress.update(tid, completed=t.total)
            self.tasks[step] = task
        self.progress.update(task, total=total, completed=done or 0)


def _summary(inst: Instance, row: IngestTransfer) -> None:
    out = transfer_json(row)
    state = TransferState(row.state)
    lines = [
        f"移交 {row.uid}（{row.source_name}）：{state.label}",
        f"  检测结论：{_decision(row.decision)}；结果统计：{_counts(row.counts)}",
    ]
    if row.actual_files is not None:
        lines.append(
            f"  实收：{row.actual_items or 0} 件，{row.actual_files} 个文件，{row.actual_bytes or 0} 字节"
        )
    if state in (TransferState.DONE, TransferState.CATALOGUED):
        lines.append(f"  已编目 {row.record_count} 条；AIP：{out['aip_id']}")
    if out.get("preservation_label"):
        lines.append(
            f"  长期保存：{out['preservation_label']}"
            + (
                f"（{out['preserved_at']}）"
                if out.get("preserved_at")
                else "（等待副本复制与校验）"
            )
        )
    if row.review == "pending":
        lines.append("  有待人工复核的检测项：请在「移交接收」页面或用 `lantai ingest review` 复核")
    if row.report_key:
        lines.append(f"  检测报告：lantai ingest report {row.uid} --format html --out 报告.html")
    if row.error:
        lines.append(f"  错误：{row.error[:2000]}")
    target = console if state is not TransferState.FAILED else err_console
    for line in lines:
        target.print(line, highlight=False)


def _decision(value: str | None) -> str:
    return {"accept": "接收", "accept_flagged": "接收（待人工复核）", "reject": "拒收"}.get(
        value or "", "—"
    )


def _counts(counts: dict[str, Any]) -> str:
    labels = {
        "passed": "通过",
        "failed": "不通过",
        "manual": "人工复核",
        "not_applicable": "不适用",
    }
    return "，".join(f"{labels.get(k, k)} {v}" for k, v in counts.items()) or "—"


def _exit_for(state: TransferState) -> None:
    if state is TransferState.REJECTED:
        raise typer.Exit(2)
    if state is TransferState.FAILED:
        raise typer.Exit(1)


@ingest_app.command("run", help="接收一个移交包并在本进程中完成检测与接收（带进度条）。")
def run_command(
    path: Annotated[
        Path, typer.Argument(help="移交包：BagIt 文件夹或 zip/tar、.eep 文件、离线移交文件夹")
    ],
    fonds: Annotated[str | None, typer.Option("--fonds", help="接收全宗号，如 Z109")] = None,
    category: Annotated[
        str | None, typer.Option("--category", help="门类代码或名称（如 WS 或 文书）")
    ] = None,
    stage: Annotated[str, typer.Option("--stage", help="检测环节：YJ 移交接收，GD 归档")] = "YJ",
    quick: Annotated[
        bool, typer.Option("--quick", help="快速检测：只查件数、字节数与结构（不开文件）")
    ] = False,
    kind: Annotated[
        str | None, typer.Option("--kind", help="信息包类型：bagit、eep、eep_set、offline")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="幂等键：同一键再次提交得到同一移交")
    ] = None,
) -> None:
    inst = open_instance()
    actor = Actor.operator()
    stage = stage.upper()
    if stage not in ("YJ", "GD"):
        fail("--stage 应为 YJ 或 GD")
    try:
        source_kind = SourceKind(kind) if kind else None
    except ValueError:
        fail(f"--kind 应为 {'、'.join(k.value for k in SourceKind)}")

    def go() -> tuple[IngestTransfer, bool]:
        with inst.db.write() as s:
            return submit(
                inst,
                s,
                actor,
                Submission(
                    source=path.expanduser().resolve(),
                    source_name=path.name,
                    kind=source_kind,
                    fonds_code=fonds,
                    category=category,
                    stage="GD" if stage == "GD" else "YJ",
                    mode="quick" if quick else "full",
                    idempotency_key=key,
                ),
            )

    row, created = run(go)
    if not created:
        console.print(f"幂等键「{key}」已提交过：移交 {row.uid}")
    bars = _Bars()
    registry = default_registry()
    runner = InProcessRunner(inst, registry, observer=bars)
    if not created:  # sent again after a crash: take the job over from a dead worker at once
        recover(inst, registry)
    with bars.progress:
        if row.job_id is not None:
            runner.run_job(row.job_id)
        copies = _make_copies(inst, runner, row.id)
    with inst.db.read() as s:
        final = s.get(IngestTransfer, row.id)
        job = s.get(Job, row.job_id) if row.job_id else None
    assert final is not None
    if copies is not None:
        console.print(
            "存储策略：各副本已齐全"
            if copies
            else "存储策略：副本尚未齐全（见 `lantai storage status`）"
        )
    state = TransferState(final.state)
    if not state.terminal and job is not None and job.state == "queued":
        err_console.print(
            f"本次未能完成（{job.error or '将重试'}）；稍后运行 `lantai ingest resume` 继续"
        )
    _summary(inst, final)
    _exit_for(state)


def _make_copies(inst: Instance, runner: InProcessRunner, transfer_id: int) -> bool | None:
    """Run the replication the ingest queued for its AIP (the storage policy's copies), here and
    now; whether the policy is satisfied, or None when the transfer made no AIP."""
    with inst.db.read() as s:
        row = s.get(IngestTransfer, transfer_id)
        aip = row.aip_id if row is not None else None
        if not aip:
            return None
        job_ids = s.scalars(
            select(Job.id).where(
                Job.kind == REPLICATE_KIND,
                Job.key == f"{REPLICATE_KIND}:{aip}",
                Job.state == "queued",
            )
        ).all()
    for job_id in job_ids:
        runner.run_job(job_id)
    return policy_satisfied(inst, aip)


@ingest_app.command("status", help="列出最近的移交，或显示一次移交的详情。")
def status_command(
    uid: Annotated[str | None, typer.Argument(help="移交 ID（不给则列出最近的）")] = None,
    limit: Annotated[int, typer.Option(help="列出条数")] = 20,
) -> None:
    inst = open_instance()
    actor = Actor.operator()
    if uid:
        with inst.db.read() as s:
            row = run(lambda: get_transfer(s, actor, uid))
            job = s.get(Job, row.job_id) if row.job_id else None
        _summary(inst, row)
        if job is not None and job.progress:
            p = job.progress
            console.print(
                f"  作业：{job.state}（第 {job.attempts} 次）{STEP_LABELS.get(p.get('step', ''), '')} "
                f"{p.get('done') or ''}/{p.get('total') or ''}",
                highlight=False,
            )
        return
    with inst.db.read() as s:
        rows = list_transfers(s, actor, limit=limit)
    if not rows:
        console.print("尚无移交。")
    for r in rows:  # one line per transfer (greppable; the ID is never cut)
        console.print(
            f"{r.uid}  {r.created_at.strftime('%Y-%m-%d %H:%M')}  "
            f"{TransferState(r.state).label}  {_decision(r.decision)}  "
            f"{r.record_count or r.actual_items or 0} 件  {r.created_by}  {r.source_name}",
            highlight=False,
        )


@ingest_app.command(
    "resume",
    help="接续被中断的接收：重新排队失去执行者的作业，等待重试的接收与副本作业立即重试，并在本进程中运行全部待办作业。",
)
def resume_command() -> None:
    inst = open_instance()
    with inst.db.write() as s:  # resuming means now: transfers and copies waiting to retry too
        s.execute(
            update(Job)
            .where(
                Job.state == "queued",
                Job.kind.in_([JOB_KIND, REPLICATE_KIND]),
                Job.run_after > utcnow(),
            )
            .values(run_after=utcnow())
        )
    bars = _Bars()
    runner = InProcessRunner(inst, default_registry(), observer=bars)
    with bars.progress:
        ran = runner.run_until_idle()
    console.print(f"已运行 {ran} 个作业。")


@ingest_app.command("reconcile", help="清理未完成接收的移交留下的暂存目录、上传文件和信息包。")
def reconcile_command(
    stopped: Annotated[
        bool,
        typer.Option(
            "--stopped",
            help="服务与作业进程均已停止时使用：同时清理其他信息包（扫描母版、双层 PDF、销毁清册）被中断的残留写入",
        ),
    ] = False,
) -> None:
    from lantai.ingest.reconcile import reconcile

    inst = open_instance()
    report = reconcile(inst, open_store(inst.settings), stopped=stopped)
    console.print(
        f"重新排队作业 {len(report.jobs_requeued)} 个；清理暂存目录 {len(report.staging_removed)} 个、"
        f"上传 {len(report.uploads_removed)} 个、未入库信息包 {len(report.packages_discarded)} 个。"
    )
    if report.packages_unknown:
        err_console.print(
            f"存储中有 {len(report.packages_unknown)} 个信息包不属于任何移交记录，未作处理："
            + "、".join(report.packages_unknown[:20])
        )


@ingest_app.command("report", help="导出一次移交的四性检测报告。")
def report_command(
    uid: Annotated[str, typer.Argument(help="移交 ID")],
    fmt: Annotated[str, typer.Option("--format", help="html、json 或 pdf")] = "html",
    out: Annotated[
        Path | None, typer.Option("--out", help="保存到此文件（默认打印 JSON/HTML）")
    ] = None,
) -> None:
    inst = open_instance()
    if fmt not in ("html", "json", "pdf"):
        fail("--format 应为 html、json 或 pdf")
    with inst.db.read() as s:
        row = run(lambda: get_transfer(s, Actor.operator(), uid))
    if not row.report_key:
        fail("该移交的检测报告尚未保存")
    if out is None and fmt == "pdf":
        fail("PDF 须用 --out 保存到文件")
    store = open_store(inst.settings)
    key = f"{row.report_key.rsplit('.', 1)[0]}.{fmt}"
    with run(lambda: store.open(key)) as src:
        if out is None:
            shutil.copyfileobj(src, sys.stdout.buffer)
            return
        with out.open("wb") as f:
            shutil.copyfileobj(src, f)
    console.print(f"已保存：{out}")


@ingest_app.command("review", help="复核一次移交中待人工复核的检测项（须填写复核意见）。")
def review_command(
    uid: Annotated[str, typer.Argument(help="移交 ID")],
    reason: Annotated[str, typer.Option("--reason", help="复核意见")],
) -> None:
    inst = open_instance()
    row = run(lambda: review(inst, Actor.operator(), uid, reason=reason))
    console.print(f"已复核：移交 {row.uid}")
