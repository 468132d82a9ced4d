"""``lantai backup create``: a consistent backup set of a running instance, registered in the ledger.

A backup set is one directory ``<dest>/lantai-backup-<UTC time>-<id>/``::

    manifest.json            files with size + SHA-256 + SM3, facts (counts, audit head, digests)
    database/lantai.db       SQLite: the online backup API (consistent while the server writes)
    database/lantai.dump     PostgreSQL: pg_dump -Fc from the snapshot the facts were read in
    config/                  the instance's domain configuration (code tables, rules …)
    secrets/                 the audit chain key (needed to verify the chain) — PROTECT THE SET
    audit/witness.log        the witness file, up to the backed-up chain head
    lantai.env               instance settings (档案馆代码 …)
    content/packages/…       with --content: the preserved packages of the local object store

The set is written under a hidden ``.partial`` name and renamed when complete, so a set with a
manifest is a finished one. The ``backup:set:created`` event is appended after the snapshot (it
is not in the backup; the chain head recorded is the one the backup holds).
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from lantai import __version__
from lantai.audit import EventType
from lantai.backup import pg
from lantai.backup.facts import collect_facts
from lantai.backup.manifest import FORMAT, hash_tree, write_manifest
from lantai.errors import InputError
from lantai.security import Actor, Perm
from lantai.store import Backup

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = ["create_backup", "truncate_witness"]


def _sqlite_snapshot(db_path: Path, dest: Path) -> dict[str, Any]:
    """Online backup of the live database into ``dest``; the facts read from the copy."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst, pages=4096)
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        dst.close()
        src.close()
    engine = create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(f"file:{dest}?mode=ro", uri=True)
    )
    try:
        with Session(engine) as s:
            return collect_facts(s)
    finally:
        engine.dispose()


def _pg_snapshot(inst: Instance, dest: Path) -> tuple[dict[str, Any], str]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with inst.db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            version = pg.server_version(conn)
            pg.check_client("pg_dump", version)
            snapshot = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar())
            facts = collect_facts(Session(bind=conn))
            pg.dump(inst.db.url, snapshot, dest)  # while the exporting transaction is open
    return facts, version


def truncate_witness(source: Path, dest: Path, head_seq: int) -> None:
    """Copy the witness lines up to ``head_seq`` (later events are not in the backup)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    if source.exists():
        for line in source.read_text(encoding="ascii", errors="replace").splitlines():
            seq = line.split("\t", 1)[0]
            if seq.isdigit() and int(seq) <= head_seq:
                lines.append(line + "\n")
    dest.write_text("".join(lines), encoding="ascii")


def _copy_tree(src: Path, dest: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".*"))


def create_backup(inst: Instance, dest: Path, actor: Actor, *, content: bool = False) -> Backup:
    """Make a backup set under ``dest`` and register it; returns the ledger row."""
    actor.require(Perm.SYSTEM_BACKUP)
    dest = dest.expanduser().resolve()
    home = inst.home
    if dest == home or home in dest.parents:
        raise InputError(f"备份目录 {dest} 不能位于实例目录 {home} 之内（应在另一磁盘或位置）")
    dest.mkdir(parents=True, exist_ok=True)
    uid = str(uuid.uuid4())
    created = datetime.now(UTC)
    name = f"lantai-backup-{created.strftime('%Y%m%dT%H%M%SZ')}-{uid[:8]}"
    work = dest / f".{name}.partial"
    work.mkdir()
    try:
        server_version = None
        if inst.db.is_sqlite:
            db_path = Path(make_url(inst.db.url).database or "")
            facts = _sqlite_snapshot(db_path, work / "database" / "lantai.db")
        else:
            facts, server_version = _pg_snapshot(inst, work / "database" / "lantai.dump")
        settings = inst.settings
        _copy_tree(settings.resolved_config_dir, work / "config")
        _copy_tree(settings.secrets_dir, work / "secrets")
        truncate_witness(
            settings.audit_witness_path, work / "audit" / "witness.log", facts["audit_head"]["seq"]
        )
        if settings.instance_env_path.is_file():
            shutil.copyfile(settings.instance_env_path, work / "lantai.env")
        if content:
            _copy_tree(settings.storage_dir / "packages", work / "content" / "packages")
        files = hash_tree(work)
        doc = {
            "format": FORMAT,
            "version": 1,
            "uid": uid,
            "created": created.isoformat(timespec="seconds"),
            "lantai_version": __version__,
            "database": inst.db.dialect,
            "server_version": server_version,
            "with_content": content,
            "files": files,
            "facts": facts,
        }
        manifest_digest = write_manifest(work, doc)
        final = dest / name
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    total = sum(v[0] for v in files.values())
    with inst.db.write() as s:
        row = Backup(
            uid=uid,
            database=inst.db.dialect,
            path=str(final),
            with_content=content,
            files=len(files),
            bytes=total,
            manifest_sha256=manifest_digest,
            counts=facts,
            created_by=actor.username,
            created_at=created,
        )
        s.add(row)
        s.flush()
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.BACKUP_SET_CREATED,
            object_type="backup",
            object_id=uid,
            detail={
                "path": str(final),
                "database": inst.db.dialect,
                "files": len(files),
                "bytes": total,
                "with_content": content,
                "manifest_sha256": manifest_digest,
                "audit_head": facts["audit_head"],
            },
        )
    return row
