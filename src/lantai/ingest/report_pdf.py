"""The PDF rendering of the 四性检测报告 (A4 landscape), used by :func:`report.write_pdf`.

Three parts: the overview and the table of check items (reportlab Paragraphs, a few dozen
rows); a 问题汇总 — one row per check item with problems: result, how many, what — so an
archivist sees at a glance what is wrong; and the 问题清单 listing every problem (up to
:data:`~lantai.ingest.report.PDF_MAX_PROBLEMS`; the JSON report always has all of them).

The 问题清单 can run to thousands of rows, so it does not use Paragraphs (reportlab measures every
character of every Paragraph again on each wrap and split): each cell is wrapped once here, with
a per-character width cache, into plain lines (CJK text breaks between any two characters, as
``wordWrap="CJK"`` does), and the result column is a tiny flowable that draws its coloured label.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lantai.ingest.report import (
    PDF_MAX_PROBLEMS,
    _clip,
    _evidence_text,
    _local,
    _overview,
)

__all__ = ["render_pdf"]

_ITEM_WIDTHS = (48.0, 74.0, 34.0, 44.0, 96.0, 140.0, 38.0, 190.0, 56.0, 50.0)  # 770 pt
_SUMMARY_WIDTHS = (48.0, 150.0, 50.0, 42.0, 480.0)
_PROBLEM_WIDTHS = (30.0, 48.0, 90.0, 42.0, 260.0, 300.0)
_PAD = 3.0
_CHUNK = 100  # rows per table: splitting a long table across pages costs O(rows²)
_FONT_SIZE = 7.5
_LEADING = 9.5
_STATUS_COLOURS = {
    "passed": "#176117",
    "failed": "#b00000",
    "manual": "#a05a00",
    "not_applicable": "#666666",
}


class _Wrapper:
    """Greedy character wrapping with a per-character width cache."""

    def __init__(self, font: str, size: float) -> None:
        from reportlab.pdfbase import pdfmetrics

        self._width = pdfmetrics.stringWidth
        self.font = font
        self.size = size
        self._cache: dict[str, float] = {}

    def wrap(self, text: str, width: float) -> str:
        cache = self._cache
        lines: list[str] = []
        for para in text.splitlines() or [""]:
            start, used = 0, 0.0
            for i, ch in enumerate(para):
                w = cache.get(ch)
                if w is None:
                    w = cache[ch] = self._width(ch, self.font, self.size)
                if i > start and used + w > width:
                    lines.append(para[start:i])
                    start, used = i, 0.0
                used += w
            lines.append(para[start:])
        return "\n".join(lines)


def render_pdf(data: Mapping[str, Any], path: Path, *, font: Path | None = None) -> None:
    """Write the report to ``path`` (the caller makes the write atomic)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import (
        Flowable,
        LongTable,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    from lantai.catalogue.directory import register_cjk_font

    font_name = register_cjk_font(font)
    body = ParagraphStyle(
        "body", fontName=font_name, fontSize=_FONT_SIZE, leading=_LEADING, wordWrap="CJK"
    )
    head = ParagraphStyle("head", parent=body, fontSize=8, leading=10)
    title = ParagraphStyle("title", parent=body, fontSize=16, leading=22, alignment=1)
    h2 = ParagraphStyle("h2", parent=body, fontSize=11, leading=16, spaceBefore=8, spaceAfter=4)

    def p(text: object, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(html.escape("" if text is None else str(text)), style)

    def coloured(status: str, label: str) -> Paragraph:
        colour = _STATUS_COLOURS[status]
        return Paragraph(f'<font color="{colour}">{html.escape(label)}</font>', body)

    class Label(Flowable):  # type: ignore[misc]
        """One line of coloured text: the result column of the 问题清单."""

        def __init__(self, text: str, colour: str) -> None:
            super().__init__()
            self.text, self.colour = text, colour

        def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
            return avail_width, _LEADING

        def draw(self) -> None:
            self.canv.setFont(font_name, _FONT_SIZE)
            self.canv.setFillColor(colors.HexColor(self.colour))
            self.canv.drawString(0, _LEADING - _FONT_SIZE, self.text)

    grid = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("LEFTPADDING", (0, 0), (-1, -1), _PAD),
        ("RIGHTPADDING", (0, 0), (-1, -1), _PAD),
    ]
    story: list[Any] = [p(data["title"], title), Spacer(1, 6)]
    overview = Table([[p(k, head), p(v)] for k, v in _overview(data)], colWidths=(110.0, 660.0))
    overview.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story += [overview, p("检测项目", h2)]
    headers = ["编号", "检测项目", "四性类别", "检测对象", "检测目的", "检测依据和方法", "结果",
               "说明/问题清单", "检测时间", "环节"]  # fmt: skip
    rows: list[list[Any]] = [[p(h, head) for h in headers]]
    for item in data["items"]:
        rows.append(
            [
                p(item["code"]),
                p(item["name"] + ("（否决项）" if item["blocking"] else "")),
                p(item["property_label"]),
                p(item["target_label"]),
                p(item["purpose"]),
                p(f"{item['basis']}。{item['method']}"),
                coloured(item["status"], item["status_label"]),
                p(item["summary"]),
                p(_local(item["checked_at"])),
                p(item["stage_label"]),
            ]
        )
    items = LongTable(rows, colWidths=_ITEM_WIDTHS, repeatRows=1)
    items.setStyle(TableStyle(grid))
    story.append(items)

    problems = data["problems"]
    counts: dict[tuple[str, str, str], int] = {}  # (code, status, label) → problems
    for pr in problems:
        key = (pr["code"], pr["status"], pr["status_label"])
        counts[key] = counts.get(key, 0) + 1
    if counts:
        story.append(p("问题汇总", h2))
        by_code = {item["code"]: item for item in data["items"]}
        srows: list[list[Any]] = [
            [p(h, head) for h in ("编号", "检测项目", "结果", "条数", "说明")]
        ]
        for (code, status, label), n in counts.items():
            item = by_code.get(code, {})
            srows.append(
                [
                    p(code),
                    p(str(item.get("name", "")) + ("（否决项）" if item.get("blocking") else "")),
                    coloured(status, label),
                    p(n),
                    p(item.get("summary", "")),
                ]
            )
        summary = LongTable(srows, colWidths=_SUMMARY_WIDTHS, repeatRows=1)
        summary.setStyle(TableStyle(grid))
        story.append(summary)

    story.append(p(f"问题清单（{len(problems)} 条）", h2))
    if problems:
        wrapper = _Wrapper(font_name, _FONT_SIZE)
        widths = [w - 2 * _PAD for w in _PROBLEM_WIDTHS]
        prow: list[list[Any]] = [
            [p(h, head) for h in ("序号", "编号", "检测项目", "结果", "说明", "证据")]
        ]
        for i, pr in enumerate(problems[:PDF_MAX_PROBLEMS], 1):
            prow.append(
                [
                    str(i),
                    wrapper.wrap(pr["code"], widths[1]),
                    wrapper.wrap(pr["name"], widths[2]),
                    Label(pr["status_label"], _STATUS_COLOURS[pr["status"]]),
                    wrapper.wrap(_clip(pr["message"], 400), widths[4]),
                    wrapper.wrap(_clip(_evidence_text(pr), 600), widths[5]),
                ]
            )
        style = TableStyle(
            [
                *grid,
                ("FONTNAME", (0, 1), (-1, -1), font_name),
                ("FONTSIZE", (0, 1), (-1, -1), _FONT_SIZE),
                ("LEADING", (0, 1), (-1, -1), _LEADING),
            ]
        )
        header, body_rows = prow[0], prow[1:]
        for start in range(0, len(body_rows), _CHUNK):
            table = LongTable(
                [header, *body_rows[start : start + _CHUNK]],
                colWidths=_PROBLEM_WIDTHS,
                repeatRows=1,
            )
            table.setStyle(style)
            story.append(table)
        if len(problems) > PDF_MAX_PROBLEMS:
            story.append(
                p(f"另有 {len(problems) - PDF_MAX_PROBLEMS} 条问题未在此列出，见 JSON 报告。")
            )
    else:
        story.append(p("无。"))
    story += [
        Spacer(1, 8),
        p(
            f"报告生成时间：{_local(data['generated'])}；报告格式 {data['schema']}；"
            "依据 DA/T 70-2018《文书类电子档案检测一般要求》。"
        ),
    ]

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font_name, 7)
        canvas.drawCentredString(
            landscape(A4)[0] / 2,
            18,
            f"{data['title']}  {data['transfer']['uid']}  第 {doc.page} 页",
        )
        canvas.restoreState()

    doc = SimpleDocTemplate(
        str(path),
        pagesize=landscape(A4),
        leftMargin=36,
        rightMargin=36,
        topMargin=30,
        bottomMargin=32,
        title=f"{data['title']}（{data['transfer']['source_name']}）",
        author=data["archive"] or "兰台 Lantai",
        subject="DA/T 70-2018 四性检测",
        creator="兰台 Lantai",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
