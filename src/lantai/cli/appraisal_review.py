"""``lantai appraisal batch|decide|advance|export-unit|import-unit|apply|stats``: review rounds.

Registered on ``lantai appraisal`` by :func:`register`. The command-line operator acts as itself
(``cli:<user>``): it holds every permission and may work on any round's task, but the
distinct-reviewer rule applies to it as to anyone.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select

from lantai.appraisal.review import (
    DecisionInput,
    ItemFilter,
    advance,
    apply_batch,
    batch_json,
    create_from_candidates,
    create_from_filter,
    decide,
    export_unit_list,
    get_batch,
    import_unit_opinions,
    items_page,
    parse_due,
    review_stats,
)
from lantai.cli.common import console, fail, open_instance, run
from lantai.errors import NotFound
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import Record, ReviewBatch

__all__ = ["register"]

batch_app = typer.Typer(help="开放审核批次：建立、列出、查看", no_args_is_help=True)


def _fonds_id(inst: Instance, code: str) -> int:
    with inst.db.read() as s:
        fid = s.scalar(
            select(Record.id).where(Record.level == "fonds", Record.archival_code == code.upper())
        )
    if fid is None:
        raise NotFound(f"全宗「{code}」不存在")
    return int(fid)


def _print_batch(b: dict[str, Any]) -> None:
    console.print(
        f"[bold]批次 {b['id']}[/] {b['title']}（{b['state_label']}，{b['item_count']:,} 件/卷，"
        f"无命中 {b['no_hits']:,}，单位意见 {b['unit_opinions']:,}）",
        highlight=False,
    )
    for r in b["rounds"]:
        results = "，".join(f"{k} {v}" for k, v in r["results"].items())
        console.print(
            f"  {r['name']}：{r['state']}，已决 {r['decided']}/{r['total']}"
            f"{'，' + results if results else ''}{'，承办 ' + r['assignee'] if r['assignee'] else ''}",
            highlight=False,
        )


@batch_app.command("create")
def batch_create(
    fonds: Annotated[str, typer.Option("--fonds", help="全宗号")],
    year: Annotated[int | None, typer.Option("--year", help="形成年度")] = None,
    category: Annotated[str | None, typer.Option("--category", help="门类代码")] = None,
    all_units: Annotated[
        bool, typer.Option("--all", help="不限到期候选：全宗（年度、门类）内尚未开放的全部条目")
    ] = False,
    title: Annotated[str | None, typer.Option("--title", help="批次名称")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="形成/移交单位")] = None,
    no_joint: Annotated[
        bool, typer.Option("--no-joint", help="不与形成/移交单位协同审核（单位已撤销等）")
    ] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="候选计算日期 YYYY-MM-DD")] = None,
) -> None:
    """从到期候选（或按条件筛选）建立审核批次，并保存机器预筛结果。"""
    inst = open_instance()
    try:
        today = date.fromisoformat(as_of) if as_of else None

        def work() -> dict[str, Any]:
            fid = _fonds_id(inst, fonds)
            actor = Actor.operator()
            with inst.db.write() as s:
                common: dict[str, Any] = {
                    "fonds_id": fid,
                    "year": year,
                    "category": category,
                    "title": title,
                    "unit": unit,
                    "joint_review": not no_joint,
                }
                b = (
                    create_from_filter(inst, s, actor, **common)
                    if all_units
                    else create_from_candidates(inst, s, actor, today=today, **common)
                )
                return batch_json(s, b)

        _print_batch(run(work))
    finally:
        inst.close()


@batch_app.command("list")
def batch_list(
    state: Annotated[str | None, typer.Option("--state", help="reviewing 或 applied")] = None,
) -> None:
    """列出审核批次及各轮进度。"""
    inst = open_instance()
    try:
        with inst.db.read() as s:
            stmt = select(ReviewBatch).order_by(ReviewBatch.id.desc())
            if state:
                stmt = stmt.where(ReviewBatch.state == state)
            rows = [batch_json(s, b) for b in s.scalars(stmt)]
        table = Table("ID", "批次", "状态", "当前轮次", "件/卷", "进度", title="开放审核批次")
        for b in rows:
            prog = " → ".join(f"{r['name']} {r['decided']}/{r['total']}" for r in b["rounds"])
            table.add_row(
                str(b["id"]),
                b["title"],
                b["state_label"],
                b["current_round_name"] or "—",
                f"{b['item_count']:,}",
                prog,
            )
        console.print(table)
    finally:
        inst.close()


@batch_app.command("show")
def batch_show(
    batch_id: Annotated[int, typer.Argument(help="批次 ID")],
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出条目")] = False,
) -> None:
    """查看批次：各轮进度、每个条目的机器建议、结论与单位意见。"""
    inst = open_instance()
    try:

        def work() -> tuple[dict[str, Any], dict[str, Any]]:
            with inst.db.read() as s:
                b = get_batch(s, batch_id)
                page = items_page(s, Actor.operator(), b, ItemFilter(), limit=100_000)
                return batch_json(s, b), page

        b, page = run(work)
        if as_json:
            console.print_json(json.dumps(b | {"items": page["items"]}, ensure_ascii=False))
            return
        _print_batch(b)
        table = Table("档号", "题名", "机器建议", "命中", "当前结论", "单位意见")
        for i in page["items"]:
            cur = i["current"]
            ops = "；".join(f"{o['unit']}：{o['opinion'] or o['raw']}" for o in i["unit_opinions"])
            table.add_row(
                i["archival_code"] or str(i["record_id"]),
                i["title"][:40],
                i["screening"]["suggestion"],
                str(i["screening"]["hit_count"]),
                f"{cur['result']}（{cur['round_name']}）" if cur else "",
                ops,
            )
        console.print(table)
    finally:
        inst.close()


def decide_cmd(
    batch_id: Annotated[int, typer.Argument(help="批次 ID")],
    result: Annotated[str, typer.Option("--result", help="开放、控制 或 延期开放")],
    due: Annotated[str | None, typer.Option("--due", help="复审日期（延期开放必填）")] = None,
    reason: Annotated[str, typer.Option("--reason", help="理由")] = "",
    basis: Annotated[str, typer.Option("--basis", help="依据（空：采用机器预筛的依据）")] = "",
    record: Annotated[list[int] | None, typer.Option("--record", help="条目 ID（可多次）")] = None,
    no_hits: Annotated[bool, typer.Option("--no-hits", help="只选无命中的条目")] = False,
    with_hits: Annotated[bool, typer.Option("--with-hits", help="只选有命中的条目")] = False,
    suggestion: Annotated[str | None, typer.Option("--suggestion", help="机器建议为此结果")] = None,
    category: Annotated[str | None, typer.Option("--category", help="门类")] = None,
    undecided: Annotated[bool, typer.Option("--undecided", help="只选本轮尚未作结论的")] = False,
) -> None:
    """在批次的当前轮次作出结论：逐条（--record）或按条件批量。"""
    if no_hits and with_hits:
        fail("--no-hits 与 --with-hits 只能选一个")
    inst = open_instance()
    try:

        def work() -> dict[str, Any]:
            d = DecisionInput(result=result, review_due=parse_due(due), reason=reason, basis=basis)
            flt = ItemFilter(
                record_ids=tuple(record) if record else None,
                no_hits=True if no_hits else (False if with_hits else None),
                suggestion=suggestion,
                category=category,
                undecided=undecided,
            )
            with inst.db.write() as s:
                return decide(inst, s, Actor.operator(), batch_id, d, items=flt).to_dict()

        out = run(work)
        console.print(
            f"「{out['round_name']}」：{out['count']:,} 件/卷作出结论「{result}」"
            f"（新增 {out['created']:,}，改判 {out['replaced']:,}）",
            highlight=False,
        )
    finally:
        inst.close()


def advance_cmd(batch_id: Annotated[int, typer.Argument(help="批次 ID")]) -> None:
    """批次进入下一轮（本轮全部作出结论，或本轮可跳过且未作结论）。"""
    inst = open_instance()
    try:

        def work() -> dict[str, Any]:
            with inst.db.write() as s:
                return batch_json(s, advance(inst, s, Actor.operator(), batch_id))

        _print_batch(run(work))
    finally:
        inst.close()


def export_unit_cmd(
    batch_id: Annotated[int, typer.Argument(help="批次 ID")],
    out: Annotated[Path, typer.Option("--out", help="写入的 XLSX 文件")],
) -> None:
    """导出协同审核清单（XLSX），供形成/移交单位填写意见与理由。"""
    inst = open_instance()
    try:

        def work() -> bytes:
            with inst.db.write() as s:
                return export_unit_list(inst, s, Actor.operator(), batch_id)

        out.write_bytes(run(work))
        console.print(f"已写入 {out}", highlight=False)
    finally:
        inst.close()


def import_unit_cmd(
    batch_id: Annotated[int, typer.Argument(help="批次 ID")],
    file: Annotated[Path, typer.Argument(help="单位填写后的 XLSX")],
    unit: Annotated[
        str | None, typer.Option("--unit", help="单位名称（默认：批次登记的单位）")
    ] = None,
) -> None:
    """导入单位意见：每行都通过校验才写入，否则列出全部问题（行、列）且不写入。"""
    inst = open_instance()
    try:

        def work() -> int:
            with inst.db.write() as s:
                return import_unit_opinions(inst, s, Actor.operator(), batch_id, file, unit=unit)

        console.print(f"已导入 {run(work):,} 条单位意见", highlight=False)
    finally:
        inst.close()


def apply_cmd(batch_id: Annotated[int, typer.Argument(help="批次 ID")]) -> None:
    """终审完成后写入审核结果：开放标识、审核日期、延期开放的复审日期。"""
    inst = open_instance()
    try:

        def work() -> dict[str, Any]:
            with inst.db.write() as s:
                return apply_batch(inst, s, Actor.operator(), batch_id).to_dict()

        res = run(work)
        counts = "，".join(f"{k} {v:,}" for k, v in res["counts"].items())
        console.print(
            f"已写入审核结果（{res['reviewed_on']}）：{counts}；共更新 {res['records_changed']:,} 个条目",
            highlight=False,
        )
    finally:
        inst.close()


def stats_cmd(
    fonds: Annotated[str | None, typer.Option("--fonds", help="全宗号")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
) -> None:
    """开放统计：各全宗审核单元数、开放数、本年开放数与开放率。"""
    inst = open_instance()
    try:

        def work() -> dict[str, Any]:
            fid = _fonds_id(inst, fonds) if fonds else None
            with inst.db.read() as s:
                return review_stats(s, fonds_id=fid)

        st = run(work)
        if as_json:
            console.print_json(json.dumps(st, ensure_ascii=False))
            return
        table = Table(
            "全宗", "审核单元", "开放", "控制", "延期开放", "未审核", "本年开放", "开放率"
        )
        for r in st["fonds"]:
            c = r["by_status"]
            table.add_row(
                f"{r['fonds_code'] or ''} {r['fonds_name']}".strip(),
                f"{r['units']:,}",
                f"{c['开放']:,}",
                f"{c['控制']:,}",
                f"{c['延期开放']:,}",
                f"{c['未审核']:,}",
                f"{r['opened_this_year']:,}",
                f"{r['open_rate']:.1%}",
            )
        t = st["total"]
        console.print(table)
        console.print(
            f"合计：{t['units']:,} 个审核单元，开放 {t['open']:,}，本年开放 "
            f"{t['opened_this_year']:,}，开放率 {t['open_rate']:.1%}",
            highlight=False,
        )
    finally:
        inst.close()


def register(app: typer.Typer) -> None:
    app.add_typer(batch_app, name="batch")
    app.command("decide")(decide_cmd)
    app.command("advance")(advance_cmd)
    app.command("export-unit")(export_unit_cmd)
    app.command("import-unit")(import_unit_cmd)
    app.command("apply")(apply_cmd)
    app.command("stats")(stats_cmd)
