"""The review rounds of 到期鉴定, as data (``data/rounds.yaml``; instance override in the config dir)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lantai.datafiles import load_model
from lantai.security import Perm

__all__ = ["ROUNDS_FILE_NAME", "DisposalRounds", "Round", "load_rounds"]

ROUNDS_FILE_NAME = "disposal_rounds.yaml"


class Round(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    label: str = Field(min_length=1, max_length=40)
    permission: str

    @field_validator("permission")
    @classmethod
    def _known(cls, value: str) -> str:
        allowed = {Perm.DISPOSAL_REVIEW.value, Perm.DISPOSAL_APPROVE.value}
        if value not in allowed:
            raise ValueError(f"权限须为 {' 或 '.join(sorted(allowed))}，而不是「{value}」")
        return value

    @property
    def perm(self) -> Perm:
        return Perm(self.permission)


class DisposalRounds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    rounds: tuple[Round, ...] = Field(min_length=1, max_length=5)
    distinct_reviewers: bool = True

    @field_validator("rounds")
    @classmethod
    def _last_is_approval(cls, rounds: tuple[Round, ...]) -> tuple[Round, ...]:
        if rounds[-1].permission != Perm.DISPOSAL_APPROVE.value:
            raise ValueError("最后一轮须为审批轮次（disposal:batch:approve）：销毁须经批准")
        if len({r.name for r in rounds}) != len(rounds):
            raise ValueError("轮次名称重复")
        return rounds


def load_rounds(path: Path | None = None, *, config_dir: Path | None = None) -> DisposalRounds:
    if path is None and config_dir is not None and (config_dir / ROUNDS_FILE_NAME).is_file():
        path = config_dir / ROUNDS_FILE_NAME
    path = path or Path(str(resources.files("lantai.disposal") / "data" / "rounds.yaml"))
    return load_model(path, DisposalRounds, title="到期鉴定轮次配置")
