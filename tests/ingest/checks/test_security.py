"""安全性 checks (GD/YJ-4-x): a real private clamd (EICAR), no scanner, the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from formats.clamav_support import PrivateClamd, clamd_path, eicar, private_clamd
from ingest.checks.support import (
    add_file,
    clean_transfer,
    failed,
    finding,
    item_record,
    log_receipt,
    outcome,
    run,
)
from lantai.formats.clamav import ClamdScanner, parse_address
from lantai.ingest.checks import Stage, Status
from lantai.instance import Instance

needs_clamd = pytest.mark.skipif(
    clamd_path() is None, reason="clamd (Debian clamav-daemon) missing"
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateClamd]:
    if clamd_path() is None:
        pytest.skip("clamd (Debian clamav-daemon) missing")
    with private_clamd(tmp_path_factory.mktemp("clamd")) as d:
        yield d


# -- 4-1 / 4-2 ---------------------------------------------------------------------------------------


def test_without_a_scanner_both_items_are_manual_never_passed(
    inst: Instance, tmp_path: Path
) -> None:
    report = run(inst, clean_transfer(tmp_path), "GD-4-1", "GD-4-2")
    assert outcome(report, "GD-4-1").status is Status.MANUAL
    assert outcome(report, "GD-4-2").status is Status.MANUAL
    assert "3 个文件未扫描" in outcome(report, "GD-4-2").findings[0].message


def test_unreachable_scanner_is_manual(inst: Instance, tmp_path: Path) -> None:
    gone = ClamdScanner(parse_address(f"unix:{tmp_path / 'no-such.sock'}"), timeout=2)
    report = run(inst, clean_transfer(tmp_path), "GD-4-1", "GD-4-2", services={"clamav": gone})
    assert outcome(report, "GD-4-1").status is Status.MANUAL
    assert outcome(report, "GD-4-2").status is Status.MANUAL
    assert failed(report) == set()


@needs_clamd
def test_clean_package_passes_with_a_running_clamd(
    inst: Instance, tmp_path: Path, daemon: PrivateClamd
) -> None:
    scanner = ClamdScanner(daemon.unix)
    report = run(inst, clean_transfer(tmp_path), "GD-4-1", "GD-4-2", services={"clamav": scanner})
    assert outcome(report, "GD-4-1").status is Status.PASSED
    assert "ClamAV" in (outcome(report, "GD-4-1").findings[0].found or "")
    assert outcome(report, "GD-4-2").status is Status.PASSED


@needs_clamd
def test_eicar_fails_the_virus_check(inst: Instance, tmp_path: Path, daemon: PrivateClamd) -> None:
    t = clean_transfer(tmp_path)
    t.records.append(
        item_record("DZWJ-0003", ["0003/附件.txt"], archival_code="Z109-WS·2011-Y-BGS-0003")
    )
    add_file(t, "0003/附件.txt", eicar(), record="DZWJ-0003")
    report = run(
        inst, t, "YJ-4-1", "YJ-4-2", stage=Stage.YJ, services={"clamav": ClamdScanner(daemon.tcp)}
    )
    assert failed(report) == {"YJ-4-2"}
    f = finding(report, "YJ-4-2")
    assert (f.file, f.record, f.expected) == ("0003/附件.txt", "DZWJ-0003", "无病毒")
    assert f.found and "EICAR" in f.found.upper()
    assert report.decision.value == "reject"


# -- 4-7 ---------------------------------------------------------------------------------------------


def test_4_7_transfer_without_logged_steps_fails(db_inst: Instance, tmp_path: Path) -> None:
    t = clean_transfer(tmp_path)
    report = run(db_inst, t, "GD-4-7")
    f = finding(report, "GD-4-7")
    assert (f.field, f.found) == ("审计日志", "无记录")
    log_receipt(db_inst, t)
    report = run(db_inst, t, "GD-4-7")
    assert outcome(report, "GD-4-7").status is Status.PASSED
    assert "ingest:transfer:received" in outcome(report, "GD-4-7").findings[0].message


def test_4_7_unsafe_unpacking_noted_by_the_reader_fails(inst: Instance, tmp_path: Path) -> None:
    from lantai.ingest.transfer import TransferNote

    t = clean_transfer(tmp_path)
    log_receipt(inst, t)
    t.notes.append(
        TransferNote(
            code="GD-4-7", message="拒绝解包：成员路径含 ..", file="../x", severity="error"
        )
    )
    f = finding(run(inst, t, "GD-4-7"), "GD-4-7")
    assert f.file == "../x"
