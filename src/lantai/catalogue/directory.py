"""归档文件目录 (DA/T 22-2015) export of a 全宗, 类别 or 案卷: every 件 under it, in order.

Columns: 序号, 档号, 文号, 责任者, 题名, 日期 (YYYYMMDD), 密级, 页数, 备注. The cover line gives
全宗名称 and, where every item agrees, 年度, 保管期限 and 机构（问题）.

Order is depth-first by (position, id), the order of the hierarchy browser. The ids come from
one :meth:`Catalogue.subtree_outline` query; records are then read in batches of
``batch_size`` as plain rows, so a 100,000-item export never holds 100,000 ORM objects. Both
writers stream: XLSX through openpyxl's write-only mode, PDF page by page on a reportlab canvas
(the "共 M 页" of every footer is a form XObject filled in once the last page is known). The
file is written next to ``out_path`` and renamed into place, and the export is logged as
:attr:`EventType.CATALOGUE_EXPORT_CREATED`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import func, select

from lantai.archival import Level
from lantai.audit import EventType
from lantai.errors import Problem, ValidationFailed
from lantai.security import Actor, Perm
from lantai.store import Record, RecordClosure

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lantai.instance import Instance

__all__ = [
    "COLUMNS",
    "DEFAULT_CJK_FONT",
    "DirectoryExport",
    "DirectoryFormat",
    "DirectoryRow",
    "export_directory",
    "register_cjk_font",
]

COLUMNS = ("序号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注")
TITLE = "归档文件目录"
DEFAULT_CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


class DirectoryFormat(StrEnum):
    XLSX = "xlsx"
    PDF = "pdf"


@dataclass(frozen=True)
class DirectoryRow:
    number: int  # 序号
    archival_code: str
    doc_number: str
    responsible: str
    title: str
    date: str
    security_level: str
    pages: int | None
    notes: str

    def cells(self) -> tuple[Any, ...]:
        return (
            self.number,
            self.archival_code,
            self.doc_number,
            self.responsible,
            self.title,
            self.date,
            self.security_level,
            self.pages,
            self.notes,
        )


@dataclass(frozen=True)
class Cover:
    fonds_name: str
    year: str
    retention: str
    org: str
    node_title: str
    node_code: str
    items: int

    def line(self) -> str:
        parts = [f"全宗名称：{self.fonds_name}"]
        parts.append(f"年度：{self.year}" if self.year else "年度：")
        parts.append(f"保管期限：{self.retention}" if self.retention else "保管期限：")
        parts.append(f"机构（问题）：{self.org}" if self.org else "机构（问题）：")
        return "　　".join(parts)


@dataclass(frozen=True)
class DirectoryExport:
    rows: int
    path: Path
    format: DirectoryFormat
    pages: int | None = None  # PDF only
    cover: Cover | None = field(default=None, compare=False)


def export_directory(
    inst: Instance,
    actor: Actor,
    node_id: int,
    out_path: Path,
    fmt: Literal["xlsx", "pdf"] | DirectoryFormat,
    *,
    batch_size: int = 1000,
    pdf_font: Path | None = None,
) -> DirectoryExport:
    """Write the 归档文件目录 of ``node_id`` (a 全宗, 类别 or 案卷) to ``out_path``.

    ``pdf_font`` is a TrueType/TTC font with CJK glyphs (default: WenQuanYi Micro Hei when
    installed, else reportlab's built-in STSong-Light CID font).
    """
    actor.require(Perm.CATALOGUE_EXPORT)
    fmt = DirectoryFormat(fmt)
    with inst.db.read() as s:
        node = inst.catalogue.get(s, actor, node_id)
        cover = _cover(inst, s, actor, node)
        rows = _stream_rows(inst, s, actor, node.id, batch_size)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            if fmt is DirectoryFormat.XLSX:
                count, pages = _write_xlsx(tmp, cover, rows), None
            else:
                count, pages = _write_pdf(tmp, cover, rows, inst.settings.archive_name, pdf_font)
            tmp.replace(out_path)
        finally:
            tmp.unlink(missing_ok=True)
    with inst.db.write() as s:
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.CATALOGUE_EXPORT_CREATED,
            object_type="record",
            object_id=node_id,
            detail={
                "kind": TITLE,
                "format": fmt.value,
                "rows": count,
                "pages": pages,
                "file": out_path.name,
                "archival_code": node.archival_code,
                "size": out_path.stat().st_size,
            },
        )
    return DirectoryExport(rows=count, path=out_path, format=fmt, pages=pages, cover=cover)


# -- reading ------------------------------------------------------------------------------------


def depth_first(outline: Sequence[tuple[int, int | None, int]], root_id: int) -> Iterator[int]:
    """Ids of ``outline`` (id, parent_id, position) in depth-first (position, id) order."""
    children: dict[int | None, list[tuple[int, int]]] = defaultdict(list)
    present = set()
    for rid, parent, position in outline:
        children[parent].append((position, rid))
        present.add(rid)
    for kids in children.values():
        kids.sort()
    if root_id not in present:
        return
    stack = [root_id]
    while stack:
        rid = stack.pop()
        yield rid
        below = children.get(rid)
        if below:
            stack.extend(k for _, k in reversed(below))


_ROW_COLUMNS = (
    Record.id,
    Record.level,
    Record.archival_code,
    Record.doc_number,
    Record.responsible,
    Record.title,
    Record.date,
    Record.security_level,
    Record.pages,
    Record.fields,
)


def _stream_rows(
    inst: Instance, s: Session, actor: Actor, root_id: int, batch_size: int
) -> Iterator[DirectoryRow]:
    outline = inst.catalogue.subtree_outline(s, actor, root_id)
    order = depth_first(outline, root_id)
    del outline
    number = 0
    while True:
        chunk = [rid for _, rid in zip(range(batch_size), order, strict=False)]
        if not chunk:
            return
        found = {
            row.id: row for row in s.execute(select(*_ROW_COLUMNS).where(Record.id.in_(chunk)))
        }
        for rid in chunk:
            row = found.get(rid)
            if row is None or row.level != Level.ITEM.value:
                continue
            number += 1
            notes = (row.fields or {}).get("notes") or ""
            yield DirectoryRow(
                number=number,
                archival_code=row.archival_code or "",
                doc_number=row.doc_number or "",
                responsible=row.responsible or "",
                title=row.title or "",
                date=row.date or "",
                security_level=row.security_level or "",
                pages=row.pages,
                notes=str(notes),
            )


def _cover(inst: Instance, s: Session, actor: Actor, node: Record) -> Cover:
    if node.level == Level.ITEM.value:
        raise ValidationFailed(
            "归档文件目录只能按全宗、类别或案卷导出",
            [
                Problem(
                    field="著录层级",
                    value=node.archival_code or str(node.id),
                    rule="DA/T 22-2015 归档文件目录",
                    message="所选条目是件，请选择其所属的类别、案卷或全宗",
                )
            ],
        )
    fonds = inst.catalogue.fonds_of(s, node)
    cond = (
        RecordClosure.ancestor_id == node.id,
        Record.level == Level.ITEM.value,
        inst.catalogue.visible(actor),
    )
    stats = s.execute(
        select(
            func.count(),
            func.count(Record.year),
            func.count(func.distinct(Record.year)),
            func.min(Record.year),
            func.count(Record.retention),
            func.count(func.distinct(Record.retention)),
            func.min(Record.retention),
            func.count(Record.org_code),
            func.count(func.distinct(Record.org_code)),
            func.min(Record.org_code),
        )
        .select_from(Record)
        .join(RecordClosure, RecordClosure.descendant_id == Record.id)
        .where(*cond)
    ).one()
    total = int(stats[0])

    def uniform(n: int, distinct: int, value: Any) -> str:
        return str(value) if total and n == total and distinct == 1 and value is not None else ""

    retention = uniform(stats[4], stats[5], stats[6])
    return Cover(
        fonds_name=fonds.title,
        year=uniform(stats[1], stats[2], stats[3]),
        retention=inst.domain.table("retention").label(retention) if retention else "",
        org=uniform(stats[7], stats[8], stats[9]),
        node_title=node.title,
        node_code=node.archival_code or "",
        items=total,
    )


# -- XLSX ---------------------------------------------------------------------------------------

_XLSX_WIDTHS = (6, 26, 20, 20, 52, 10, 9, 6, 18)


def _write_xlsx(path: Path, cover: Cover, rows: Iterator[DirectoryRow]) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.properties import PageSetupProperties

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(TITLE)
    last = get_column_letter(len(COLUMNS))
    for i, width in enumerate(_XLSX_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.merged_cells.add(f"A1:{last}1")
    ws.merged_cells.add(f"A2:{last}2")
    ws.print_title_rows = "3:3"
    ws.freeze_panes = "A4"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.oddFooter.center.text = "第 &P 页 共 &N 页"

    title = WriteOnlyCell(ws, value=TITLE)
    title.font = Font(bold=True, size=16)
    title.alignment = Alignment(horizontal="center", vertical="center")
    ws.append([title])
    info = WriteOnlyCell(ws, value=cover.line())
    info.alignment = Alignment(horizontal="left", vertical="center")
    ws.append([info])
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    header = []
    for name in COLUMNS:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center")
        cell.border = border
        header.append(cell)
    ws.append(header)
    count = 0
    for row in rows:
        ws.append(row.cells())
        count += 1
    wb.save(path)
    return count


# -- PDF ----------------------------------------------------------------------------------------

# A4 landscape, in points.
_PAGE_W, _PAGE_H = 841.89, 595.28
_MARGIN_X, _MARGIN_TOP, _MARGIN_BOTTOM = 36.0, 36.0, 40.0
_PDF_WIDTHS = (30.0, 122.0, 100.0, 90.0, 220.0, 52.0, 42.0, 30.0, 83.89)
_FONT_SIZE, _LEADING, _PAD = 9.0, 11.0, 3.0
_HEADER_H = 20.0
_TITLE_SIZE = 16.0
_PAGE_COUNT_FORM = "lantai_page_count"


def register_cjk_font(path: Path | None = None) -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    font_path = path if path is not None else DEFAULT_CJK_FONT
    if font_path.is_file():
        name = f"LantaiCJK-{font_path.stem}"
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(font_path), subfontIndex=0))
        return name
    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


class _Measure:
    """Greedy character wrapping with a per-export width cache (CJK breaks anywhere)."""

    def __init__(self, font: str, size: float) -> None:
        from reportlab.pdfbase import pdfmetrics

        self._width = pdfmetrics.stringWidth
        self.font = font
        self.size = size
        self._cache: dict[str, float] = {}

    def char(self, ch: str) -> float:
        w = self._cache.get(ch)
        if w is None:
            w = self._width(ch, self.font, self.size)
            self._cache[ch] = w
        return w

    def text(self, text: str) -> float:
        return sum(self.char(c) for c in text)

    def wrap(self, text: str, width: float) -> list[str]:
        lines: list[str] = []
        for para in text.splitlines() or [""]:
            current: list[str] = []
            used = 0.0
            for ch in para:
                w = self.char(ch)
                if current and used + w > width:
                    lines.append("".join(current))
                    current, used = [], 0.0
                current.append(ch)
                used += w
            lines.append("".join(current))
        return lines


def _write_pdf(
    path: Path,
    cover: Cover,
    rows: Iterator[DirectoryRow],
    archive_name: str,
    font_path: Path | None,
) -> tuple[int, int]:
    from reportlab.pdfgen.canvas import Canvas

    font = register_cjk_font(font_path)
    measure = _Measure(font, _FONT_SIZE)
    canvas = Canvas(str(path), pagesize=(_PAGE_W, _PAGE_H), pageCompression=1)
    canvas.setTitle(f"{TITLE}（{cover.node_code or cover.node_title}）")
    canvas.setAuthor(archive_name)
    canvas.setSubject(f"{TITLE} DA/T 22-2015")
    canvas.setCreator("兰台 Lantai")

    top_of_table = _PAGE_H - _MARGIN_TOP - _TITLE_SIZE - 24
    bottom = _MARGIN_BOTTOM
    max_row_h = top_of_table - _HEADER_H - bottom
    max_lines = max(1, int((max_row_h - 2 * _PAD) // _LEADING))
    xs = [_MARGIN_X]
    for w in _PDF_WIDTHS:
        xs.append(xs[-1] + w)

    page = 0
    y = 0.0
    count = 0

    def start_page() -> float:
        nonlocal page
        page += 1
        canvas.setFont(font, _TITLE_SIZE)
        canvas.drawCentredString(_PAGE_W / 2, _PAGE_H - _MARGIN_TOP - _TITLE_SIZE, TITLE)
        canvas.setFont(font, 9)
        canvas.drawString(_MARGIN_X, _PAGE_H - _MARGIN_TOP - _TITLE_SIZE - 16, cover.line())
        top = top_of_table
        canvas.setFillGray(0.9)
        canvas.rect(xs[0], top - _HEADER_H, xs[-1] - xs[0], _HEADER_H, stroke=0, fill=1)
        canvas.setFillGray(0)
        canvas.setFont(font, 10)
        for i, name in enumerate(COLUMNS):
            canvas.drawCentredString((xs[i] + xs[i + 1]) / 2, top - _HEADER_H + 6.5, name)
        _grid(canvas, xs, top, top - _HEADER_H)
        canvas.setFont(font, 8)
        canvas.drawRightString(_PAGE_W / 2 - 2, _MARGIN_BOTTOM - 24, f"第 {page} 页")
        canvas.saveState()
        canvas.translate(_PAGE_W / 2 + 2, _MARGIN_BOTTOM - 24)
        canvas.doForm(_PAGE_COUNT_FORM)
        canvas.restoreState()
        canvas.setFont(font, _FONT_SIZE)
        return top - _HEADER_H

    y = start_page()
    for row in rows:
        count += 1
        cells = [
            measure.wrap("" if v is None else str(v), _PDF_WIDTHS[i] - 2 * _PAD)
            for i, v in enumerate(row.cells())
        ]
        cells = [c if len(c) <= max_lines else _clip(c, max_lines) for c in cells]
        height = max(len(c) for c in cells) * _LEADING + 2 * _PAD
        if y - height < bottom:
            canvas.showPage()
            y = start_page()
        canvas.setFont(font, _FONT_SIZE)
        for i, lines in enumerate(cells):
            block = len(lines) * _LEADING
            ty = y - (height - block) / 2 - _FONT_SIZE
            centred = i in (0, 5, 6, 7)
            for line in lines:
                if centred:
                    canvas.drawCentredString((xs[i] + xs[i + 1]) / 2, ty, line)
                else:
                    canvas.drawString(xs[i] + _PAD, ty, line)
                ty -= _LEADING
        _grid(canvas, xs, y, y - height)
        y -= height
    canvas.showPage()
    canvas.beginForm(_PAGE_COUNT_FORM)
    canvas.setFont(font, 8)
    canvas.drawString(0, 0, f"共 {page} 页")
    canvas.endForm()
    canvas.save()
    return count, page


def _clip(lines: list[str], max_lines: int) -> list[str]:
    kept = lines[:max_lines]
    kept[-1] = kept[-1][:-1] + "…" if kept[-1] else "…"
    return kept


def _grid(canvas: Any, xs: Sequence[float], top: float, bottom: float) -> None:
    canvas.setLineWidth(0.5)
    canvas.line(xs[0], top, xs[-1], top)
    canvas.line(xs[0], bottom, xs[-1], bottom)
    for x in xs:
        canvas.line(x, top, x, bottom)
