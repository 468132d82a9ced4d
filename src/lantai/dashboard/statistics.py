"""The annual statistics form (档案馆基本情况表): indicators computed for a year, XLSX export.

The code list is data (``data/annual_codes.yaml``): each code names a :class:`Holdings` filter and
a measure, a transfer count, or nothing (no data in the system: exported blank with its note).
:func:`annual_form` computes every code from the maintained summary and, with ``verify=True``,
recounts each from its records (the check that a figure equals the sum of its records).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from lantai.access.uselog import annual_figures
from lantai.dashboard import aggregates
from lantai.dashboard.holdings import Holdings, Measure
from lantai.dashboard.progress import online
from lantai.datafiles import load_model
from lantai.instance import Instance
from lantai.store import IngestTransfer, TransferState

__all__ = [
    "AnnualCode",
    "AnnualCodes",
    "AnnualForm",
    "AnnualRow",
    "annual_form",
    "load_codes",
    "write_xlsx",
]

_RECEIVED = (TransferState.CATALOGUED.value, TransferState.DONE.value)


class HoldingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    units: list[Literal["fonds", "series", "file", "item", "file_item"]]
    period: Literal["stock", "received"]
    categories: list[str] | None = None
    year_before: int | None = None
    year_from: int | None = None
    carrier_like: str | None = None
    open_status: str | None = None
    generation: str | None = None
    generation_not: str | None = None
    digitised_only: bool = False
    scanned_only: bool = False

    def holdings(self, year: int) -> Holdings:
        period = {"created_before": year + 1} if self.period == "stock" else {"created_year": year}
        return Holdings(
            units=tuple(self.units),
            categories=tuple(self.categories) if self.categories is not None else None,
            year_before=self.year_before,
            year_from=self.year_from,
            carrier_like=self.carrier_like,
            open_status=self.open_status,
            generation=self.generation,
            generation_not=self.generation_not,
            digitised_only=self.digitised_only,
            scanned_only=self.scanned_only,
            **period,  # type: ignore[arg-type]
        )


class PublishedSpec(BaseModel):
    """Records on the public portal at the end of the year (在线目录), of these units."""

    model_config = ConfigDict(extra="forbid")

    units: list[Literal["file", "item", "file_item"]]

    def count(self, session: Session, year: int) -> int:
        hi = datetime(year + 1, 1, 1, tzinfo=UTC)
        q = Holdings(units=tuple(self.units)).records().where(online(upto=hi))
        return int(session.scalar(select(func.count()).select_from(q.subquery())) or 0)


class AnnualCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: int = Field(ge=1, le=211)
    name: str
    unit: str
    section: str
    holdings: HoldingSpec | None = None
    measure: Literal["records", "bytes", "minutes"] = "records"
    scale: int = Field(default=1, ge=1)
    transfers: Literal["received"] | None = None
    published: PublishedSpec | None = None
    uses: Literal["log"] | None = None  # 利用登记: lantai.access.uselog.annual_figures
    note: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> AnnualCode:
        sources = [
            x for x in (self.holdings, self.transfers, self.published, self.uses) if x is not None
        ]
        if len(sources) > 1:
            raise ValueError(f"代码 {self.code}：holdings、transfers、published、uses 只能有一个")
        if not sources and not self.note:
            raise ValueError(f"代码 {self.code}：没有数据来源的指标须写明 note")
        return self


class AnnualCodes(BaseModel):
    version: int = 1
    title: str
    codes: list[AnnualCode]

    @model_validator(mode="after")
    def _unique(self) -> AnnualCodes:
        seen = [c.code for c in self.codes]
        if len(seen) != len(set(seen)):
            raise ValueError("指标代码重复")
        if seen != sorted(seen):
            raise ValueError("指标须按代码顺序排列")
        return self


def load_codes(path: Path | None = None) -> AnnualCodes:
    path = path or Path(__file__).parent / "data" / "annual_codes.yaml"
    return load_model(path, AnnualCodes, title="档案馆基本情况表指标配置")


@dataclass
class AnnualRow:
    code: int
    name: str
    unit: str
    section: str
    status: str  # ok | disabled
    value: float | None
    count: int | None  # the raw integer (records, bytes, minutes, transfers)
    note: str
    check: bool | None = None  # the recount from the records agreed (None: not verified)
    recount: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "status_label": "未启用" if self.status == "disabled" else "正常",
        }


@dataclass
class AnnualForm:
    title: str
    year: int
    seq: int
    generated_at: str
    rows: list[AnnualRow]

    @property
    def problems(self) -> list[str]:
        return [
            f"代码 {r.code}（{r.name}）：汇总 {r.count}，明细 {r.recount}"
            for r in self.rows
            if r.check is False
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "year": self.year,
            "seq": self.seq,
            "generated_at": self.generated_at,
            "rows": [r.as_json() for r in self.rows],
            "problems": self.problems,
        }


def _transfers(session: Session, year: int) -> int:
    lo, hi = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    q = select(func.count()).where(
        and_(
            IngestTransfer.state.in_(_RECEIVED),
            IngestTransfer.created_at >= lo,
            IngestTransfer.created_at < hi,
        )
    )
    return int(session.scalar(q) or 0)


def _value(count: int, scale: int) -> float | int:
    return count if scale == 1 else round(count / scale, 4)


def annual_form(
    inst: Instance, year: int, *, verify: bool = False, codes: AnnualCodes | None = None
) -> AnnualForm:
    """Every code of the form for ``year`` (the summary is caught up first)."""
    codes = codes or load_codes()
    aggregates.catch_up(inst.db)
    rows: list[AnnualRow] = []
    with inst.db.read() as s:
        seq = aggregates.cursor(s)
        for c in codes.codes:
            if c.holdings is None and c.transfers is None and c.published is None and not c.uses:
                rows.append(
                    AnnualRow(c.code, c.name, c.unit, c.section, "disabled", None, None, c.note)
                )
                continue
            recount: int | None = None
            if c.holdings is not None:
                h = c.holdings.holdings(year)
                measure: Measure = c.measure
                n = h.total(s, measure)
                if verify:
                    recount = h.recount(s, measure)
            elif c.published is not None:
                n = c.published.count(s, year)
                recount = n if verify else None  # counted from the records themselves
            elif c.uses is not None:
                n = annual_figures(s, year, [c.code])[c.code]
                recount = n if verify else None  # counted from the use rows themselves
            else:
                n = _transfers(s, year)
                recount = n if verify else None  # counted from the transfer rows themselves
            rows.append(
                AnnualRow(
                    c.code,
                    c.name,
                    c.unit,
                    c.section,
                    "ok",
                    _value(n, c.scale),
                    n,
                    c.note,
                    None if recount is None else recount == n,
                    recount,
                )
            )
    return AnnualForm(codes.title, year, seq, datetime.now(UTC).isoformat(timespec="seconds"), rows)


def write_xlsx(form: AnnualForm, out: Path, *, archive_name: str = "") -> Path:
    """The form in the official layout: one row per code — 名称, 代码, 计量单位, 数量 (+ 说明)."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = f"{form.year}年"
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    ws.merge_cells("A1:E1")
    ws["A1"] = f"{form.title}（{form.year}年）"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws["A2"] = f"填报单位：{archive_name}" if archive_name else "填报单位："
    ws["D2"] = f"生成时间：{form.generated_at}"
    header = ("名称", "代码", "计量单位", "数量", "说明")
    for col, text in enumerate(header, start=1):
        cell = ws.cell(row=3, column=col, value=text)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
        cell.border = box
    section = None
    r = 4
    for row in form.rows:
        if row.section != section:
            section = row.section
            ws.cell(row=r, column=1, value=f"【{section}】").font = Font(bold=True)
            r += 1
        values: tuple[Any, ...] = (
            row.name,
            row.code,
            row.unit,
            row.value,
            row.note if row.status == "ok" else f"未启用：{row.note}",
        )
        for col, v in enumerate(values, start=1):
            cell = ws.cell(row=r, column=col, value=v)
            cell.border = box
            if col == 4 and isinstance(v, float):
                cell.number_format = "0.0000"
        r += 1
    for letter, width in zip("ABCDE", (36, 8, 12, 16, 40), strict=True):
        ws.column_dimensions[letter].width = width
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out
