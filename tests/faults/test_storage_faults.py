"""Disk full and storage unreachable during ingest: a clear zh-CN error, nothing half-written, and
the same transfer finishes with `lantai ingest resume` once the space or the disk is back."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from factories import create_fonds
from faults.harness import Lab
from faults.workloads import IngestWork
from lantai.security import Actor
from lantai.storage import open_store
from lantai.storage.system import StorageSystem
from lantai.store import IngestTransfer, Job, StorageCopy

pytestmark = [pytest.mark.faults, pytest.mark.slow]

POLICY = """\
version: 1
locations:
  - name: primary
    label: 主存储（本地磁盘）
    site: 本地
    medium: disk
    primary: true
    backend: {{type: local, root: {primary}, create: false}}
  - name: tape
    label: 异质备份（磁带式 tar 卷）
    site: 本地
    medium: tape_tar
    backend: {{type: tar, root: {tape}, volume_mb: 64, create: false}}
required: [primary, tape]
"""


def _transfer(lab: Lab) -> IngestTransfer:
    with lab.instance() as inst, inst.db.read() as s:
        row: IngestTransfer | None = s.scalar(select(IngestTransfer))
    assert row is not None
    return row


def _interrupted_then_resumed(
    lab: Lab, work: IngestWork, expect: str, restore: Callable[[], None]
) -> None:
    """The transfer stops before `stored` with ``expect`` in its error; nothing is visible; after
    ``restore()`` the same transfer completes."""
    run = lab.lantai(*work.submit())
    assert run.returncode == 0, run.text
    assert expect in run.text and "lantai ingest resume" in run.text, run.text
    row = _transfer(lab)
    assert row.state == "accepted_pending", (row.state, row.error)
    with lab.instance() as inst, inst.db.read() as s:
        job = s.get(Job, row.job_id)
        assert job is not None and job.state == "queued" and expect in (job.error or "")
        assert s.scalar(select(StorageCopy)) is None
    restore()
    assert lab.check(settled=False) == []
    with lab.instance() as inst:
        store = open_store(inst.settings)
        assert row.aip_id and store.package(row.aip_id) is None  # nothing half-written visible
        assert row.aip_id not in list(store.incoming())
    run = lab.lantai("ingest", "resume")
    assert run.returncode == 0, run.text
    assert _transfer(lab).state == "done"
    assert lab.check(settled=True, expected_codes=work.expected) == []


def test_disk_full_at_a_fault_point_is_a_clear_error_and_resumable(lab: Lab) -> None:
    """ENOSPC raised where the third object of the AIP is written (any user, any filesystem)."""
    work = IngestWork(lab)
    lab.env["LANTAI_FAULT_POINT"] = "storage.local.put:3:enospc"

    def space_back() -> None:
        del lab.env["LANTAI_FAULT_POINT"]

    _interrupted_then_resumed(lab, work, "空间不足", space_back)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (needs root and mount rights; skipped otherwise)."""
    mnt = tmp_path / "home" / "storage"
    mnt.mkdir(parents=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_real_disk_full_during_ingest(tmp_path: Path, small_disk: Path) -> None:
    """The primary store on a full 4 MiB filesystem: ENOSPC from the kernel while the AIP is
    written; after space is freed the transfer resumes."""
    lab = Lab(tmp_path)
    lab.initialise()
    work = IngestWork(lab)
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    with filler.open("wb") as f:
        f.write(b"\0" * max(0, free - 8192))

    def space_back() -> None:
        filler.unlink()

    _interrupted_then_resumed(lab, work, "空间不足", space_back)


def _lab_with_policy(tmp_path: Path) -> tuple[Lab, Path, Path]:
    lab = Lab(tmp_path)
    primary, tape = tmp_path / "disks" / "primary", tmp_path / "disks" / "tape"
    primary.mkdir(parents=True)
    tape.mkdir(parents=True)
    config = lab.home / "config"
    config.mkdir(parents=True)
    (config / "storage_policy.yaml").write_text(
        POLICY.format(primary=primary, tape=tape), encoding="utf-8"
    )
    lab.initialise()
    with lab.instance() as inst:
        create_fonds(inst, Actor.operator(), code="Z109")
    return lab, primary, tape


def test_primary_storage_unreachable_during_ingest(tmp_path: Path) -> None:
    lab, primary, _tape = _lab_with_policy(tmp_path)
    work = IngestWork(lab, fonds=False)  # the fonds exists already
    away = primary.with_name("primary-unmounted")
    primary.rename(away)  # the disk is not mounted

    def remount() -> None:
        away.rename(primary)

    _interrupted_then_resumed(lab, work, "不可访问", remount)


def test_replica_unreachable_then_back(tmp_path: Path) -> None:
    """The tape location is gone: the transfer is accepted (primary copy), the copy is pending
    with an alert; when the location is back, resume makes the copy and the policy holds."""
    lab, _primary, tape = _lab_with_policy(tmp_path)
    work = IngestWork(lab, fonds=False)  # the fonds exists already
    away = tape.with_name("tape-offline")
    tape.rename(away)
    run = lab.lantai(*work.submit())
    assert run.returncode == 0, run.text
    assert "副本尚未齐全" in run.text, run.text
    row = _transfer(lab)
    assert row.state == "done"
    with lab.instance() as inst, inst.db.read() as s:
        copies = {c.location: c.state for c in s.scalars(select(StorageCopy))}
        assert copies == {"primary": "present", "tape": "pending"}
        job = s.scalar(select(Job).where(Job.kind == "storage.replicate"))
        assert job is not None and job.state == "queued" and "不可访问" in (job.error or "")
    assert lab.check(settled=False) == []
    away.rename(tape)
    run = lab.lantai("ingest", "resume")
    assert run.returncode == 0, run.text
    with lab.instance() as inst:
        assert StorageSystem(inst).store("tape").package(row.aip_id or "") is not None
    assert lab.check(settled=True, expected_codes=work.expected) == []
