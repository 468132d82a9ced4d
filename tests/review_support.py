"""Builders for the review tests: a 1999 fonds with clean and sensitive items, and reviewers."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from factories import create_fonds, create_series, item_values
from lantai.archival import Level
from lantai.instance import Instance
from lantai.security import Actor

__all__ = [
    "OP",
    "TODAY",
    "fill_unit_list",
    "make_users",
    "populate_1999",
    "post_unit_opinions",
]

OP = Actor.operator()
TODAY = date(2025, 6, 1)
PASSWORD = "Lantai-Test-2026!"

REVIEWERS = {
    "chu": ("appraiser",),  # 初审
    "fu": ("appraiser",),  # 复审
    "zhong": ("archivist",),  # 终审 (appraisal:review:manage)
    "reader": ("reader",),
}


def make_users(inst: Instance) -> dict[str, Actor]:
    with inst.db.write() as s:
        for name, roles in REVIEWERS.items():
            inst.users.create(
                s,
                OP,
                username=name,
                display_name=f"{name}用户",
                password=PASSWORD,
                roles=roles,
                clearance="机密",
            )
    out = {}
    with inst.db.read() as s:
        for name in REVIEWERS:
            out[name] = inst.users.actor_for(s, inst.users.get(s, name))
    return out


def populate_1999(inst: Instance) -> dict[str, int]:
    """Fonds Z109: four 1999 items (two clean, one with an ID number, one 违纪 with a name) and a
    1999 案卷 with one 件; one 2005 item (not a candidate)."""
    fonds = create_fonds(inst, OP)
    ws = create_series(inst, OP, fonds.id, "文书档案 1999年")
    ids: dict[str, int] = {"fonds": fonds.id}
    with inst.db.write() as s:

        def item(key: str, parent: int, **v: object) -> None:
            rec = inst.catalogue.create_record(
                s, OP, parent_id=parent, level=Level.ITEM, values=item_values(**v)
            )
            ids[key] = rec.id

        item("clean1", ws.id, date="19990305", title="关于城区绿化工作的通知")
        item("clean2", ws.id, date="19990405", title="关于防汛工作安排的通知")
        item("idcard", ws.id, date="19990505", title="申请人身份证号110101199003074514的材料")
        item("name", ws.id, date="19990605", title="关于张三违纪问题的处理决定")
        item("new", ws.id, date="20050305", title="关于2005年档案馆开放日的通知")
        f = inst.catalogue.create_record(
            s,
            OP,
            parent_id=ws.id,
            level=Level.FILE,
            values={
                "title": "城建检查卷",
                "responsible": "某市城建局",
                "date": "19990101-19991231",
                "retention": "Y",
                "org_code": "BGS",
                "year": 1999,
            },
        )
        ids["file"] = f.id
        item("in_file", f.id, date="19990705", title="城建检查记录")
    return ids


def fill_unit_list(data: bytes, opinions: dict[str, tuple[str, str]]) -> bytes:
    """The exported unit list with the unit's (意见, 理由) filled in for the given 档号."""
    wb = load_workbook(io.BytesIO(data))
    ws = wb.active
    assert ws is not None
    header = [c.value for c in ws[3]]
    code_col, op_col, reason_col = (header.index(h) for h in ("档号", "单位意见", "理由"))
    for row in ws.iter_rows(min_row=4):
        code = row[code_col].value
        if code in opinions:
            row[op_col].value, row[reason_col].value = opinions[code]
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def post_unit_opinions(client: TestClient, h: dict[str, str], bid: int, data: bytes) -> Any:
    return client.post(
        f"/api/appraisal/batches/{bid}/unit-opinions",
        files={"file": ("意见.xlsx", data, "application/octet-stream")},
        data={"unit": "某市人民政府办公室"},
        headers=h,
    )
