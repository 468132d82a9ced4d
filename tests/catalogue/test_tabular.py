"""Reading XLSX and CSV catalogue files: encodings, header rows, limits and hostile files."""

from __future__ import annotations

import hashlib
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from hostile import make_zip_bomb
from lantai.catalogue.tabular import TableError, TableLimits, open_table

LIMITS = TableLimits(max_rows=100, max_cell_chars=200)
HEADER = ["档号", "题名", "日期"]
ROWS = [
    ["Z109-WS·2011-Y-BGS-0001", "关于印发《2011年全市档案工作要点》的通知", "20110305"],
    ["Z109-WS·2011-Y-BGS-0002", "关于做好2011年春节期间安全生产工作的通知", "20110120"],
]


def write_csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8") -> Path:
    text = "".join(",".join(_csv_cell(c) for c in row) + "\r\n" for row in rows)
    path.write_bytes(text.encode(encoding))
    return path


def _csv_cell(value: Any) -> str:
    s = "" if value is None else str(value)
    if any(c in s for c in ',"\n'):
        s = '"' + s.replace('"', '""') + '"'
    return s


def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def read_all(path: Path, limits: TableLimits = LIMITS, **kw: Any) -> tuple[Any, list[Any]]:
    with open_table(path, limits=limits, **kw) as table:
        return table, list(table.rows())


def only_problem(exc: pytest.ExceptionInfo[TableError]) -> Any:
    assert len(exc.value.problems) == 1, exc.value.problems
    return exc.value.problems[0]


# -- good files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "目录.csv", [HEADER, *ROWS], encoding)
    table, rows = read_all(path)
    expected = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "gbk": "gb18030", "gb18030": "gb18030"}
    assert table.source.encoding == expected[encoding]
    assert table.headers == tuple(HEADER)
    assert rows == [
        (2, dict(zip(HEADER, ROWS[0], strict=True))),
        (3, dict(zip(HEADER, ROWS[1], strict=True))),
    ]
    assert table.source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert table.source.size == path.stat().st_size
    assert table.source.format == "csv"


def test_csv_row_numbers_count_blank_lines_and_multiline_cells(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv",
        [HEADER, ["A-1", "第一行\n第二行", "20110305"], [], ["A-2", "题名", None]],
    )
    _, rows = read_all(path)
    assert [r for r, _ in rows] == [2, 4]
    assert rows[0][1]["题名"] == "第一行\n第二行"
    assert rows[1][1]["日期"] is None


def test_tab_separated_text_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("档号\t题名\nA-1\t关于, 逗号\n", encoding="utf-8")
    table, rows = read_all(path)
    assert table.headers == ("档号", "题名")
    assert rows == [(2, {"档号": "A-1", "题名": "关于, 逗号"})]


def test_xlsx_values_keep_types_and_title_rows_are_skipped(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "目录.xlsx",
        [
            ["某市人民政府办公室2011年归档文件目录"],
            [],
            [*HEADER, "页数", None],
            ["Z109-WS·2011-Y-BGS-0001", "关于…的通知", datetime(2011, 3, 5), 4.0],
            [None, None, None, None],
            ["Z109-WS·2011-Y-BGS-0002", "关于…的报告", 20110306, 2.5],
        ],
    )
    table, rows = read_all(path, header_predicate=lambda cells: "档号" in cells)
    assert table.header_row == 3
    assert table.preamble == ((1, "某市人民政府办公室2011年归档文件目录"),)
    assert table.headers == ("档号", "题名", "日期", "页数")
    assert rows[0] == (
        4,
        {
            "档号": "Z109-WS·2011-Y-BGS-0001",
            "题名": "关于…的通知",
            "日期": datetime(2011, 3, 5),
            "页数": 4,
        },
    )
    assert isinstance(rows[0][1]["页数"], int)
    assert rows[1][0] == 6
    assert rows[1][1]["日期"] == 20110306
    assert rows[1][1]["页数"] == 2.5
    assert table.source.estimated_rows == 5  # from the declared sheet size
    assert table.source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_header_predicate_without_match_falls_back_to_first_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [["甲", "乙"], ["1", "2"]])
    table, rows = read_all(path, header_predicate=lambda cells: False)
    assert table.headers == ("甲", "乙")
    assert rows == [(2, {"甲": "1", "乙": "2"})]


# -- rejected files -------------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "空.csv"
    path.write_bytes(b"")
    with pytest.raises(TableError) as exc:
        read_all(path)
    p = only_problem(exc)
    assert p.file == "空.csv" and "为空" in p.message
    assert exc.value.source is not None
    assert exc.value.source.sha256 == hashlib.sha256(b"").hexdigest()


def test_only_blank_lines_has_no_header_row(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("\n , \n\n", encoding="utf-8")
    with pytest.raises(TableError, match="没有表头行") as exc:
        read_all(path)
    assert only_problem(exc).rule == "表头"


def test_xlsx_whose_first_row_is_data_has_no_header_row(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", [["Z109-WS·2011-Y-BGS-0001", "题名", 20110305]])
    with pytest.raises(TableError, match="没有表头行") as exc:
        read_all(path)
    p = only_problem(exc)
    assert (p.row, p.field, p.value) == (1, "第 C 列", "20110305")


def test_duplicate_headers(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [["档号", "题名", " 题名 "], ["1", "2", "3"]])
    with pytest.raises(TableError, match="表头重复") as exc:
        read_all(path)
    p = only_problem(exc)
    assert (p.file, p.row, p.field, p.rule) == ("a.csv", 1, "题名", "表头")
    assert "第 B 列" in p.message and "第 C 列" in p.message


def test_data_under_a_column_without_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [["档号", "", "题名"], ["1", "", "x"], ["2", "游离", "y"]])
    with pytest.raises(TableError) as exc:
        read_all(path)
    p = only_problem(exc)
    assert (p.row, p.field, p.value) == (3, "第 B 列", "游离")


def test_data_right_of_the_last_header(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", [["档号", "题名"], ["1", "x", None, "多余"]])
    with pytest.raises(TableError) as exc:
        read_all(path)
    assert (only_problem(exc).row, only_problem(exc).field) == (2, "第 D 列")


def test_too_many_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [HEADER] + [[str(i), "t", "d"] for i in range(6)])
    with pytest.raises(TableError, match="超过上限 5 行") as exc:
        read_all(path, TableLimits(max_rows=5, max_cell_chars=100))
    p = only_problem(exc)
    assert (p.file, p.row, p.rule) == ("a.csv", 7, "行数上限")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_cell_too_long_names_row_and_column(tmp_path: Path, suffix: str) -> None:
    rows = [HEADER, ["A-1", "短", "20110305"], ["A-2", "长" * 201, "20110305"]]
    path = (
        write_csv(tmp_path / f"a{suffix}", rows)
        if suffix == ".csv"
        else write_xlsx(tmp_path / f"a{suffix}", rows)
    )
    with pytest.raises(TableError, match="单元格内容过长") as exc:
        read_all(path)
    p = only_problem(exc)
    assert (p.file, p.row, p.field, p.rule) == (f"a{suffix}", 3, "题名", "单元格长度上限")
    assert "第 B 列有 201 个字符" in p.message


def test_csv_cell_beyond_the_csv_field_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('档号,题名\nA,"' + "长\n" * 70_000 + '"\n', encoding="utf-8")
    with pytest.raises(TableError) as exc:
        read_all(path, TableLimits(max_rows=10, max_cell_chars=1_000_000))
    p = only_problem(exc)
    assert p.rule == "单元格长度上限" and p.row == 2


def test_undecodable_csv_names_the_byte_offset(tmp_path: Path) -> None:
    good = "档号,题名\nA-1,关于\n".encode()
    path = tmp_path / "坏编码.csv"
    path.write_bytes(good + b"A-2,\xff\xfe\x80\n")
    with pytest.raises(TableError, match="无法识别文件的字符编码") as exc:
        read_all(path)
    p = only_problem(exc)
    assert p.file == "坏编码.csv"
    assert p.row == 3
    assert p.value == f"第 {len(good) + 4} 字节"
    assert f"看似 UTF-8 编码，但第 {len(good) + 4} 字节" in p.message
    assert "UTF-8" in p.rule
    assert exc.value.source is not None and exc.value.source.encoding is None


def test_utf8_error_offset_is_exact_across_read_chunks(tmp_path: Path) -> None:
    prefix = ("档号,题名\n" + "A,一二三四五六七八九十\n" * 60_000).encode()
    assert len(prefix) > 1 << 20
    path = tmp_path / "a.csv"
    path.write_bytes(b"\xef\xbb\xbf" + prefix + b"\xe4\xb8" + b"\xff\n")
    with pytest.raises(TableError) as exc:
        read_all(path, TableLimits(max_rows=100_000, max_cell_chars=100))
    assert "无法按 UTF-8 解码" in only_problem(exc).message
    assert only_problem(exc).value == f"第 {3 + len(prefix)} 字节"
    assert only_problem(exc).row == 60_002


def test_gbk_file_with_a_broken_sequence_is_refused(tmp_path: Path) -> None:
    data = "档号,题名\nA-1,关于\n".encode("gbk")
    path = tmp_path / "a.csv"
    path.write_bytes(data + b"\x81\x20\n")
    with pytest.raises(TableError) as exc:
        read_all(path)
    p = only_problem(exc)
    assert p.value == f"第 {len(data)} 字节" and p.row == 3
    assert "看似 GB 18030/GBK 编码" in p.message


def test_utf16_text_is_named(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes("档号\t题名\n".encode("utf-16"))
    with pytest.raises(TableError, match="UTF-16"):
        read_all(path)


def test_nul_bytes_in_csv(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"a,b\n1,2\n3,\x004\n")
    with pytest.raises(TableError, match="空字符") as exc:
        read_all(path)
    p = only_problem(exc)
    assert p.row == 3 and "第 10 字节" in p.message


def test_nul_character_reference_in_xlsx_is_refused(tmp_path: Path) -> None:
    # openpyxl refuses to write U+0000, so write a sheet with a NUL character reference
    path = _hand_made_xlsx(
        tmp_path / "a.xlsx",
        '<row r="1"><c r="A1" t="inlineStr"><is><t>档号</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>a&#0;b</t></is></c></row>',
    )
    with pytest.raises(TableError, match="不是有效的 XLSX 文件") as exc:
        read_all(path)
    p = only_problem(exc)
    assert p.file == "a.xlsx" and p.rule == "文件格式"


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "目录.ods"
    path.write_bytes(b"PK\x03\x04whatever")
    with pytest.raises(TableError, match=r"不支持的文件类型「\.ods」") as exc:
        read_all(path)
    assert exc.value.source is not None and exc.value.source.format is None


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="不存在") as exc:
        read_all(tmp_path / "没有.xlsx")
    assert exc.value.source is None


def test_random_bytes_named_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(TableError, match="不是有效的 XLSX 文件") as exc:
        read_all(path)
    assert only_problem(exc).rule == "文件格式"


def test_truncated_zip_named_xlsx(tmp_path: Path) -> None:
    good = write_xlsx(tmp_path / "good.xlsx", [HEADER, ROWS[0]])
    path = tmp_path / "a.xlsx"
    path.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(TableError, match="不是有效的 XLSX 文件"):
        read_all(path)


def test_legacy_xls_named_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1000)
    with pytest.raises(TableError, match=r"\.xls"):
        read_all(path)


def test_csv_renamed_to_xlsx(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.xlsx", [HEADER, ROWS[0]])
    with pytest.raises(TableError, match="不是有效的 XLSX 文件"):
        read_all(path)


def test_zip_without_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(TableError, match="不是有效的 XLSX 文件") as exc:
        read_all(path)
    assert "xl/workbook.xml" in only_problem(exc).message


def test_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    path = make_zip_bomb(tmp_path / "炸弹.xlsx")
    assert path.stat().st_size < 1 << 20
    with pytest.raises(TableError, match="疑似压缩炸弹") as exc:
        read_all(path)
    p = only_problem(exc)
    assert p.file == "炸弹.xlsx" and p.rule == "XLSX 压缩包安全检查"
    assert p.value == "xl/worksheets/sheet1.xml"


def test_total_uncompressed_size_is_bounded(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", [HEADER, *ROWS])
    with pytest.raises(TableError, match="解压后共"):
        read_all(path, TableLimits(max_uncompressed_bytes=1000))


def test_too_many_zip_entries(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", [HEADER, *ROWS])
    with pytest.raises(TableError, match="个成员"):
        read_all(path, TableLimits(max_zip_entries=3))


def test_absurd_row_numbers_do_not_spin(tmp_path: Path) -> None:
    path = _hand_made_xlsx(
        tmp_path / "a.xlsx",
        '<row r="1"><c r="A1" t="inlineStr"><is><t>档号</t></is></c></row>'
        '<row r="2000000"><c r="A2000000" t="inlineStr"><is><t>x</t></is></c></row>',
    )
    with pytest.raises(TableError, match="Excel 上限"):
        read_all(path)


def _hand_made_xlsx(path: Path, sheet_rows: str) -> Path:
    ns = "http://schemas.openxmlformats.org"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            f'<Types xmlns="{ns}/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>",
        )
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{ns}/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{ns}/spreadsheetml/2006/main" xmlns:r="{ns}/officeDocument/2006/relationships">'
            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{ns}/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            "</Relationships>",
        )
        z.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{ns}/spreadsheetml/2006/main"><sheetData>{sheet_rows}</sheetData></worksheet>',
        )
    return path
