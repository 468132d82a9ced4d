"""Catalogue spreadsheet import: one agency file of 件 (items) into one 全宗, all or nothing.

Columns are matched to the category's metadata scheme by their Chinese names or aliases
(``MetadataScheme.element_by_name``: 档号, 题名, 责任者, 日期/成文日期, 保管期限, 密级, 页数, 文号,
年度, 机构（问题）, 备注, 开放标识 …). Three columns are not elements:

- 门类 — the category code or label (文书 or WS) of each row, when no ``category`` is given;
- 全宗号 — must equal the target 全宗's code on every row;
- 序号 — a running number, ignored.

A header that is neither is an error that names it (nothing is imported).

**Grouping.** Items are created under 类别 (series) nodes directly below the 全宗, obtained with
:meth:`Catalogue.ensure_series`. ``series_by`` names the elements that form one series besides
the 门类: the default ``("year",)`` gives one series per 门类 + 年度, titled "文书档案 2011年";
``()`` gives one series per 门类 ("文书档案"); ``("year", "retention")`` gives
"文书档案 2011年 永久"; ``"org_code"`` adds the 机构（问题） code. An existing series with the same
title is reused, so successive imports of one year land in the same series.

**One transaction.** Every row goes through :meth:`Catalogue.create_record` (档号 rule check or
assignment, counters, closure rows, one event per record) inside a single write transaction. A
row that fails is reported with its file, row, field, value and rule and the import goes on to
the next row, so that the report is complete; if any row failed the whole transaction is rolled
back and :class:`ImportRejected` (a :class:`~lantai.errors.ValidationFailed`) is raised. The
outcome is always recorded as an :class:`~lantai.store.ImportBatch` and an audit event: in the
import's own transaction on success, and in a separate transaction after the rollback on
rejection (so nothing else of a rejected file remains).
"""

from __future__ import annotations

import re
import time
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lantai.archival import Level, MetadataScheme
from lantai.audit import EventType
from lantai.audit.events import Outcome
from lantai.catalogue.tabular import Source, Table, TableError, TableLimits, open_table
from lantai.errors import Problem, ValidationFailed
from lantai.security import Actor, Perm
from lantai.store import ImportBatch, Record

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lantai.instance import Instance

__all__ = [
    "SERIES_BY_KEYS",
    "ImportProgress",
    "ImportRejected",
    "ImportResult",
    "import_spreadsheet",
    "report_to_xlsx",
]

# Elements that may form a series besides the 门类, in title order.
SERIES_BY_KEYS = ("year", "retention", "org_code")

STORED_PROBLEMS = 2000  # problems kept in ImportBatch.problems
KEPT_PROBLEMS = 10_000  # problems kept in memory for the exception and the report

_CATEGORY_HEADERS = frozenset({"门类", "门类代码", "档案门类"})
_FONDS_HEADERS = frozenset({"全宗号", "全宗代码"})
_IGNORED_HEADERS = frozenset({"序号", "顺序号"})

R_HEADER = "表头"
R_FONDS = "全宗号一致性"
R_CATEGORY = "门类代码表（DA/T 13-2022）"
R_DUPLICATE = "GD-1-8 重复性"
R_GROUPING = "导入分组"


class ImportProgress(Protocol):
    """Receives progress while rows are validated and written (the CLI shows a bar)."""

    def start(self, total: int | None) -> None: ...

    def advance(self, n: int) -> None: ...


@dataclass(frozen=True)
class ImportResult:
    batch_id: int
    batch_uid: str
    filename: str
    sha256: str
    rows: int  # data rows read (empty rows excluded)
    imported: int  # 件 created
    codes_assigned: int  # 档号 given by the rule because the row had none
    codes_kept: int  # 档号 taken from the file (checked against the rule)
    series: tuple[tuple[int, str], ...]  # (id, title) of the series the items went into
    skipped_rows: int  # rows with only 序号/全宗号/门类 filled
    seconds: float


class ImportRejected(ValidationFailed):
    """The file was refused; ``batch_id`` is the ImportBatch that records the refusal."""

    def __init__(
        self,
        message: str,
        problems: list[Problem],
        *,
        batch_id: int,
        batch_uid: str,
        total_problems: int,
    ) -> None:
        super().__init__(message, problems)
        self.batch_id = batch_id
        self.batch_uid = batch_uid
        self.total_problems = total_problems


def import_spreadsheet(
    inst: Instance,
    actor: Actor,
    path: Path,
    *,
    fonds_id: int,
    category: str | None = None,
    series_by: Sequence[str] = ("year",),
    filename: str | None = None,
    progress: ImportProgress | None = None,
) -> ImportResult:
    """Import the 件 of one XLSX/CSV file into 全宗 ``fonds_id``; all rows or none.

    ``category`` (a 门类 code or label) applies to every row; without it the file needs a 门类
    column. ``filename`` is the name shown in messages (an upload's original name).
    Raises :class:`ImportRejected` (with the row-by-row problems) when anything is wrong.
    """
    actor.require(Perm.CATALOGUE_IMPORT)
    actor.require(Perm.CATALOGUE_RECORD_CREATE)
    started = time.perf_counter()
    cat = _check_arguments(inst, category, series_by)
    with inst.db.read() as s:
        fonds = _target_fonds(inst, s, actor, fonds_id)
    fonds_code = fonds.archival_code or ""
    run = _Run(inst, actor, fonds_id, fonds_code, cat, tuple(series_by))
    name = filename or path.name
    try:
        table = open_table(
            path,
            limits=TableLimits.from_settings(inst.settings),
            name=name,
            header_predicate=run.looks_like_header,
        )
    except TableError as exc:
        if exc.source is None:
            raise
        raise _reject(inst, actor, exc.source, run, exc.problems, exc.message) from None
    with table:
        run.source = table.source
        run.map_headers(table)
        if run.problems:
            raise _reject(inst, actor, table.source, run, [], "表头有误，文件未导入") from None
        if progress is not None:
            progress.start(table.source.estimated_rows)
        try:
            with inst.db.write() as s:
                run.import_rows(s, table, progress)
                if run.problems:
                    raise _RowsRejected
                batch = run.record_success(s)
        except _RowsRejected:
            raise _reject(inst, actor, table.source, run, [], None) from None
        except TableError as exc:
            raise _reject(inst, actor, table.source, run, exc.problems, exc.message) from None
    return ImportResult(
        batch_id=batch.id,
        batch_uid=batch.uid,
        filename=name,
        sha256=table.source.sha256,
        rows=run.rows,
        imported=run.imported,
        codes_assigned=run.codes_assigned,
        codes_kept=run.codes_kept,
        series=tuple((r.id, r.title) for r in run.series_used.values()),
        skipped_rows=run.skipped,
        seconds=round(time.perf_counter() - started, 3),
    )


class _RowsRejected(Exception):
    """Internal: at least one row failed; roll the transaction back."""


def _check_arguments(inst: Instance, category: str | None, series_by: Sequence[str]) -> str | None:
    problems: list[Problem] = []
    cat: str | None = None
    if category is not None and category.strip():
        cat = inst.domain.table("category").normalize(category)
        if cat is None:
            problems.append(
                Problem(
                    field="门类",
                    value=category,
                    rule=R_CATEGORY,
                    message=f"「{category}」不是有效的门类代码或名称",
                )
            )
    for key in series_by:
        if key not in SERIES_BY_KEYS:
            problems.append(
                Problem(
                    field="分组",
                    value=key,
                    rule=R_GROUPING,
                    message=f"不能按「{key}」分组（可选：{'、'.join(SERIES_BY_KEYS)}）",
                )
            )
    if problems:
        raise ValidationFailed("导入参数有误", problems)
    return cat


def _target_fonds(inst: Instance, s: Session, actor: Actor, fonds_id: int) -> Record:
    fonds = inst.catalogue.get(s, actor, fonds_id)
    if fonds.level != Level.FONDS.value:
        raise ValidationFailed(
            "导入目标不是全宗",
            [
                Problem(
                    field="全宗",
                    value=fonds.archival_code or str(fonds.id),
                    rule="层级关系",
                    message=f"条目「{fonds.title}」是{Level(fonds.level).label}，目录只能导入到全宗",
                )
            ],
        )
    return fonds


def _fold_header(name: str) -> str:
    s = unicodedata.normalize("NFKC", name)
    return re.sub(r"[\s()（）\[\]【】:：*＊]", "", s).lower()


_SPECIAL = {
    **{_fold_header(h): "category" for h in _CATEGORY_HEADERS},
    **{_fold_header(h): "fonds" for h in _FONDS_HEADERS},
    **{_fold_header(h): "ignored" for h in _IGNORED_HEADERS},
}


class _Run:
    """The state of one import: header mapping, series cache, counters and problems."""

    def __init__(
        self,
        inst: Instance,
        actor: Actor,
        fonds_id: int,
        fonds_code: str,
        category: str | None,
        series_by: tuple[str, ...],
    ) -> None:
        self.inst = inst
        self.actor = actor
        self.fonds_id = fonds_id
        self.fonds_code = fonds_code
        self.category = category
        self.series_by = tuple(k for k in SERIES_BY_KEYS if k in series_by)
        self.batch_uid = str(uuid.uuid4())
        self.source: Source | None = None
        self.problems: list[Problem] = []
        self.total_problems = 0
        self.bad_rows = 0
        self.rows = 0
        self.skipped = 0
        self.imported = 0
        self.codes_assigned = 0
        self.codes_kept = 0
        self.categories_seen: set[str] = set()
        self.special: dict[str, str] = {}  # header → "category" | "fonds" | "ignored"
        self.columns: dict[str, str] = {}  # header → element key (for the given category)
        self._by_category: dict[str, dict[str, str]] = {}
        self.series_used: dict[tuple[Any, ...], Record] = {}
        self._codes: dict[str, int] = {}  # 档号 → row that has it in this file
        self._schemes = [s for k, s in inst.domain.schemes.items() if k != "__base__"]
        self._fonds: Record | None = None

    # -- headers ---------------------------------------------------------------------------------

    def _schemes_for_headers(self) -> list[MetadataScheme]:
        if self.category is not None:
            return [self.inst.domain.scheme_for(self.category)]
        return self._schemes

    def looks_like_header(self, texts: Sequence[str]) -> bool:
        """At least two cells name a known column (title rows above the header are skipped)."""
        schemes = self._schemes_for_headers()
        known = 0
        for t in texts:
            if not t:
                continue
            if _fold_header(t) in _SPECIAL or any(s.element_by_name(t) for s in schemes):
                known += 1
        return known >= 2

    def map_headers(self, table: Table) -> None:
        src = table.source
        schemes = self._schemes_for_headers()
        taken: dict[str, str] = {}  # element key or special kind → header
        unknown: list[str] = []
        for header in table.headers:
            if not header:
                continue
            kind = _SPECIAL.get(_fold_header(header))
            key: str | None = None
            if kind is not None:
                self.special[header] = kind
                slot = kind
            else:
                element = next(
                    (
                        e
                        for s in schemes
                        if (e := s.element_by_name(header)) is not None
                        and e.obligation_at(Level.ITEM) is not None
                    ),
                    None,
                )
                if element is None:
                    inapplicable = next(
                        (e for s in schemes if (e := s.element_by_name(header)) is not None), None
                    )
                    if inapplicable is not None:
                        self._problem(
                            Problem(
                                file=src.name,
                                row=table.header_row,
                                field=header,
                                rule=R_HEADER,
                                message=f"著录项「{inapplicable.name}」不适用于件级条目，请删除此列",
                            )
                        )
                    else:
                        unknown.append(header)
                    continue
                key = element.key
                self.columns[header] = key
                slot = key
            if slot in taken and slot != "ignored":
                self._problem(
                    Problem(
                        file=src.name,
                        row=table.header_row,
                        field=header,
                        rule=R_HEADER,
                        message=f"表头「{header}」与「{taken[slot]}」指同一项，只能保留一列",
                    )
                )
            taken[slot] = header
        for header in unknown:
            names = "、".join(sorted({s.title for s in schemes}))
            self._problem(
                Problem(
                    file=src.name,
                    row=table.header_row,
                    field=header,
                    rule=R_HEADER,
                    message=f"未知的表头「{header}」：著录方案（{names}）中没有此著录项",
                )
            )
        if self.category is None and "category" not in taken:
            self._problem(
                Problem(
                    file=src.name,
                    row=table.header_row,
                    field="门类",
                    rule=R_CATEGORY,
                    message="未指定门类：请在导入时选择门类，或在表格中加一列「门类」",
                )
            )
        if not self.columns and not self.problems:
            self._problem(
                Problem(
                    file=src.name,
                    row=table.header_row,
                    rule=R_HEADER,
                    message="表格中没有可导入的著录项列",
                )
            )

    def _columns_for(self, category: str) -> dict[str, str]:
        """header → element key in this category's scheme (only for a file without a category)."""
        if self.category is not None:
            return self.columns
        cached = self._by_category.get(category)
        if cached is None:
            scheme = self.inst.domain.scheme_for(category)
            cached = {}
            for header in self.columns:
                e = scheme.element_by_name(header)
                if e is not None and e.obligation_at(Level.ITEM) is not None:
                    cached[header] = e.key
            self._by_category[category] = cached
        return cached

    # -- rows ------------------------------------------------------------------------------------

    def import_rows(self, s: Session, table: Table, progress: ImportProgress | None) -> None:
        catalogue = self.inst.catalogue
        fonds = catalogue.get(s, self.actor, self.fonds_id)  # held: keeps it in the identity map
        self._fonds = fonds
        pending = 0
        for row_no, cells in table.rows():
            self._import_row(s, table.source.name, row_no, cells)
            pending += 1
            if progress is not None and pending >= 50:
                progress.advance(pending)
                pending = 0
        if progress is not None and pending:
            progress.advance(pending)

    def _import_row(self, s: Session, file: str, row_no: int, cells: Mapping[str, Any]) -> None:
        if all(_blank(cells.get(h)) for h in self.columns):
            self.skipped += 1  # only 序号/全宗号/门类 filled in: a template's unused row
            return
        self.rows += 1
        problems: list[Problem] = []
        special = {kind: cells.get(h) for h, kind in self.special.items()}
        cat = self._row_category(special.get("category"), problems)
        fonds_value = special.get("fonds")
        if not _blank(fonds_value):
            given = unicodedata.normalize("NFKC", str(fonds_value)).strip().upper()
            if given != self.fonds_code:
                problems.append(
                    Problem(
                        field="全宗号",
                        value=str(fonds_value),
                        rule=R_FONDS,
                        message=f"全宗号「{given}」与导入目标全宗「{self.fonds_code}」不一致",
                    )
                )
        if cat is None:
            self._row_failed(file, row_no, problems)
            return
        columns = self._columns_for(cat)
        values = {key: cells[h] for h, key in columns.items() if not _blank(cells.get(h))}
        self.categories_seen.add(cat)
        for h in self.columns:
            if h not in columns and not _blank(cells.get(h)):
                problems.append(
                    Problem(
                        field=h,
                        value=_text(cells.get(h)),
                        rule=R_HEADER,
                        message=f"门类「{cat}」的著录方案中没有此著录项",
                    )
                )
        code = values.get("archival_code")
        if code is not None:
            code = unicodedata.normalize("NFC", str(code)).strip()
            values["archival_code"] = code
            first = self._codes.get(code)
            if first is not None:
                problems.append(
                    Problem(
                        field="档号",
                        value=code,
                        rule=R_DUPLICATE,
                        message=f"档号「{code}」与本文件第 {first} 行重复",
                    )
                )
                del values["archival_code"]
                code = None
            else:
                self._codes[code] = row_no
        scheme = self.inst.domain.scheme_for(cat)
        parent, ungrouped = self._series_for(s, cat, scheme, values, problems)
        try:
            rec = self.inst.catalogue.create_record(
                s,
                self.actor,
                parent_id=parent.id,
                level=Level.ITEM,
                values=values,
                category=cat,
                event_detail={"import_batch": self.batch_uid, "file": file, "row": row_no},
            )
        except ValidationFailed as exc:
            problems.extend(exc.problems)
        else:
            if code is None and rec.archival_code:
                self._codes.setdefault(rec.archival_code, row_no)
                self.codes_assigned += 1
            elif code is not None:
                self.codes_kept += 1
            self.imported += 1
            if ungrouped is not None:
                problems.append(
                    Problem(
                        field=ungrouped,
                        rule=R_GROUPING,
                        message=f"「{ungrouped}」为空或无效，无法确定本行应归入的类别",
                    )
                )
        if problems:
            self._row_failed(file, row_no, problems)

    def _row_category(self, raw: Any, problems: list[Problem]) -> str | None:
        table = self.inst.domain.table("category")
        if _blank(raw):
            if self.category is None:
                problems.append(
                    Problem(field="门类", rule=R_CATEGORY, message="门类为空，无法确定著录方案")
                )
            return self.category
        text = _text(raw)
        code = table.normalize(text)
        if code is None:
            problems.append(
                Problem(
                    field="门类",
                    value=text,
                    rule=R_CATEGORY,
                    message=f"「{text}」不是有效的门类代码或名称（{'、'.join(table.codes())}）",
                )
            )
            return None
        if self.category is not None and code != self.category:
            problems.append(
                Problem(
                    field="门类",
                    value=text,
                    rule=R_CATEGORY,
                    message=f"本行门类「{code}」与导入时选定的门类「{self.category}」不一致",
                )
            )
            return None
        return code

    def _series_for(
        self,
        s: Session,
        cat: str,
        scheme: MetadataScheme,
        values: Mapping[str, Any],
        problems: list[Problem],
    ) -> tuple[Record, str | None]:
        """The series this row goes into, and the name of a grouping element that was unusable.

        A row whose grouping values are missing or invalid is still validated (under a
        placeholder series that the rollback removes) so that all its problems get reported.
        """
        label = self.inst.domain.category_label(cat)
        parts: list[str] = []
        key: list[Any] = [cat]
        year: int | None = None
        for element in self.series_by:
            value = _group_value(scheme, element, values)
            if value is None:
                el = scheme.element(element)
                return self._placeholder(s, cat, label), el.name if el else element
            key.append(value)
            if element == "year":
                year = int(value)
                parts.append(f" {year}年")
            elif element == "retention":
                parts.append(f" {self.inst.domain.table('retention').label(str(value))}")
            else:
                parts.append(f" {value}")
        title = f"{label}档案" + "".join(parts)
        series = self.series_used.get(tuple(key))
        if series is not None:
            return series, None
        try:
            series = self.inst.catalogue.ensure_series(
                s,
                self.actor,
                self.fonds_id,
                title,
                category=cat,
                year=year,
                event_detail={"import_batch": self.batch_uid},
            )
        except ValidationFailed as exc:
            problems.extend(
                replace(p, message=f"类别「{title}」：{p.message}") for p in exc.problems
            )
            return self._placeholder(s, cat, label), None
        self.series_used[tuple(key)] = series
        return series, None

    def _placeholder(self, s: Session, cat: str, label: str) -> Record:
        """A series for rows that cannot be grouped; only ever used in a rejected import."""
        key = (cat, None)
        series = self.series_used.get(key)
        if series is None:
            series = self.inst.catalogue.ensure_series(
                s, self.actor, self.fonds_id, f"{label}档案（分组待定）", category=cat
            )
            self.series_used[key] = series
        return series

    def _row_failed(self, file: str, row_no: int, problems: Iterable[Problem]) -> None:
        self.bad_rows += 1
        for p in problems:
            self._problem(replace(p, file=file, row=row_no))

    def _problem(self, problem: Problem) -> None:
        self.total_problems += 1
        if len(self.problems) < KEPT_PROBLEMS:
            self.problems.append(problem)

    # -- outcome ---------------------------------------------------------------------------------

    def batch(self, source: Source, status: str, problems: Sequence[Problem]) -> ImportBatch:
        stored = [p.to_dict() for p in problems[:STORED_PROBLEMS]]
        if self.total_problems > len(stored):
            stored.append(
                {"message": f"另有 {self.total_problems - len(stored)} 处问题未列出", "rule": ""}
            )
        return ImportBatch(
            uid=self.batch_uid,
            filename=source.name[:500],
            sha256=source.sha256,
            size=source.size,
            file_format=source.format or "",
            encoding=source.encoding,
            fonds_id=self.fonds_id,
            category=self.category
            or (next(iter(self.categories_seen)) if len(self.categories_seen) == 1 else None),
            status=status,
            row_count=self.rows,
            imported_count=self.imported if status == "imported" else 0,
            problems=stored,
            created_by=self.actor.username,
        )

    def record_success(self, s: Session) -> ImportBatch:
        assert self.source is not None
        batch = self.batch(self.source, "imported", [])
        s.add(batch)
        s.flush()
        self.inst.audit.append(
            s,
            actor=self.actor.username,
            action=EventType.CATALOGUE_IMPORT_COMPLETED,
            object_type="import_batch",
            object_id=batch.id,
            detail={
                "batch": batch.uid,
                "file": batch.filename,
                "sha256": batch.sha256,
                "fonds_id": self.fonds_id,
                "rows": self.rows,
                "imported": self.imported,
                "codes_assigned": self.codes_assigned,
                "codes_kept": self.codes_kept,
                "series": [r.id for r in self.series_used.values()],
            },
        )
        return batch


def _reject(
    inst: Instance,
    actor: Actor,
    source: Source,
    run: _Run,
    file_problems: Sequence[Problem],
    message: str | None,
) -> ImportRejected:
    """Record the refusal in its own transaction and build the exception to raise."""
    file_level = [p if p.file else replace(p, file=source.name) for p in file_problems]
    run.total_problems += len(file_level)
    problems = [*file_level, *run.problems][:KEPT_PROBLEMS]
    summary = message or (
        f"「{source.name}」未导入：{run.bad_rows} 行有问题，共 {run.total_problems} 处"
        "（整个文件均未写入，请修改后重新导入）"
    )
    with inst.db.write() as s:
        batch = run.batch(source, "rejected", problems)
        s.add(batch)
        s.flush()
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.CATALOGUE_IMPORT_REJECTED,
            object_type="import_batch",
            object_id=batch.id,
            outcome=Outcome.FAILURE,
            detail={
                "batch": batch.uid,
                "file": batch.filename,
                "sha256": batch.sha256,
                "fonds_id": run.fonds_id,
                "rows": run.rows,
                "bad_rows": run.bad_rows,
                "problems": run.total_problems,
                "summary": summary,
            },
        )
        batch_id = batch.id
    return ImportRejected(
        summary,
        problems,
        batch_id=batch_id,
        batch_uid=run.batch_uid,
        total_problems=run.total_problems,
    )


def _group_value(scheme: MetadataScheme, key: str, values: Mapping[str, Any]) -> Any:
    """The coerced value of a grouping element (年度 falls back to the date's year)."""
    raw = values.get(key)
    if key == "year" and _blank(raw):
        date_value, problem = scheme.coerce(Level.ITEM, "date", values.get("date"))
        if problem is None and isinstance(date_value, str):
            digits = date_value.strip("[]")[:4]
            return int(digits) if digits.isdigit() else None
        return None
    value, problem = scheme.coerce(Level.ITEM, key, raw)
    if problem is not None or value is None:
        return None
    if key == "year" and not (isinstance(value, int) and 1000 <= value <= 9999):
        return None
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value).strip()


# -- the error report ---------------------------------------------------------------------------

_REPORT_COLUMNS = (("文件", 28), ("行号", 8), ("字段", 16), ("值", 32), ("问题", 60), ("规则", 26))


def report_to_xlsx(problems: Iterable[Problem], out_path: Path) -> Path:
    """Write an import's problems as an XLSX (文件, 行号, 字段, 值, 问题, 规则) for download."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("导入问题报告")
    for i, (_, width) in enumerate(_REPORT_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"
    bold = Font(bold=True)
    header = []
    for title, _ in _REPORT_COLUMNS:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = bold
        cell.alignment = Alignment(horizontal="center")
        header.append(cell)
    ws.append(header)
    for p in problems:
        ws.append(
            [p.file, p.row, p.field, _xlsx_safe(p.value or ""), _xlsx_safe(p.message), p.rule]
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        wb.save(tmp)
        tmp.replace(out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_safe(text: str) -> str:
    """Control characters cannot be stored in XLSX; show them as U+XXXX."""
    return _XLSX_ILLEGAL.sub(lambda m: f"U+{ord(m.group()):04X}", text)
