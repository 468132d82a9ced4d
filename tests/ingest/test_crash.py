"""kill -9 an ingest at several points, then resume: all or nothing, no duplicates, no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import make_settings
from factories import create_fonds
from ingest.builders import make_bag, sample_items
from lantai.archival import Level
from lantai.ingest.reconcile import reconcile
from lantai.ingest.service import Submission, submit, work_dir
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, default_registry
from lantai.security import Actor
from lantai.storage import open_store
from lantai.store import Event, IngestTransfer, Record, RecordFile, TransferState

CHILD = Path(__file__).with_name("crash_child.py")
ITEMS = 3

# point → the state the transfer is left in by the kill
POINTS = {
    "after_staging": TransferState.STAGED,
    "during_store": TransferState.ACCEPTED_PENDING,
    "after_aip_stored": TransferState.STORED,
    "inside_catalogue": TransferState.STORED,
    "after_catalogue": TransferState.CATALOGUED,
}


def _kill_at(inst: Instance, point: str, package: Path) -> None:
    env = {
        **os.environ,
        "LANTAI_HOME": str(inst.settings.resolved_home),
        "LANTAI_DATABASE_URL": inst.settings.database_url,
        "LANTAI_ARCHIVE_CODE": inst.settings.archive_code,
    }
    proc = subprocess.run(
        [sys.executable, str(CHILD), point, str(package)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr


def _counts(inst: Instance) -> dict[str, int]:
    with inst.db.read() as s:
        return {
            "items": int(
                s.scalar(select(func.count()).where(Record.level == Level.ITEM.value)) or 0
            ),
            "series": int(
                s.scalar(select(func.count()).where(Record.level == Level.SERIES.value)) or 0
            ),
            "files": int(s.scalar(select(func.count()).select_from(RecordFile)) or 0),
            "accepted": int(
                s.scalar(select(func.count()).where(Event.action == "ingest:transfer:accepted"))
                or 0
            ),
            "created": int(
                s.scalar(
                    select(func.count()).where(
                        Event.action.in_(["catalogue:record:created", "catalogue:records:created"])
                    )
                )
                or 0
            ),
            "transfers": int(s.scalar(select(func.count()).select_from(IngestTransfer)) or 0),
        }


def _transfer(inst: Instance) -> IngestTransfer:
    with inst.db.read() as s:
        row = s.scalar(select(IngestTransfer))
    assert row is not None
    return row


def _check_crash_and_resume(inst: Instance, point: str, package: Path) -> None:
    _kill_at(inst, point, package)
    row = _transfer(inst)
    assert row.state == POINTS[point]
    counts = _counts(inst)
    if point == "after_catalogue":
        assert counts["items"] == ITEMS and counts["accepted"] == 1
    else:  # the catalogue holds nothing of the transfer — not even the record written in the
        # transaction the kill interrupted
        assert counts["items"] == 0 and counts["series"] == 0 and counts["files"] == 0
        assert counts["accepted"] == 0 and counts["created"] == 0

    # Sending the same transfer again (same key) resumes it — it does not make a second one.
    with inst.db.write() as s:
        again, created = submit(
            inst,
            s,
            Actor.operator(),
            Submission(source=package, fonds_code="Z109", category="WS", idempotency_key="crash-1"),
        )
    assert not created and again.uid == row.uid
    # The dead worker's job is taken over at once (its process is gone) and finished.
    ran = InProcessRunner(inst, default_registry()).run_until_idle()
    assert ran == 2  # the transfer, then the replication of its AIP (storage policy)
    row = _transfer(inst)
    assert row.state == TransferState.DONE, row.error
    assert _counts(inst) == {
        "items": ITEMS,
        "series": 1,
        "files": 2 * ITEMS,
        "accepted": 1,
        "created": 2,  # the series, and one batch event for the items: once each
        "transfers": 1,
    }
    store = open_store(inst.settings)
    assert row.aip_id is not None and store.package(row.aip_id) is not None
    with inst.db.read() as s:
        assert inst.audit.verify(s).ok
        linked = s.scalars(select(RecordFile)).all()
    for f in linked:
        assert store.stat(f"{row.aip_id}/{f.path}").sha256 == f.sha256
    # No orphans: staging gone; the only leftovers possible are partial writes of the dead
    # process, which reconcile removes; afterwards the store holds exactly the one AIP.
    assert not work_dir(inst.settings, row.uid).exists()
    report = reconcile(inst, store)
    assert report.packages_discarded == [] and report.packages_unknown == []
    assert report.staging_removed == [] and report.uploads_removed == []
    if point == "during_store":
        assert report.partial_writes_removed == [row.aip_id]
    assert list(store.packages()) == [row.aip_id]
    assert list(store.incoming()) == []


@pytest.mark.slow
@pytest.mark.parametrize("point", list(POINTS))
def test_kill_and_resume(instance: Instance, operator: Actor, tmp_path: Path, point: str) -> None:
    create_fonds(instance, operator, code="Z109")
    package = make_bag(tmp_path, sample_items(ITEMS), form="zip")
    _check_crash_and_resume(instance, point, package)


@pytest.fixture
def pg_instance(pg_database: str, tmp_path: Path) -> Iterator[Instance]:
    inst = Instance.initialise(make_settings(tmp_path / "home", database_url=pg_database))
    yield inst
    inst.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_kill_inside_catalogue_on_postgresql(
    pg_instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    create_fonds(pg_instance, operator, code="Z109")
    package = make_bag(tmp_path, sample_items(ITEMS), form="zip")
    _check_crash_and_resume(pg_instance, "inside_catalogue", package)


@pytest.mark.slow
def test_failed_transfer_leaves_no_orphans(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    """A transfer that dies after storing and is then given up: reconcile removes its AIP."""
    create_fonds(instance, operator, code="Z109")
    package = make_bag(tmp_path, sample_items(ITEMS), form="zip")
    _kill_at(instance, "after_aip_stored", package)
    row = _transfer(instance)
    store = open_store(instance.settings)
    assert row.aip_id and store.package(row.aip_id) is not None
    # The transfer is abandoned (e.g. an operator marks it failed, or its job ran out of tries).
    with instance.db.write() as s:
        t = s.get(IngestTransfer, row.id)
        assert t is not None
        t.state = TransferState.FAILED.value
    report = reconcile(instance, store)
    assert report.packages_discarded == [row.aip_id]
    assert report.staging_removed == [row.uid]
    assert store.package(row.aip_id) is None and list(store.incoming()) == []
    assert _counts(instance)["items"] == 0
