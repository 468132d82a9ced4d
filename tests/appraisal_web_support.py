"""A small 开放审核 batch for the page and browser tests: 1999 fonds, four items, one with an ID
number in its full text (import with ``from appraisal_web_support import …``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from factories import create_fonds, create_series, item_values
from lantai.appraisal.review import create_from_candidates
from lantai.archival import Level
from lantai.instance import Instance
from lantai.search.texts import add_text
from lantai.security import Actor

__all__ = ["ID_NUMBER", "TEXT_WITH_ID", "WorkbenchBatch", "build_batch"]

OP = Actor.operator()
ID_NUMBER = "110101199003074514"
TEXT_WITH_ID = (
    "关于申请办理户口迁移的报告\n申请人王某，居民身份证号码："
    + ID_NUMBER
    + "，现居城关镇。\f第二页：经审核，同意办理。"
)


@dataclass(frozen=True)
class WorkbenchBatch:
    batch_id: int
    fonds_id: int
    with_id: int  # the item whose full text holds the ID number
    clean: tuple[int, ...]  # items without hits


def build_batch(inst: Instance, *, today: date | None = None) -> WorkbenchBatch:
    fonds = create_fonds(inst, OP)
    series = create_series(inst, OP, fonds.id, "文书档案 1999年")
    ids: list[int] = []
    with inst.db.write() as s:
        for date_, title in (
            ("19990305", "关于城区绿化工作的通知"),
            ("19990405", "关于防汛工作安排的通知"),
            ("19990505", "关于户口迁移申请的报告"),
            ("19990605", "关于召开全市档案工作会议的通知"),
        ):
            rec = inst.catalogue.create_record(
                s,
                OP,
                parent_id=series.id,
                level=Level.ITEM,
                values=item_values(date=date_, title=title),
            )
            ids.append(rec.id)
    add_text(inst, OP, ids[2], "正文", "extracted", TEXT_WITH_ID)
    add_text(inst, OP, ids[0], "正文", "extracted", "全市植树五万株，绿化面积增加。")
    with inst.db.write() as s:
        batch = create_from_candidates(
            inst, s, OP, fonds_id=fonds.id, year=1999, today=today or date.today()
        )
        batch_id = batch.id
    return WorkbenchBatch(
        batch_id=batch_id,
        fonds_id=fonds.id,
        with_id=ids[2],
        clean=(ids[0], ids[1], ids[3]),
    )
