"""The LoC BagIt conformance suite, decided by the checks: valid bags accepted, warning bags
accepted with the warnings as 人工复核, invalid bags rejected (or unreadable).

The reader records what it finds (``structure["bagit"]``, notes with DA/T 70 codes); the
decision here is the catalogue's: a reader *error* fails a blocking item (1-1, 1-11, 1-12,
1-13, 2-2, 2-7, 2-11), a *warning* is 人工复核.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.checks.support import log_receipt, run
from lantai.formats.identify import identify_many
from lantai.ingest.checks import Decision, Stage, Status
from lantai.ingest.readers import read_transfer
from lantai.instance import Instance

SUITE = Path("/work/shared/fixtures/bagit/loc-bagit-conformance-suite")
BAGS = sorted(
    p for kind in ("valid", "warning", "invalid") for p in SUITE.glob(f"*/{kind}/*") if p.is_dir()
)


def _name(bag: Path) -> str:
    return bag.relative_to(SUITE).as_posix()


@pytest.mark.parametrize("bag", BAGS, ids=_name)
def test_conformance_bag_outcome(shared_inst: Instance, tmp_path: Path, bag: Path) -> None:
    expected = bag.parent.name
    try:
        t = read_transfer(
            shared_inst, bag, staging=tmp_path / "s", fonds_code="Z109", category="WS"
        )
    except Exception:
        assert expected == "invalid"
        return
    found = identify_many([f.local for f in t.files])
    for f in t.files:
        f.format = found.get(f.local)
    log_receipt(shared_inst, t)
    report = run(shared_inst, t, stage=Stage.YJ)
    if expected == "invalid":
        assert report.decision is Decision.REJECT
        return
    assert report.decision is not Decision.REJECT, [
        (o.spec.code, [f.message for f in o.findings])
        for o in report.outcomes
        if o.status is Status.FAILED
    ]
    if expected == "warning":
        notes = {n.message for n in t.notes}
        reported = {
            f.message for o in report.outcomes for f in o.findings if f.status is Status.MANUAL
        }
        assert notes and notes <= reported
