"""``lantai scan``: 存量数字化 — import scan batches, image QC, 挂接 by 档号, OCR, reports.

``qc`` and ``ocr`` enqueue their job and run it in this process with a progress bar (the same job
a ``lantai serve`` worker would run; an interrupted run continues where it stopped).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from lantai.cli.common import console, err_console, fail, open_instance, run
from lantai.digitisation import batch_json, get_batch, import_batch, link_batch, linking_stats
from lantai.digitisation.report_xlsx import batch_report_xlsx
from lantai.digitisation.tasks import enqueue_asr, enqueue_ocr, enqueue_qc
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, JobState, default_registry
from lantai.security import Actor
from lantai.store import Job, ScanBatch, ScanPage

__all__ = ["scan_app"]

scan_app = typer.Typer(
    help="存量数字化：扫描批次导入、图像质检、按档号挂接、文字识别", no_args_is_help=True
)

_SEVERITY = {"error": "[red]不合格[/]", "warning": "[yellow]提示[/]"}


def _batch_id(inst: Instance, actor: Actor, batch: str) -> int:
    with inst.db.read() as s:
        return get_batch(s, actor, batch).id


def _run_job(inst: Instance, job_id: int) -> None:
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not sys.stderr.isatty(),
    )
    tasks: dict[str, Any] = {}

    def observe(step: str, done: int | None, total: int | None, message: str) -> None:
        if step not in tasks:
            tasks[step] = bars.add_task(step, total=total)
        bars.update(tasks[step], total=total, completed=done or 0)

    with bars:
        state = InProcessRunner(inst, default_registry(), observer=observe).run_job(job_id)
    if state != JobState.SUCCEEDED:
        with inst.db.read() as s:
            job = s.get(Job, job_id)
            fail(f"作业 {job_id} 未完成（{job.state if job else '?'}）：{job.error if job else ''}")


@scan_app.command("import")
def import_command(
    folder: Annotated[
        Path,
        typer.Argument(
            help="扫描批次目录：<档号>/<页号>.jpg、<档号>-<页号>.tif 或每件一个多页 TIFF/PDF"
        ),
    ],
    fonds: Annotated[str | None, typer.Option("--fonds", help="全宗号")] = None,
    category: Annotated[str | None, typer.Option("--category", help="门类代码")] = None,
    collection: Annotated[str | None, typer.Option("--collection", help="专题库")] = None,
    profile: Annotated[
        str,
        typer.Option(
            "--profile", help="扫描用途：general（≥200dpi）/ ocr（≥300）/ facsimile（≥600）"
        ),
    ] = "general",
    name: Annotated[str | None, typer.Option("--name", help="批次名称")] = None,
) -> None:
    """导入扫描批次：母版原样保存为不可变信息包，逐页记录数字化属性。"""
    inst = open_instance()
    batch = run(
        lambda: import_batch(
            inst,
            Actor.operator(),
            folder,
            fonds_code=fonds,
            category=category,
            collection=collection,
            profile=profile,
            name=name,
        )
    )
    console.print(
        f"已导入批次 {batch.uid}：{batch.file_count} 个文件，{batch.page_count} 页，保存包 {batch.package_id}"
    )


@scan_app.command("qc")
def qc_command(batch: Annotated[str, typer.Argument(help="批次 ID（uid 或序号）")]) -> None:
    """图像质检（DA/T 31）：分辨率、色彩模式、歪斜、空白页、重复页、页数、不可读文件。"""
    inst = open_instance()
    actor = Actor.operator()
    batch_id = run(lambda: _batch_id(inst, actor, batch))
    with inst.db.write() as s:
        job = enqueue_qc(s, batch_id, actor.username, force=True)
    _run_job(inst, job.id)
    _print_qc(inst, actor, batch)


def _print_qc(inst: Instance, actor: Actor, batch: str) -> None:
    with inst.db.read() as s:
        qc = get_batch(s, actor, batch).qc
    summary = qc.get("summary", {})
    console.print(
        f"质检结论：{summary.get('result')}（{summary.get('pages')} 页，不合格 {summary.get('failed_pages')} 页，"
        f"不合格项 {summary.get('errors')}，提示 {summary.get('warnings')}）"
    )
    table = Table("档号", "页号", "检查项", "结论", "说明")
    for f in qc.get("findings", []):
        table.add_row(
            f["archival_code"] or "",
            str(f["page_no"] or ""),
            f["label"],
            _SEVERITY[f["severity"]],
            f["message"],
        )
    if qc.get("findings"):
        console.print(table)


@scan_app.command("link")
def link_command(batch: Annotated[str, typer.Argument(help="批次 ID")]) -> None:
    """按档号挂接：图像挂到目录条目，双向列出孤立项，更新挂接率统计。"""
    inst = open_instance()
    actor = Actor.operator()
    report = run(lambda: link_batch(inst, actor, _batch_id(inst, actor, batch)))
    s = report["summary"]
    console.print(
        f"已挂接 {s['linked_records']} 件 {s['linked_pages']} 页；有图像无条目 {s['images_without_record']} 个档号"
        f"（{s['orphan_pages']} 页）；有条目无图像 {s['records_without_images']} 件；页数不符 {s['page_count_mismatches']} 件"
    )
    for x in report["images_without_record"]:
        console.print(f"  有图像无条目：{x['archival_code']}（{x['pages']} 页）")
    for x in report["records_without_images"]:
        console.print(f"  有条目无图像：{x['archival_code']} {x['title']}")


@scan_app.command("ocr")
def ocr_command(
    batch: Annotated[str, typer.Argument(help="批次 ID")],
    engine: Annotated[
        str | None, typer.Option("--engine", help="rapidocr（默认）或 tesseract")
    ] = None,
    script: Annotated[
        str, typer.Option("--script", help="simplified（简体）或 traditional（繁体）")
    ] = "simplified",
) -> None:
    """文字识别：逐页保存文本与置信度，写入全文，生成双层 PDF；已识别的页不再重做。"""
    inst = open_instance()
    actor = Actor.operator()
    if engine not in (None, "rapidocr", "tesseract"):
        fail(f"识别引擎「{engine}」无效，可选：rapidocr、tesseract")
    if script not in ("simplified", "traditional"):
        fail(f"文种「{script}」无效，可选：simplified、traditional")
    batch_id = run(lambda: _batch_id(inst, actor, batch))
    with inst.db.write() as s:
        job = enqueue_ocr(s, batch_id, actor.username, engine=engine, script=script)
    _run_job(inst, job.id)
    with inst.db.read() as s:
        ocr = get_batch(s, actor, batch).ocr
    console.print(
        f"已识别 {ocr['pages']} 页（本次 {ocr['recognised_now']} 页，{ocr['seconds']} 秒），"
        f"平均置信度 {ocr['mean_confidence']}，低置信度待校对 {ocr['low_confidence_pages']} 页，双层 PDF {ocr['pdfs']} 份"
    )


@scan_app.command("asr")
def asr_command(
    record: Annotated[
        list[int] | None, typer.Option("--record", help="只转写这些条目 ID 的录音录像（可多次）")
    ] = None,
) -> None:
    """语音转写：登记录音/录像文件；已安装模型（LANTAI_ASR_MODEL_DIR）时逐个转写并写入全文，否则标为待转写。"""
    from sqlalchemy import func, select

    from lantai.store import AsrItem

    inst = open_instance()
    actor = Actor.operator()
    with inst.db.write() as s:
        job = enqueue_asr(s, actor.username, record_ids=list(record or []))
    _run_job(inst, job.id)
    with inst.db.read() as s:
        counts = dict(s.execute(select(AsrItem.state, func.count()).group_by(AsrItem.state)).all())
    console.print(
        f"语音转写：已转写 {counts.get('done', 0)}，待转写 {counts.get('pending', 0)}，"
        f"无法转写 {counts.get('failed', 0)}"
    )
    if counts.get("pending") and inst.settings.asr_model_dir is None:
        err_console.print(
            "提示：尚未安装语音识别模型，安装方法见 docs/digitisation.md「语音转写」。"
        )


@scan_app.command("report")
def report_command(
    batch: Annotated[str | None, typer.Argument(help="批次 ID（省略则列出全部批次）")] = None,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="把质检与挂接报告写成 XLSX")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
    stats: Annotated[bool, typer.Option("--stats", help="输出挂接率统计")] = False,
) -> None:
    """批次概况、质检报告（XLSX）与挂接率统计。"""
    inst = open_instance()
    actor = Actor.operator()
    with inst.db.read() as s:
        if stats:
            rows = linking_stats(s, actor)
            if as_json:
                print(json.dumps(rows, ensure_ascii=False, indent=1))
                return
            table = Table("范围", "值", "应挂接条目", "已挂接", "页数", "挂接率")
            labels = {"fonds": "全宗", "category": "门类", "collection": "专题库"}
            for r in rows:
                table.add_row(
                    labels[r["scope"]],
                    r["value"],
                    str(r["records"]),
                    str(r["linked"]),
                    str(r["pages"]),
                    f"{r['ratio']:.1%}",
                )
            console.print(table)
            return
        if batch is None:
            batches = [batch_json(s, b) for b in s.query(ScanBatch).order_by(ScanBatch.id)]
            if as_json:
                print(json.dumps(batches, ensure_ascii=False, indent=1))
                return
            table = Table("序号", "批次 ID", "名称", "页数", "质检", "挂接", "识别")
            for b in batches:
                table.add_row(
                    str(b["id"]),
                    b["uid"],
                    b["name"],
                    str(b["pages"]),
                    (b["qc"] or {}).get("result", "未质检"),
                    f"{(b['linking'] or {}).get('linked_records', '-')} 件",
                    str(b["ocr"]["pages_done"]),
                )
            console.print(table)
            return
        row = run(lambda: get_batch(s, actor, batch))
        if xlsx is not None:
            pages = list(
                s.query(ScanPage)
                .filter(ScanPage.batch_id == row.id)
                .order_by(ScanPage.archival_code, ScanPage.page_no)
            )
            xlsx.write_bytes(batch_report_xlsx(row, pages))
            console.print(f"已写出 {xlsx}")
        out = batch_json(s, row)
    if as_json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
    elif xlsx is None:
        console.print_json(json.dumps(out, ensure_ascii=False))
