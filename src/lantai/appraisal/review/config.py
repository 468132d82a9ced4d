"""The review rounds file (``data/review_rounds.yaml``): rounds, who may decide, the rules.

Validated by pydantic; every problem names the file and the path inside it. An instance replaces
the whole file with ``<home>/config/open_review_rounds.yaml``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lantai.datafiles import load_model
from lantai.security import Perm

__all__ = ["ROUNDS_FILE_NAME", "ReviewRules", "Round", "load_review_rules"]

ROUNDS_FILE_NAME = "open_review_rounds.yaml"


class Round(BaseModel):
    """One review round: 初审, 复审, 终审 …"""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    name: str = Field(min_length=1, max_length=16)
    perm: str
    skippable: bool = False
    unit_opinion_required: bool = False

    @field_validator("perm")
    @classmethod
    def _known_perm(cls, v: str) -> str:
        if v not in {p.value for p in Perm}:
            raise ValueError(f"未知权限「{v}」")
        return v

    @property
    def permission(self) -> Perm:
        return Perm(self.perm)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


class ReviewRules(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    results: tuple[str, ...] = ("开放", "控制", "延期开放")
    postpone: str = "延期开放"
    max_postpone_years: int = Field(25, ge=1, le=100)
    distinct_reviewers: bool = True
    reason_required_for: tuple[str, ...] = ("控制", "延期开放")
    rounds: tuple[Round, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ReviewRules:
        if "开放" not in self.results:
            raise ValueError("results 须含「开放」")
        if len(set(self.results)) != len(self.results):
            raise ValueError("results 有重复")
        if self.postpone not in self.results:
            raise ValueError(f"postpone「{self.postpone}」不在 results 中")
        for r in self.reason_required_for:
            if r not in self.results:
                raise ValueError(f"reason_required_for 中的「{r}」不在 results 中")
        ids = [r.id for r in self.rounds]
        if len(set(ids)) != len(ids):
            raise ValueError("轮次 id 有重复")
        names = [r.name for r in self.rounds]
        if len(set(names)) != len(names):
            raise ValueError("轮次名称有重复")
        if self.rounds[-1].skippable:
            raise ValueError(f"最后一轮「{self.rounds[-1].name}」不能设为可跳过")
        return self


def load_review_rules(path: Path | None = None, *, config_dir: Path | None = None) -> ReviewRules:
    if path is None and config_dir is not None and (config_dir / ROUNDS_FILE_NAME).is_file():
        path = config_dir / ROUNDS_FILE_NAME
    path = path or Path(str(resources.files("lantai.appraisal") / "data" / "review_rounds.yaml"))
    return load_model(path, ReviewRules, title="开放审核轮次配置")
