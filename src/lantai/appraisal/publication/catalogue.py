"""The published open catalogue (开放档案目录, 档案法第二十八条): 案卷级 and 文件级 lists.

Only records that are published, still 开放 and active appear, with their **masked** public
values (题名, 责任者 and the other elements as published). Columns come from
``publication.yaml`` (``columns.file`` / ``columns.item``). Written as XLSX (openpyxl,
write-only) or PDF (reportlab, the CJK font of :func:`lantai.catalogue.directory.register_cjk_font`),
to a temporary file renamed into place.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from lantai.appraisal.publication.config import Column, PublicationConfig
from lantai.audit import EventType
from lantai.catalogue.directory import register_cjk_font
from lantai.errors import NotFound, Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import PublicationState, PublishedRecord, Record

__all__ = [
    "FORMATS",
    "LEVEL_TITLES",
    "CatalogueEntry",
    "OpenCatalogueExport",
    "catalogue_entries",
    "export_open_catalogue",
]

FORMATS = ("xlsx", "pdf")
LEVEL_TITLES = {"file": "开放档案目录（案卷级）", "item": "开放档案目录（文件级）"}
_OPEN = "开放"
_FONDS = aliased(Record, name="fonds")
_PARENT = aliased(Record, name="parent")


@dataclass(frozen=True)
class CatalogueEntry:
    record_id: int
    fonds_code: str | None
    values: dict[str, Any]  # column key → value (masked where published masked)


@dataclass(frozen=True)
class OpenCatalogueExport:
    path: Path
    level: str
    format: str
    rows: int


def _check(level: str, fmt: str | None = None) -> None:
    problems = []
    if level not in LEVEL_TITLES:
        problems.append(
            Problem(
                message="目录层级应为 file（案卷级）或 item（文件级）", field="level", value=level
            )
        )
    if fmt is not None and fmt not in FORMATS:
        problems.append(Problem(message="格式应为 xlsx 或 pdf", field="format", value=fmt))
    if problems:
        raise ValidationFailed("开放档案目录参数有误", problems)


def catalogue_entries(
    inst: Instance, session: Session, level: str, *, fonds: str | None = None
) -> Iterator[CatalogueEntry]:
    """The published, still 开放 and active records of one level, in 档号 order."""
    _check(level)
    q = (
        select(Record, PublishedRecord, _FONDS.archival_code)
        .join(PublishedRecord, PublishedRecord.record_id == Record.id)
        .outerjoin(_FONDS, _FONDS.id == Record.fonds_id)
        .where(
            PublishedRecord.state == PublicationState.PUBLISHED.value,
            Record.open_status == _OPEN,
            Record.lifecycle == "active",
            Record.level == level,
        )
        .order_by(_FONDS.archival_code, Record.archival_code, Record.id)
    )
    if fonds:
        fid = session.scalar(
            select(Record.id).where(Record.level == "fonds", Record.archival_code == fonds.upper())
        )
        if fid is None:
            raise NotFound(f"全宗「{fonds}」不存在")
        q = q.where(Record.fonds_id == fid)
    retention = inst.domain.table("retention")
    for rows in session.execute(q.execution_options(yield_per=500)).partitions():
        recs = [(r, p, f) for r, p, f in rows]
        counts = _item_counts(session, [r.id for r, _, _ in recs]) if level == "file" else {}
        for rec, pub, fcode in recs:
            values: dict[str, Any] = dict(pub.fields or {})
            values.update(
                archival_code=rec.archival_code,
                title=pub.title,
                responsible=pub.responsible,
                date=rec.date,
                year=rec.year,
                pages=rec.pages,
                retention=retention.label(rec.retention) if rec.retention else "",
                doc_number=rec.doc_number,
                category=rec.category,
                items=counts.get(rec.id, 0),
            )
            yield CatalogueEntry(rec.id, fcode, values)


def _item_counts(session: Session, file_ids: Sequence[int]) -> dict[int, int]:
    """Published 件 per 案卷."""
    if not file_ids:
        return {}
    rows = session.execute(
        select(Record.parent_id, func.count())
        .join(PublishedRecord, PublishedRecord.record_id == Record.id)
        .where(
            Record.parent_id.in_(file_ids),
            PublishedRecord.state == PublicationState.PUBLISHED.value,
            Record.open_status == _OPEN,
            Record.lifecycle == "active",
        )
        .group_by(Record.parent_id)
    )
    return {int(p): int(n) for p, n in rows if p is not None}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return "；".join(str(v) for v in value)
    return value


def export_open_catalogue(
    inst: Instance,
    config: PublicationConfig,
    out_path: Path,
    *,
    level: Literal["file", "item"] | str,
    fmt: Literal["xlsx", "pdf"] | str,
    fonds: str | None = None,
    actor: Actor | None = None,
    pdf_font: Path | None = None,
) -> OpenCatalogueExport:
    """Write the 开放档案目录 of ``level``; logs ``publication:catalogue:exported`` when an
    ``actor`` is given (the anonymous portal download is not an archival event)."""
    _check(level, fmt)
    columns = config.columns[level]  # type: ignore[index]
    title = LEVEL_TITLES[level]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with inst.db.read() as s:
        entries = catalogue_entries(inst, s, level, fonds=fonds)
        try:
            if fmt == "xlsx":
                count = _write_xlsx(tmp, title, columns, entries)
            else:
                count = _write_pdf(
                    tmp, title, columns, entries, inst.settings.archive_name, pdf_font
                )
            tmp.replace(out_path)
        finally:
            tmp.unlink(missing_ok=True)
    if actor is not None:
        with inst.db.write() as s:
            inst.audit.append(
                s,
                actor=actor.username,
                action=EventType.PUBLICATION_CATALOGUE_EXPORTED,
                object_type="open_catalogue",
                object_id=level,
                detail={"format": fmt, "rows": count, "fonds": fonds, "file": out_path.name},
            )
    return OpenCatalogueExport(out_path, level, str(fmt), count)


def _write_xlsx(
    path: Path, title: str, columns: Sequence[Column], entries: Iterator[CatalogueEntry]
) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31].replace("（", "(").replace("）", ")"))
    head = WriteOnlyCell(ws, value=title)
    head.font = Font(bold=True, size=14)
    ws.append([head])
    ws.append([f"公布日期：{date.today():%Y-%m-%d}　个人信息已按规定遮蔽"])
    header = []
    for name in ("序号", *(c.label for c in columns)):
        cell = WriteOnlyCell(ws, value=name)
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    count = 0
    for entry in entries:
        count += 1
        ws.append([count, *(_cell(entry.values.get(c.key)) for c in columns)])
    wb.save(path)
    return count


def _write_pdf(
    path: Path,
    title: str,
    columns: Sequence[Column],
    entries: Iterator[CatalogueEntry],
    archive_name: str,
    font_path: Path | None,
) -> int:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    font = register_cjk_font(font_path)
    body = ParagraphStyle("cell", fontName=font, fontSize=8.5, leading=10.5, wordWrap="CJK")
    head = ParagraphStyle("title", fontName=font, fontSize=16, leading=20, alignment=1)
    note = ParagraphStyle("note", fontName=font, fontSize=9, leading=12)
    width = landscape(A4)[0] - 72
    weights = [
        0.5,
        *(
            3.0
            if c.key == "title"
            else 1.6
            if c.key in ("archival_code", "responsible", "doc_number")
            else 1.0
            for c in columns
        ),
    ]
    col_widths = [width * w / sum(weights) for w in weights]

    def p(text: Any) -> Paragraph:
        from xml.sax.saxutils import escape

        return Paragraph(escape(str(_cell(text))), body)

    data: list[list[Any]] = [[p("序号"), *(p(c.label) for c in columns)]]
    count = 0
    for entry in entries:
        count += 1
        data.append([p(count), *(p(entry.values.get(c.key)) for c in columns)])
    doc = SimpleDocTemplate(
        str(path),
        pagesize=landscape(A4),
        leftMargin=36,
        rightMargin=36,
        topMargin=36,
        bottomMargin=36,
        title=title,
        author=archive_name,
        creator="兰台 Lantai",
    )
    table = LongTable(data, colWidths=col_widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story = [
        Paragraph(title, head),
        Spacer(1, 6),
        Paragraph(
            f"{archive_name}　公布日期：{date.today():%Y-%m-%d}　共 {count} 条　个人信息已按规定遮蔽",
            note,
        ),
        Spacer(1, 6),
        table,
    ]
    doc.build(story)
    return count
