"""The federation data files: record types, deadlines, message timing, the holiday calendar.

``federation.yaml`` and ``holidays.yaml`` are packaged in ``lantai/federation/data``; an instance
replaces either with a file of the same name in its config directory (``<home>/config``).
"""

from __future__ import annotations

import functools
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lantai.datafiles import load_model
from lantai.federation.workdays import WorkCalendar
from lantai.instance import Instance

__all__ = [
    "FederationConfig",
    "RecordType",
    "federation_config",
    "load_calendar",
    "load_federation_config",
    "work_calendar",
]

FEDERATION_FILE = "federation.yaml"
HOLIDAYS_FILE = "holidays.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordType(_Strict):
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
    label: Annotated[str, Field(min_length=1, max_length=32)]
    keywords: tuple[str, ...] = ()


class Deadlines(_Strict):
    accepting_check_days: Annotated[int, Field(ge=1, le=30)] = 2
    holding_days: Annotated[int, Field(ge=1, le=30)] = 4
    accepting_result_days: Annotated[int, Field(ge=1, le=30)] = 2
    remind_days_before: Annotated[int, Field(ge=0, le=10)] = 1


class Messages(_Strict):
    clock_window_seconds: Annotated[float, Field(gt=0, le=86400)] = 300
    request_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 10
    retry_first_seconds: Annotated[float, Field(gt=0)] = 5
    retry_factor: Annotated[float, Field(ge=1)] = 2.0
    retry_max_seconds: Annotated[float, Field(gt=0)] = 300


class Search(_Strict):
    node_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 0.8
    max_hits_per_node: Annotated[int, Field(ge=1, le=200)] = 20


class FederationConfig(_Strict):
    version: int = 1
    record_types: tuple[RecordType, ...] = Field(min_length=1)
    deadlines: Deadlines = Deadlines()
    use_purpose: str = "权益维护"
    messages: Messages = Messages()
    search: Search = Search()

    @model_validator(mode="after")
    def _unique(self) -> FederationConfig:
        codes = [t.code for t in self.record_types]
        if len(codes) != len(set(codes)):
            raise ValueError("record_types 中的 code 不得重复")
        return self

    def record_type(self, code: str) -> RecordType | None:
        return next((t for t in self.record_types if t.code == code or t.label == code), None)


class _Span(_Strict):
    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _order(self) -> _Span:
        if self.to < self.from_:
            raise ValueError("to 不得早于 from")
        return self


class HolidayFile(_Strict):
    version: int = 1
    holidays: tuple[date | _Span, ...] = ()
    workdays: tuple[date, ...] = ()

    def calendar(self) -> WorkCalendar:
        days: set[date] = set()
        for item in self.holidays:
            if isinstance(item, date):
                days.add(item)
            else:
                d = item.from_
                while d <= item.to:
                    days.add(d)
                    d += timedelta(days=1)
        return WorkCalendar(holidays=frozenset(days), workdays=frozenset(self.workdays))


def _data(name: str) -> Path:
    return Path(str(resources.files("lantai.federation") / "data" / name))


def _pick(config_dir: Path | None, name: str) -> Path:
    if config_dir is not None and (config_dir / name).is_file():
        return config_dir / name
    return _data(name)


def load_federation_config(config_dir: Path | None = None) -> FederationConfig:
    return load_model(_pick(config_dir, FEDERATION_FILE), FederationConfig, title="跨馆协作配置")


def load_calendar(config_dir: Path | None = None) -> WorkCalendar:
    return load_model(_pick(config_dir, HOLIDAYS_FILE), HolidayFile, title="节假日配置").calendar()


@functools.lru_cache(maxsize=16)
def _cached_config(path: str, _mtime: int) -> FederationConfig:
    return load_model(Path(path), FederationConfig, title="跨馆协作配置")


@functools.lru_cache(maxsize=16)
def _cached_calendar(path: str, _mtime: int) -> WorkCalendar:
    return load_model(Path(path), HolidayFile, title="节假日配置").calendar()


def federation_config(inst: Instance) -> FederationConfig:
    """The instance's configuration (re-read when the file changes)."""
    path = _pick(inst.settings.resolved_config_dir, FEDERATION_FILE)
    return _cached_config(str(path), path.stat().st_mtime_ns)


def work_calendar(inst: Instance) -> WorkCalendar:
    path = _pick(inst.settings.resolved_config_dir, HOLIDAYS_FILE)
    return _cached_calendar(str(path), path.stat().st_mtime_ns)
