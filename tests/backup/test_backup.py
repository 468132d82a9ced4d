"""Backup sets: a populated instance restored into an empty home finds every record, event and
digest (SQLite and PostgreSQL); damaged sets and non-empty targets are refused; the
restorability test (DA/T 70 BC-3-4) records its result, also as a job."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import make_settings
from factories import create_fonds
from ingest.builders import make_bag, sample_items
from lantai.backup import BackupDamaged, create_backup, restore_backup, verify_backup
from lantai.errors import Conflict, InputError, PermissionDenied
from lantai.ingest.service import Submission, submit
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, default_registry, enqueue
from lantai.security import Actor
from lantai.storage import open_store
from lantai.store import Backup, BackupVerification, Event, Job, Record, RecordFile


def populate(inst: Instance, tmp: Path) -> None:
    """A fonds, an ingested transfer (records with preserved files), a withdrawn record."""
    op = Actor.operator()
    create_fonds(inst, op, code="Z109")
    with inst.db.write() as s:
        submit(
            inst,
            s,
            op,
            Submission(source=make_bag(tmp, sample_items(3)), fonds_code="Z109", category="WS"),
        )
    InProcessRunner(inst, default_registry()).run_until_idle()
    with inst.db.write() as s:
        rid = s.scalar(select(Record.id).where(Record.level == "item").order_by(Record.id))
        assert rid is not None
        inst.catalogue.withdraw(s, op, rid, reason="测试撤销")


def snapshot(inst: Instance) -> dict[str, object]:
    with inst.db.read() as s:
        return {
            "records": s.execute(
                select(Record.id, Record.archival_code, Record.title, Record.lifecycle).order_by(
                    Record.id
                )
            ).all(),
            "events": s.execute(select(Event.seq, Event.hash).order_by(Event.seq)).all(),
            "files": s.execute(
                select(RecordFile.aip_id, RecordFile.path, RecordFile.sha256, RecordFile.sm3)
            ).all(),
        }


def _check_same(original: dict[str, object], restored: Instance, backup_head: int) -> None:
    got = snapshot(restored)
    assert got["records"] == original["records"]
    assert got["files"] == original["files"]
    assert len(original["files"]) >= 6  # type: ignore[arg-type]
    events = got["events"]
    # every event of the original up to the backed-up head, then the restore's own event
    assert events[:backup_head] == original["events"][:backup_head]  # type: ignore[index]
    with restored.db.read() as s:
        assert restored.audit.verify(s).ok
        last = s.scalar(select(Event.action).order_by(Event.seq.desc()).limit(1))
    assert last == "backup:set:restored"


def test_sqlite_backup_restores_into_an_empty_home_with_content(
    instance: Instance, tmp_path: Path
) -> None:
    populate(instance, tmp_path / "src")
    original = snapshot(instance)
    row = create_backup(instance, tmp_path / "backups", Actor.operator(), content=True)
    doc = json.loads((Path(row.path) / "manifest.json").read_text(encoding="utf-8"))
    head = doc["facts"]["audit_head"]["seq"]
    assert head == len(original["events"])  # type: ignore[arg-type]
    assert doc["facts"]["counts"]["records"]["item/withdrawn"] == 1
    assert any(p.startswith("content/packages/") for p in doc["files"])
    assert "secrets/audit.key" in doc["files"]
    for size, sha256, sm3 in doc["files"].values():
        assert size >= 0 and len(sha256) == 64 and len(sm3) == 64

    target = make_settings(tmp_path / "restored")
    report = restore_backup(Path(row.path), target)
    assert report.ok, report.problems
    assert report.files_checked == len(original["files"])  # type: ignore[arg-type]
    restored = Instance.open(target)
    try:
        _check_same(original, restored, head)
        store = open_store(restored.settings)
        with restored.db.read() as s:
            for aip, path, sha256, _sm3 in s.execute(
                select(RecordFile.aip_id, RecordFile.path, RecordFile.sha256, RecordFile.sm3)
            ):
                assert store.stat(f"{aip}/{path}").sha256 == sha256
    finally:
        restored.close()
    with instance.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Backup)) == 1
        assert s.scalar(select(Event.action).order_by(Event.seq.desc()).limit(1)) == (
            "backup:set:created"
        )


def test_online_backup_is_consistent_while_a_writer_holds_the_database(
    instance: Instance, tmp_path: Path
) -> None:
    create_fonds(instance, Actor.operator(), code="Z109")
    db = instance.settings.resolved_home / "lantai.db"
    writer = sqlite3.connect(db, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE records SET title = '未提交的修改'")
    # the snapshot is taken while the writer holds its transaction; the ledger row waits for it
    release = threading.Timer(1.5, writer.rollback)
    release.start()
    try:
        row = create_backup(instance, tmp_path / "b", Actor.operator())
    finally:
        release.join()
        writer.close()
    copy = sqlite3.connect(Path(row.path) / "database" / "lantai.db")
    assert copy.execute("SELECT title FROM records").fetchone()[0] == "某市人民政府办公室"
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copy.close()


def test_tampered_backup_file_is_refused_naming_it(instance: Instance, tmp_path: Path) -> None:
    create_fonds(instance, Actor.operator(), code="Z109")
    row = create_backup(instance, tmp_path / "b", Actor.operator())
    key = Path(row.path) / "secrets" / "audit.key"
    key.chmod(0o600)
    data = bytearray(key.read_bytes())
    data[0] ^= 1
    key.write_bytes(bytes(data))
    target = make_settings(tmp_path / "restored")
    with pytest.raises(BackupDamaged) as err:
        restore_backup(Path(row.path), target)
    assert "secrets/audit.key" in err.value.message
    assert [p.file for p in err.value.problems] == ["secrets/audit.key"]
    assert not target.resolved_home.exists()  # nothing written


def test_restore_refuses_a_non_empty_home(instance: Instance, tmp_path: Path) -> None:
    row = create_backup(instance, tmp_path / "b", Actor.operator())
    target = make_settings(tmp_path / "occupied")
    target.resolved_home.mkdir(parents=True)
    (target.resolved_home / "something").write_text("x")
    with pytest.raises(Conflict, match="不是空目录"):
        restore_backup(Path(row.path), target)


def test_backup_needs_the_backup_permission(instance: Instance, tmp_path: Path) -> None:
    archivist = Actor(username="chen", display_name="陈工", user_id=1)
    with pytest.raises(PermissionDenied):
        create_backup(instance, tmp_path / "b", archivist)


def test_restorability_test_records_success_and_detects_a_damaged_set(
    instance: Instance, tmp_path: Path
) -> None:
    populate(instance, tmp_path / "src")
    row = create_backup(instance, tmp_path / "b", Actor.operator())
    good = verify_backup(instance, row.uid, Actor.operator())
    assert good.ok, good.detail
    assert good.detail["facts"]["audit_head"] == good.detail["expected"]["audit_head"]
    # damage the database copy: the test fails and says which file
    db = Path(row.path) / "database" / "lantai.db"
    db.write_bytes(db.read_bytes()[:-4096])
    bad = verify_backup(instance, "latest", Actor.operator())
    assert not bad.ok
    assert any("database/lantai.db" in p for p in bad.detail["problems"])
    with instance.db.read() as s:
        b = s.get(Backup, row.id)
        assert b is not None and b.verified_ok is False
        outcomes = (
            s.execute(
                select(Event.outcome)
                .where(Event.action == "backup:set:verified")
                .order_by(Event.seq)
            )
            .scalars()
            .all()
        )
    assert outcomes == ["success", "failure"]


def test_restorability_job_records_the_result(instance: Instance, tmp_path: Path) -> None:
    create_fonds(instance, Actor.operator(), code="Z109")
    row = create_backup(instance, tmp_path / "b", Actor.operator())
    with instance.db.write() as s:
        job = enqueue(s, "backup.verify", {"backup": "latest"})
    InProcessRunner(instance, default_registry()).run_until_idle()
    with instance.db.read() as s:
        state = s.scalar(select(Job.state).where(Job.id == job.id))
        ver = s.scalar(select(BackupVerification).where(BackupVerification.backup_id == row.id))
    assert state == "succeeded"
    assert ver is not None and ver.ok and ver.job_id == job.id


@pytest.mark.postgres
def test_postgresql_backup_restores_into_an_empty_database_and_verifies(
    tmp_path: Path, pg_database: str, pg_server: str
) -> None:
    import psycopg

    inst = Instance.initialise(make_settings(tmp_path / "home", database_url=pg_database))
    target_name = f"lantai_test_restore_{secrets.token_hex(5)}"
    try:
        populate(inst, tmp_path / "src")
        original = snapshot(inst)
        row = create_backup(inst, tmp_path / "b", Actor.operator(), content=True)
        assert (Path(row.path) / "database" / "lantai.dump").read_bytes()[:5] == b"PGDMP"
        head = row.counts["audit_head"]["seq"]
        ver = verify_backup(inst, row.uid, Actor.operator())
        assert ver.ok, ver.detail
        assert ver.detail["files_checked"] == len(original["files"])  # type: ignore[arg-type]
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE \"{target_name}\" TEMPLATE template0 ENCODING 'UTF8'")
        target_url = pg_database.rsplit("/", 1)[0] + f"/{target_name}"
        with pytest.raises(InputError, match="同类数据库"):  # a PG backup never goes into SQLite
            restore_backup(Path(row.path), make_settings(tmp_path / "wrong"))
        target = make_settings(tmp_path / "restored", database_url=target_url)
        report = restore_backup(Path(row.path), target)
        assert report.ok, report.problems
        restored = Instance.open(target)
        try:
            _check_same(original, restored, head)
        finally:
            restored.close()
        with pytest.raises(Conflict):  # the database now has tables: a second restore is refused
            restore_backup(
                Path(row.path), make_settings(tmp_path / "again", database_url=target_url)
            )
    finally:
        inst.close()
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (target_name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{target_name}"')
