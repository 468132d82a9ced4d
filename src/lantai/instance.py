"""One Lantai instance: its settings, database, domain and services, wired in one place.

``Instance.open(settings)`` is what the web app, the CLI and the tests build on; nothing is held
in module globals. ``Instance.initialise`` creates the home directory, the secrets and the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from lantai.archival import Domain, load_domain
from lantai.audit import AuditLog, EventType
from lantai.audit.log import load_or_create_key
from lantai.catalogue import Catalogue
from lantai.security import Actor, RoleBook, SessionStore, UserService, load_roles
from lantai.security.passwords import PasswordHashing
from lantai.settings import Settings
from lantai.store import Database, Event
from lantai.store.migrate import upgrade

__all__ = ["Instance"]


@dataclass
class Instance:
    settings: Settings
    db: Database
    domain: Domain
    roles: RoleBook
    audit: AuditLog
    catalogue: Catalogue
    users: UserService
    sessions: SessionStore

    @classmethod
    def open(cls, settings: Settings | None = None, *, create_key: bool = False) -> Instance:
        settings = settings or Settings.load()
        domain = load_domain(settings.resolved_config_dir)
        roles = load_roles()
        key_path = settings.secrets_dir / "audit.key"
        if not key_path.exists() and not create_key:
            raise FileNotFoundError(
                f"实例尚未初始化：找不到 {key_path}。请先运行 `lantai init`（LANTAI_HOME={settings.resolved_home}）"
            )
        audit = AuditLog(load_or_create_key(key_path), settings.audit_witness_path)
        db = Database(settings.resolved_database_url)
        return cls(
            settings=settings,
            db=db,
            domain=domain,
            roles=roles,
            audit=audit,
            catalogue=Catalogue(domain, audit, archive_code=settings.archive_code),
            users=UserService(
                roles,
                domain.table("security_level"),
                audit,
                max_failures=settings.login_max_failures,
                lockout=timedelta(minutes=settings.login_lockout_minutes),
                hashing=PasswordHashing(
                    time_cost=settings.password_time_cost, memory_kib=settings.password_memory_kib
                ),
            ),
            sessions=SessionStore(
                lifetime=timedelta(hours=settings.session_hours),
                idle=timedelta(minutes=settings.session_idle_minutes),
            ),
        )

    @classmethod
    def initialise(cls, settings: Settings | None = None) -> Instance:
        """Create the home directory, secrets and schema (idempotent), then open the instance."""
        settings = settings or Settings.load()
        home = settings.resolved_home
        for sub in (
            home,
            settings.secrets_dir,
            settings.audit_witness_path.parent,
            home / "exports",
        ):
            sub.mkdir(parents=True, exist_ok=True)
        settings.secrets_dir.chmod(0o700)
        upgrade(settings.resolved_database_url)
        inst = cls.open(settings, create_key=True)
        with inst.db.write() as s:
            if not s.scalar(select(func.count()).select_from(Event)):
                inst.audit.append(
                    s,
                    actor=Actor.operator().username,
                    action=EventType.SYSTEM_INSTANCE_INITIALISED,
                    object_type="instance",
                    object_id="instance",
                    detail={"database": inst.db.dialect, "home": str(home)},
                )
        return inst

    @property
    def home(self) -> Path:
        return self.settings.resolved_home

    def close(self) -> None:
        self.db.dispose()
