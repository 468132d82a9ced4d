"""Replication, fixity audit with repair, and the unrecoverable case, over real backends.

Two locations: the local primary and a replica that is local, S3 (SeaweedFS) or tar volumes.
Damage is done the way it happens — bytes changed, files truncated or deleted on the medium —
and the audit must find it, repair it from the other location and verify the repair.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from lantai.audit import EventType
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, JobState, default_registry
from lantai.storage import LocalObjectStore, ObjectStore, TarVolumeStore, policy_satisfied
from lantai.storage.fixity import audit_location
from lantai.storage.ledger import copies
from lantai.storage.monitor import check_locations
from lantai.storage.replication import replicate
from lantai.storage.s3 import S3ObjectStore
from lantai.storage.system import StorageSystem
from lantai.storage.tasks import REPLICATE_KIND, enqueue_replication
from lantai.store import Alert, Event, Job, utcnow
from seaweed_support import Seaweed

PID = "aip-0001"
OBJECTS = {
    "data/正文.pdf": os.urandom(300_000),
    "data/附件.txt": "附件内容".encode() * 500,
    "metadata/mets.xml": b"<mets/>",
}


def _policy(inst: Instance, replica: dict[str, Any], **extra: Any) -> None:
    doc: dict[str, Any] = {
        "version": 1,
        "locations": [
            {
                "name": "primary",
                "label": "主存储",
                "site": "本地",
                "medium": "disk",
                "primary": True,
                "backend": {"type": "local", "root": "storage", "create": True},
            },
            replica,
        ],
        "required": ["primary", replica["name"]],
        **extra,
    }
    cfg = inst.settings.resolved_config_dir
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "storage_policy.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")


def _replica(kind: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    if kind == "local":
        return {
            "name": "offsite",
            "label": "异地磁盘",
            "site": "异地",
            "medium": "disk",
            "backend": {"type": "local", "root": "offsite", "create": True},
        }
    if kind == "tar":
        return {
            "name": "tape",
            "label": "磁带卷",
            "site": "本地",
            "medium": "tape_tar",
            "backend": {"type": "tar", "root": "tape", "volume_mb": 1, "create": True},
        }
    sw: Seaweed = request.getfixturevalue("seaweed")
    return {
        "name": "s3",
        "label": "异地对象存储",
        "site": "异地",
        "medium": "object_store",
        "backend": {
            "type": "s3",
            "endpoint": sw.endpoint,
            "bucket": "fixity-" + os.urandom(4).hex(),
            "access_key": sw.access_key,
            "secret_key": sw.secret_key,
            "part_size_mb": 5,
            "create_bucket": True,
        },
    }


def _ingest_package(inst: Instance) -> None:
    store = StorageSystem(inst).store("primary")
    with store.begin(PID) as w:
        for path, data in OBJECTS.items():
            w.put_bytes(path, data)
        w.commit()


def _events(inst: Instance, action: EventType) -> list[Event]:
    with inst.db.read() as s:
        return list(s.scalars(select(Event).where(Event.action == action.value)))


def _open_alerts(inst: Instance, kind: str) -> list[Alert]:
    with inst.db.read() as s:
        return list(s.scalars(select(Alert).where(Alert.kind == kind, Alert.resolved_at.is_(None))))


# -- damaging a stored object, per backend ----------------------------------------------------


def _damage(store: ObjectStore, key: str, how: str) -> None:
    if isinstance(store, LocalObjectStore):
        pid, path = key.split("/", 1)
        f = store.root / "packages" / pid[:2].lower() / pid / path
        if how == "delete":
            f.unlink()
            return
        f.chmod(0o600)
        data = f.read_bytes()
        f.write_bytes(
            data[:-1000] if how == "truncate" else data[:10] + bytes([data[10] ^ 1]) + data[11:]
        )
        return
    if isinstance(store, S3ObjectStore):
        s3key = store._object_key(key)
        if how == "delete":
            store.client.delete_object(Bucket=store.cfg.bucket, Key=s3key)
            return
        data = store.client.get_object(Bucket=store.cfg.bucket, Key=s3key)["Body"].read()
        data = data[:-1000] if how == "truncate" else data[:10] + bytes([data[10] ^ 1]) + data[11:]
        store.client.put_object(Bucket=store.cfg.bucket, Key=s3key, Body=data)
        return
    assert isinstance(store, TarVolumeStore) and how == "flip"
    pid, path = key.split("/", 1)
    volume, offset, _size = store._placement(pid)[path]
    vol = store.root / "volumes" / pid / volume
    vol.chmod(0o600)
    with vol.open("r+b") as f:
        f.seek(offset + 10)
        b = f.read(1)
        f.seek(offset + 10)
        f.write(bytes([b[0] ^ 1]))


@pytest.mark.parametrize("kind", ["local", "s3", "tar"])
def test_replicate_then_policy_satisfied(
    instance: Instance, kind: str, request: pytest.FixtureRequest
) -> None:
    replica = _replica(kind, request)
    _policy(instance, replica)
    _ingest_package(instance)
    assert not policy_satisfied(instance, PID)
    result = replicate(instance, PID)
    assert result.copied == [replica["name"]] and not result.failed
    assert policy_satisfied(instance, PID)
    with instance.db.read() as s:
        rows = copies(s, PID)
    assert {r.location for r in rows} == {"primary", replica["name"]}
    assert len({r.package_digest for r in rows}) == 1  # byte-identical index everywhere
    assert all(r.objects == 3 and r.state == "present" for r in rows)
    assert len(_events(instance, EventType.STORAGE_PACKAGE_REPLICATED)) == 1
    assert replicate(instance, PID).present == ["primary", replica["name"]]  # idempotent
    assert len(_events(instance, EventType.STORAGE_PACKAGE_REPLICATED)) == 1


@pytest.mark.parametrize(
    ("kind", "where", "how", "problem"),
    [
        ("local", "primary", "flip", "mismatch"),
        ("local", "primary", "truncate", "truncated"),
        ("local", "primary", "delete", "missing"),
        ("local", "offsite", "flip", "mismatch"),
        ("s3", "s3", "flip", "mismatch"),
        ("s3", "s3", "truncate", "truncated"),
        ("s3", "s3", "delete", "missing"),
        ("s3", "primary", "truncate", "truncated"),
        ("tar", "tape", "flip", "mismatch"),
    ],
)
def test_damage_is_detected_and_repaired(
    instance: Instance,
    kind: str,
    where: str,
    how: str,
    problem: str,
    request: pytest.FixtureRequest,
) -> None:
    _policy(instance, _replica(kind, request))
    _ingest_package(instance)
    replicate(instance, PID)
    system = StorageSystem(instance)
    key = f"{PID}/data/正文.pdf"
    _damage(system.store(where), key, how)

    run = audit_location(instance, where, system=system)
    assert (run.state, run.failures, run.repaired, run.unrecoverable) == ("done", 1, 1, 0)
    assert run.objects == 3 and run.packages == 1
    (finding,) = run.findings
    assert finding["key"] == key and finding["problem"] == problem
    assert finding["action"] == "repaired" and finding["source"] != where
    with system.store(where).open(key) as f:
        assert f.read() == OBJECTS["data/正文.pdf"]
    # detection and repair are PREMIS events; the alert was raised, then resolved
    (failed,) = _events(instance, EventType.STORAGE_FIXITY_FAILED)
    assert failed.outcome == "failure" and json.loads(failed.detail)["problem"] == problem
    (repaired,) = _events(instance, EventType.STORAGE_OBJECT_REPAIRED)
    assert json.loads(repaired.detail)["source"] == finding["source"]
    assert not _open_alerts(instance, "storage.fixity_failed")
    with instance.db.read() as s:
        alert = s.scalar(select(Alert).where(Alert.kind == "storage.fixity_failed"))
        assert alert is not None and alert.resolved_at is not None and alert.object_key == key
        row = next(r for r in copies(s, PID) if r.location == where)
        assert (row.state, row.verify_result) == ("present", "repaired")
    # a second audit finds everything intact
    again = audit_location(instance, where, system=system)
    assert (again.failures, again.objects) == (0, 3)
    assert policy_satisfied(instance, PID)


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_same_damage_everywhere_is_unrecoverable(
    instance: Instance, kind: str, request: pytest.FixtureRequest
) -> None:
    replica = _replica(kind, request)
    _policy(instance, replica)
    _ingest_package(instance)
    replicate(instance, PID)
    system = StorageSystem(instance)
    key = f"{PID}/data/附件.txt"
    for name in ("primary", replica["name"]):
        _damage(system.store(name), key, "flip")
    run = audit_location(instance, "primary", system=system)
    assert (run.failures, run.repaired, run.unrecoverable) == (1, 0, 1)
    assert run.findings[0]["action"] == "unrecoverable"
    (alert,) = _open_alerts(instance, "storage.unrecoverable")
    assert alert.severity == "critical" and alert.object_key == key
    assert "不可恢复" in alert.message
    assert len(_events(instance, EventType.STORAGE_OBJECT_UNRECOVERABLE)) == 1
    with system.store("primary").open(key) as f:  # never silently "fixed"
        assert f.read() != OBJECTS["data/附件.txt"]
    with instance.db.read() as s:
        row = next(r for r in copies(s, PID) if r.location == "primary")
        assert (row.state, row.verify_result) == ("unrecoverable", "failed")
    assert not policy_satisfied(instance, PID)


def test_tar_volume_verifies_with_plain_tar_and_sha256sum(
    instance: Instance, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    _policy(instance, _replica("tar", request))
    _ingest_package(instance)
    replicate(instance, PID)
    store = StorageSystem(instance).store("tape")
    assert isinstance(store, TarVolumeStore)
    volumes = store.volumes(PID)
    assert volumes  # volume_mb 1 and the objects fit
    out = tmp_path / "restore"
    out.mkdir()
    for vol in volumes:
        subprocess.run(["tar", "-xf", str(vol), "-C", str(out)], check=True)
        check = subprocess.run(
            ["sha256sum", "-c", "MANIFEST-sha256.txt"],
            cwd=out,
            capture_output=True,
            text=True,
            check=True,
        )
        assert check.stdout.count(": OK") >= 1
        assert "README.txt" in os.listdir(out)
    for path, data in OBJECTS.items():
        assert (out / PID / path).read_bytes() == data
    # and a damaged restored file is caught by the same command
    target = out / PID / "data" / "附件.txt"
    target.write_bytes(b"x" + target.read_bytes()[1:])
    bad = subprocess.run(["sha256sum", "-c", "MANIFEST-sha256.txt"], cwd=out, capture_output=True)
    assert bad.returncode != 0


def test_replication_retried_after_location_was_unreachable(instance: Instance) -> None:
    _policy(
        instance,
        {
            "name": "nas",
            "label": "异地 NAS",
            "site": "异地",
            "medium": "disk",
            "backend": {"type": "local", "root": "mnt/nas", "create": False},  # not mounted
        },
    )
    _ingest_package(instance)
    with instance.db.write() as s:
        job_id = enqueue_replication(instance, s, PID).id
    runner = InProcessRunner(instance, default_registry())
    assert runner.run_job(job_id) is JobState.QUEUED  # failed, to be retried with back-off
    with instance.db.read() as s:
        job = s.get(Job, job_id)
        assert job is not None and job.run_after > utcnow() and "不可访问" in (job.error or "")
    (alert,) = _open_alerts(instance, "storage.replica_missing")
    assert alert.location == "nas" and alert.package_id == PID
    assert not policy_satisfied(instance, PID)

    LocalObjectStore(instance.home / "mnt" / "nas")  # the disk is mounted again
    with instance.db.write() as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.run_after = utcnow()  # the back-off has passed
    assert runner.run_job(job_id) is JobState.SUCCEEDED
    assert policy_satisfied(instance, PID)
    assert not _open_alerts(instance, "storage.replica_missing")
    with instance.db.read() as s:
        kinds = {j.kind for j in s.scalars(select(Job))}
    assert REPLICATE_KIND in kinds and "storage.fixity" in kinds  # audits now scheduled


def test_free_space_and_unreachable_alerts(instance: Instance) -> None:
    replica = {
        "name": "nas",
        "label": "异地 NAS",
        "site": "异地",
        "medium": "disk",
        "backend": {"type": "local", "root": "mnt/nas", "create": False},
    }
    _policy(
        instance, replica, thresholds={"warn_free_percent": 100, "critical_free_percent": 99.999}
    )
    health = {h.name: h for h in check_locations(instance)}
    assert health["primary"].level == "critical" and health["primary"].free is not None
    assert health["nas"].level == "unreachable" and not health["nas"].reachable
    (space,) = _open_alerts(instance, "storage.space_low")
    assert space.location == "primary" and space.severity == "critical"
    assert "低于严重阈值" in space.message
    (down,) = _open_alerts(instance, "storage.location_unreachable")
    assert down.location == "nas"
    check_locations(instance)  # the same conditions again: no second alert, count bumped
    (space,) = _open_alerts(instance, "storage.space_low")
    assert space.count == 2
    # conditions clear → alerts resolved
    _policy(instance, replica)
    LocalObjectStore(instance.home / "mnt" / "nas")
    check_locations(instance)
    assert not _open_alerts(instance, "storage.space_low")
    assert not _open_alerts(instance, "storage.location_unreachable")
