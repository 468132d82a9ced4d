"""A known instance for the dashboard tests (import with ``from dashboard_support import …``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update

from factories import create_fonds, create_series, item_values
from lantai.archival import Level
from lantai.dashboard import rebuild
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import IngestTransfer, Record, RecordFile, ScanPage, ScanPageText

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


def build_progress(
    k: Known, actor: Actor, tmp: Path, *, ocr: bool = True, backup: bool = True
) -> Known:
    """Work in progress on the known instance, made through the real services.

    * 专题库「民生」: ws2011_0, ws2011_1 and ws2011_2 (fields.collections); scan batch A
      (ws2011_0, 2 pages) and batch B (ws2011_1, 1 page, and one page whose 档号 is not in the
      catalogue) are linked: 民生 2 of 3 linked; 3 linked pages (画幅), 2 scanned 件.
    * OCR: batch A recognised with tesseract and its page 2 marked low-confidence (as a weak
      scan would be); batch B's 2 pages not yet recognised.
    * 开放审核: one batch of ws1948_1 and ws2011_3 in 初审, ws2011_3 decided 开放 (not applied).
    * 上网公布: every 开放 件 published (ws2011_0, ws2011_1, ws1948_0, zp0–2: 6).
    * Backups: one backup, restorability test passed.
    * 利用登记 (2026): person P (个人·权益维护, 网上) views ws2011_0 and ws2011_1 on 3 March (and
      ws2011_0 again: not logged twice); a walk-in (单位·工作查考, 到馆) reads and copies 4 pages
      of ws1948_0 on 2 May; P gets a certificate on ws2011_0 (个人·学术研究, 网上) on 3 June; P's
      view of zp0 on 30 December 2025 is last year's. 2026: 3 人次, 5 卷（件）次.

    ``ocr=False`` leaves all four pages unrecognised; ``backup=False`` makes no backup.
    """
    from digitisation_support import render_page, save
    from lantai.appraisal.publication.service import publish_all_open
    from lantai.appraisal.review import DecisionInput, ItemFilter, create_batch, decide
    from lantai.backup import create_backup, verify_backup
    from lantai.digitisation import import_batch, link_batch, load_config, ocr_batch
    from lantai.digitisation.ocr import make_engine

    inst, ids = k.inst, k.ids
    codes: dict[str, str] = {}
    with inst.db.write() as s:  # no scheme element for 专题库 yet: 挂接 reads fields.collections
        for key in ("ws2011_0", "ws2011_1", "ws2011_2"):
            rec = s.get(Record, ids[key])
            assert rec is not None and rec.archival_code
            rec.fields = {**rec.fields, "collections": ["民生"]}
            codes[key] = rec.archival_code
        fonds = s.get(Record, k.fonds)
        assert fonds is not None and fonds.archival_code
        fonds_code = fonds.archival_code
    a, b = tmp / "scan-a", tmp / "scan-b"
    save(render_page(1, width_mm=80), a / codes["ws2011_0"] / "0001.png")
    save(render_page(2, width_mm=80), a / codes["ws2011_0"] / "0002.png")
    save(render_page(3, width_mm=60), b / f"{codes['ws2011_1']}-0001.png")
    stray = codes["ws2011_1"].rsplit("-", 1)[0] + "-9999"
    save(render_page(4, width_mm=60), b / f"{stray}-0001.png")
    batch_a = import_batch(inst, actor, a, fonds_code=fonds_code, category="WS", collection="民生")
    batch_b = import_batch(inst, actor, b, fonds_code=fonds_code, category="WS")
    link_batch(inst, actor, batch_a.id)
    link_batch(inst, actor, batch_b.id)
    if ocr:
        engine = make_engine("tesseract", load_config().ocr)
        ocr_batch(inst, batch_a.id, actor_name=actor.username, engine=engine)
        with inst.db.write() as s:
            row = s.scalar(
                select(ScanPageText)
                .join(ScanPage, ScanPage.id == ScanPageText.page_id)
                .where(ScanPage.batch_id == batch_a.id, ScanPage.page_no == 2)
            )
            assert row is not None
            row.low_confidence = True
    with inst.db.write() as s:
        review = create_batch(inst, s, actor, [ids["ws1948_1"], ids["ws2011_3"]])
        decide(
            inst,
            s,
            actor,
            review.id,
            DecisionInput(result="开放"),
            items=ItemFilter(record_ids=(ids["ws2011_3"],)),
        )
    publish_all_open(inst, actor, reason="测试：开放档案目录上网")
    ids["review_batch"] = review.id
    _uses(inst, ids)
    if backup:
        made = create_backup(inst, tmp / "backups", actor)
        verify_backup(inst, made.uid, actor)
        ids["backup"] = made.id
    return k


def _uses(inst: Instance, ids: dict[str, int]) -> None:
    from lantai.access.uselog import Use, log_use

    def at(month: int, day: int, year: int = 2026) -> datetime:
        return datetime(year, month, day, 10, tzinfo=UTC)

    p = ("user:900", "个人")
    walkin = ("walkin:某单位经办人", "单位")
    uses = [
        (p, "权益维护", "网上", "view", "ws2011_0", 0, at(3, 1), True),
        (p, "权益维护", "网上", "view", "ws2011_1", 0, at(3, 1), True),
        (p, "权益维护", "网上", "view", "ws2011_0", 0, at(3, 1), False),  # same day: once
        (walkin, "工作查考", "到馆", "visit", "ws1948_0", 0, at(5, 2), True),
        (walkin, "工作查考", "到馆", "copy", "ws1948_0", 4, at(5, 2), True),
        (p, "学术研究", "网上", "certificate", "ws2011_0", 0, at(6, 3), True),
        (p, "权益维护", "网上", "view", "zp0", 0, at(12, 30, 2025), True),
    ]
    with inst.db.write() as s:
        for (person, user_type), purpose, channel, kind, key, pages, when, new in uses:
            use = Use(person, user_type, purpose, channel, kind, ids[key], pages=pages)
            assert log_use(s, use, now=when) is new
