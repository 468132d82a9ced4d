"""The 销毁清册 of an executed disposal batch, as XLSX and PDF (kept permanently in the store).

One row per destroyed unit: 序号, 档号, 题名, 形成年度, 保管期限, 到期年度, 销毁文件数, 鉴定意见
(the final round's reason), 批准人, 批准时间, 销毁时间. The cover line names the batch, its
rounds and who executed it. Both files are built in memory (a batch is hundreds of rows, not
millions) and stored by :func:`lantai.disposal.service.execute` as one package.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lantai.catalogue.directory import register_cjk_font

__all__ = ["COLUMNS", "TITLE", "RegisterRow", "render_pdf", "render_xlsx"]

TITLE = "档案销毁清册"
COLUMNS = (
    "序号",
    "档号",
    "题名",
    "形成年度",
    "保管期限",
    "到期年度",
    "销毁文件数",
    "鉴定意见",
    "批准人",
    "批准时间",
    "销毁时间",
)
_XLSX_WIDTHS = (6, 28, 40, 9, 9, 9, 10, 30, 12, 20, 20)
_PDF_WIDTHS = (26.0, 100.0, 170.0, 40.0, 40.0, 40.0, 40.0, 120.0, 60.0, 78.0, 78.0)


@dataclass(frozen=True)
class RegisterRow:
    number: int
    archival_code: str
    title: str
    formation_year: int
    retention: str
    expiry_year: int
    files: int
    reason: str
    approved_by: str
    approved_at: str
    destroyed_at: str

    def cells(self) -> tuple[Any, ...]:
        return (
            self.number,
            self.archival_code,
            self.title,
            self.formation_year,
            self.retention,
            self.expiry_year,
            self.files,
            self.reason,
            self.approved_by,
            self.approved_at,
            self.destroyed_at,
        )


def render_xlsx(cover: str, rows: Sequence[RegisterRow]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = TITLE
    last = get_column_letter(len(COLUMNS))
    ws.append([TITLE])
    ws.merge_cells(f"A1:{last}1")
    ws["A1"].font = Font(bold=True, size=16)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append([cover])
    ws.merge_cells(f"A2:{last}2")
    ws.append(list(COLUMNS))
    for cell in ws[3]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(list(row.cells()))
    for i, width in enumerate(_XLSX_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.append([])
    ws.append([f"共 {len(rows)} 项"])
    ws.page_setup.orientation = "landscape"
    ws.print_title_rows = "3:3"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def render_pdf(cover: str, rows: Sequence[RegisterRow]) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = register_cjk_font()
    cell = ParagraphStyle("cell", fontName=font, fontSize=7.5, leading=9.5, wordWrap="CJK")
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=20, alignment=1)
    info = ParagraphStyle("info", fontName=font, fontSize=9, leading=12)

    def p(value: Any) -> Paragraph:
        text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return Paragraph(text, cell)

    data = [[p(c) for c in COLUMNS]] + [[p(v) for v in row.cells()] for row in rows]
    table = Table(data, colWidths=_PDF_WIDTHS, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=30,
        rightMargin=30,
        topMargin=30,
        bottomMargin=30,
        title=TITLE,
    )
    doc.build(
        [
            Paragraph(TITLE, title),
            Spacer(1, 6),
            Paragraph(cover, info),
            Spacer(1, 6),
            table,
            Spacer(1, 6),
            Paragraph(f"共 {len(rows)} 项", info),
        ]
    )
    return out.getvalue()
