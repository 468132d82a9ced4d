"""Real packages through the real readers: each named defect fails the item it is meant to.

The builders (``tests/ingest/builders.py``) write BagIt bags, DA/T 48 EEPs and offline folders
with one defect each; the reader stages and hashes them, formats are identified as the pipeline
does, and the whole GD catalogue runs. Items already failing on the clean package of the same
builder (the builders' catalogues omit 格式信息 and 文档创建程序, so GD-2-3 fails) are discounted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from formats.clamav_support import PrivateClamd, clamd_path, private_clamd
from ingest.builders import make_bag, make_eep, make_eep_set, make_offline, sample_items
from ingest.checks.support import failed, log_receipt, run
from lantai.formats.clamav import ClamdScanner
from lantai.formats.identify import identify_many
from lantai.ingest.checks import CheckReport, Status
from lantai.ingest.eep_signing import generate_sm2_signer
from lantai.ingest.readers import read_transfer
from lantai.ingest.transfer import Transfer
from lantai.instance import Instance


def _read(inst: Instance, root: Path, which: str, defects: list[str]) -> Transfer:
    items = sample_items(3)
    if which == "bag":
        pkg = make_bag(root / "pkg", items, defects=defects)
    elif which == "eep":
        pkg = make_eep(root / "pkg", items[0], defects=defects)
    else:
        pkg = make_offline(root / "pkg", items, defects=defects)
    t = read_transfer(inst, pkg, staging=root / "staging", fonds_code="Z109", category="WS")
    found = identify_many([f.local for f in t.files])
    for f in t.files:
        f.format = found.get(f.local)
    log_receipt(inst, t)
    return t


def _run(inst: Instance, root: Path, which: str, defects: list[str], **kw: Any) -> CheckReport:
    return run(inst, _read(inst, root, which, defects), **kw)


BASELINE = {"bag": {"GD-2-3"}, "eep": set(), "offline": {"GD-2-3"}}

CASES = [
    ("bag", "missing_required", "GD-2-4"),
    ("eep", "long_title", "GD-1-2"),
    ("offline", "bad_date", "GD-1-3"),
    ("eep", "bad_retention", "GD-1-4"),
    ("bag", "implausible_date", "GD-1-5"),
    ("offline", "future_date", "GD-1-5"),
    ("bag", "control_char", "GD-1-6"),
    ("eep", "bad_archival_code", "GD-1-7"),
    ("offline", "duplicate_archival_code", "GD-1-8"),
    ("bag", "item_no_gap", "GD-2-6"),
    ("offline", "no_process", "GD-2-5"),
    ("eep", "wrong_size", "GD-1-10"),
    ("bag", "wrong_extension", "GD-1-10"),
    ("offline", "missing_attachment", "GD-2-7"),
    ("eep", "corrupt_content", "GD-3-3"),
    ("bag", "doc_format", "GD-3-3"),
    ("offline", "encrypted_zip", "GD-3-8"),
    ("bag", "missing_file", "GD-1-11"),
    ("offline", "extra_file", "GD-1-11"),
    ("bag", "wrong_count", "GD-2-1"),
    ("offline", "wrong_bytes", "GD-2-2"),
    ("bag", "bad_sm3", "GD-1-1"),
    ("offline", "bad_sha256", "GD-1-1"),
    ("bag", "tampered_file", "GD-1-1"),
    ("bag", "wrong_oxum", "GD-2-2"),
    ("bag", "unlisted_file", "GD-1-11"),
    ("bag", "missing_payload", "GD-2-7"),
    ("bag", "bad_tagmanifest", "GD-1-1"),
    ("eep", "missing_data", "GD-2-7"),
    ("eep", "no_create_time", "GD-2-10"),
    ("eep", "bad_base64", "GD-3-1"),
]


@pytest.mark.parametrize("which", ["bag", "eep", "offline"])
def test_clean_packages_fail_nothing_unexpected(
    shared_inst: Instance, tmp_path: Path, which: str
) -> None:
    report = _run(shared_inst, tmp_path, which, [])
    assert failed(report) == BASELINE[which]
    assert report.decision.value == "accept_flagged"  # no scanner: 4-1/4-2 are 人工复核


@pytest.mark.parametrize(("which", "defect", "code"), CASES, ids=[f"{d}-{w}" for w, d, _ in CASES])
def test_defect_fails_its_item(
    shared_inst: Instance, tmp_path: Path, which: str, defect: str, code: str
) -> None:
    report = _run(shared_inst, tmp_path, which, [defect])
    assert code in failed(report) - BASELINE[which]
    assert all(f.code == code for o in report.outcomes if o.spec.code == code for f in o.findings)


def test_offline_without_register_is_flagged_not_rejected(
    shared_inst: Instance, tmp_path: Path
) -> None:
    report = _run(shared_inst, tmp_path, "offline", ["no_register"])
    assert failed(report) == BASELINE["offline"]
    statuses = {o.spec.code: o.status for o in report.outcomes}
    assert statuses["GD-1-12"] is Status.MANUAL
    assert statuses["GD-2-1"] is Status.MANUAL and statuses["GD-2-2"] is Status.MANUAL


def test_eep_set_and_bag_of_eeps_are_checked_package_by_package(
    shared_inst: Instance, tmp_path: Path
) -> None:
    items = sample_items(2)
    pkg = make_eep_set(tmp_path / "set", items)
    t = read_transfer(shared_inst, pkg, staging=tmp_path / "s", fonds_code="Z109", category="WS")
    report = run(shared_inst, t, "GD-1-12", "GD-1-13", "GD-2-10", "GD-2-1")
    assert {o.status for o in report.outcomes} == {Status.PASSED}, [
        (o.spec.code, [f.message for f in o.findings]) for o in report.outcomes
    ]


def test_signed_eep_verifies_and_a_changed_value_breaks_it(
    shared_inst: Instance, tmp_path: Path
) -> None:
    signer = generate_sm2_signer("张三")
    item = sample_items(1)[0]
    good = read_transfer(
        shared_inst,
        make_eep(tmp_path / "good", item, signer=signer),
        staging=tmp_path / "s1",
        fonds_code="Z109",
        category="WS",
    )
    report = run(shared_inst, good, "GD-1-1")
    assert report.outcomes[0].status is Status.MANUAL  # valid; the key's trust is 人工复核
    assert any("验证通过" in f.message for f in report.outcomes[0].findings)
    bad = read_transfer(
        shared_inst,
        make_eep(tmp_path / "bad", item, signer=signer, defects=["bad_signature"]),
        staging=tmp_path / "s2",
        fonds_code="Z109",
        category="WS",
    )
    report = run(shared_inst, bad, "GD-1-1")
    assert report.outcomes[0].status is Status.FAILED
    assert report.decision.value == "reject"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateClamd]:
    if clamd_path() is None:
        pytest.skip("clamd (Debian clamav-daemon) missing")
    with private_clamd(tmp_path_factory.mktemp("clamd")) as d:
        yield d


def test_eicar_in_a_bag_is_rejected(inst: Instance, tmp_path: Path, daemon: PrivateClamd) -> None:
    report = _run(inst, tmp_path, "bag", ["eicar"], services={"clamav": ClamdScanner(daemon.unix)})
    assert "GD-4-2" in failed(report)
    assert report.decision.value == "reject"
    found = [f for o in report.outcomes if o.spec.code == "GD-4-2" for f in o.findings]
    assert [f.file for f in found if f.status is Status.FAILED] == ["2011-0001-附件1.txt"]
