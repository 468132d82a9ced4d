"""完整性 checks (GD/YJ-2-x): each passes on the clean transfer and fails on one defect."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from ingest.checks.support import (
    OFD_HELLO,
    add_file,
    clean_transfer,
    failed,
    finding,
    item_record,
    outcome,
    run,
)
from lantai.ingest.checks import Stage, Status
from lantai.ingest.transfer import DeclaredTotals, ProcessStep, SourceKind, TransferRecord
from lantai.instance import Instance
from lantai.store import CodeCounter

CODES = (
    "GD-2-1",
    "GD-2-2",
    "GD-2-3",
    "GD-2-4",
    "GD-2-5",
    "GD-2-6",
    "GD-2-7",
    "GD-2-9",
    "GD-2-10",
    "GD-2-11",
)


def _record(t, key):  # type: ignore[no-untyped-def]
    return next(r for r in t.records if r.key == key)


def test_clean_transfer_passes_every_integrity_item(inst: Instance, tmp_path: Path) -> None:
    report = run(inst, clean_transfer(tmp_path), *CODES)
    assert {o.spec.code: o.status for o in report.outcomes} == dict.fromkeys(CODES, Status.PASSED)


def test_register_label_follows_the_stage(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    t.register = replace(t.register, items=3)  # type: ignore[type-var]
    f = finding(run(inst, t, "YJ-2-1", stage=Stage.YJ), "YJ-2-1")
    assert f.file == "移交接收登记表" and f.code == "YJ-2-1"


# -- 2-1 / 2-2 / 2-11 --------------------------------------------------------------------------------


def test_2_1_registered_items_differ(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    t.register = replace(t.register, items=3)  # type: ignore[type-var]
    report = run(inst, t, *CODES)
    assert failed(report) == {"GD-2-1"}
    f = finding(report, "GD-2-1")
    assert (f.file, f.field, f.expected, f.found) == ("电子文件归档登记表", "件数", "3", "2")


def test_2_1_package_declaration_checked_too(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    t.declared = DeclaredTotals(items=10, source="bag-info.txt")
    f = finding(run(inst, t, "GD-2-1"), "GD-2-1")
    assert (f.file, f.expected, f.found) == ("bag-info.txt", "10", "2")


def test_2_1_nothing_declared_is_manual(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    t.register = None
    t.declared = DeclaredTotals()
    f = finding(run(inst, t, "GD-2-1"), "GD-2-1", Status.MANUAL)
    assert f.found == "2"


def test_2_2_registered_bytes_differ(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    assert t.register is not None and t.register.bytes is not None
    real = t.register.bytes
    t.register = replace(t.register, bytes=real + 1)
    report = run(inst, t, *CODES)
    assert failed(report) == {"GD-2-2"}
    f = finding(report, "GD-2-2")
    assert (f.field, f.expected, f.found) == ("字节数", str(real + 1), str(real))


def test_2_2_payload_oxum_counts_the_whole_payload(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    payload = sum(f.size for f in t.files)
    t.declared = DeclaredTotals(bytes=payload, files=len(t.files), source="bag-info.txt")
    assert outcome(run(inst, t, "GD-2-2"), "GD-2-2").status is Status.PASSED
    t.declared = DeclaredTotals(bytes=payload - 5, files=len(t.files), source="bag-info.txt")
    f = finding(run(inst, t, "GD-2-2"), "GD-2-2")
    assert (f.file, f.expected, f.found) == ("bag-info.txt", str(payload - 5), str(payload))


def test_2_11_declared_file_count_differs(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    t.declared = DeclaredTotals(files=5, source="bag-info.txt Payload-Oxum")
    report = run(inst, t, *CODES)
    assert failed(report) == {"GD-2-11"}
    f = finding(report, "GD-2-11")
    assert (f.field, f.expected, f.found, f.file) == (
        "文件数",
        "5",
        "3",
        "bag-info.txt Payload-Oxum",
    )


def test_2_11_records_reference_a_file_not_received(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0002").files.append("0002/附件.ofd")
    f = finding(run(inst, t, "GD-2-11"), "GD-2-11")
    assert (f.file, f.expected, f.found) == ("元数据记录", "3", "2")


# -- 2-3 / 2-4 ---------------------------------------------------------------------------------------


def test_2_3_missing_minimum_items(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    r = _record(t, "DZWJ-0002")
    del r.values["doc_number"]
    del r.electronic["0002/正文.ofd"]["文档创建程序"]
    report = run(inst, t, *CODES)
    assert failed(report) == {"GD-2-3"}
    f = finding(report, "GD-2-3")
    assert f.record == "DZWJ-0002" and f.found == "缺项" and f.rule == "GB/T 18894-2016"
    assert "文件编号" in f.field and "文档创建程序（0002/正文.ofd）" in f.field


def test_2_4_required_item_empty(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0001").values["responsible"] = ""
    report = run(inst, t, *CODES)
    assert failed(report) == {"GD-2-4"}
    f = finding(report, "GD-2-4")
    assert (f.field, f.expected, f.found, f.record) == ("责任者", "非空", "（空）", "DZWJ-0001")


def test_2_4_default_filled_item_is_manual(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    del _record(t, "DZWJ-0001").values["open_status"]
    report = run(inst, t, "GD-2-4")
    assert outcome(report, "GD-2-4").status is Status.MANUAL
    f = finding(report, "GD-2-4", Status.MANUAL)
    assert f.field == "开放标识" and f.message.startswith("信息包中")


# -- 2-5 ---------------------------------------------------------------------------------------------


def test_2_5_no_process_metadata(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0002").process = []
    report = run(inst, t, *CODES)
    assert failed(report) == {"GD-2-5"}
    f = finding(report, "GD-2-5")
    assert (f.field, f.found, f.record) == ("业务实体", "无", "DZWJ-0002")


def test_2_5_step_without_agent(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0001").process.append(ProcessStep(action="审核", time="2011-03-03", agent=""))
    f = finding(run(inst, t, "GD-2-5"), "GD-2-5")
    assert f.field == "机构人员名称" and "第 3 个业务行为（审核）" in f.message


# -- 2-6 ---------------------------------------------------------------------------------------------


def test_2_6_gap_in_item_numbers(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0002").values["archival_code"] = "Z109-WS·2011-Y-BGS-0004"
    report = run(inst, t, *CODES)
    assert failed(report) == {"GD-2-6"}
    f = finding(report, "GD-2-6")
    assert (f.field, f.expected, f.found) == ("件号", "1–4 连续", "2–3")
    assert "Z109-WS·2011-Y-BGS" in f.message


def test_2_6_must_continue_from_the_catalogue_counter(db_inst: Instance, tmp_path: Path) -> None:
    with db_inst.db.write() as s:
        s.add(CodeCounter(group_key="dat22-ws-item|Z109-WS·2011-Y-BGS", value=5))
    report = run(db_inst, clean_transfer(tmp_path), "GD-2-6")
    f = finding(report, "GD-2-6")
    assert (f.expected, f.found) == ("6", "1")
    assert "已编至 5" in f.message
    with db_inst.db.read() as s:
        assert s.scalar(select(CodeCounter.value)) == 5  # the check wrote nothing


def test_2_6_item_number_disagrees_with_code(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0002").values["item_no"] = "7"
    f = finding(run(inst, t, "GD-2-6"), "GD-2-6")
    assert (f.field, f.expected, f.found) == ("件号", "2", "7")


def test_2_6_without_numbers_is_not_applicable(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    for r in t.records:
        del r.values["archival_code"]
    assert outcome(run(inst, t, "GD-2-6"), "GD-2-6").status is Status.NOT_APPLICABLE


def test_2_6_document_sequence(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    r = _record(t, "DZWJ-0001")
    r.files.append("0001/附件.ofd")
    add_file(t, "0001/附件.ofd", OFD_HELLO, record=r.key)
    r.electronic["0001/正文.ofd"]["文档序号"] = "1"
    r.electronic["0001/附件.ofd"] = {"文档序号": "3"}
    f = finding(run(inst, t, "GD-2-6"), "GD-2-6")
    assert (f.field, f.expected, f.found) == ("文档序号", "1、2", "1、3")


# -- 2-7 ---------------------------------------------------------------------------------------------


def test_2_7_empty_content_file(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    r = _record(t, "DZWJ-0002")
    r.files.append("0002/附件.ofd")
    add_file(t, "0002/附件.ofd", b"", record=r.key)
    report = run(inst, t, "GD-2-7", "GD-1-11")
    assert failed(report) == {"GD-2-7"}
    f = finding(report, "GD-2-7")
    assert (f.file, f.field, f.expected, f.found) == (
        "0002/附件.ofd",
        "计算机文件大小",
        "大于 0",
        "0",
    )


def test_2_7_attachment_not_transferred(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0002").files.append("0002/附件1.ofd")
    f = finding(run(inst, t, "GD-2-7"), "GD-2-7")
    assert (f.file, f.found, f.record) == ("0002/附件1.ofd", "缺失", "DZWJ-0002")


# -- 2-9 ---------------------------------------------------------------------------------------------


def test_2_9_unknown_class_code_fails(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0002").values["class_number"] = "QQ"
    report = run(inst, t, *CODES)
    assert failed(report) == {"GD-2-9"}
    f = finding(report, "GD-2-9")
    assert (f.field, f.found, f.rule) == ("分类号", "QQ", "municipal-office@2024")
    assert "ZH" in (f.expected or "")


def test_2_9_out_of_scope_or_other_retention_is_manual(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    _record(t, "DZWJ-0001").values["retention"] = "定期10年"
    _record(t, "DZWJ-0001").values["archival_code"] = "Z109-WS·2011-D10-BGS-0001"
    _record(t, "DZWJ-0002").values["title"] = "食堂菜谱"
    _record(t, "DZWJ-0002").values["responsible"] = "某科技有限公司"
    report = run(inst, t, "GD-2-9")
    assert outcome(report, "GD-2-9").status is Status.MANUAL
    by_record = {f.record: f for f in outcome(report, "GD-2-9").findings}
    assert (by_record["DZWJ-0001"].field, by_record["DZWJ-0001"].expected) == ("保管期限", "Y")
    # The table's catch-all entry for other agencies' papers (3.4) is 定期10年.
    assert (by_record["DZWJ-0002"].field, by_record["DZWJ-0002"].expected) == ("保管期限", "D10")
    assert "3.4" in by_record["DZWJ-0002"].message


def test_2_9_category_without_table_is_manual(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path, category="KJ")
    for r in t.records:
        r.values["category"] = "KJ"
    f = finding(run(inst, t, "GD-2-9"), "GD-2-9", Status.MANUAL)
    assert f.found == "KJ"


# -- 2-10 --------------------------------------------------------------------------------------------


def test_2_10_register_field_missing(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    t.register = replace(t.register, method="")  # type: ignore[type-var]
    report = run(inst, t, *CODES)
    assert failed(report) == {"GD-2-10"}
    f = finding(report, "GD-2-10")
    assert (f.field, f.found) == ("方式", "缺项")


def test_2_10_eep_without_creation_time(inst: Instance, tmp_path: Path) -> None:
    structure = {
        "封装包格式描述": "本EEP根据中华人民共和国档案行业标准DA/T 48-2009《基于XML的电子文件封装规范》生成",
        "版本": "2009",
        "eep版本": "2009",
        "封装包类型": "原始型",
        "封装包类型描述": "本封装包包含电子文件数据及其元数据，原始封装，未经修改",
        "封装包创建单位": "某市人民政府办公室",
    }
    t = clean_transfer(tmp_path, kind=SourceKind.EEP, structure=structure)
    t.register = None
    f = finding(run(inst, t, "GD-2-10"), "GD-2-10")
    assert (f.field, f.found, f.rule) == ("封装包创建时间", "缺失", "DA/T 48-2009 附录C")
    structure["封装包创建时间"] = "2026-11-20T10:00:00"
    assert outcome(run(inst, t, "GD-2-10"), "GD-2-10").status is Status.PASSED


def test_2_10_plain_bag_is_not_applicable(inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path, kind=SourceKind.BAGIT)
    t.register = None
    assert outcome(run(inst, t, "GD-2-10"), "GD-2-10").status is Status.NOT_APPLICABLE


def test_records_of_other_levels_are_checked_at_their_level(inst: Instance, tmp_path: Path) -> None:
    from lantai.archival import Level

    t = clean_transfer(tmp_path)
    t.records.append(
        TransferRecord(key="AJ-1", level=Level.FILE, values={"title": "案卷"}, files=[])
    )
    report = run(inst, t, "GD-2-4", "GD-1-11", "GD-2-7", "GD-2-5")
    fields = {f.field for f in outcome(report, "GD-2-4").findings if f.record == "AJ-1"}
    assert {"日期", "责任者", "保管期限"} <= fields
    # a 案卷 holds no file and no process steps of its own
    for code in ("GD-1-11", "GD-2-7", "GD-2-5"):
        assert outcome(report, code).status is Status.PASSED, code
    assert item_record  # the builder stays importable for the other modules
