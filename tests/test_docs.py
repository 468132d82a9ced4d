"""The docs keep up with the code: every setting, permission and event type is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from lantai.audit.events import PREMIS_EVENT_TYPES, EventType
from lantai.security.perms import Perm
from lantai.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_setting_is_documented(name: str) -> None:
    assert f"### LANTAI_{name.upper()}\n" in (DOCS / "configuration.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("perm", list(Perm))
def test_permission_is_documented(perm: Perm) -> None:
    assert f"`{perm.value}`" in (DOCS / "permissions.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("event", list(EventType))
def test_event_is_documented_and_mapped(event: EventType) -> None:
    assert f"`{event.value}`" in (DOCS / "events.md").read_text(encoding="utf-8")
    assert event in PREMIS_EVENT_TYPES


@pytest.mark.parametrize("event", list(EventType))
def test_event_has_a_chinese_label_in_the_audit_log(event: EventType) -> None:
    from lantai.web.pages.audit import ACTION_LABELS

    assert ACTION_LABELS.get(event), f"{event.value} has no label on the audit page"


def test_user_guide_exists_in_chinese() -> None:
    guide = (DOCS / "guide" / "用户指南.md").read_text(encoding="utf-8")
    for heading in ("登录", "目录浏览", "著录", "导入", "导出", "审计", "移交接收", "检索"):
        assert heading in guide
