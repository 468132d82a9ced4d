"""Reading catalogue spreadsheets (XLSX and CSV) as rows of ``(row_number, {header: cell})``.

:func:`open_table` opens one file, reads it once to compute its SHA-256 (and, for CSV, to settle
the encoding), finds the header row and returns a :class:`Table` whose :meth:`Table.rows` streams
the data rows with bounded memory. Everything an agency file can get wrong is reported as a
:class:`TableError` (an :class:`~lantai.errors.InputError`) that names the file, the row, the
column and the rule, and carries the :class:`Source` facts (size, digest) so that a rejected
import can still be recorded:

- empty file, no header row, duplicate headers, data under a column without a header;
- more data rows than ``import_max_rows``, a cell longer than ``import_max_cell_chars``, NUL;
- CSV: strict UTF-8 (with or without BOM) first, then strict GB 18030 (which covers GBK);
  anything else is refused with the byte offset of the first undecodable byte;
- XLSX: the zip central directory is checked (entry count, declared uncompressed sizes and
  compression ratios) *before* openpyxl opens it, so a zip bomb or a renamed file never gets
  inflated; legacy ``.xls`` and other non-XLSX content is named as such.

Row numbers are the ones a person sees in Excel or WPS: 1-based, the header row included, empty
rows counted; completely empty rows are skipped. Only the first worksheet of a workbook is read.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from lantai.errors import InputError, Problem
from lantai.settings import Settings

__all__ = [
    "Source",
    "Table",
    "TableError",
    "TableLimits",
    "open_table",
]

FileFormat = Literal["xlsx", "csv"]

_CHUNK = 1 << 20
_BOM = codecs.BOM_UTF8
_EXCEL_MAX_ROWS = 1_048_576
_HEADER_SEARCH_ROWS = 10

R_FILE = "文件格式"
R_ENCODING = "字符编码（UTF-8 或 GB 18030/GBK）"
R_HEADER = "表头"
R_ROWS = "行数上限"
R_CELL = "单元格长度上限"
R_NUL = "GD-1-6 特殊字符"
R_ZIP = "XLSX 压缩包安全检查"


class TableError(InputError):
    """A spreadsheet that cannot be read as a catalogue table; nothing was written."""

    def __init__(
        self, message: str, problems: list[Problem] | None = None, *, source: Source | None = None
    ) -> None:
        super().__init__(message, problems)
        self.source = source


@dataclass(frozen=True)
class TableLimits:
    """Bounds applied while reading one file."""

    max_rows: int = 200_000
    max_cell_chars: int = 20_000
    max_uncompressed_bytes: int = 512 * 1024 * 1024  # XLSX: sum of declared member sizes
    max_compression_ratio: int = 200  # XLSX: per member, for members over 1 MiB
    max_zip_entries: int = 5_000

    @classmethod
    def from_settings(cls, settings: Settings) -> TableLimits:
        return cls(max_rows=settings.import_max_rows, max_cell_chars=settings.import_max_cell_chars)


@dataclass(frozen=True)
class Source:
    """What was learnt about the file while reading it once."""

    name: str
    path: Path
    format: FileFormat | None
    size: int
    sha256: str
    encoding: str | None = None  # CSV only: "utf-8", "utf-8-sig" or "gb18030"
    estimated_rows: int | None = None  # data rows, for progress bars (may over-estimate)


HeaderPredicate = Callable[[Sequence[str]], bool]


class Table:
    """An opened spreadsheet positioned after its header row. Use as a context manager."""

    def __init__(
        self,
        source: Source,
        header_row: int,
        headers: tuple[str, ...],
        preamble: tuple[tuple[int, str], ...],
        rows: Iterator[tuple[int, list[Any]]],
        limits: TableLimits,
        closer: Callable[[], None],
    ) -> None:
        self.source = source
        self.header_row = header_row
        self.headers = headers
        self.preamble = preamble  # title lines above the header: (row, text)
        self._raw = rows
        self._limits = limits
        self._closer = closer
        self._columns = [(i, h) for i, h in enumerate(headers) if h]

    def __enter__(self) -> Table:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._closer()

    def error(self, message: str, problem: Problem) -> TableError:
        return TableError(message, [replace(problem, file=self.source.name)], source=self.source)

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Data rows as ``(row_number, {header: value})``; empty rows are skipped.

        Values are ``str`` (CSV; XLSX text), ``int`` (integral numbers), ``float``, ``bool`` or
        ``datetime``/``date``; empty cells are ``None``. Raises :class:`TableError` on the first
        row that breaks a limit.
        """
        limits = self._limits
        count = 0
        width = len(self.headers)
        for row_no, cells in self._raw:
            if not any(not _is_blank(c) for c in cells):
                continue
            count += 1
            if count > limits.max_rows:
                raise self.error(
                    f"数据行超过上限 {limits.max_rows} 行，请拆分后分批导入",
                    Problem(
                        row=row_no,
                        rule=R_ROWS,
                        message=f"第 {count} 个数据行超过上限 {limits.max_rows} 行",
                    ),
                )
            for i in range(width, len(cells)):
                if not _is_blank(cells[i]):
                    raise self._stray(row_no, i, cells[i])
            out: dict[str, Any] = {}
            for i, cell in enumerate(cells[:width]):
                header = self.headers[i]
                value = self._check_cell(row_no, i, cell)
                if not header:
                    if value is not None:
                        raise self._stray(row_no, i, value)
                    continue
                out[header] = value
            for _, header in self._columns:
                out.setdefault(header, None)
            yield row_no, out

    def _stray(self, row_no: int, index: int, value: Any) -> TableError:
        return self.error(
            "表格中有没有表头的数据列",
            Problem(
                row=row_no,
                field=_column_name(index),
                value=_preview(value),
                rule=R_HEADER,
                message=f"{_column_name(index)}有数据，但该列没有表头",
            ),
        )

    def _check_cell(self, row_no: int, index: int, cell: Any) -> Any:
        if cell is None:
            return None
        if isinstance(cell, str):
            if cell == "":
                return None
            field = self.headers[index] if index < len(self.headers) else ""
            field = field or _column_name(index)
            if len(cell) > self._limits.max_cell_chars:
                raise self.error(
                    "单元格内容过长",
                    Problem(
                        row=row_no,
                        field=field,
                        value=_preview(cell),
                        rule=R_CELL,
                        message=(
                            f"{_column_name(index)}有 {len(cell)} 个字符，"
                            f"超过上限 {self._limits.max_cell_chars}"
                        ),
                    ),
                )
            if "\x00" in cell:
                raise self.error(
                    "单元格含空字符（NUL）",
                    Problem(
                        row=row_no,
                        field=field,
                        rule=R_NUL,
                        message=f"{_column_name(index)}含空字符 U+0000",
                    ),
                )
            return cell
        if isinstance(cell, float) and cell.is_integer():
            return int(cell)
        return cell


def open_table(
    path: Path,
    *,
    limits: TableLimits,
    name: str | None = None,
    header_predicate: HeaderPredicate | None = None,
) -> Table:
    """Open ``path`` (``.xlsx`` or ``.csv``), read it once, and position after the header row.

    ``name`` is how the file is called in messages (an upload's original name); it defaults to
    the file name. The header row is the first non-empty row, unless ``header_predicate`` is
    given: then title rows above a recognised header (within the first ten non-empty rows) are
    skipped and kept in :attr:`Table.preamble`.
    """
    display = name or path.name
    try:
        fh: IO[bytes] = path.open("rb")
    except FileNotFoundError:
        raise TableError(
            f"文件「{display}」不存在", [Problem(file=display, message="文件不存在")]
        ) from None
    except OSError as exc:
        raise TableError(
            f"无法读取文件「{display}」",
            [Problem(file=display, message=f"无法读取：{exc.strerror or exc}")],
        ) from None
    try:
        return _open(fh, path, display, limits, header_predicate)
    except BaseException:
        fh.close()
        raise


def _open(
    fh: IO[bytes],
    path: Path,
    display: str,
    limits: TableLimits,
    predicate: HeaderPredicate | None,
) -> Table:
    suffix = path.suffix.lower()
    fmt: FileFormat | None = (
        "xlsx" if suffix in (".xlsx", ".xlsm") else "csv" if suffix in (".csv", ".txt") else None
    )
    scan = _Scan(want_text=fmt == "csv")
    scan.feed_all(fh)
    source = Source(
        name=display,
        path=path,
        format=fmt,
        size=scan.size,
        sha256=scan.sha256.hexdigest(),
        encoding=scan.encoding if fmt == "csv" else None,
        estimated_rows=max(scan.lines - 1, 0) if fmt == "csv" else None,
    )

    def fail(summary: str, /, **problem: Any) -> TableError:
        return TableError(summary, [Problem(file=display, **problem)], source=source)

    if fmt is None:
        raise fail(
            f"不支持的文件类型「{path.suffix or '无扩展名'}」",
            rule=R_FILE,
            message="目录数据只接受 .xlsx（Excel/WPS 表格）或 .csv 文件",
        )
    if scan.size == 0:
        raise fail("文件为空", rule=R_FILE, message="文件为空（0 字节）")
    if fmt == "csv":
        return _open_csv(fh, source, limits, predicate, scan, fail)
    return _open_xlsx(fh, source, limits, predicate, scan, fail)


class _Scan:
    """One pass over the bytes: size, SHA-256, and for text files NUL bytes, lines and encoding."""

    def __init__(self, *, want_text: bool) -> None:
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.want_text = want_text
        self.lines = 0
        self.nul_offset: int | None = None
        self.nul_line: int | None = None
        self._utf8: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("utf-8")(
            "strict"
        )
        self._gb: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("gb18030")(
            "strict"
        )
        self.utf8_error: int | None = None
        self.gb_error: int | None = None
        self.utf8_line: int | None = None
        self.gb_line: int | None = None
        self._bom = 0

    def feed_all(self, fh: IO[bytes]) -> None:
        while chunk := fh.read(_CHUNK):
            self.feed(chunk)
        if self.want_text:
            self._decode(b"", self.size, final=True)

    def feed(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        if len(self.head) < 8:
            self.head = (self.head + chunk)[:8]
        if self.want_text:
            if self.nul_offset is None:
                at = chunk.find(b"\x00")
                if at >= 0:
                    self.nul_offset = self.size + at
                    self.nul_line = self.lines + chunk.count(b"\n", 0, at) + 1
            if self.size == 0 and chunk.startswith(_BOM):
                self._bom = len(_BOM)
                self._decode(chunk[len(_BOM) :], len(_BOM), final=False)
            else:
                self._decode(chunk, self.size, final=False)
            self.lines += chunk.count(b"\n")
        self.size += len(chunk)

    def _decode(self, chunk: bytes, start: int, *, final: bool) -> None:
        if self._utf8 is not None:
            self.utf8_error, self._utf8 = _try_decode(self._utf8, chunk, start, final)
            if self.utf8_error is not None:
                self.utf8_line = self._line_at(chunk, start, self.utf8_error)
        if self._gb is not None and not self._bom:
            self.gb_error, self._gb = _try_decode(self._gb, chunk, start, final)
            if self.gb_error is not None:
                self.gb_line = self._line_at(chunk, start, self.gb_error)

    def _line_at(self, chunk: bytes, start: int, offset: int) -> int:
        return self.lines + chunk.count(b"\n", 0, max(offset - start, 0)) + 1

    @property
    def encoding(self) -> str | None:
        if self._utf8 is not None:
            return "utf-8-sig" if self._bom else "utf-8"
        if self._gb is not None and not self._bom:
            return "gb18030"
        return None


def _try_decode(
    decoder: codecs.IncrementalDecoder, chunk: bytes, offset: int, final: bool
) -> tuple[int | None, codecs.IncrementalDecoder | None]:
    """Feed ``chunk`` (which starts at byte ``offset``); on failure the absolute error offset."""
    pending = len(decoder.getstate()[0])
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError as exc:
        return offset - pending + exc.start, None
    return None, decoder


# -- CSV ------------------------------------------------------------------------------------------


def _open_csv(
    fh: IO[bytes],
    source: Source,
    limits: TableLimits,
    predicate: HeaderPredicate | None,
    scan: _Scan,
    fail: Callable[..., TableError],
) -> Table:
    if scan.head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise fail(
            "不支持 UTF-16 编码的文本文件",
            rule=R_ENCODING,
            message="文件是 UTF-16 编码（Excel「Unicode 文本」），请另存为「CSV UTF-8」",
        )
    if scan.nul_offset is not None:
        raise fail(
            "文件含空字符（NUL），不是正常的 CSV 文本",
            row=scan.nul_line,
            rule=R_NUL,
            value=f"第 {scan.nul_offset} 字节",
            message=f"第 {scan.nul_offset} 字节（约第 {scan.nul_line} 行）是空字符 0x00",
        )
    if source.encoding is None:
        # The encoding that decoded further is the one the file was meant to be in; its first
        # undecodable byte is the one to show.
        utf8_at, gb_at = scan.utf8_error or 0, scan.gb_error
        if gb_at is None or utf8_at >= gb_at:
            name, at, line = "UTF-8", utf8_at, scan.utf8_line
            other = f"；按 GB 18030/GBK 解码在第 {gb_at} 字节即出错" if gb_at is not None else ""
        else:
            name, at, line = "GB 18030/GBK", gb_at, scan.gb_line
            other = f"；按 UTF-8 解码在第 {utf8_at} 字节即出错"
        raise fail(
            "无法识别文件的字符编码",
            row=line,
            rule=R_ENCODING,
            value=f"第 {at} 字节",
            message=(
                f"文件看似 {name} 编码，但第 {at} 字节（从 0 计）无法按 {name} 解码{other}；"
                "请检查文件是否损坏，或另存为「CSV UTF-8」"
            ),
        )
    fh.seek(0)
    text = io.TextIOWrapper(fh, encoding=source.encoding, errors="strict", newline="")
    dialect = _sniff_dialect(text)
    max_line = limits.max_cell_chars * 64 + 4096
    lines = _bounded_lines(text, max_line, source)
    reader = csv.reader(lines, dialect)
    records = _csv_records(reader, source)
    return _finish(source, records, limits, predicate, text.close, fail)


def _sniff_dialect(text: io.TextIOWrapper) -> type[csv.Dialect]:
    """Comma unless the first line clearly uses tabs or semicolons."""
    first = text.readline(1 << 16)
    text.seek(0)
    commas, tabs, semis = first.count(","), first.count("\t"), first.count(";")
    if tabs > commas and tabs >= semis:
        return csv.excel_tab
    if semis > commas:
        return _Semicolon
    return csv.excel


class _Semicolon(csv.excel):
    delimiter = ";"


def _bounded_lines(text: io.TextIOWrapper, limit: int, source: Source) -> Iterator[str]:
    line_no = 0
    while True:
        line = text.readline(limit)
        if not line:
            return
        line_no += 1
        if len(line) >= limit and not line.endswith(("\n", "\r")):
            raise TableError(
                "文件中有过长的行",
                [
                    Problem(
                        file=source.name,
                        row=line_no,
                        rule=R_CELL,
                        message=f"第 {line_no} 行（物理行）超过 {limit} 个字符，文件可能损坏",
                    )
                ],
                source=source,
            )
        yield line


def _csv_records(reader: Any, source: Source) -> Iterator[tuple[int, list[Any]]]:
    """Number the CSV records as Excel shows them. The csv module's own field limit
    (131,072 characters, process-wide, deliberately left alone) bounds a runaway quoted field;
    it is reported as an over-long cell."""
    row_no = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TableError(
                "CSV 格式错误",
                [
                    Problem(
                        file=source.name,
                        row=row_no + 1,
                        rule=R_CELL if "field larger" in str(exc) else R_FILE,
                        message=(
                            "单元格内容过长或引号未闭合"
                            if "field larger" in str(exc)
                            else f"无法解析：{exc}"
                        ),
                    )
                ],
                source=source,
            ) from None
        row_no += 1
        yield row_no, record


# -- XLSX -----------------------------------------------------------------------------------------

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _open_xlsx(
    fh: IO[bytes],
    source: Source,
    limits: TableLimits,
    predicate: HeaderPredicate | None,
    scan: _Scan,
    fail: Callable[..., TableError],
) -> Table:
    if scan.head.startswith(_OLE2):
        raise fail(
            "不支持旧版 Excel 97-2003（.xls）格式",
            rule=R_FILE,
            message="文件是旧版 .xls 格式（仅扩展名为 .xlsx），请在 Excel/WPS 中另存为 .xlsx",
        )
    if not scan.head.startswith(b"PK"):
        raise fail(
            "不是有效的 XLSX 文件",
            rule=R_FILE,
            message="文件内容不是 XLSX（Office Open XML）格式，可能已损坏或扩展名有误",
        )
    fh.seek(0)
    try:
        archive = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise fail(
            "不是有效的 XLSX 文件",
            rule=R_FILE,
            message="无法读取 XLSX 压缩包（文件损坏或不完整）",
        ) from None
    try:
        _check_archive(archive, limits, fail)
        from openpyxl import load_workbook

        try:
            fh.seek(0)
            wb = load_workbook(fh, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds on malformed parts
            raise fail(
                "不是有效的 XLSX 文件",
                rule=R_FILE,
                message=f"无法解析工作簿：{type(exc).__name__}",
            ) from None
    finally:
        archive.close()
    sheets = wb.worksheets
    if not sheets:
        wb.close()
        raise fail("工作簿中没有工作表", rule=R_FILE, message="工作簿中没有工作表")
    ws = sheets[0]
    declared = getattr(ws, "max_row", None)
    if isinstance(declared, int) and declared > 1:
        source = replace(source, estimated_rows=min(declared, _EXCEL_MAX_ROWS) - 1)
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()  # never trust (or pad to) the declared sheet size

    def records() -> Iterator[tuple[int, list[Any]]]:
        try:
            for row_no, values in enumerate(ws.iter_rows(values_only=True), start=1):
                if row_no > _EXCEL_MAX_ROWS:
                    raise fail(
                        "工作表行号超出 Excel 上限",
                        row=row_no,
                        rule=R_FILE,
                        message=f"行号超过 {_EXCEL_MAX_ROWS}，文件已损坏",
                    )
                yield row_no, list(values)
        except TableError:
            raise
        except Exception as exc:
            raise fail(
                "XLSX 工作表内容无法解析",
                rule=R_FILE,
                message=f"工作表 XML 损坏：{type(exc).__name__}",
            ) from None

    def close() -> None:
        wb.close()
        fh.close()

    return _finish(source, records(), limits, predicate, close, fail)


def _check_archive(
    archive: zipfile.ZipFile, limits: TableLimits, fail: Callable[..., TableError]
) -> None:
    """Refuse zip bombs from the central directory alone, before anything is inflated."""
    infos = archive.infolist()
    if len(infos) > limits.max_zip_entries:
        raise fail(
            "XLSX 压缩包异常",
            rule=R_ZIP,
            message=f"压缩包含 {len(infos)} 个成员，超过上限 {limits.max_zip_entries}",
        )
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise fail(
            "不是有效的 XLSX 文件",
            rule=R_FILE,
            message="压缩包中没有 Excel 工作簿（缺少 [Content_Types].xml 或 xl/workbook.xml）",
        )
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > (1 << 20) and (
            info.file_size > limits.max_compression_ratio * max(info.compress_size, 1)
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            raise fail(
                "XLSX 压缩包异常（疑似压缩炸弹）",
                rule=R_ZIP,
                value=info.filename,
                message=(
                    f"成员「{info.filename}」压缩比 {ratio}:1 超过上限 "
                    f"{limits.max_compression_ratio}:1"
                ),
            )
        if info.flag_bits & 0x1:
            raise fail("XLSX 文件已加密", rule=R_FILE, message="工作簿已加密，请先取消密码")
        _refuse_dtd(archive, info, fail)
    if total > limits.max_uncompressed_bytes:
        raise fail(
            "XLSX 压缩包异常（疑似压缩炸弹）",
            rule=R_ZIP,
            message=(
                f"解压后共 {total // (1 << 20)} MiB，超过上限 "
                f"{limits.max_uncompressed_bytes // (1 << 20)} MiB"
            ),
        )


def _refuse_dtd(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, fail: Callable[..., TableError]
) -> None:
    """Excel and WPS never write a DTD; a part that declares one (entity expansion, XXE) is
    refused before openpyxl's parser sees it. A DOCTYPE precedes the root element, so the head
    of each XML part is enough."""
    if not info.filename.endswith((".xml", ".rels", ".vml")) or info.is_dir():
        return
    with archive.open(info) as member:
        head = member.read(4096)
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise fail(
            "XLSX 文件含文档类型声明（DOCTYPE），拒绝处理",
            rule=R_ZIP,
            value=info.filename,
            message=(
                f"成员「{info.filename}」含 DOCTYPE/实体声明（可能是实体扩展或外部实体注入攻击），"
                "Excel/WPS 保存的工作簿不含此类声明"
            ),
        )


# -- shared ---------------------------------------------------------------------------------------


def _finish(
    source: Source,
    records: Iterator[tuple[int, list[Any]]],
    limits: TableLimits,
    predicate: HeaderPredicate | None,
    closer: Callable[[], None],
    fail: Callable[..., TableError],
) -> Table:
    try:
        header_row, headers, preamble, rest = _find_header(records, predicate, source, limits, fail)
    except BaseException:
        closer()
        raise
    return Table(source, header_row, headers, preamble, chain(rest, records), limits, closer)


def _find_header(
    records: Iterator[tuple[int, list[Any]]],
    predicate: HeaderPredicate | None,
    source: Source,
    limits: TableLimits,
    fail: Callable[..., TableError],
) -> tuple[int, tuple[str, ...], tuple[tuple[int, str], ...], list[tuple[int, list[Any]]]]:
    """The header row, its texts, the title rows above it and the rows read past it."""
    seen: list[tuple[int, list[Any], list[str]]] = []
    chosen = -1
    for row_no, cells in records:
        texts = [_header_text(c, source, row_no, i) for i, c in enumerate(cells)]
        while texts and not texts[-1]:
            texts.pop()
        if not texts:
            continue
        seen.append((row_no, cells, texts))
        if predicate is None or predicate(texts):
            chosen = len(seen) - 1
            break
        if len(seen) >= _HEADER_SEARCH_ROWS:
            break
    if not seen:
        raise fail("文件中没有表头行", rule=R_HEADER, message="文件中没有任何内容（没有表头行）")
    if chosen < 0:
        # Nothing recognisable: the first non-empty row is the header, so that the caller can
        # report its columns; the rows read past it are handed back as data.
        chosen = 0
    row_no, cells, texts = seen[chosen]
    data_like = [
        i for i, c in enumerate(cells) if isinstance(c, int | float | datetime | date | time)
    ]
    if data_like:
        i = data_like[0]
        raise fail(
            "文件中没有表头行",
            row=row_no,
            field=_column_name(i),
            value=_preview(cells[i]),
            rule=R_HEADER,
            message=f"第 {row_no} 行是数据而不是表头：第一行应为列名（如 档号、题名、责任者）",
        )
    preamble = tuple((r, " ".join(t for t in ts if t)) for r, _, ts in seen[:chosen])
    positions: dict[str, int] = {}
    for i, h in enumerate(texts):
        if not h:
            continue
        if h in positions:
            raise fail(
                "表头重复",
                row=row_no,
                field=h,
                rule=R_HEADER,
                message=f"表头「{h}」出现两次（{_column_name(positions[h])}和{_column_name(i)}）",
            )
        positions[h] = i
    rest = [(r, c) for r, c, _ in seen[chosen + 1 :]]
    return row_no, tuple(texts), preamble, rest


def _header_text(cell: Any, source: Source, row: int, index: int) -> str:
    if cell is None:
        return ""
    text = str(cell).replace("\ufeff", "").strip()
    if len(text) > 200 or "\x00" in text:
        raise TableError(
            "表头无效",
            [
                Problem(
                    file=source.name,
                    row=row,
                    field=_column_name(index),
                    value=_preview(text),
                    rule=R_HEADER,
                    message="表头过长或含空字符，不是有效的表头",
                )
            ],
            source=source,
        )
    return " ".join(text.split())


def _is_blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _column_name(index: int) -> str:
    """``0`` → "第 A 列"."""
    n, letters = index + 1, ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"第 {letters} 列"


def _preview(value: Any, limit: int = 40) -> str:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"
