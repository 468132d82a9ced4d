"""Builders for catalogue rows used across tests (import with ``from factories import …``)."""

from __future__ import annotations

from typing import Any

from lantai.archival import Level
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import Record

__all__ = ["create_fonds", "create_series", "item_values"]


def create_fonds(inst: Instance, actor: Actor, code: str = "Z109", **values: Any) -> Record:
    with inst.db.write() as s:
        return inst.catalogue.create_fonds(
            s,
            actor,
            code=code,
            name=values.pop("name", "某市人民政府办公室"),
            responsible=values.pop("responsible", "某市人民政府办公室"),
            values={"date": "1949-2024", "custody_history": "2010年整体移交进馆", **values},
        )


def create_series(
    inst: Instance,
    actor: Actor,
    parent_id: int,
    title: str = "文书档案",
    category: str | None = "WS",
) -> Record:
    with inst.db.write() as s:
        return inst.catalogue.create_record(
            s,
            actor,
            parent_id=parent_id,
            level=Level.SERIES,
            values={"title": title},
            category=category,
        )


def item_values(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": "关于印发2011年工作要点的通知",
        "responsible": "某市人民政府办公室",
        "date": "20110305",
        "retention": "Y",
        "org_code": "BGS",
        "doc_number": "市府办发〔2011〕12号",
        "pages": 4,
    }
    values.update(overrides)
    return values
