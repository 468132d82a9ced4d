"""Working days: weekends, statutory holidays and 调休 working days (data)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from lantai.errors import ConfigError
from lantai.federation.config import load_calendar, load_federation_config
from lantai.federation.workdays import WorkCalendar


def test_weekends_are_skipped() -> None:
    cal = WorkCalendar()
    friday = date(2026, 3, 6)
    assert cal.add_workdays(friday, 4) == date(2026, 3, 12)  # Mon–Thu
    assert cal.add_workdays(friday, 0) == friday
    assert cal.workdays_between(friday, date(2026, 3, 12)) == 4
    assert cal.workdays_between(date(2026, 3, 12), friday) == -4


def test_packaged_holidays_and_adjusted_working_days() -> None:
    cal = load_calendar()
    # 国庆 2026: 10-01..10-07 off; 10-10 (Saturday) is a working day
    assert not cal.is_workday(date(2026, 10, 1)) and cal.is_workday(date(2026, 10, 10))
    # received Wednesday 2026-09-30: the holiday week is skipped → 10-08, 10-09, 10-10 (Sat), 10-12
    assert cal.add_workdays(date(2026, 9, 30), 4) == date(2026, 10, 12)
    # 春节 2026: 02-15..02-23 off, Saturday 02-14 works
    assert cal.add_workdays(date(2026, 2, 13), 2) == date(2026, 2, 24)


def test_instance_holiday_file_replaces_the_packaged_one(tmp_path: Path) -> None:
    (tmp_path / "holidays.yaml").write_text(
        "version: 1\nholidays:\n  - 2026-03-09\n  - {from: 2026-03-10, to: 2026-03-11}\nworkdays: [2026-03-14]\n",
        encoding="utf-8",
    )
    cal = load_calendar(tmp_path)
    assert cal.add_workdays(date(2026, 3, 6), 2) == date(2026, 3, 13)
    assert cal.add_workdays(date(2026, 3, 6), 3) == date(2026, 3, 14)


def test_bad_holiday_and_config_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "holidays.yaml").write_text(
        "version: 1\nholidays:\n  - {from: 2026-03-10, to: 2026-03-01}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="节假日配置"):
        load_calendar(tmp_path)
    (tmp_path / "federation.yaml").write_text(
        "version: 1\nrecord_types:\n  - {code: a1, label: 甲}\n  - {code: a1, label: 乙}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="跨馆协作配置"):
        load_federation_config(tmp_path)


def test_record_types_are_data() -> None:
    cfg = load_federation_config()
    labels = [t.label for t in cfg.record_types]
    assert labels[:2] == ["婚姻登记", "独生子女"] and "社保" in labels and len(labels) == 12
    assert cfg.record_type("婚姻登记") is cfg.record_type("marriage")
    assert (cfg.deadlines.holding_days, cfg.deadlines.accepting_result_days) == (4, 2)
