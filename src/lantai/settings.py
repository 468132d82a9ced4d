"""Every setting, declared once with its default and help text (``lantai settings`` prints them).

Settings come from environment variables prefixed ``LANTAI_`` (``LANTAI_DATABASE_URL`` …) and,
for an initialised instance, from ``<LANTAI_HOME>/lantai.env`` (written by ``lantai init``);
environment variables win. The instance home holds everything an embedded instance writes: the
SQLite database, instance configuration overrides, secrets and the audit witness file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Lantai settings. Construct with keyword arguments in tests, from the environment otherwise."""

    model_config = SettingsConfigDict(env_prefix="LANTAI_", extra="ignore")

    home: Path = Field(
        Path("var/lantai"),
        description="Instance directory: SQLite database, config overrides, secrets, audit witness.",
    )
    database_url: str = Field(
        "",
        description=(
            "SQLAlchemy URL of the catalogue database. Empty means SQLite (WAL) at "
            "<home>/lantai.db; use postgresql+psycopg://user@host/db for PostgreSQL."
        ),
    )
    config_dir: Path | None = Field(
        None,
        description=(
            "Directory of instance domain data (YAML) that extends or overrides the shipped "
            "code tables, 档号 rules, metadata schemes and 三合一 tables. Default <home>/config."
        ),
    )
    session_hours: float = Field(8.0, description="Lifetime of a login session, in hours.")
    session_idle_minutes: float = Field(
        60.0, description="A session unused for this many minutes expires."
    )
    cookie_secure: bool = Field(
        False, description="Send the session cookie only over HTTPS (set true behind TLS)."
    )
    max_upload_mb: int = Field(
        200, description="Largest file accepted by an upload endpoint, in MiB."
    )
    import_max_rows: int = Field(
        200_000, description="Largest number of rows accepted in one catalogue spreadsheet."
    )
    import_max_cell_chars: int = Field(
        20_000, description="Longest cell accepted in a catalogue spreadsheet, in characters."
    )
    login_max_failures: int = Field(
        5, description="Failed logins for one account before it is locked for lockout_minutes."
    )
    login_lockout_minutes: float = Field(
        15.0, description="How long an account stays locked after too many failed logins."
    )
    password_time_cost: int = Field(
        3,
        ge=1,
        description="argon2id time cost for password hashes (RFC 9106 low-memory profile: 3).",
    )
    password_memory_kib: int = Field(
        65536, ge=1024, description="argon2id memory per password hash, in KiB (default 64 MiB)."
    )
    clamav_address: str = Field(
        "",
        description=(
            "clamd to scan transfers with: 'unix:/run/clamav/clamd.ctl' or 'tcp:127.0.0.1:3310'. "
            "Empty: the virus check (DA/T 70 4-1, 4-2) is 人工复核, never 通过."
        ),
    )
    ingest_max_package_mb: int = Field(
        20480,
        ge=1,
        description="Largest total unpacked size of one transfer, in MiB (zip/tar bomb guard).",
    )
    ingest_max_entries: int = Field(
        200_000, ge=1, description="Most entries (files and folders) one transfer may unpack to."
    )
    ingest_max_ratio: int = Field(
        200,
        ge=1,
        description="Highest compression ratio accepted for an archive member (bomb guard).",
    )
    ingest_workers: int = Field(
        2, ge=1, description="Threads hashing and identifying files of one transfer in parallel."
    )
    eep_signing_key: Path | None = Field(
        None,
        description=(
            "PEM private key (SM2, RSA, ECDSA or Ed25519) that signs exported EEP packages "
            "(DA/T 48 电子签名). Unset: exported packages are unsigned, and say so."
        ),
    )
    children_page_size: int = Field(
        50, description="Default number of children returned per page in the hierarchy browser."
    )
    archive_code: str = Field(
        "",
        pattern=r"^([0-9]{6})?$",
        description="档案馆代码 of this archive (6 digits, DA/T 18): required at 全宗 level and in exports. Set with `lantai init --archive-code`.",
    )
    archive_name: str = Field("示范市档案馆", description="Name of this archive, used in exports.")
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description=(
            "Public address of this archive's portal (scheme://host[:port], no trailing slash): "
            "certificate QR codes and verification links point to <public_base_url>/verify/<code>."
        ),
    )
    certificate_profile: Literal["sm2", "ed25519", "rsa3072"] = Field(
        "sm2",
        description=(
            "Signature profile of new certificate signing keys: 'sm2' (SM2 with SM3, default), "
            "'ed25519' or 'rsa3072' (RSA-PSS with SHA-256). Takes effect at the next key rotation."
        ),
    )
    certificate_verify_max_mb: int = Field(
        50, ge=1, description="Largest certificate file the public verification accepts, in MiB."
    )
    oai_base_url: str = Field(
        "",
        description=(
            "Public URL of the OAI-PMH endpoint (e.g. https://archive.example.cn/oai), given in "
            "every response; empty: the URL the request came in on."
        ),
    )
    oai_admin_email: str = Field(
        "oai-admin@example.invalid",
        description="adminEmail in the OAI-PMH Identify response (set the archive's real address).",
    )
    oai_page_size: int = Field(
        500, ge=1, le=10_000, description="Records (or headers) per OAI-PMH ListRecords page."
    )
    oai_harvest_timeout: float = Field(
        30.0, gt=0, description="Seconds to wait for one response when harvesting a partner."
    )
    jobs_backend: Literal["inprocess", "redis"] = Field(
        "inprocess",
        description=(
            "Who runs background jobs: 'inprocess' (threads inside `lantai serve`, nothing to "
            "install) or 'redis' (`lantai worker` processes on any host pull jobs from Redis)."
        ),
    )
    jobs_workers: int = Field(
        1, ge=1, description="Worker threads of the in-process job pool of `lantai serve`."
    )
    jobs_lease_seconds: float = Field(
        120.0,
        gt=0,
        description=(
            "A running job's lease; renewed every third of it. A job whose worker died on "
            "another host is taken over once its lease expires."
        ),
    )
    malloc_arena_max: int = Field(
        2,
        ge=0,
        description=(
            "glibc malloc arenas of `lantai serve` and `lantai worker` (and their worker "
            "processes). Few arenas keep a long-running server's memory flat; 0 keeps glibc's "
            "default (8 per core). An explicit MALLOC_ARENA_MAX in the environment wins."
        ),
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Redis of the 'redis' jobs backend."
    )
    redis_namespace: str = Field(
        "lantai", description="Prefix of every Redis key this instance uses (one per instance)."
    )
    asr_model_dir: Path | None = Field(
        None,
        description=(
            "Speech-recognition model directory installed by the operator (Vosk or "
            "faster-whisper/CTranslate2 layout). Unset: audio/video records wait as 待转写."
        ),
    )

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Environment variables, then ``<home>/lantai.env`` for anything they leave unset."""
        first = cls(**overrides)
        env_file = first.instance_env_path
        if env_file.is_file():
            return cls(_env_file=env_file, _env_file_encoding="utf-8", **overrides)
        return first

    @property
    def instance_env_path(self) -> Path:
        return self.resolved_home / "lantai.env"

    def save_instance_values(self, values: dict[str, str]) -> None:
        """Record instance settings (e.g. 档案馆代码) in ``<home>/lantai.env``, keeping other lines."""
        path = self.instance_env_path
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        keys = {f"LANTAI_{k.upper()}": v for k, v in values.items()}
        kept = [ln for ln in lines if ln.split("=", 1)[0].strip() not in keys]
        kept += [f"{k}={v}" for k, v in keys.items()]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(kept) + "\n", encoding="utf-8")

    @property
    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_home / 'lantai.db'}"

    @property
    def resolved_config_dir(self) -> Path:
        return (self.config_dir or self.resolved_home / "config").expanduser().resolve()

    @property
    def secrets_dir(self) -> Path:
        return self.resolved_home / "secrets"

    @property
    def staging_dir(self) -> Path:
        """Where transfers are unpacked and checked before they become AIPs."""
        return self.resolved_home / "staging"

    @property
    def storage_dir(self) -> Path:
        """The default (local filesystem) object store of preserved packages."""
        return self.resolved_home / "storage"

    @property
    def audit_witness_path(self) -> Path:
        return self.resolved_home / "audit" / "witness.log"
