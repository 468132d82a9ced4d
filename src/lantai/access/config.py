"""The access configuration file (``access/data/access.yaml``): vocabularies, 专题库, slots, limits.

利用目的 and 用户类型 come from the statistics code list (档案馆基本情况表 136–140), 专题库 are
filters on the records' ``collections`` element, reading-room slots carry their capacity. An
instance replaces the whole file with ``<home>/config/access.yaml``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lantai.datafiles import load_model

__all__ = [
    "ACCESS_FILE_NAME",
    "AccessConfig",
    "Bucket",
    "Collection",
    "Slot",
    "load_access_config",
]

ACCESS_FILE_NAME = "access.yaml"
UserType = Literal["单位", "个人"]


class Collection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z0-9-]{1,32}$")
    title: str = Field(min_length=1, max_length=40)
    description: str = ""
    values: list[str] = Field(min_length=1)


class Slot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z0-9-]{1,16}$")
    label: str = Field(min_length=1, max_length=40)
    weekdays: list[int] = Field(min_length=1)
    capacity: int = Field(ge=1, le=1000)

    @model_validator(mode="after")
    def _days(self) -> Slot:
        if not set(self.weekdays) <= set(range(1, 8)):
            raise ValueError(f"时段 {self.code}：weekdays 只能是 1–7（周一至周日）")
        return self


class ReadingRoom(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    days_ahead: int = Field(14, ge=1, le=90)
    slots: list[Slot] = Field(min_length=1)


class Viewer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_edge: int = Field(1600, ge=200, le=6000)
    jpeg_quality: int = Field(80, ge=30, le=95)
    pdf_dpi: int = Field(110, ge=50, le=300)
    watermark_opacity: int = Field(70, ge=20, le=200)


class Bucket(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    per_minute: float = Field(gt=0)
    burst: int = Field(ge=1)


class AccessConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    purposes: dict[UserType, list[str]]
    request_kinds: dict[str, str]
    collections: list[Collection]
    reading_room: ReadingRoom
    grant_days: int = Field(30, ge=1, le=365)
    viewer: Viewer = Viewer()
    rate_limits: dict[str, Bucket] = {}

    @model_validator(mode="after")
    def _check(self) -> AccessConfig:
        if set(self.purposes) != {"单位", "个人"}:
            raise ValueError("purposes 须分别列出「单位」与「个人」的利用目的")
        codes = [s.code for s in self.reading_room.slots]
        if len(set(codes)) != len(codes):
            raise ValueError("reading_room.slots 有重复的时段代码")
        keys = [c.key for c in self.collections]
        if len(set(keys)) != len(keys):
            raise ValueError("collections 有重复的 key")
        if not {"查阅", "复制", "出具证明"} <= set(self.request_kinds):
            raise ValueError("request_kinds 须包含 查阅、复制、出具证明")
        return self

    def collection(self, key: str) -> Collection | None:
        return next((c for c in self.collections if c.key == key), None)

    def slot(self, code: str) -> Slot | None:
        return next((s for s in self.reading_room.slots if s.code == code), None)


def _default_path() -> Path:
    return Path(str(resources.files("lantai.access") / "data" / ACCESS_FILE_NAME))


@lru_cache(maxsize=8)
def _load(path: Path) -> AccessConfig:
    return load_model(path, AccessConfig, title="档案利用配置")


def load_access_config(config_dir: Path | None = None) -> AccessConfig:
    """The instance's file when ``<config_dir>/access.yaml`` exists, else the packaged one."""
    if config_dir is not None and (config_dir / ACCESS_FILE_NAME).is_file():
        return _load(config_dir / ACCESS_FILE_NAME)
    return _load(_default_path())
