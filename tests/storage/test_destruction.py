"""An approved 销毁 on every location (local disk, S3 on SeaweedFS, tar volumes), completed on a
location that missed it, never undone by repair or replication."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from factories import create_fonds
from ingest.builders import make_bag, sample_items
from lantai.disposal import Decision, create_batch, decide, execute
from lantai.ingest.service import Submission, submit
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, default_registry
from lantai.security import Actor, Perm
from lantai.storage import LocalObjectStore, TarVolumeStore, policy_satisfied
from lantai.storage.fixity import audit_location
from lantai.storage.ledger import copies
from lantai.storage.replication import DestroyedContent, copy_package, replicate
from lantai.storage.s3 import S3ObjectStore
from lantai.storage.system import StorageSystem
from lantai.store import Alert, DestroyedObject, Event, IngestTransfer, Record, RecordFile
from seaweed_support import Seaweed

REVIEWER = Actor(
    username="chen",
    display_name="陈工",
    user_id=11,
    permissions=frozenset({Perm.DISPOSAL_REVIEW, Perm.DISPOSAL_READ, Perm.CATALOGUE_RECORD_READ}),
)
APPROVER = Actor(
    username="wang",
    display_name="王馆长",
    user_id=12,
    permissions=frozenset({Perm.DISPOSAL_APPROVE}),
)
EXEC = Actor(
    username="li", display_name="李工", user_id=13, permissions=frozenset({Perm.DISPOSAL_EXECUTE})
)


def _policy(
    inst: Instance, sw: Seaweed, bucket: str, *, vault: bool = False, create: bool = True
) -> None:
    locations: list[dict[str, Any]] = [
        {
            "name": "primary",
            "label": "主存储",
            "site": "本地",
            "medium": "disk",
            "primary": True,
            "backend": {"type": "local", "root": "storage", "create": True},
        },
        {
            "name": "s3",
            "label": "异地对象存储",
            "site": "异地",
            "medium": "object_store",
            "backend": {
                "type": "s3",
                "endpoint": sw.endpoint,
                "bucket": bucket,
                "access_key": sw.access_key,
                "secret_key": sw.secret_key,
                "part_size_mb": 5,
                "create_bucket": True,
            },
        },
        {
            "name": "tape",
            "label": "磁带卷",
            "site": "本地",
            "medium": "tape_tar",
            "backend": {"type": "tar", "root": "tape", "volume_mb": 1, "create": create},
        },
    ]
    if vault:
        locations.append(
            {
                "name": "vault",
                "label": "新增异地磁盘",
                "site": "异地",
                "medium": "disk",
                "backend": {"type": "local", "root": "vault", "create": True},
            }
        )
    doc = {"version": 1, "locations": locations, "required": [loc["name"] for loc in locations]}
    cfg = inst.settings.resolved_config_dir
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "storage_policy.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")


@pytest.fixture
def setup(instance: Instance, tmp_path: Path, seaweed: Seaweed) -> dict[str, Any]:
    bucket = "destroy-" + os.urandom(4).hex()
    _policy(instance, seaweed, bucket)
    op = Actor.operator()
    create_fonds(instance, op, code="Z109")
    items = sample_items(3, year=2011)
    for n, item in enumerate(items, 1):
        item.values["retention"] = "D10"
        item.values["archival_code"] = f"Z109-WS·2011-D10-BGS-{n:04d}"
        item.values["item_no"] = n
    with instance.db.write() as s:
        submit(
            instance,
            s,
            op,
            Submission(source=make_bag(tmp_path / "bag", items), fonds_code="Z109", category="WS"),
        )
    InProcessRunner(instance, default_registry()).run_until_idle()
    with instance.db.read() as s:
        ids = {
            c: i
            for c, i in s.execute(
                select(Record.archival_code, Record.id).where(Record.level == "item")
            )
        }
        doomed = ids["Z109-WS·2011-D10-BGS-0001"]
        keys = [
            (a, p)
            for a, p in s.execute(
                select(RecordFile.aip_id, RecordFile.path).where(RecordFile.record_id == doomed)
            )
        ]
        transfer = s.scalar(select(IngestTransfer))
        assert transfer is not None and transfer.preserved_at is not None  # policy satisfied
    assert keys
    pid = keys[0][0]
    assert policy_satisfied(instance, pid)
    return {"ids": ids, "doomed": doomed, "keys": keys, "pid": pid, "bucket": bucket}


def _approve(inst: Instance, record_id: int) -> str:
    with inst.db.write() as s:
        uid = create_batch(
            inst, s, REVIEWER, title="到期鉴定", record_ids=[record_id], as_of=None
        ).uid
    with inst.db.write() as s:
        decide(inst, s, REVIEWER, uid, 1, [Decision(record_id, "destroy", "无查考价值")])
    with inst.db.write() as s:
        decide(inst, s, APPROVER, uid, 2, [Decision(record_id, "destroy", "同意销毁")])
    return uid


def _raw_present(system: StorageSystem, name: str, pid: str, path: str) -> bool:
    """Whether the bytes are still on the medium (not only whether the index lists them)."""
    store = system.store(name)
    if isinstance(store, LocalObjectStore):
        return (store.root / "packages" / pid[:2].lower() / pid / path).exists()
    if isinstance(store, S3ObjectStore):
        keys = store.client.list_objects_v2(
            Bucket=store.cfg.bucket, Prefix=store._object_key(f"{pid}/{path}")
        ).get("Contents", [])
        return bool(keys)
    assert isinstance(store, TarVolumeStore)
    for vol in store.volumes(pid):
        with tarfile.open(vol) as tar:
            if f"{pid}/{path}" in tar.getnames():
                return True
    return False


def test_destruction_on_every_location(
    instance: Instance, setup: dict[str, Any], seaweed: Seaweed
) -> None:
    pid, keys = setup["pid"], setup["keys"]
    system = StorageSystem(instance)
    tape = system.store("tape")
    assert isinstance(tape, TarVolumeStore)
    volumes_before = {v.name for v in tape.volumes(pid)}
    uid = _approve(instance, setup["doomed"])
    summary = execute(instance, EXEC, uid)
    assert summary["destroyed"] == 1

    for name in ("primary", "s3", "tape"):
        store = system.store(name)
        for _, path in keys:
            assert not store.exists(f"{pid}/{path}"), (name, path)
            assert not _raw_present(system, name, pid, path), (name, path)
            assert path in store.tombstones(pid)
    # the tar copy: superseded volumes replaced by new revisions, still verifiable without Lantai
    volumes_after = {v.name for v in tape.volumes(pid)}
    assert volumes_after != volumes_before and any(".r2." in v for v in volumes_after)
    with instance.db.read() as s:
        rows = copies(s, pid)
        event = s.scalar(select(Event).where(Event.action == "storage:objects:destroyed"))
        destroyed = list(s.scalars(select(DestroyedObject)))
    assert {r.location for r in rows} == {"primary", "s3", "tape"}
    assert len({r.package_digest for r in rows}) == 1  # identical index (tombstones) everywhere
    assert all(r.state == "present" for r in rows)
    assert event is not None
    detail = json.loads(event.detail)
    assert {loc: v["state"] for loc, v in detail["locations"].items()} == {
        "primary": "destroyed",
        "s3": "destroyed",
        "tape": "destroyed",
    }
    assert set(detail["locations"]["tape"]["superseded"]) <= volumes_before
    assert {(d.package_id, d.path) for d in destroyed} == set(keys)
    assert policy_satisfied(instance, pid)
    # fixity clean afterwards on every location: a destroyed object is not "missing"
    for name in ("primary", "s3", "tape"):
        run = audit_location(instance, name, system=system)
        assert (run.failures, run.repaired, run.unrecoverable) == (0, 0, 0), run.findings
    # a new location added later receives the package without the destroyed content
    _policy(instance, seaweed, setup["bucket"], vault=True)
    system2 = StorageSystem(instance)
    result = replicate(instance, pid, system=system2)
    assert result.copied == ["vault"]
    vault = system2.store("vault")
    assert vault.package(pid) is not None
    assert all(not vault.exists(f"{pid}/{p}") for _, p in keys)
    assert not any(_raw_present(system2, "vault", pid, p) for _, p in keys)
    assert policy_satisfied(instance, pid)


def test_a_stale_replica_gets_the_destruction_completed_never_repaired_back(
    instance: Instance, setup: dict[str, Any], seaweed: Seaweed
) -> None:
    pid, keys = setup["pid"], setup["keys"]
    _policy(instance, seaweed, setup["bucket"], create=False)  # a mount: absent = unreachable
    system = StorageSystem(instance)
    tape_root = instance.settings.resolved_home / "tape"
    hidden = tape_root.with_name("tape-unmounted")
    os.rename(tape_root, hidden)  # the tape library is offline during the execution
    try:
        uid = _approve(instance, setup["doomed"])
        execute(instance, EXEC, uid)
    finally:
        os.rename(hidden, tape_root)
    with instance.db.read() as s:
        tape_row = next(r for r in copies(s, pid) if r.location == "tape")
        alert = s.scalar(select(Alert).where(Alert.kind == "storage.destruction_pending"))
    assert tape_row.state == "destroy_pending"
    assert alert is not None and alert.resolved_at is None
    assert not policy_satisfied(instance, pid)
    stale = StorageSystem(instance).store("tape")
    assert all(stale.exists(f"{pid}/{p}") for _, p in keys)  # the stale copy still has them
    # replication never copies from it: the content is destroyed
    with pytest.raises(DestroyedContent):
        copy_package(stale, system.store("primary"), pid, destroyed={p for _, p in keys})

    run = audit_location(instance, "tape", system=StorageSystem(instance))
    assert (run.failures, run.repaired) == (0, 0), run.findings
    fresh = StorageSystem(instance)
    for _, p in keys:
        assert not fresh.store("tape").exists(f"{pid}/{p}")
        assert not _raw_present(fresh, "tape", pid, p)
    with instance.db.read() as s:
        rows = copies(s, pid)
        completion = [
            e
            for e in s.scalars(select(Event).where(Event.action == "storage:objects:destroyed"))
            if json.loads(e.detail).get("completion")
        ]
        repaired = s.scalars(select(Event).where(Event.action == "storage:object:repaired")).all()
        open_alert = s.scalar(
            select(Alert).where(
                Alert.kind == "storage.destruction_pending", Alert.resolved_at.is_(None)
            )
        )
    assert len(completion) == 1 and json.loads(completion[0].detail)["location"] == "tape"
    assert not repaired and open_alert is None
    assert len({r.package_digest for r in rows}) == 1 and all(r.state == "present" for r in rows)
    assert policy_satisfied(instance, pid)
