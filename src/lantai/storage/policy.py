"""The storage policy as data: locations (site, medium, backend) and the copies required.

``data/storage_policy.yaml`` ships the default; ``<config_dir>/storage_policy.yaml`` replaces it
for an instance. :func:`load_policy` validates it (every problem reported in Chinese, with the
path inside the file) and :func:`open_location` builds the store a location names. S3 secrets
are read from the environment variables the location names (``access_key_env``), never from YAML
checked into a repository; a literal ``access_key``/``secret_key`` is accepted for tests.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lantai.datafiles import load_model
from lantai.errors import ConfigError, NotFound
from lantai.settings import Settings
from lantai.storage.base import ObjectStore

__all__ = [
    "POLICY_FILE_NAME",
    "Location",
    "StoragePolicy",
    "load_policy",
    "open_location",
]

POLICY_FILE_NAME = "storage_policy.yaml"

SITE_LABELS = {"本地": "本地", "异地": "异地"}
MEDIUM_LABELS = {
    "disk": "磁盘",
    "object_store": "对象存储",
    "optical_image": "光盘镜像",
    "tape_tar": "磁带式 tar 卷",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalBackend(_Strict):
    type: Literal["local"]
    root: Path
    create: bool = False  # False: a missing root is "unreachable" (an unmounted disk)


class TarBackend(_Strict):
    type: Literal["tar"]
    root: Path
    volume_mb: int = Field(4096, ge=1, le=10_000_000)
    create: bool = False


class S3Backend(_Strict):
    type: Literal["s3"]
    endpoint: str = Field(pattern=r"^https?://")
    bucket: str = Field(min_length=3, max_length=63)
    prefix: str = ""
    region: str = "us-east-1"
    access_key_env: str = "LANTAI_S3_ACCESS_KEY"
    secret_key_env: str = "LANTAI_S3_SECRET_KEY"
    access_key: str | None = None
    secret_key: str | None = None
    part_size_mb: int = Field(64, ge=5, le=5120)
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(60.0, gt=0)
    create_bucket: bool = False


Backend = Annotated[LocalBackend | TarBackend | S3Backend, Field(discriminator="type")]


class Thresholds(_Strict):
    warn_free_percent: float = Field(15, ge=0, le=100)
    critical_free_percent: float = Field(5, ge=0, le=100)


class Location(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    label: str = Field(min_length=1)
    site: Literal["本地", "异地"]
    medium: Literal["disk", "object_store", "optical_image", "tape_tar"]
    primary: bool = False
    backend: Backend
    thresholds: Thresholds | None = None  # default: the policy's

    @property
    def medium_label(self) -> str:
        return MEDIUM_LABELS[self.medium]


class Replication(_Strict):
    max_attempts: int = Field(8, ge=1, le=100)  # attempt n waits n × 30 s (back-off)


class Fixity(_Strict):
    interval_hours: float = Field(168, gt=0)
    workers: int = Field(2, ge=1, le=64)


class Monitor(_Strict):
    interval_minutes: float = Field(15, gt=0)
    timeout_seconds: float = Field(10, gt=0)


class StoragePolicy(_Strict):
    version: int
    locations: tuple[Location, ...] = Field(min_length=1)
    required: tuple[str, ...] = Field(min_length=1)
    thresholds: Thresholds = Thresholds()
    replication: Replication = Replication()
    fixity: Fixity = Fixity()
    monitor: Monitor = Monitor()

    @model_validator(mode="after")
    def _consistent(self) -> StoragePolicy:
        names = [loc.name for loc in self.locations]
        if len(set(names)) != len(names):
            raise ValueError("存储位置名称（name）重复")
        primaries = [loc.name for loc in self.locations if loc.primary]
        if len(primaries) != 1:
            raise ValueError(f"须恰有一个主存储位置（primary: true），现有 {len(primaries)} 个")
        unknown = [r for r in self.required if r not in names]
        if unknown:
            raise ValueError(f"required 中的存储位置未定义：{'、'.join(unknown)}")
        if primaries[0] not in self.required:
            raise ValueError("主存储位置必须列入 required")
        return self

    @property
    def primary(self) -> Location:
        return next(loc for loc in self.locations if loc.primary)

    def location(self, name: str) -> Location:
        for loc in self.locations:
            if loc.name == name:
                return loc
        raise NotFound(f"存储位置「{name}」未在存储策略中定义")

    def required_locations(self) -> list[Location]:
        return [self.location(n) for n in self.required]

    def thresholds_for(self, loc: Location) -> Thresholds:
        return loc.thresholds or self.thresholds


def load_policy(config_dir: Path | None = None, path: Path | None = None) -> StoragePolicy:
    if path is None and config_dir is not None and (config_dir / POLICY_FILE_NAME).is_file():
        path = config_dir / POLICY_FILE_NAME
    path = path or Path(str(resources.files("lantai.storage") / "data" / POLICY_FILE_NAME))
    return load_model(path, StoragePolicy, title="存储策略配置")


def _resolve(settings: Settings, root: Path) -> Path:
    root = root.expanduser()
    return root if root.is_absolute() else settings.resolved_home / root


def open_location(settings: Settings, loc: Location) -> ObjectStore:
    """The store of one location (no I/O beyond creating a local root when allowed)."""
    b = loc.backend
    if isinstance(b, LocalBackend):
        from lantai.storage.local import LocalObjectStore

        return LocalObjectStore(_resolve(settings, b.root), create=b.create)
    if isinstance(b, TarBackend):
        from lantai.storage.tarvolume import TarVolumeStore

        return TarVolumeStore(
            _resolve(settings, b.root), volume_bytes=b.volume_mb << 20, create=b.create
        )
    from lantai.storage.s3 import S3ObjectStore, S3Settings

    access = b.access_key or os.environ.get(b.access_key_env, "")
    secret = b.secret_key or os.environ.get(b.secret_key_env, "")
    if not access or not secret:
        raise ConfigError(
            f"存储位置「{loc.name}」缺少对象存储凭据：请设置环境变量 "
            f"{b.access_key_env} 与 {b.secret_key_env}"
        )
    return S3ObjectStore(
        S3Settings(
            endpoint=b.endpoint,
            bucket=b.bucket,
            prefix=b.prefix,
            region=b.region,
            access_key=access,
            secret_key=secret,
            part_size=b.part_size_mb << 20,
            connect_timeout=b.connect_timeout,
            read_timeout=b.read_timeout,
            create_bucket=b.create_bucket,
        )
    )
