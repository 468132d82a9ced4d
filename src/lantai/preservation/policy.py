"""The format migration policy as data: which source formats are converted, which are kept.

``data/migration_policy.yaml`` ships the default; ``<config_dir>/migration_policy.yaml``
replaces it. A rule matches a file by PRONOM PUID, extension or MIME type; the first matching
rule wins; ``action: convert`` names a converter and its export filter, ``action: keep`` says the
format is already fit for long-term preservation (TIFF, JPEG, PNG, WAV, MP3, PDF/A, OFD …).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lantai.datafiles import load_model

__all__ = ["POLICY_FILE_NAME", "MigrationPolicy", "Rule", "load_migration_policy"]

POLICY_FILE_NAME = "migration_policy.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    puids: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    mimes: tuple[str, ...] = ()


class Rule(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    label: str = Field(min_length=1)
    match: Match
    action: Literal["convert", "keep"]
    converter: Literal["libreoffice"] | None = None
    filter: str | None = Field(None, pattern=r"^[a-z_]+_pdf_Export$")

    @model_validator(mode="after")
    def _converter(self) -> Rule:
        if self.action == "convert" and (self.converter is None or self.filter is None):
            raise ValueError(f"规则「{self.name}」为 convert，须指定 converter 与 filter")
        return self

    def matches(self, puid: str | None, path: str, mime: str | None) -> bool:
        ext = path.rpartition(".")[2].lower() if "." in path.rpartition("/")[2] else ""
        return bool(
            (puid and puid in self.match.puids)
            or (ext and ext in self.match.extensions)
            or (mime and mime.split(";")[0].strip() in self.match.mimes)
        )


class MigrationPolicy(_Strict):
    version: int
    rules: tuple[Rule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> MigrationPolicy:
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("规则名称（name）重复")
        return self

    def rule_for(self, puid: str | None, path: str, mime: str | None) -> Rule | None:
        return next((r for r in self.rules if r.matches(puid, path, mime)), None)


def load_migration_policy(config_dir: Path | None = None) -> MigrationPolicy:
    path = Path(str(resources.files("lantai.preservation") / "data" / POLICY_FILE_NAME))
    if config_dir is not None and (config_dir / POLICY_FILE_NAME).is_file():
        path = config_dir / POLICY_FILE_NAME
    return load_model(path, MigrationPolicy, title="格式迁移策略")
