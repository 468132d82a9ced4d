"""The 四性检测报告: one document, three renderings (JSON, HTML, PDF), written atomically."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from factories import create_fonds
from ingest.checks.support import clean_transfer, run
from lantai.errors import Problem, ValidationFailed
from lantai.ingest.checks import CheckOutcome, CheckReport, Finding, Stage, Status, load_catalogue
from lantai.ingest.report import (
    PDF_MAX_PROBLEMS,
    SCHEMA,
    TransferFacts,
    report_data,
    unreadable_report,
    write_html,
    write_json,
    write_pdf,
    write_reports,
)
from lantai.instance import Instance
from lantai.security import Actor

COLUMNS = ("编号", "检测项目", "四性类别", "检测对象", "检测目的", "检测依据和方法", "结果",
           "说明/问题清单", "检测时间", "环节")  # fmt: skip


@pytest.fixture
def flagged(
    instance: Instance, operator: Actor, tmp_path: Path
) -> tuple[CheckReport, TransferFacts]:
    create_fonds(instance, operator, code="Z109")
    t = clean_transfer(tmp_path / "t")
    t.records[1].values["title"] = "关于<script>alert(1)</script>的通知" + "长" * 500
    assert t.register is not None
    return run(instance, t), TransferFacts.from_transfer(t)


def test_json_has_the_stable_schema_and_every_column(
    flagged: tuple[CheckReport, TransferFacts], tmp_path: Path
) -> None:
    report, facts = flagged
    data = report_data(report, facts, archive_name="示范市档案馆")
    path = write_json(data, tmp_path / "r.json")
    back = json.loads(path.read_text(encoding="utf-8"))
    assert back["schema"] == SCHEMA
    assert set(back) == {"schema", "title", "archive", "generated", "transfer", "stage", "mode",
                         "started", "finished", "decision", "counts", "items", "problems"}  # fmt: skip
    assert back["decision"] == {"code": "reject", "label": "拒收"}  # GD-1-2 is blocking
    assert back["transfer"]["unit"] == "某市人民政府办公室"
    assert back["transfer"]["items"] == 2 and back["transfer"]["declared_items"] == 2
    assert back["transfer"]["package_sha256"] == "a" * 64
    codes = [i["code"] for i in back["items"]]
    assert codes == [o.spec.code for o in report.outcomes]
    item = next(i for i in back["items"] if i["code"] == "GD-1-2")
    for key in ("code", "name", "property_label", "target_label", "purpose", "basis", "method",
                "status_label", "summary", "checked_at", "stage_label", "blocking", "findings"):  # fmt: skip
        assert key in item
    assert (item["status_label"], item["property_label"], item["stage_label"]) == (
        "不通过",
        "真实性",
        "归档环节",
    )
    problem = next(p for p in back["problems"] if p["code"] == "GD-1-2")
    assert problem["record"] == "DZWJ-0002" and problem["field"] == "题名" and problem["blocking"]
    manual = [p for p in back["problems"] if p["status"] == "manual"]
    assert any(p["code"] == "GD-4-2" for p in manual)
    started = datetime.fromisoformat(back["started"])
    assert all(started <= datetime.fromisoformat(i["checked_at"]) for i in back["items"])


def test_html_is_self_contained_escaped_and_has_the_columns(
    flagged: tuple[CheckReport, TransferFacts], tmp_path: Path
) -> None:
    report, facts = flagged
    html = write_html(report_data(report, facts, archive_name="示范市档案馆"), tmp_path / "r.html")
    text = html.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and 'lang="zh-CN"' in text
    for column in COLUMNS:
        assert f"<th>{column}</th>" in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert not re.search(r"""(src|href)\s*=""", text)  # no external assets, no links
    assert "拒收" in text and "GD-1-2" in text and "DZWJ-0002" in text


def test_pdf_renders_every_item(flagged: tuple[CheckReport, TransferFacts], tmp_path: Path) -> None:
    report, facts = flagged
    pdf = write_pdf(report_data(report, facts), tmp_path / "r.pdf")
    reader = PdfReader(str(pdf))
    assert len(reader.pages) >= 2
    text = "".join(page.extract_text() or "" for page in reader.pages)
    assert facts.uid in text
    for o in report.outcomes:
        assert o.spec.code in text
    assert reader.metadata is not None and reader.metadata.creator == "兰台 Lantai"


def test_write_reports_writes_three_files_and_replaces_old_ones(
    flagged: tuple[CheckReport, TransferFacts], tmp_path: Path
) -> None:
    report, facts = flagged
    out = tmp_path / "reports"
    out.mkdir()
    (out / "四性检测报告.json").write_text("old", encoding="utf-8")
    files = write_reports(report_data(report, facts), out)
    assert json.loads(files.json.read_text(encoding="utf-8"))["schema"] == SCHEMA
    assert files.html.stat().st_size > 0 and files.pdf.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in out.iterdir()) == [
        "四性检测报告.html",
        "四性检测报告.json",
        "四性检测报告.pdf",
    ]


def test_a_failed_write_leaves_nothing_behind(
    flagged: tuple[CheckReport, TransferFacts], tmp_path: Path
) -> None:
    report, facts = flagged
    data = report_data(report, facts)
    del data["items"][0]["stage_label"]  # breaks both page renderings midway
    out = tmp_path / "out"
    out.mkdir()
    (out / "r.html").write_text("the previous report", encoding="utf-8")
    for writer, name in ((write_html, "r.html"), (write_pdf, "r.pdf")):
        with pytest.raises(KeyError):
            writer(data, out / name)
    assert [p.name for p in out.iterdir()] == ["r.html"]  # no temporary files, nothing half-written
    assert (out / "r.html").read_text(encoding="utf-8") == "the previous report"


def test_unreadable_package_gets_a_rejecting_report(tmp_path: Path) -> None:
    error = ValidationFailed(
        "封装包不是格式正确的 XML",
        [Problem(file="a.eep", field="第 12 行", rule="XML 1.0", message="missing end tags")],
    )
    report = unreadable_report("t-9", Stage.YJ, error, source_name="a.eep")
    assert report.decision.value == "reject"
    failed = [o for o in report.outcomes if o.status is Status.FAILED]
    assert [o.spec.code for o in failed] == ["YJ-3-1"]
    assert [f.message for f in failed[0].findings][1] == "missing end tags"
    assert all(o.status is Status.NOT_APPLICABLE for o in report.outcomes if o not in failed)
    facts = TransferFacts(uid="t-9", source_name="a.eep", kind="eep")
    files = write_reports(report_data(report, facts), tmp_path)
    assert "信息包无法读取" in files.html.read_text(encoding="utf-8")


def test_pdf_lists_at_most_the_cap_and_points_to_the_json(tmp_path: Path) -> None:
    spec = next(s for s in load_catalogue() if s.code == "GD-2-7")
    findings = [
        Finding(code="GD-2-7", status=Status.FAILED, message=f"缺少文件 {i}", file=f"f{i}.ofd")
        for i in range(PDF_MAX_PROBLEMS + 5)
    ]
    now = datetime.now(UTC)
    report = CheckReport("t-big", Stage.GD, "full", now, now + timedelta(seconds=1),
                         [CheckOutcome(spec, Status.FAILED, findings, 0.5)])  # fmt: skip
    data = report_data(report, TransferFacts(uid="t-big", source_name="big", kind="bagit"))
    assert len(data["problems"]) == PDF_MAX_PROBLEMS + 5
    assert "共 2005 条" in data["items"][0]["summary"]
    pdf = write_pdf(data, tmp_path / "big.pdf")
    last = PdfReader(str(pdf)).pages[-1].extract_text() or ""
    assert "JSON" in last


def test_pdf_summarises_problems_by_item_and_lists_every_one(tmp_path: Path) -> None:
    specs = {s.code: s for s in load_catalogue()}
    missing = [
        Finding(code="GD-2-7", status=Status.FAILED, message=f"缺少文件{i}号", file=f"f{i}.ofd")
        for i in range(250)  # more than one table's worth of rows
    ]
    manual = [Finding(code="GD-2-4", status=Status.MANUAL, message="开放标识为空", record="K-1")]
    now = datetime.now(UTC)
    report = CheckReport(
        "t-sum",
        Stage.GD,
        "full",
        now,
        now + timedelta(seconds=1),
        [
            CheckOutcome(specs["GD-2-7"], Status.FAILED, missing, 0.5),
            CheckOutcome(specs["GD-2-4"], Status.MANUAL, manual, 0.1),
        ],
    )
    data = report_data(report, TransferFacts(uid="t-sum", source_name="s", kind="bagit"))
    pdf = write_pdf(data, tmp_path / "sum.pdf")
    text = "".join(page.extract_text() or "" for page in PdfReader(str(pdf)).pages)
    flat = re.sub(r"\s+", "", text)
    assert "问题汇总" in flat and "问题清单（251条）" in flat
    summary = flat[flat.index("问题汇总") : flat.index("问题清单（251条）")]
    assert "GD-2-7" in summary and "250" in summary and "GD-2-4" in summary
    for i in range(250):
        assert f"缺少文件{i}号" in flat
    assert "开放标识为空" in flat
