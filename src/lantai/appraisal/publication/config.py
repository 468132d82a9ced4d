"""The publication configuration file (``appraisal/data/publication.yaml``): masks and columns.

Which kinds of screening hits are masked when a record is published, and how (digits kept at
the head and tail, the area code, the surname), and the columns of the exported 开放档案目录.
An instance replaces the whole file with ``<home>/config/publication.yaml``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lantai.datafiles import load_model

__all__ = ["PUBLICATION_FILE_NAME", "Column", "Mask", "PublicationConfig", "load_config"]

PUBLICATION_FILE_NAME = "publication.yaml"
MaskKind = Literal["id_card", "bank_card", "mobile", "landline", "name_context"]


class Mask(BaseModel):
    """How one kind of hit is masked. Digits kept: ``keep_head`` first, ``keep_tail`` last."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keep_head: int = Field(0, ge=0, le=12)
    keep_tail: int = Field(0, ge=0, le=12)
    keep_area_code: bool = False
    keep_surname: bool = False


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=20)


class PublicationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    mask_char: str = Field("*", min_length=1, max_length=1)
    masks: dict[MaskKind, Mask]
    columns: dict[Literal["file", "item"], list[Column]]

    @model_validator(mode="after")
    def _both_levels(self) -> PublicationConfig:
        for level in ("file", "item"):
            cols = self.columns.get(level)
            if not cols:
                raise ValueError(f"columns 缺少 {level}（案卷级/文件级目录的列）")
            keys = [c.key for c in cols]
            if len(set(keys)) != len(keys):
                raise ValueError(f"columns.{level} 有重复的列")
        return self


def load_config(path: Path | None = None, *, config_dir: Path | None = None) -> PublicationConfig:
    if path is None and config_dir is not None and (config_dir / PUBLICATION_FILE_NAME).is_file():
        path = config_dir / PUBLICATION_FILE_NAME
    path = path or Path(str(resources.files("lantai.appraisal") / "data" / PUBLICATION_FILE_NAME))
    return load_model(path, PublicationConfig, title="上网公布配置")
