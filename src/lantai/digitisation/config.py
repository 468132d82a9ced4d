"""The digitisation rules file (``data/digitisation.yaml``): QC thresholds and OCR settings.

An instance may override the shipped file with ``<config_dir>/digitisation.yaml``; every problem
in it is reported in Chinese by :func:`lantai.datafiles.load_model`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lantai.datafiles import load_model
from lantai.errors import InputError

__all__ = ["CONFIG_FILE_NAME", "DigitisationConfig", "OcrSettings", "Profile", "load_config"]

CONFIG_FILE_NAME = "digitisation.yaml"
Severity = Literal["error", "warning"]
CHECKS = (
    "unreadable",
    "low_dpi",
    "no_dpi",
    "colour_mode",
    "format",
    "skew",
    "blank",
    "duplicate",
    "page_count",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Profile(_Strict):
    label: str
    min_dpi: int = Field(ge=50, le=4800)
    colours: list[str] = Field(min_length=1)


class QcSettings(_Strict):
    max_skew_degrees: float = Field(gt=0, le=45)
    blank_max_ink: float = Field(ge=0, lt=1)
    duplicate_max_distance: int = Field(ge=0, le=128)
    severity: dict[str, Severity]

    @model_validator(mode="after")
    def _all_checks(self) -> QcSettings:
        missing = [c for c in CHECKS if c not in self.severity]
        unknown = [c for c in self.severity if c not in CHECKS]
        if missing or unknown:
            raise ValueError(
                f"severity 须且只须列出检查项 {'、'.join(CHECKS)}"
                f"（缺少：{'、'.join(missing) or '无'}；未知：{'、'.join(unknown) or '无'}）"
            )
        return self


class OcrSettings(_Strict):
    default_engine: Literal["rapidocr", "tesseract"]
    low_confidence: float = Field(gt=0, le=1)
    render_dpi: int = Field(ge=100, le=1200)
    max_side: int = Field(ge=500, le=10000)
    det_max_side: int = Field(1024, ge=320, le=10000)
    rec_batch: int = Field(1, ge=1, le=64)
    threads: int = Field(ge=1, le=64)
    tesseract_languages: dict[Literal["simplified", "traditional", "vertical"], str]
    pdf_dpi: int = Field(ge=72, le=600)


class DigitisationConfig(_Strict):
    version: Literal[1]
    profiles: dict[str, Profile] = Field(min_length=1)
    formats: list[str] = Field(min_length=1)
    qc: QcSettings
    ocr: OcrSettings

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            raise InputError(
                f"扫描用途（profile）「{name}」未定义，可选：{'、'.join(self.profiles)}"
            ) from None


def shipped_config_path() -> Path:
    return Path(str(resources.files("lantai.digitisation") / "data" / CONFIG_FILE_NAME))


def load_config(path: Path | None = None, *, config_dir: Path | None = None) -> DigitisationConfig:
    """``path``; else the instance's ``digitisation.yaml``; else the shipped file."""
    if path is None and config_dir is not None and (config_dir / CONFIG_FILE_NAME).is_file():
        path = config_dir / CONFIG_FILE_NAME
    return load_model(path or shipped_config_path(), DigitisationConfig, title="数字化规则")
