"""The list sent to the 形成/移交单位 for joint review (档案法第三十条), as XLSX, and its return.

Export: a title row naming the batch, then one row per item — 序号, 档号, 题名, 年度, 机器建议,
预筛命中, 当前结论, and two empty columns for the unit: 单位意见 (开放 / 控制 / 延期开放) and 理由.
Import: the same sheet filled in (the header row is found below the title). Every row is checked
before anything is stored — 档号 not in the batch, a repeated 档号, an opinion that is not one of
the results, 控制 / 延期开放 without a reason — and all problems are reported with their row and
column; with any problem nothing is written. Rows left without an opinion are skipped.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.appraisal.review.batches import get_batch, rules_for
from lantai.appraisal.review.opinions import OpinionRow, record_unit_opinions
from lantai.appraisal.review.views import decisions_for, effective
from lantai.audit import EventType
from lantai.catalogue.tabular import TableLimits, open_table
from lantai.errors import Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import ReviewItem

__all__ = ["HEADERS", "export_unit_list", "import_unit_opinions"]

HEADERS = ("序号", "档号", "题名", "年度", "机器建议", "预筛命中", "当前结论", "单位意见", "理由")
COL_CODE, COL_OPINION, COL_REASON = "档号", "单位意见", "理由"
_LETTERS = {h: chr(ord("A") + i) for i, h in enumerate(HEADERS)}
_MAX_PROBLEMS = 200


def _hits_summary(item: ReviewItem) -> str:
    if not item.hit_count:
        return "无"
    names: dict[str, int] = {}
    for h in item.hits:
        name = str(h.get("rule_name") or h.get("rule_id"))
        names[name] = names.get(name, 0) + 1
    return "；".join(f"{k}×{v}" for k, v in names.items())


def export_unit_list(inst: Instance, s: Session, actor: Actor, batch_id: int) -> bytes:
    """The batch's list for the unit as XLSX bytes; logs one event (the list left the archive)."""
    actor.require(Perm.APPRAISAL_REVIEW_MANAGE)
    batch = get_batch(s, batch_id)
    items = list(
        s.scalars(
            select(ReviewItem).where(ReviewItem.batch_id == batch.id).order_by(ReviewItem.position)
        )
    )
    decisions = decisions_for(s, batch.id, [i.record_id for i in items])
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "开放审核意见"
    ws.append([f"开放审核协同意见表：{batch.title}（批次 {batch.uid}）"])
    ws.append(
        [
            f"形成/移交单位：{batch.unit or ''}。请在「单位意见」列填写 开放、控制 或 延期开放，"
            "控制、延期开放须在「理由」列说明理由；请勿改动档号。"
        ]
    )
    ws.append(list(HEADERS))
    for cell in ws[3]:
        cell.font = Font(bold=True)
    for n, item in enumerate(items, start=1):
        eff = effective(batch, decisions.get(item.record_id, []))
        current = ""
        if eff is not None:
            current = eff.result + (
                f"（至 {eff.review_due.isoformat()}）" if eff.review_due else ""
            )
        ws.append(
            [
                n,
                item.archival_code or "",
                item.title,
                item.year,
                item.suggestion,
                _hits_summary(item),
                current,
                None,
                None,
            ]
        )
    widths = {"A": 6, "B": 26, "C": 50, "D": 8, "E": 10, "F": 30, "G": 18, "H": 12, "I": 40}
    for col, width in widths.items():
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=4, min_col=3, max_col=3):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True)
    buf = io.BytesIO()
    wb.save(buf)
    inst.audit.append(
        s,
        actor=actor.username,
        action=EventType.APPRAISAL_LIST_EXPORTED,
        object_type="review_batch",
        object_id=batch.id,
        detail={"unit": batch.unit, "count": len(items), "format": "xlsx"},
    )
    return buf.getvalue()


def _is_header(cells: Sequence[str]) -> bool:
    return COL_CODE in cells and COL_OPINION in cells


def import_unit_opinions(
    inst: Instance,
    s: Session,
    actor: Actor,
    batch_id: int,
    path: Path,
    *,
    unit: str | None = None,
    filename: str | None = None,
    today: date | None = None,
) -> int:
    """Read the filled list and store the opinions (all rows valid, or nothing is written)."""
    actor.require(Perm.APPRAISAL_REVIEW_MANAGE)
    batch = get_batch(s, batch_id)
    rules = rules_for(inst)
    name = filename or path.name
    unit_name = (unit or batch.unit or "").strip()
    problems: list[Problem] = []
    if not unit_name:
        problems.append(
            Problem(
                file=name, field="单位名称", message="批次没有登记形成/移交单位，须指定单位名称"
            )
        )
    by_code = {
        code: rid
        for code, rid in s.execute(
            select(ReviewItem.archival_code, ReviewItem.record_id).where(
                ReviewItem.batch_id == batch.id
            )
        )
        if code
    }
    rows: list[OpinionRow] = []
    seen: dict[str, int] = {}
    limits = TableLimits.from_settings(inst.settings)
    with open_table(path, limits=limits, name=name, header_predicate=_is_header) as table:
        missing = [h for h in (COL_CODE, COL_OPINION, COL_REASON) if h not in table.headers]
        if missing:
            raise ValidationFailed(
                "单位意见表格式不对，未导入",
                [
                    Problem(file=name, field=h, rule="表头", message=f"缺少「{h}」列")
                    for h in missing
                ],
            )
        letters = {h: _column_letter(table.headers, h) for h in (COL_CODE, COL_OPINION, COL_REASON)}
        for row_no, values in table.rows():
            code = _text(values.get(COL_CODE))
            opinion = _text(values.get(COL_OPINION))
            reason = _text(values.get(COL_REASON))
            here: list[Problem] = []

            def bad(
                col: str,
                value: str,
                message: str,
                rule: str = "",
                *,
                _row: int = row_no,
                _out: list[Problem] = here,
            ) -> None:
                _out.append(
                    Problem(
                        file=name,
                        row=_row,
                        field=f"{col}（{letters[col]}列）",
                        value=value,
                        rule=rule,
                        message=message,
                    )
                )

            if not code:
                if opinion or reason:
                    bad(COL_CODE, "", "档号为空")
                problems += here
                continue
            rid = by_code.get(code)
            if rid is None:
                bad(COL_CODE, code, f"档号「{code}」不在本审核批次中", "档号须与导出清单一致")
            elif code in seen:
                bad(COL_CODE, code, f"档号「{code}」与第 {seen[code]} 行重复")
            else:
                seen[code] = row_no
            if opinion and opinion not in rules.results:
                bad(
                    COL_OPINION,
                    opinion,
                    f"单位意见须为 {'、'.join(rules.results)} 之一",
                    "开放标识",
                )
            elif opinion in rules.reason_required_for and not reason:
                bad(COL_REASON, "", f"单位意见为「{opinion}」时须填写理由")
            if not opinion and reason:
                bad(COL_OPINION, "", "填写了理由但没有填写单位意见")
            problems += here
            if not here and rid is not None and opinion:
                rows.append(OpinionRow(record_id=rid, opinion=opinion, reason=reason, raw=opinion))
            if len(problems) >= _MAX_PROBLEMS:
                break
        sha256 = table.source.sha256
    if problems:
        raise ValidationFailed(
            f"单位意见表有 {len(problems)} 处问题，未导入任何意见", problems[:_MAX_PROBLEMS]
        )
    if not rows:
        raise ValidationFailed(
            "单位意见表中没有任何意见，未导入",
            [Problem(file=name, field=COL_OPINION, message="「单位意见」列全部为空")],
        )
    return record_unit_opinions(
        inst,
        s,
        actor,
        batch,
        rows,
        unit=unit_name,
        detail={"file": name, "sha256": sha256},
    )


def _column_letter(headers: Sequence[str], header: str) -> str:
    i = list(headers).index(header)
    out = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        out = chr(ord("A") + rem) + out
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())
