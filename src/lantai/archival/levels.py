"""Levels of description (著录层级) and which level may sit under which."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ALLOWED_PARENTS", "Level"]


class Level(StrEnum):
    """DA/T 18-2022 levels. Values are stored in the database as they are."""

    FONDS = "fonds"  # 全宗: a root; its 档号 is the 全宗号
    SERIES = "series"  # 类别: classification nodes, nestable (门类 → 年度 → 机构 …)
    FILE = "file"  # 案卷 (or 组 for photos): 按卷整理
    ITEM = "item"  # 件: under a 案卷, or directly under a 类别 (按件整理)

    @property
    def label(self) -> str:
        return {"fonds": "全宗", "series": "类别", "file": "案卷", "item": "件"}[self.value]


ALLOWED_PARENTS: dict[Level, frozenset[Level | None]] = {
    Level.FONDS: frozenset({None}),
    Level.SERIES: frozenset({Level.FONDS, Level.SERIES}),
    Level.FILE: frozenset({Level.SERIES}),
    Level.ITEM: frozenset({Level.SERIES, Level.FILE}),
}
