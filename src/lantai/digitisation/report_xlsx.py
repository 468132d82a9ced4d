"""The QC and 挂接 report of a batch as an XLSX workbook (质检汇总, 问题清单, 图像清单, 挂接记录)."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from lantai.store import ScanBatch, ScanPage

__all__ = ["batch_report_xlsx"]

_SEVERITY = {"error": "不合格", "warning": "提示"}
_META = (
    "格式",
    "扫描分辨率",
    "扫描色彩模式",
    "位深度",
    "图像压缩方案",
    "宽度",
    "高度",
    "设备类型",
    "操作人",
)


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[list[Any]]) -> None:
    ws = wb.create_sheet(title)
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for i, _ in enumerate(header, 1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = 18


def batch_report_xlsx(batch: ScanBatch, pages: list[ScanPage]) -> bytes:
    wb = Workbook()
    if wb.active is not None:
        wb.remove(wb.active)
    summary = (batch.qc or {}).get("summary") or {}
    rows: list[list[Any]] = [
        ["批次", batch.name],
        ["批次标识", batch.uid],
        ["保存包", batch.package_id],
        ["扫描用途", batch.profile],
        ["文件数", batch.file_count],
        ["页数", batch.page_count],
    ]
    if summary:
        rows += [
            ["质检结论", summary.get("result")],
            ["质检页数", summary.get("pages")],
            ["不合格页数", summary.get("failed_pages")],
            ["不合格项", summary.get("errors")],
            ["提示项", summary.get("warnings")],
            ["分辨率要求（dpi）", summary.get("min_dpi")],
            ["歪斜上限（度）", summary.get("max_skew_degrees")],
            ["质检时间", summary.get("checked_at")],
            ["质检人", summary.get("checked_by")],
        ]
        rows += [[f"　{k}", v] for k, v in (summary.get("by_check") or {}).items()]
    else:
        rows.append(["质检结论", "尚未质检"])
    _sheet(wb, "质检汇总", ["项目", "值"], rows)
    findings = (batch.qc or {}).get("findings") or []
    _sheet(
        wb,
        "问题清单",
        ["档号", "页号", "文件", "检查项", "结论", "说明"],
        [
            [
                f["archival_code"],
                f["page_no"],
                f["file"],
                f["label"],
                _SEVERITY[f["severity"]],
                f["message"],
            ]
            for f in findings
        ],
    )
    _sheet(
        wb,
        "图像清单",
        ["档号", "页号", "文件", "帧", "可读", "歪斜（度）", *_META, "SHA-256"],
        [
            [
                p.archival_code,
                p.page_no,
                p.source_name,
                p.frame + 1,
                "是" if p.decodes else "否",
                p.skew,
                *[(p.meta or {}).get(k) for k in _META],
                p.sha256,
            ]
            for p in pages
        ],
    )
    linking = batch.linking or {}
    if linking:
        link_rows: list[list[Any]] = []
        link_rows += [
            ["已挂接", x["archival_code"], x["title"], x["pages"], x["declared_pages"]]
            for x in linking.get("linked", [])
        ]
        link_rows += [
            ["有图像无条目", x["archival_code"], "", x["pages"], None]
            for x in linking.get("images_without_record", [])
        ]
        link_rows += [
            ["有条目无图像", x["archival_code"], x["title"], 0, x["declared_pages"]]
            for x in linking.get("records_without_images", [])
        ]
        _sheet(wb, "挂接记录", ["情况", "档号", "题名", "图像页数", "著录页数"], link_rows)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
