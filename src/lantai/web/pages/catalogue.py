"""Catalogue pages: the fonds tree, a record, and the scheme-driven edit and create forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from lantai.archival import ALLOWED_PARENTS, Level, MetadataScheme
from lantai.archival.scheme import OBLIGATION_LABELS, Element
from lantai.errors import Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import Record
from lantai.web.deps import get_instance, require
from lantai.web.pages.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
RecordId = Annotated[int, Path(ge=1, le=2**62)]
FIELD_PREFIX = "f__"


def _field_rows(
    inst: Instance, scheme: MetadataScheme, level: Level, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """What the view and the form show for each element at this level."""
    rows = []
    for el in scheme.elements_for(level):
        value = values.get(el.key)
        display = "" if value is None else str(value)
        if el.table and value is not None and el.type_at(level) == "code":
            display = inst.domain.table(el.table).label(str(value))
        rows.append(
            {
                "el": el,
                "kind": el.type_at(level),
                "value": "" if value is None else str(value),
                "display": display,
                "obligation": el.obligation_at(level),
                "obligation_label": OBLIGATION_LABELS.get(el.obligation_at(level) or "", ""),
                "options": _options(inst, el),
            }
        )
    return rows


def _options(inst: Instance, el: Element) -> list[tuple[str, str]]:
    if not el.table:
        return []
    table = inst.domain.table(el.table)
    out = []
    for e in table.entries:
        label = e.display if e.display == e.code else f"{e.display}（{e.code}）"
        if e.legacy:
            label += "〔旧期限，仅用于存量档案〕"
        out.append((e.code, label))
    return out


def _problems_by_key(
    scheme: MetadataScheme, problems: list[Problem]
) -> tuple[dict[str, list[str]], list[Problem]]:
    by_key: dict[str, list[str]] = {}
    general: list[Problem] = []
    for p in problems:
        el = scheme.element_by_name(p.field) if p.field else None
        if el is not None:
            by_key.setdefault(el.key, []).append(p.message + (f"（{p.rule}）" if p.rule else ""))
        else:
            general.append(p)
    return by_key, general


@router.get("/browse", response_class=HTMLResponse)
def browse(request: Request, actor: Actor = require(Perm.CATALOGUE_RECORD_READ)) -> Response:
    return render(request, "browse.html", actor)


@router.get("/records/{record_id}", response_class=HTMLResponse)
def record_page(
    record_id: RecordId,
    request: Request,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    actor: Actor = require(Perm.CATALOGUE_RECORD_READ),
) -> Response:
    inst = get_instance(request)
    with inst.db.read() as s:
        rec = inst.catalogue.get(s, actor, record_id)
        ancestors = inst.catalogue.ancestors(s, record_id)
        page = inst.catalogue.children(
            s, actor, record_id, cursor=cursor, limit=inst.settings.children_page_size
        )
        scheme = inst.catalogue.scheme_for(rec.category)
        level = Level(rec.level)
        rows = _field_rows(inst, scheme, level, rec.values())
    child_levels = [lv for lv in Level if lv is not Level.FONDS and level in ALLOWED_PARENTS[lv]]
    return render(
        request,
        "record.html",
        actor,
        rec=rec,
        level=level,
        ancestors=ancestors,
        rows=rows,
        children=page,
        cursor=cursor,
        scheme=scheme,
        category_label=inst.domain.category_label(rec.category),
        child_levels=child_levels,
    )


def _form_values(form: FormData, scheme: MetadataScheme, level: Level) -> dict[str, str]:
    values: dict[str, str] = {}
    for el in scheme.elements_for(level):
        raw = form.get(FIELD_PREFIX + el.key)
        if isinstance(raw, str):
            values[el.key] = raw
    return values


@router.get("/records/{record_id}/edit", response_class=HTMLResponse)
def edit_page(
    record_id: RecordId, request: Request, actor: Actor = require(Perm.CATALOGUE_RECORD_EDIT)
) -> Response:
    inst = get_instance(request)
    with inst.db.read() as s:
        rec = inst.catalogue.get(s, actor, record_id)
        ancestors = inst.catalogue.ancestors(s, record_id)
    scheme = inst.catalogue.scheme_for(rec.category)
    level = Level(rec.level)
    return render(
        request,
        "edit.html",
        actor,
        mode="edit",
        rec=rec,
        level=level,
        ancestors=ancestors,
        rows=_field_rows(inst, scheme, level, rec.values()),
        errors={},
        general=[],
        scheme=scheme,
        action=f"/records/{rec.id}/edit",
        version=rec.version,
    )


@router.post("/records/{record_id}/edit", response_class=HTMLResponse)
async def edit_submit(
    record_id: RecordId, request: Request, actor: Actor = require(Perm.CATALOGUE_RECORD_EDIT)
) -> Response:
    inst = get_instance(request)
    form = await request.form()
    version_raw = form.get("version")
    version = int(version_raw) if isinstance(version_raw, str) and version_raw.isdigit() else None

    def load() -> Record:
        with inst.db.read() as s:
            return inst.catalogue.get(s, actor, record_id)

    rec = await run_in_threadpool(load)
    scheme = inst.catalogue.scheme_for(rec.category)
    level = Level(rec.level)
    submitted = _form_values(form, scheme, level)
    current = {k: ("" if v is None else str(v)) for k, v in rec.values().items()}
    changes = {k: v for k, v in submitted.items() if v.strip() != current.get(k, "")}

    def save() -> None:
        with inst.db.write() as s:
            inst.catalogue.update_record(s, actor, record_id, changes, expected_version=version)

    try:
        await run_in_threadpool(save)
    except ValidationFailed as exc:
        by_key, general = _problems_by_key(scheme, exc.problems)
        with inst.db.read() as s:
            ancestors = inst.catalogue.ancestors(s, record_id)
        shown = {**rec.values(), **submitted}
        return render(
            request,
            "edit.html",
            actor,
            status_code=422,
            mode="edit",
            rec=rec,
            level=level,
            ancestors=ancestors,
            rows=_field_rows(inst, scheme, level, shown),
            errors=by_key,
            general=general,
            summary=exc.message,
            scheme=scheme,
            action=f"/records/{rec.id}/edit",
            version=version or rec.version,
        )
    return RedirectResponse(f"/records/{record_id}?saved=1", status_code=303)


@router.get("/records/{record_id}/new", response_class=HTMLResponse)
def new_page(
    record_id: RecordId,
    request: Request,
    level: Annotated[Level, Query()] = Level.ITEM,
    actor: Actor = require(Perm.CATALOGUE_RECORD_CREATE),
) -> Response:
    inst = get_instance(request)
    with inst.db.read() as s:
        parent = inst.catalogue.get(s, actor, record_id)
        ancestors = [*inst.catalogue.ancestors(s, record_id), parent]
    scheme = inst.catalogue.scheme_for(parent.category)
    defaults: dict[str, Any] = dict(scheme.defaults(level))
    return render(
        request,
        "edit.html",
        actor,
        mode="new",
        rec=parent,
        level=level,
        ancestors=ancestors,
        rows=_field_rows(inst, scheme, level, defaults),
        errors={},
        general=[],
        scheme=scheme,
        action=f"/records/{parent.id}/new?level={level.value}",
        version=None,
        categories=_categories(inst) if parent.category is None else [],
    )


def _categories(inst: Instance) -> list[tuple[str, str]]:
    return [(e.code, f"{e.display}（{e.code}）") for e in inst.domain.table("category").entries]


@router.post("/records/{record_id}/new", response_class=HTMLResponse)
async def new_submit(
    record_id: RecordId,
    request: Request,
    level: Annotated[Level, Query()] = Level.ITEM,
    actor: Actor = require(Perm.CATALOGUE_RECORD_CREATE),
) -> Response:
    inst = get_instance(request)
    form = await request.form()
    category_raw = form.get("category")
    category = category_raw if isinstance(category_raw, str) and category_raw else None

    def load() -> tuple[Record, list[Record]]:
        with inst.db.read() as s:
            parent = inst.catalogue.get(s, actor, record_id)
            return parent, [*inst.catalogue.ancestors(s, record_id), parent]

    parent, ancestors = await run_in_threadpool(load)
    scheme = inst.catalogue.scheme_for(category or parent.category)
    values = {k: v for k, v in _form_values(form, scheme, level).items() if v.strip()}

    def save() -> int:
        with inst.db.write() as s:
            rec = inst.catalogue.create_record(
                s, actor, parent_id=record_id, level=level, values=values, category=category
            )
            return rec.id

    try:
        new_id = await run_in_threadpool(save)
    except ValidationFailed as exc:
        by_key, general = _problems_by_key(scheme, exc.problems)
        return render(
            request,
            "edit.html",
            actor,
            status_code=422,
            mode="new",
            rec=parent,
            level=level,
            ancestors=ancestors,
            rows=_field_rows(inst, scheme, level, values),
            errors=by_key,
            general=general,
            summary=exc.message,
            scheme=scheme,
            action=f"/records/{parent.id}/new?level={level.value}",
            version=None,
            categories=_categories(inst) if parent.category is None else [],
        )
    return RedirectResponse(f"/records/{new_id}?created=1", status_code=303)
