"""``lantai restore``: a backup set into an empty instance, checked before and after.

1. The set's files are re-hashed against ``manifest.json``; any missing, changed or unlisted file
   stops the restore, naming the file (nothing is written).
2. The target must be empty: a home directory that does not exist or is empty, and — for
   PostgreSQL — a database without tables. A PostgreSQL backup restores only into PostgreSQL
   (``--database-url``), a SQLite backup only into SQLite.
3. Secrets, configuration, witness file, settings and (``--content`` sets) the preserved packages
   are copied; the database is copied (SQLite) or ``pg_restore``d; migrations bring an older
   backup up to this version.
4. The restored instance is compared with the manifest: the audit chain verifies with the
   restored key up to the recorded head, and counts and digests are equal; with content, every
   preserved file of the catalogue is re-hashed from the restored store.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import make_url

from lantai.audit import EventType
from lantai.backup import pg
from lantai.backup.facts import collect_facts, compare_facts
from lantai.backup.manifest import BackupDamaged, check_files, read_manifest
from lantai.crypto.digest import CHUNK, digest_stream
from lantai.errors import Conflict, InputError
from lantai.instance import Instance
from lantai.settings import Settings
from lantai.store import RecordFile
from lantai.store.migrate import upgrade

__all__ = ["RestoreReport", "check_restored", "restore_backup"]

# Settings that describe where the old instance lived; the restored one has its own.
_LOCAL_SETTINGS = ("LANTAI_HOME", "LANTAI_DATABASE_URL", "LANTAI_CONFIG_DIR")


@dataclass
class RestoreReport:
    uid: str
    home: Path
    database: str
    facts: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    files_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "home": str(self.home),
            "database": self.database,
            "ok": self.ok,
            "problems": self.problems,
            "files_checked": self.files_checked,
            "facts": self.facts,
        }


def _check_target(settings: Settings, dialect: str) -> None:
    home = settings.resolved_home
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise Conflict(f"恢复目标 {home} 不是空目录：只能恢复到空的实例目录")
    target = make_url(settings.resolved_database_url).get_backend_name()
    if target != dialect:
        raise InputError(
            f"备份的数据库是 {dialect}，恢复目标是 {target}：须恢复到同类数据库"
            + (
                "（用 --database-url 指定一个空的 PostgreSQL 数据库）"
                if dialect == "postgresql"
                else ""
            )
        )
    if dialect == "postgresql":
        engine = create_engine(settings.resolved_database_url)
        try:
            with engine.connect() as conn:
                tables = inspect(conn).get_table_names()
        finally:
            engine.dispose()
        if tables:
            raise Conflict(f"恢复目标数据库已有 {len(tables)} 张表：只能恢复到空数据库")


def _copy_env(source: Path, dest: Path) -> None:
    lines = [
        ln
        for ln in source.read_text(encoding="utf-8").splitlines()
        if ln.split("=", 1)[0].strip() not in _LOCAL_SETTINGS
    ]
    dest.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


def _lay_out(backup: Path, doc: dict[str, Any], settings: Settings) -> None:
    home = settings.resolved_home
    home.mkdir(parents=True, exist_ok=True)
    if (backup / "secrets").is_dir():
        shutil.copytree(backup / "secrets", settings.secrets_dir)
        settings.secrets_dir.chmod(0o700)
        for p in settings.secrets_dir.iterdir():
            p.chmod(0o600)
    if (backup / "config").is_dir():
        shutil.copytree(backup / "config", home / "config")
    settings.audit_witness_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(backup / "audit" / "witness.log", settings.audit_witness_path)
    os.chmod(settings.audit_witness_path, 0o600)
    if (backup / "lantai.env").is_file():
        _copy_env(backup / "lantai.env", settings.instance_env_path)
    (home / "exports").mkdir(exist_ok=True)
    if doc["database"] == "sqlite":
        target = Path(make_url(settings.resolved_database_url).database or "")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(backup / "database" / "lantai.db", target)
    else:
        engine = create_engine(settings.resolved_database_url)
        try:
            with engine.connect() as conn:
                pg.check_client("pg_restore", pg.server_version(conn))
        finally:
            engine.dispose()
        pg.restore(settings.resolved_database_url, backup / "database" / "lantai.dump")
    if (backup / "content" / "packages").is_dir():
        settings.storage_dir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(backup / "content" / "packages", settings.storage_dir / "packages")


def check_restored(inst: Instance, doc: dict[str, Any], report: RestoreReport) -> None:
    """Compare the restored instance with the manifest; problems go into ``report``."""
    expected = doc["facts"]
    with inst.db.read() as s:
        chain = inst.audit.verify(s)
        actual = collect_facts(s)
    report.facts = actual
    for p in chain.problems[:20]:
        report.problems.append(f"审计链校验失败：第 {p.seq} 条，{p.message}")
    report.problems += compare_facts(expected, actual)
    if doc.get("with_content"):
        _check_content(inst, report)


def _check_content(inst: Instance, report: RestoreReport) -> None:
    from lantai.storage import open_store

    store = open_store(inst.settings)
    with inst.db.read() as s:
        rows = s.execute(
            select(
                RecordFile.aip_id,
                RecordFile.path,
                RecordFile.size,
                RecordFile.sha256,
                RecordFile.sm3,
            ).order_by(RecordFile.id)
        ).all()
    for aip_id, path, size, sha256, sm3 in rows:
        key = f"{aip_id}/{path}"
        if not store.exists(key):
            report.problems.append(f"电子文件缺失：{key}")
            continue
        with store.open(key) as f:
            d = digest_stream(iter(lambda: f.read(CHUNK), b""))
        report.files_checked += 1
        if (d.size, d.sha256, d.sm3) != (size, sha256, sm3):
            report.problems.append(f"电子文件摘要不符：{key}")


def restore_backup(backup: Path, settings: Settings, *, record_event: bool = True) -> RestoreReport:
    """Restore ``backup`` into the empty instance described by ``settings``; the comparison."""
    backup = backup.expanduser().resolve()
    doc = read_manifest(backup)
    problems = check_files(backup, doc)
    if problems:
        names = "、".join(p.file for p in problems[:5])
        raise BackupDamaged(f"备份已损坏，未恢复：{names}", problems)
    _check_target(settings, doc["database"])
    _lay_out(backup, doc, settings)
    upgrade(settings.resolved_database_url)
    inst = Instance.open(settings)
    try:
        report = RestoreReport(
            uid=doc["uid"], home=settings.resolved_home, database=doc["database"], facts={}
        )
        check_restored(inst, doc, report)
        if record_event:
            with inst.db.write() as s:
                inst.audit.append(
                    s,
                    actor="system",
                    action=EventType.BACKUP_SET_RESTORED,
                    object_type="backup",
                    object_id=doc["uid"],
                    detail={
                        "source": str(backup),
                        "created": doc["created"],
                        "ok": report.ok,
                        "problems": report.problems[:50],
                    },
                )
    finally:
        inst.close()
    return report
