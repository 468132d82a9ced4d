"""``lantai appraisal``: 开放审核 candidates, machine pre-screening, and (registered from
:mod:`lantai.cli.appraisal_review`) review batches, rounds, unit opinions, results and statistics."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from lantai.appraisal.candidates import REASON_LABELS, CandidateReport, find_candidates, load_policy
from lantai.appraisal.screening.model import RecordScreening
from lantai.appraisal.screening.records import (
    review_units,
    screen_record,
    screen_units,
    screener_for,
)
from lantai.cli.common import console, fail, open_instance, run
from lantai.errors import NotFound
from lantai.instance import Instance
from lantai.store import Record

__all__ = ["appraisal_app"]

appraisal_app = typer.Typer(
    help="开放审核：候选范围、机器预筛、审核批次与结论", no_args_is_help=True
)


def _fonds_id(inst: Instance, code: str) -> int:
    with inst.db.read() as s:
        fid = s.scalar(
            select(Record.id).where(Record.level == "fonds", Record.archival_code == code.upper())
        )
    if fid is None:
        raise NotFound(f"全宗「{code}」不存在")
    return int(fid)


@appraisal_app.command("candidates")
def candidates(
    year: Annotated[int | None, typer.Option("--year", help="只列此形成年度")] = None,
    fonds: Annotated[str | None, typer.Option("--fonds", help="全宗号")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="按此日期计算（YYYY-MM-DD，默认今天）")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
) -> None:
    """列出到期应作开放审核的档案，按全宗、形成年度、门类分批并计数。"""
    inst = open_instance()
    try:
        try:
            today = date.fromisoformat(as_of) if as_of else date.today()
        except ValueError:
            fail(f"日期「{as_of}」格式不对，应为 YYYY-MM-DD")

        def work() -> CandidateReport:
            policy = load_policy(config_dir=inst.settings.resolved_config_dir)
            fid = _fonds_id(inst, fonds) if fonds else None
            with inst.db.read() as s:
                return find_candidates(s, policy, today=today, fonds_id=fid, year=year)

        report = run(work)
        if as_json:
            console.print_json(json.dumps(report.to_dict(), ensure_ascii=False))
            return
        table = Table(
            "全宗",
            "形成年度",
            "门类",
            "数量",
            "原因",
            title=f"开放审核候选（截至 {today.isoformat()}）：共 {report.total:,} 件/卷，"
            f"{len(report.batches)} 批",
        )
        for b in report.batches:
            reasons = "，".join(f"{REASON_LABELS[k]} {v:,}" for k, v in sorted(b.reasons.items()))
            table.add_row(
                f"{b.fonds_code or ''} {b.fonds_name}".strip(),
                str(b.year or "不详"),
                b.category or "",
                f"{b.count:,}",
                reasons,
            )
        console.print(table)
        if report.undated:
            console.print(f"另有 {report.undated:,} 件/卷没有形成年度，未列入。", highlight=False)
    finally:
        inst.close()


def _print_screening(r: RecordScreening) -> None:
    head = r.archival_code or f"条目 {r.record_id}"
    console.print(
        f"[bold]{head}[/] {r.title}\n建议：[bold]{r.suggestion}[/]。{r.suggestion_reason}",
        highlight=False,
    )
    if not r.hits:
        return
    for h in r.hits:
        loc = h.location
        basis = h.basis + ("" if h.basis_verified else "（待核实）")
        console.print(
            f"  - {loc.describe()} 字符 {loc.start}–{loc.end}：{h.rule_name}「{h.masked}」，"
            f"建议{h.result}；依据：{basis}",
            highlight=False,
            markup=False,
        )


@appraisal_app.command("screen")
def screen(
    record: Annotated[
        int | None, typer.Argument(help="条目 ID（案卷连同其卷内文件一起筛查）")
    ] = None,
    fonds: Annotated[str | None, typer.Option("--fonds", help="筛查整个全宗")] = None,
    year: Annotated[int | None, typer.Option("--year", help="与 --fonds 同用：只筛此年度")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="把完整结果（含命中原文）写入此 JSON 文件")
    ] = None,
) -> None:
    """机器预筛：按规则检查著录项和全文，列出命中、依据和建议结果。"""
    if (record is None) == (fonds is None):
        fail("请给出条目 ID，或用 --fonds 指定全宗（二者选一）")
    inst = open_instance()
    try:

        def work() -> list[RecordScreening]:
            screener = screener_for(inst)
            with inst.db.read() as s:
                if record is not None:
                    return [screen_record(s, screener, record)]
                assert fonds is not None
                units = review_units(s, _fonds_id(inst, fonds), year)
                return list(screen_units(s, screener, units))

        results = run(work)
        flagged = [r for r in results if r.hits]
        for r in flagged if fonds else results:
            _print_screening(r)
        summary: dict[str, int] = {}
        for r in results:
            summary[r.suggestion] = summary.get(r.suggestion, 0) + 1
        console.print(
            f"共筛查 {len(results):,} 件/卷，有命中 {len(flagged):,}；建议："
            + "，".join(f"{k} {v:,}" for k, v in sorted(summary.items())),
            highlight=False,
        )
        if out is not None:
            payload = {
                "generated": date.today().isoformat(),
                "count": len(results),
                "suggestions": summary,
                "results": [r.to_dict() for r in results],
            }
            out.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
            console.print(f"已写入 {out}", highlight=False)
    finally:
        inst.close()


# Review rounds (批次、结论、协同审核、写入结果、统计): lantai.cli.appraisal_review.
from lantai.cli.appraisal_review import register as _register_review  # noqa: E402

_register_review(appraisal_app)
