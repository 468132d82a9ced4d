"""The catalogue: create, read, page, update and withdraw units of description.

Every write goes through :meth:`Catalogue.create_record`, :meth:`Catalogue.update_record` or
:meth:`Catalogue.withdraw`; each validates against the category's metadata scheme (DA/T 18-2022
必著 per level, DA/T 46 types and value ranges), checks or assigns the 档号 by the configured rule,
and appends an event in the same transaction. :meth:`Catalogue.create_records` creates a batch
with the same rules (all or none; bulk writes in :mod:`lantai.catalogue.bulk`) and one event per
全宗. Callers pass a session from ``Database.write()``; a
:class:`~lantai.errors.ValidationFailed` leaves nothing written once the transaction rolls back.

Reads filter by the actor's clearance (密级授权): a record above it behaves as if it did not exist.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, insert, literal, select, text, tuple_
from sqlalchemy.orm import Session, aliased

from lantai.archival import ALLOWED_PARENTS, Domain, Level, MetadataScheme
from lantai.archival.archival_code import CodeRule
from lantai.audit import AuditLog, EventType
from lantai.catalogue.bulk import CodeRequest, RowWriter, codes_taken, number_codes
from lantai.catalogue.counters import advance_counter, next_counter
from lantai.errors import Conflict, NotFound, Problem, ValidationFailed
from lantai.security import Actor, Perm
from lantai.store import COLUMN_KEYS, Record, RecordClosure, utcnow

__all__ = ["Catalogue", "ChildrenPage", "CreatedRecord", "Lifecycle", "NewRecord"]

log = logging.getLogger("lantai.catalogue")


class Lifecycle:
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"  # 撤销: hidden from normal views, kept with its history
    DESTROYED = "destroyed"  # 销毁 after approved disposal: metadata kept, content gone


@dataclass(frozen=True)
class ChildrenPage:
    items: list[Record]
    has_children: dict[int, bool]
    next_cursor: str | None
    total: int


# Elements that take part in 档号 rules: when one of them is invalid, the 档号 is not checked.
_CODE_KEYS = frozenset(
    {
        "archival_code",
        "year",
        "retention",
        "org_code",
        "class_code",
        "subclass_code",
        "project_code",
        "catalogue_no",
    }
)


@dataclass(frozen=True)
class _CodePlan:
    """What checking or preparing a 档号 found: problems, or the group and number to use."""

    problems: list[Problem] = field(default_factory=list)
    group: str | None = None
    prefix: str = ""
    given: int | None = None  # the counter value of a 档号 supplied with the record
    placeholder: str | None = None  # a well-formed code of the group, for validating the form


@dataclass(frozen=True, kw_only=True)
class NewRecord:
    """One record to create with :meth:`Catalogue.create_records`."""

    parent_id: int
    level: Level
    values: Mapping[str, Any]
    category: str | None = None
    key: str | None = None  # the caller's name for it (an 电子文件号), kept in the event
    where: str = ""  # where it came from (file and line), put into its problems


@dataclass(frozen=True, kw_only=True)
class CreatedRecord:
    """What :meth:`Catalogue.create_records` made of one :class:`NewRecord`."""

    id: int
    uid: str
    key: str | None
    archival_code: str | None
    parent_id: int


@dataclass(kw_only=True)
class _Prepared:
    """A new record after validation: its values in stored form and how it gets its 档号."""

    level: Level
    parent: Record
    fonds: Record
    category: str | None
    vals: dict[str, Any]
    rule: CodeRule | None
    plan: _CodePlan
    problems: list[Problem]
    unchecked_code: str | None = None  # a given 档号 whose uniqueness is still to be checked


def _taken(code: str) -> Problem:
    return Problem(
        field="档号", value=code, rule="GD-1-8 重复性", message=f"档号「{code}」已被使用"
    )


def _encode_cursor(position: int, record_id: int) -> str:
    return base64.urlsafe_b64encode(f"{position}:{record_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        a, b = raw.split(":")
        return int(a), int(b)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "分页游标无效", [Problem(field="cursor", value=cursor, message="无法解析")]
        ) from exc


def _security_base(value: str | None) -> str:
    return (value or "公开").split("★")[0]


class Catalogue:
    """Catalogue operations over one archival domain and one audit log."""

    def __init__(
        self,
        domain: Domain,
        audit: AuditLog,
        *,
        archive_code: str = "",
        today: Callable[[], date] = date.today,
    ) -> None:
        self.domain = domain
        self.audit = audit
        self.archive_code = archive_code
        self.today = today
        self._levels = domain.table("security_level")

    # -- visibility ----------------------------------------------------------------------------

    def visible(self, actor: Actor, *, include_withdrawn: bool = False) -> ColumnElement[bool]:
        cond: ColumnElement[bool] = Record.security_rank <= actor.clearance_rank
        if not include_withdrawn:
            cond = and_(cond, Record.lifecycle == Lifecycle.ACTIVE)
        return cond

    def security_rank(self, level: str | None) -> int:
        entry = self._levels.get(_security_base(level))
        return entry.rank if entry is not None and entry.rank is not None else 0

    # -- reads ---------------------------------------------------------------------------------

    def get(
        self, session: Session, actor: Actor, record_id: int, *, include_withdrawn: bool = False
    ) -> Record:
        actor.require(Perm.CATALOGUE_RECORD_READ)
        rec = session.scalar(
            select(Record).where(
                Record.id == record_id, self.visible(actor, include_withdrawn=include_withdrawn)
            )
        )
        if rec is None:
            raise NotFound(f"条目 {record_id} 不存在或无权查看")
        return rec

    def get_by_code(self, session: Session, actor: Actor, code: str) -> Record:
        actor.require(Perm.CATALOGUE_RECORD_READ)
        rec = session.scalar(
            select(Record).where(Record.archival_code == code.strip(), self.visible(actor))
        )
        if rec is None:
            raise NotFound(f"档号「{code}」不存在或无权查看")
        return rec

    def children(
        self,
        session: Session,
        actor: Actor,
        parent_id: int | None,
        *,
        cursor: str | None = None,
        limit: int = 50,
    ) -> ChildrenPage:
        """One page of a node's children in (position, id) order; ``parent_id=None`` lists fonds."""
        actor.require(Perm.CATALOGUE_RECORD_READ)
        limit = max(1, min(limit, 500))
        if parent_id is not None:
            self.get(session, actor, parent_id)
        parent_cond = (
            Record.parent_id.is_(None) if parent_id is None else Record.parent_id == parent_id
        )
        vis = self.visible(actor)
        q = select(Record).where(parent_cond, vis)
        if cursor:
            pos, rid = _decode_cursor(cursor)
            q = q.where(tuple_(Record.position, Record.id) > tuple_(literal(pos), literal(rid)))
        rows = list(session.scalars(q.order_by(Record.position, Record.id).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        has_children: dict[int, bool] = {}
        if rows:
            child = aliased(Record)
            ids = [r.id for r in rows]
            with_kids = session.scalars(
                select(Record.id).where(
                    Record.id.in_(ids),
                    exists().where(
                        child.parent_id == Record.id, child.lifecycle == Lifecycle.ACTIVE
                    ),
                )
            ).all()
            has_children = {i: i in set(with_kids) for i in ids}
        total = (
            session.scalar(select(func.count()).select_from(Record).where(parent_cond, vis)) or 0
        )
        next_cursor = _encode_cursor(rows[-1].position, rows[-1].id) if more else None
        return ChildrenPage(rows, has_children, next_cursor, int(total))

    def ancestors(self, session: Session, record_id: int) -> list[Record]:
        """The record's ancestors, the fonds first (the record itself excluded)."""
        q = (
            select(Record)
            .join(RecordClosure, RecordClosure.ancestor_id == Record.id)
            .where(RecordClosure.descendant_id == record_id, RecordClosure.depth > 0)
            .order_by(RecordClosure.depth.desc())
        )
        return list(session.scalars(q))

    def subtree_size(self, session: Session, record_id: int) -> int:
        return int(
            session.scalar(select(func.count()).where(RecordClosure.ancestor_id == record_id)) or 0
        )

    def subtree_outline(
        self, session: Session, actor: Actor, root_id: int
    ) -> list[tuple[int, int | None, int]]:
        """(id, parent_id, position) of every visible active record under and including ``root_id``.

        One query over the closure table; exports build their depth-first order from it in memory
        instead of querying node by node.
        """
        actor.require(Perm.CATALOGUE_RECORD_READ)
        q = (
            select(Record.id, Record.parent_id, Record.position)
            .join(RecordClosure, RecordClosure.descendant_id == Record.id)
            .where(RecordClosure.ancestor_id == root_id, self.visible(actor))
        )
        return [(int(a), None if b is None else int(b), int(c)) for a, b, c in session.execute(q)]

    # -- helpers for writes ----------------------------------------------------------------------

    def scheme_for(self, category: str | None) -> MetadataScheme:
        return self.domain.scheme_for(category)

    def _visible_parent(self, session: Session, actor: Actor, parent_id: int) -> Record:
        cached = self._cache(session)["records"].get(parent_id)
        if (
            cached is not None
            and cached.security_rank <= actor.clearance_rank
            and cached.lifecycle == Lifecycle.ACTIVE
        ):
            return cached  # type: ignore[no-any-return]
        parent = self.get(session, actor, parent_id)
        self._remember(session, parent)
        return parent

    def fonds_of(self, session: Session, record: Record) -> Record:
        if record.level == Level.FONDS:
            return record
        records = self._cache(session)["records"]
        if record.fonds_id in records:
            return records[record.fonds_id]  # type: ignore[no-any-return]
        fonds = session.get(Record, record.fonds_id) if record.fonds_id else None
        if fonds is not None:
            records[fonds.id] = fonds
        if fonds is None:  # pragma: no cover - guarded by create_record
            raise NotFound(f"条目 {record.id} 没有所属全宗")
        return fonds

    def rule_for(self, session: Session, record: Record, parent: Record | None) -> CodeRule | None:
        if record.level not in (Level.FILE, Level.ITEM):
            return None
        fonds = self.fonds_of(session, record)
        return self.domain.codes.rule_for(
            fonds_code=fonds.archival_code or "",
            category=record.category,
            level=Level(record.level),
            parent_level=Level(parent.level) if parent is not None else None,
        )

    def coerce_values(
        self, scheme: MetadataScheme, level: Level, raw: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[Problem], frozenset[str]]:
        """Input values → stored form, the problems, and the keys whose input was bad.

        Unknown element keys are reported, never silently dropped.
        """
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        bad: set[str] = set()
        for key, value in raw.items():
            el = scheme.element(key)
            if el is None:
                problems.append(
                    Problem(
                        field=key,
                        rule="著录方案",
                        message=f"著录方案「{scheme.title}」中没有此著录项",
                    )
                )
                bad.add(key)
                continue
            coerced, problem = scheme.coerce(level, key, value)
            if problem is not None:
                problems.append(problem)
                bad.add(key)
            values[key] = coerced
        return values, problems, frozenset(bad)

    def _code_values(
        self, fonds: Record, category: str | None, values: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {**values, "fonds_code": fonds.archival_code, "category": category}

    def _apply_values(self, rec: Record, values: Mapping[str, Any]) -> None:
        extra = dict(rec.fields or {})
        for key, value in values.items():
            if key in COLUMN_KEYS:
                setattr(rec, key, value)
            elif value is None or value == "":
                extra.pop(key, None)
            else:
                extra[key] = value
        rec.fields = extra
        rec.security_rank = self.security_rank(rec.security_level)

    # -- writes ----------------------------------------------------------------------------------

    def create_fonds(
        self,
        session: Session,
        actor: Actor,
        *,
        code: str,
        name: str,
        responsible: str,
        values: Mapping[str, Any] | None = None,
    ) -> Record:
        """Create a 全宗. Its 档号 is the 全宗号; 档案馆代码 defaults to this archive's."""
        actor.require(Perm.CATALOGUE_FONDS_MANAGE)
        scheme = self.scheme_for(None)
        problems: list[Problem] = []
        code = code.strip().upper()
        pattern = self.domain.raw.archival_codes.fields["fonds_code"].pattern or "[A-Z0-9]{4}"
        if not re.fullmatch(pattern, code):
            problems.append(
                Problem(
                    field="全宗号",
                    value=code,
                    rule="DA/T 13-2022 全宗号",
                    message="全宗号应为 4 位字母或数字（如 Z109、J001）",
                )
            )
        raw: dict[str, Any] = {"archive_code": self.archive_code, **(values or {})}
        if not raw.get("archive_code"):
            problems.append(
                Problem(
                    field="档案馆代码",
                    rule="DA/T 18-2022 全宗级必著",
                    message="本馆档案馆代码未设置：请运行 `lantai init --archive-code 六位代码`（或设置 LANTAI_ARCHIVE_CODE）",
                )
            )
        raw.update({"archival_code": code, "title": name, "responsible": responsible})
        vals, more, bad = self.coerce_values(scheme, Level.FONDS, raw)
        problems += more
        problems += scheme.validate(Level.FONDS, vals, today=self.today(), skip=bad)
        if session.scalar(select(Record.id).where(Record.archival_code == code)) is not None:
            problems.append(
                Problem(
                    field="全宗号", value=code, rule="唯一性", message=f"全宗号「{code}」已存在"
                )
            )
        if problems:
            raise ValidationFailed("全宗未创建", problems)
        rec = Record(
            uid=str(uuid.uuid4()),
            level=Level.FONDS.value,
            parent_id=None,
            fonds_id=None,
            category=None,
        )
        rec.position = self._next_position(session, None)
        self._apply_values(rec, vals)
        self._stamp(rec, actor, created=True)
        session.add(rec)
        session.flush()
        rec.fonds_id = rec.id
        self._insert_closure(session, rec.id, None)
        self.audit.append(
            session,
            actor=actor.username,
            action=EventType.CATALOGUE_FONDS_CREATED,
            object_type="record",
            object_id=rec.id,
            detail={"archival_code": code, "title": name, "responsible": responsible},
        )
        return rec

    def create_record(
        self,
        session: Session,
        actor: Actor,
        *,
        parent_id: int,
        level: Level,
        values: Mapping[str, Any],
        category: str | None = None,
        event_detail: Mapping[str, Any] | None = None,
    ) -> Record:
        """Create a 类别, 案卷 or 件 under ``parent_id``.

        A 档号 in ``values`` is checked against the rule (GD-1-7) and advances the group counter;
        without one, the next number of the group is assigned. Raises ValidationFailed listing
        every problem; the caller's transaction must then be rolled back.
        """
        actor.require(Perm.CATALOGUE_RECORD_CREATE)
        prep = self._prepare(
            session,
            actor,
            NewRecord(parent_id=parent_id, level=level, values=values, category=category),
            taken=lambda code: self._code_taken(session, code),
        )
        if prep.problems:
            raise ValidationFailed("条目未保存", _dedupe(prep.problems))
        # Everything is valid: only now take a number, so a refused record never uses one.
        rule, plan, vals, parent = prep.rule, prep.plan, prep.vals, prep.parent
        skipped: list[str] = []
        if rule is not None and plan.group is not None:
            if plan.given is not None:
                advance_counter(session, plan.group, plan.given)
            else:
                vals["archival_code"], skipped = self._allocate(
                    session, rule, plan.group, plan.prefix
                )
        rec = Record(
            uid=str(uuid.uuid4()),
            level=prep.level.value,
            parent_id=parent.id,
            fonds_id=prep.fonds.id,
            category=prep.category,
        )
        rec.code_rule = rule.id if rule is not None else None
        rec.position = self._next_position(session, parent.id)
        self._apply_values(rec, vals)
        self._stamp(rec, actor, created=True)
        session.add(rec)
        session.flush()
        self._insert_closure(session, rec.id, parent.id)
        self._remember(session, rec)
        self.audit.append(
            session,
            actor=actor.username,
            action=EventType.CATALOGUE_RECORD_CREATED,
            object_type="record",
            object_id=rec.id,
            detail={
                "level": prep.level.value,
                "archival_code": rec.archival_code,
                "parent_id": parent.id,
                "title": rec.title,
                **({"skipped_codes": skipped} if skipped else {}),
                **(event_detail or {}),
            },
        )
        return rec

    def create_records(
        self,
        session: Session,
        actor: Actor,
        drafts: Sequence[NewRecord],
        *,
        event_detail: Mapping[str, Any] | None = None,
    ) -> list[CreatedRecord]:
        """Create many 类别, 案卷 or 件 at once (an ingest, an import): all of them or none.

        Every draft is checked first with exactly the rules of :meth:`create_record` (levels,
        门类, scheme, 必著, 档号 form and uniqueness — also among the drafts); if any fails,
        ValidationFailed lists the problems of all of them, each with ``file`` set to the
        draft's ``where`` (or ``row`` to its 1-based position), and nothing is written. Then the
        档号 are numbered in draft order per counter group (rows locked as
        :func:`~lantai.catalogue.counters.lock_counters` describes: consecutive, never reused,
        safe under concurrent writers), the rows and closure rows are inserted in a few
        statements, and ONE ``catalogue:records:created`` event per 全宗 records the batch: id
        range, count, ``records`` as ``[id, key, 档号]`` and the caller's ``event_detail``.
        Parents must exist before the call (a draft cannot be the parent of another).
        """
        actor.require(Perm.CATALOGUE_RECORD_CREATE)
        if not drafts:
            return []
        preps: list[_Prepared | None] = []
        problems: list[Problem] = []

        def report(n: int, found: Sequence[Problem]) -> None:
            where = drafts[n].where
            for p in _dedupe(found):
                problems.append(
                    dc_replace(
                        p,
                        file=p.file or where,
                        row=p.row if p.row is not None or where else n + 1,
                    )
                )

        for n, draft in enumerate(drafts):
            try:
                preps.append(self._prepare(session, actor, draft, taken=None))
            except ValidationFailed as exc:
                preps.append(None)
                report(n, exc.problems)
        given = [(n, p.unchecked_code) for n, p in enumerate(preps) if p and p.unchecked_code]
        in_db = codes_taken(session, [code for _, code in given])
        seen: set[str] = set()
        for n, code in given:
            prep = preps[n]
            assert prep is not None
            if code in in_db or code in seen:
                prep.problems.append(_taken(code))
            seen.add(code)
        for n, prep in enumerate(preps):
            if prep is not None and prep.problems:
                report(n, prep.problems)
        if problems:
            raise ValidationFailed("条目未保存", problems)
        ready = [p for p in preps if p is not None]
        skipped = self._allocate_many(session, ready)
        session.flush()  # parents created earlier in this transaction must be rows by now
        writer = RowWriter(session)
        ids = writer.ids(session, len(ready))
        now = utcnow()
        rows: list[dict[str, Any]] = []
        for record_id, prep in zip(ids, ready, strict=True):
            row: dict[str, Any] = {
                "id": record_id,
                "uid": str(uuid.uuid4()),
                "level": prep.level.value,
                "parent_id": prep.parent.id,
                "fonds_id": prep.fonds.id,
                "position": self._next_position(session, prep.parent.id),
                "category": prep.category,
                "code_rule": prep.rule.id if prep.rule is not None else None,
                "lifecycle": Lifecycle.ACTIVE,
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "created_by": actor.username,
                "updated_by": actor.username,
            }
            extra: dict[str, Any] = {}
            for key, value in prep.vals.items():
                if key in COLUMN_KEYS:
                    row[key] = value
                elif value is not None and value != "":
                    extra[key] = value
            row["fields"] = extra
            row["security_rank"] = self.security_rank(row.get("security_level"))
            rows.append(row)
        writer.insert(session, rows)
        writer.closure(session, ids)
        created = [
            CreatedRecord(
                id=row["id"],
                uid=row["uid"],
                key=draft.key,
                archival_code=row.get("archival_code"),
                parent_id=row["parent_id"],
            )
            for row, draft in zip(rows, drafts, strict=True)
        ]
        by_fonds: dict[int, list[int]] = {}
        for n, row in enumerate(rows):
            by_fonds.setdefault(row["fonds_id"], []).append(n)
        for fonds_id, members in by_fonds.items():
            batch_ids = [rows[n]["id"] for n in members]
            lost = {rows[n]["archival_code"]: skipped[n] for n in members if n in skipped}
            if lost:
                log.warning("档号 counters skipped numbers already in use: %s", lost)
            self.audit.append(
                session,
                actor=actor.username,
                action=EventType.CATALOGUE_RECORDS_CREATED,
                object_type="fonds",
                object_id=fonds_id,
                detail={
                    **(event_detail or {}),
                    "count": len(members),
                    "first_id": min(batch_ids),
                    "last_id": max(batch_ids),
                    "parent_ids": sorted({rows[n]["parent_id"] for n in members}),
                    "records": [
                        [created[n].id, created[n].key, created[n].archival_code] for n in members
                    ],
                    **({"skipped_codes": lost} if lost else {}),
                },
            )
        return created

    def _prepare(
        self,
        session: Session,
        actor: Actor,
        draft: NewRecord,
        *,
        taken: Callable[[str], bool] | None,
    ) -> _Prepared:
        """Validate one new record (writes nothing). ``taken=None`` leaves the uniqueness of a
        given 档号 to the caller (``unchecked_code``); the problems are in the result, except
        a wrong level, which raises at once."""
        level, category = draft.level, draft.category
        if level is Level.FONDS:
            raise ValidationFailed(
                "全宗请使用「新建全宗」",
                [Problem(field="著录层级", message="全宗不能挂在其他条目下")],
            )
        parent = self._visible_parent(session, actor, draft.parent_id)
        problems: list[Problem] = []
        if Level(parent.level) not in ALLOWED_PARENTS[level]:
            raise ValidationFailed(
                "条目未保存",
                [
                    Problem(
                        field="著录层级",
                        rule="层级关系",
                        message=f"{Level(parent.level).label}下不能直接建立{level.label}",
                    )
                ],
            )
        cat = category or parent.category
        if category and parent.category and category != parent.category:
            problems.append(
                Problem(
                    field="门类",
                    value=category,
                    rule="层级关系",
                    message=f"与上级条目的门类「{parent.category}」不一致",
                )
            )
        if cat is not None and cat not in self.domain.table("category"):
            problems.append(
                Problem(
                    field="门类",
                    value=cat,
                    rule="门类代码表（DA/T 13-2022）",
                    message="不是有效的门类代码",
                )
            )
            cat = None
        if level in (Level.FILE, Level.ITEM) and cat is None:
            problems.append(
                Problem(
                    field="门类",
                    rule="DA/T 13-2022",
                    message="案卷和件须属于一个门类（可在上级类别上设置）",
                )
            )
        scheme = self.scheme_for(cat)
        raw = {
            **scheme.defaults(level),
            **{k: v for k, v in draft.values.items() if v is not None and v != ""},
        }
        vals, more, bad = self.coerce_values(scheme, level, raw)
        problems += more
        if level is Level.ITEM and vals.get("year") is None and isinstance(vals.get("date"), str):
            digits = vals["date"].strip("[]")[:4]
            if digits.isdigit():
                vals["year"] = int(digits)
        fonds = self.fonds_of(session, parent)
        rule = None
        if cat and level in (Level.FILE, Level.ITEM):
            rule = self.domain.codes.rule_for(
                fonds_code=fonds.archival_code or "",
                category=cat,
                level=level,
                parent_level=Level(parent.level),
            )
        plan = _CodePlan()
        unchecked: str | None = None
        if rule is not None and not bad & _CODE_KEYS:
            clean = {k: v for k, v in vals.items() if k not in bad}
            plan = self._plan_code(session, rule, fonds, cat, clean, parent, taken=taken)
            problems += plan.problems
            if taken is None and plan.given is not None:
                unchecked = clean["archival_code"]
        elif rule is None and vals.get("archival_code"):
            if taken is None:
                unchecked = vals["archival_code"]
            elif taken(vals["archival_code"]):
                problems.append(_taken(vals["archival_code"]))
        if plan.placeholder is not None:
            vals["archival_code"] = plan.placeholder  # validated for form only; numbered below
        problems += scheme.validate(level, vals, today=self.today(), skip=bad)
        return _Prepared(
            level=level,
            parent=parent,
            fonds=fonds,
            category=cat,
            vals=vals,
            rule=rule,
            plan=plan,
            problems=problems,
            unchecked_code=unchecked,
        )

    def _plan_code(
        self,
        session: Session,
        rule: CodeRule,
        fonds: Record,
        category: str | None,
        vals: Mapping[str, Any],
        parent: Record,
        *,
        taken: Callable[[str], bool] | None = None,
    ) -> _CodePlan:
        """Check a given 档号 (GD-1-7, GD-1-8), or prepare the prefix of a new one. Writes nothing.

        ``taken`` answers GD-1-8 for a given 档号; ``None`` leaves that check to the caller.
        """
        given = vals.get("archival_code")
        parent_code = parent.archival_code if rule.has_parent else None
        code_values = self._code_values(fonds, category, vals)
        if given:
            problems = rule.check(given, code_values, parent_code)
            if problems:
                return _CodePlan(problems=problems)
            parsed = rule.parse(given)
            assert parsed is not None
            if taken is not None and taken(given):
                return _CodePlan(problems=[_taken(given)])
            return _CodePlan(group=rule.group_key(parsed.prefix), given=parsed.counter)
        problems = rule.check_values(code_values, parent_code)
        if problems:
            return _CodePlan(problems=problems)
        prefix = rule.render_prefix(code_values, parent_code)
        return _CodePlan(
            group=rule.group_key(prefix),
            prefix=prefix,
            placeholder=rule.format(prefix, rule.counter.start),
        )

    def _allocate_many(self, session: Session, preps: Sequence[_Prepared]) -> dict[int, list[str]]:
        """Number the 档号 of validated records in order (sets ``vals["archival_code"]``).

        Returns the numbers skipped per record because already in use (see :meth:`_allocate`).
        """
        requests = [
            CodeRequest(
                rule=p.rule,
                group=p.plan.group,
                prefix=p.plan.prefix,
                given=p.plan.given,
                given_code=p.vals.get("archival_code") if p.plan.given is not None else None,
            )
            if p.rule is not None and p.plan.group is not None
            else None
            for p in preps
        ]
        codes, skipped = number_codes(session, requests)
        self._cache(session)["groups"].update(r.group for r in requests if r is not None)
        for n, code in codes.items():
            preps[n].vals["archival_code"] = code
        return skipped

    def _allocate(
        self, session: Session, rule: CodeRule, group: str, prefix: str
    ) -> tuple[str, list[str]]:
        """The next free number of ``group`` and the numbers skipped because already taken.

        A number can be taken outside the counter only by a 档号 written with another rule or by
        direct database edits; each skip is reported in the creation event and the log.
        """
        groups = self._cache(session)["groups"]
        skipped: list[str] = []
        for _ in range(10_000):
            n = next_counter(session, group, rule.counter.start, known=group in groups)
            groups.add(group)
            try:
                code = rule.format(prefix, n)
            except ValueError as exc:
                raise ValidationFailed(
                    "条目未保存",
                    [Problem(field="档号", rule="GD-1-7 档号规范性", message=str(exc))],
                ) from exc
            if not self._code_taken(session, code):
                if skipped:
                    log.warning(
                        "档号 counter %s skipped numbers already in use: %s", group, skipped
                    )
                return code, skipped
            skipped.append(code)
        raise Conflict(f"档号组「{prefix}」中连续 10000 个号码均已被占用")  # pragma: no cover

    @staticmethod
    def _code_taken(session: Session, code: str) -> bool:
        return session.scalar(select(Record.id).where(Record.archival_code == code)) is not None

    # Per-transaction caches, keyed on the transaction so nothing survives a commit: records
    # already loaded (parent, fonds) and the next sibling position per parent. An import of
    # thousands of rows under one parent would otherwise reload the parent and the fonds and run
    # MAX(position) for every row.
    def _cache(self, session: Session) -> dict[str, Any]:
        txn = session.get_transaction()
        cache = session.info.get("lantai_catalogue_cache")
        if cache is None or cache["txn"] is not txn:
            cache = {"txn": txn, "records": {}, "positions": {}, "groups": set()}
            session.info["lantai_catalogue_cache"] = cache
        return cache

    def _remember(self, session: Session, rec: Record) -> None:
        self._cache(session)["records"][rec.id] = rec

    def update_record(
        self,
        session: Session,
        actor: Actor,
        record_id: int,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Record:
        """Change element values. Empty strings clear an element. Records an event with old → new."""
        actor.require(Perm.CATALOGUE_RECORD_EDIT)
        rec = self.get(session, actor, record_id)
        if expected_version is not None and rec.version != expected_version:
            raise Conflict(
                f"条目已被他人修改（当前版本 {rec.version}，您编辑的是版本 {expected_version}），请刷新后重试"
            )
        level = Level(rec.level)
        scheme = self.scheme_for(rec.category)
        current = rec.values()
        problems: list[Problem] = []
        coerced, more, bad = self.coerce_values(scheme, level, dict(changes))
        problems += more
        new_values = {**current, **coerced}
        diff = {k: [current.get(k), v] for k, v in coerced.items() if current.get(k) != v}
        if not diff:
            return rec
        if level is Level.FONDS and "archival_code" in diff:
            problems.append(
                Problem(field="全宗号", rule="DA/T 13-2022 稳定性", message="全宗号不能修改")
            )
        new_rank = self.security_rank(new_values.get("security_level"))
        if new_rank > actor.clearance_rank:
            problems.append(
                Problem(
                    field="密级",
                    rule="密级授权",
                    message="不能将条目密级设为高于本人密级授权的级别",
                )
            )
        parent = session.get(Record, rec.parent_id) if rec.parent_id else None
        rule = self.rule_for(session, rec, parent)
        code = new_values.get("archival_code")
        group: str | None = None
        counter: int | None = None
        if rule is not None and code and not bad & _CODE_KEYS:
            fonds = self.fonds_of(session, rec)
            parent_code = parent.archival_code if parent is not None and rule.has_parent else None
            problems += rule.check(
                code, self._code_values(fonds, rec.category, new_values), parent_code
            )
            if "archival_code" in diff:
                parsed = rule.parse(code)
                if parsed is not None:
                    group, counter = rule.group_key(parsed.prefix), parsed.counter
        if "archival_code" in diff and code:
            clash = session.scalar(
                select(Record.id).where(Record.archival_code == code, Record.id != rec.id)
            )
            if clash is not None:
                problems.append(
                    Problem(
                        field="档号",
                        value=code,
                        rule="GD-1-8 重复性",
                        message=f"档号「{code}」已被条目 {clash} 使用",
                    )
                )
        problems += scheme.validate(level, new_values, today=self.today(), skip=bad)
        if problems:
            raise ValidationFailed("修改未保存", _dedupe(problems))
        if group is not None and counter is not None:
            advance_counter(session, group, counter)
        self._apply_values(rec, {k: coerced[k] for k in diff})
        rec.version += 1
        self._stamp(rec, actor, created=False)
        self.audit.append(
            session,
            actor=actor.username,
            action=EventType.CATALOGUE_RECORD_UPDATED,
            object_type="record",
            object_id=rec.id,
            detail={"archival_code": rec.archival_code, "version": rec.version, "changes": diff},
        )
        return rec

    def withdraw(self, session: Session, actor: Actor, record_id: int, *, reason: str) -> Record:
        """撤销: hide a record (and keep it). Records with active children cannot be withdrawn."""
        actor.require(Perm.CATALOGUE_RECORD_WITHDRAW)
        rec = self.get(session, actor, record_id)
        if not reason.strip():
            raise ValidationFailed(
                "撤销须填写理由", [Problem(field="理由", rule="审计要求", message="理由不能为空")]
            )
        kids = session.scalar(
            select(func.count()).where(
                Record.parent_id == rec.id, Record.lifecycle == Lifecycle.ACTIVE
            )
        )
        if kids:
            raise Conflict(f"该条目下还有 {kids} 个下级条目，不能撤销")
        rec.lifecycle = Lifecycle.WITHDRAWN
        rec.version += 1
        self._stamp(rec, actor, created=False)
        self.audit.append(
            session,
            actor=actor.username,
            action=EventType.CATALOGUE_RECORD_WITHDRAWN,
            object_type="record",
            object_id=rec.id,
            detail={"archival_code": rec.archival_code, "reason": reason.strip()},
        )
        return rec

    def restore(self, session: Session, actor: Actor, record_id: int) -> Record:
        actor.require(Perm.CATALOGUE_RECORD_WITHDRAW)
        rec = self.get(session, actor, record_id, include_withdrawn=True)
        if rec.lifecycle != Lifecycle.WITHDRAWN:
            raise Conflict("只有已撤销的条目可以恢复")
        rec.lifecycle = Lifecycle.ACTIVE
        rec.version += 1
        self._stamp(rec, actor, created=False)
        self.audit.append(
            session,
            actor=actor.username,
            action=EventType.CATALOGUE_RECORD_RESTORED,
            object_type="record",
            object_id=rec.id,
            detail={"archival_code": rec.archival_code},
        )
        return rec

    def mark_destroyed(
        self, session: Session, actor: Actor, record_id: int, *, batch: str, reason: str
    ) -> Record:
        """销毁: lifecycle ``destroyed`` after an approved disposal; the metadata is kept.

        Only the disposal workflow calls this (``lantai.disposal``), after it removed the content;
        the event (object ``record``) makes the search index drop the record.
        """
        actor.require(Perm.DISPOSAL_EXECUTE)
        rec = session.get(Record, record_id)
        if rec is None:
            raise NotFound(f"条目 {record_id} 不存在")
        if rec.lifecycle == Lifecycle.DESTROYED:
            return rec
        rec.lifecycle = Lifecycle.DESTROYED
        rec.version += 1
        self._stamp(rec, actor, created=False)
        self.audit.append(
            session,
            actor=actor.username,
            action=EventType.CATALOGUE_RECORD_DESTROYED,
            object_type="record",
            object_id=rec.id,
            detail={"archival_code": rec.archival_code, "batch": batch, "reason": reason},
        )
        return rec

    def ensure_series(
        self,
        session: Session,
        actor: Actor,
        parent_id: int,
        title: str,
        *,
        category: str | None = None,
        year: int | None = None,
        event_detail: Mapping[str, Any] | None = None,
    ) -> Record:
        """The 类别 child of ``parent_id`` with this title, created if missing (used by imports).

        Concurrent callers get the same series: SQLite write transactions are serialised, and on
        PostgreSQL a transaction-level advisory lock on (parent, title) orders them.
        """
        if session.get_bind().dialect.name == "postgresql":
            key = int.from_bytes(
                hashlib.sha256(f"{parent_id}|{title}".encode()).digest()[:8], "big", signed=True
            )
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        existing = session.scalar(
            select(Record).where(
                Record.parent_id == parent_id,
                Record.level == Level.SERIES.value,
                Record.title == title,
                Record.lifecycle == Lifecycle.ACTIVE,
            )
        )
        if existing is not None:
            return existing
        values: dict[str, Any] = {"title": title}
        if year is not None:
            values["year"] = year
        return self.create_record(
            session,
            actor,
            parent_id=parent_id,
            level=Level.SERIES,
            values=values,
            category=category,
            event_detail=event_detail,
        )

    # -- internals -----------------------------------------------------------------------------

    def _next_position(self, session: Session, parent_id: int | None) -> int:
        positions = self._cache(session)["positions"]
        if parent_id not in positions:
            cond = (
                Record.parent_id.is_(None) if parent_id is None else Record.parent_id == parent_id
            )
            top = session.scalar(select(func.max(Record.position)).where(cond))
            positions[parent_id] = int(top or 0)
        positions[parent_id] += 1
        return int(positions[parent_id])

    @staticmethod
    def _insert_closure(session: Session, record_id: int, parent_id: int | None) -> None:
        """The record's own row and one row per ancestor, in one statement."""
        columns = ["ancestor_id", "descendant_id", "depth"]
        own = select(literal(record_id), literal(record_id), literal(0))
        if parent_id is None:
            session.execute(insert(RecordClosure).from_select(columns, own))
            return
        ancestors = select(
            RecordClosure.ancestor_id, literal(record_id), RecordClosure.depth + 1
        ).where(RecordClosure.descendant_id == parent_id)
        session.execute(insert(RecordClosure).from_select(columns, ancestors.union_all(own)))

    @staticmethod
    def _stamp(rec: Record, actor: Actor, *, created: bool) -> None:
        now = utcnow()
        rec.updated_at = now
        rec.updated_by = actor.username
        if created:
            rec.created_at = now
            rec.created_by = actor.username


def _dedupe(problems: Sequence[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    out: list[Problem] = []
    for p in problems:
        key = (p.field, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
