"""A known instance for the dashboard tests (import with ``from dashboard_support import …``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import update

from factories import create_fonds, create_series, item_values
from lantai.archival import Level
from lantai.dashboard import rebuild
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import IngestTransfer, Record, RecordFile

OLD = datetime(2024, 6, 1, tzinfo=UTC)  # records "entered" before this year (2026)


@dataclass
class Known:
    inst: Instance
    fonds: int
    ws: int
    ids: dict[str, int] = field(default_factory=dict)


def _item(inst: Instance, actor: Actor, parent: int, category: str, **values: object) -> int:
    with inst.db.write() as s:
        rec = inst.catalogue.create_record(
            s,
            actor,
            parent_id=parent,
            level=Level.ITEM,
            values=item_values(**values),
            category=category,
        )
        return rec.id


def _transfer(inst: Instance, state: str, files: int, size: int) -> int:
    with inst.db.write() as s:
        t = IngestTransfer(
            uid=str(uuid.uuid4()),
            source_name=f"{state}.zip",
            source_path="/nowhere",
            state=state,
            actual_files=files,
            actual_bytes=size,
            created_by="tester",
        )
        s.add(t)
        s.flush()
        return t.id


def build_known(inst: Instance, actor: Actor) -> Known:
    """The instance the dashboard tests assert on (every figure is written down in the tests).

    * WS: 2011 × 4 件 (2 开放, one carrier 纸质), 1948 × 2 件 (1 开放), all entered in 2024;
      2025 × 1 件 entered this year; one 案卷 (2011) with 2 卷内文件 entered this year.
    * ZP: 3 张 (2020, 开放), entered this year. LY: 2 件 of 30 and 45 分钟 (2021).
    * Files: 3 records with files (1000 + 2000, 500, 4000 bytes) from a finished transfer;
      transfers: done (3 files, 7500 bytes), received and staged (queue), rejected.
    """
    fonds = create_fonds(inst, actor).id
    ws = create_series(inst, actor, fonds).id
    zp = create_series(inst, actor, fonds, "照片档案", "ZP").id
    ly = create_series(inst, actor, fonds, "录音档案", "LY").id
    k = Known(inst, fonds, ws)
    ids = k.ids
    for n in range(4):
        extra: dict[str, object] = {"carrier": "纸质"} if n == 0 else {}
        ids[f"ws2011_{n}"] = _item(
            inst,
            actor,
            ws,
            "WS",
            title=f"2011年文件{n}",
            date=f"2011030{n + 1}",
            open_status="开放" if n < 2 else "未审核",
            doc_number=None,
            **extra,
        )
    for n in range(2):
        ids[f"ws1948_{n}"] = _item(
            inst,
            actor,
            ws,
            "WS",
            title=f"1948年文件{n}",
            date=f"1948050{n + 1}",
            open_status="开放" if n == 0 else "控制",
            doc_number=None,
        )
    ids["ws2025"] = _item(
        inst, actor, ws, "WS", title="2025年文件", date="20250102", doc_number=None
    )
    with inst.db.write() as s:
        f = inst.catalogue.create_record(
            s,
            actor,
            parent_id=ws,
            level=Level.FILE,
            category="WS",
            values={
                "title": "2011年会议案卷",
                "responsible": "某市人民政府办公室",
                "date": "2011",
                "year": 2011,
                "retention": "Y",
            },
        )
        ids["file2011"] = f.id
    for n in range(2):
        ids[f"in_file_{n}"] = _item(
            inst,
            actor,
            ids["file2011"],
            "WS",
            title=f"卷内文件{n}",
            date=f"2011040{n + 1}",
            doc_number=None,
        )
    for n in range(3):
        ids[f"zp{n}"] = _item(
            inst,
            actor,
            zp,
            "ZP",
            title=f"照片{n}",
            date=f"2020060{n + 1}",
            photographer="李明",
            open_status="开放",
            doc_number=None,
            pages=None,
        )
    for n, minutes in enumerate((30, 45)):
        ids[f"ly{n}"] = _item(
            inst,
            actor,
            ly,
            "LY",
            title=f"录音{n}",
            date=f"2021070{n + 1}",
            duration_minutes=minutes,
            doc_number=None,
            pages=None,
        )
    done = _transfer(inst, "done", 3, 7500)
    _transfer(inst, "received", 0, 0)
    _transfer(inst, "staged", 2, 100)
    _transfer(inst, "rejected", 5, 900)
    files = [("ws2011_0", 1000), ("ws2011_0", 2000), ("zp0", 500), ("ly0", 4000)]
    with inst.db.write() as s:
        for pos, (key, size) in enumerate(files):
            s.add(
                RecordFile(
                    record_id=ids[key],
                    transfer_id=done,
                    aip_id="aip-1",
                    path=f"f{pos}.pdf",
                    position=pos,
                    size=size,
                    sha256="0" * 64,
                    sm3="0" * 64,
                )
            )
        old = [ids[f"ws2011_{n}"] for n in range(4)] + [ids["ws1948_0"], ids["ws1948_1"]]
        s.execute(update(Record).where(Record.id.in_(old)).values(created_at=OLD))
    # Files and entry dates were written behind the catalogue's back: recompute once.
    rebuild(inst.db)
    return k
