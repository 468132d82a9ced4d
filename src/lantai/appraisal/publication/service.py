"""上网审查 (pre-publication review): batches of 开放 records, decisions, publishing, unpublishing.

Nothing reaches the public portal without an approved publication decision:

1. :meth:`PublicationService.create_batch` puts 开放, active 案卷/件 (by id, or all not yet
   published of a 全宗, optionally of one 年度 and level) into a batch; a 案卷 brings its 开放 件.
2. :meth:`decide` approves or rejects items (some, or every pending one in bulk) with the reviewer,
   the time and the reason. Approval re-checks each record (only 开放 + active records can be
   published: a 控制 record is refused with the rule named), masks its catalogue values and full
   texts (:mod:`.masking`) into ``published_records`` / ``published_texts`` and appends ONE
   ``catalogue:records:published`` event naming the records, which the search indexer applies.
3. :meth:`unpublish` takes records off the portal (``catalogue:records:unpublished``);
   :meth:`reconcile` does it for every published record that is no longer 开放 or active. The
   public search filter and the OAI-PMH sets also check 开放 + active at query time, so a record
   whose 开放标识 changed is never public even before it is reconciled.

The archival master is never altered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lantai.appraisal.publication.config import PublicationConfig, load_config
from lantai.appraisal.publication.masking import MaskedRecord, PublicMasker
from lantai.appraisal.screening.records import screener_for
from lantai.audit import EventType
from lantai.errors import NotFound, Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import (
    PublicationBatch,
    PublicationDecision,
    PublicationItem,
    PublicationState,
    PublishedRecord,
    PublishedText,
    Record,
    RecordClosure,
    RecordText,
    utcnow,
)

__all__ = [
    "OPEN",
    "DecisionReport",
    "PublicationService",
    "publish_all_open",
    "publishable_problem",
]

OPEN = "开放"
LEVELS = ("file", "item")
_LEVEL_LABELS = {"file": "案卷", "item": "件"}


def _name(rec: Record) -> str:
    return f"「{rec.archival_code}」" if rec.archival_code else f"条目 {rec.id}"


def publishable_problem(rec: Record, field: str = "record_ids") -> Problem | None:
    """Why ``rec`` cannot be published (None when it can): only active 开放 案卷/件."""
    rule = "上网审查：只有开放的档案才能上网公布（档案法第二十八条）"
    if rec.lifecycle != "active":
        msg = f"{_name(rec)}已撤销或销毁，不能上网公布"
    elif rec.level not in LEVELS:
        msg = f"{_name(rec)}不是案卷或件，开放档案目录只公布案卷级与文件级条目"
    elif rec.open_status != OPEN:
        status = rec.open_status or "未审核"
        if status == "控制":
            msg = f"{_name(rec)}的开放标识为「控制」：控制使用的档案不得上网公布"
        else:
            msg = f"{_name(rec)}的开放标识为「{status}」，须经开放审核为「开放」后才能上网公布"
    else:
        return None
    return Problem(message=msg, rule=rule, field=field, value=str(rec.id))


@dataclass(frozen=True)
class DecisionReport:
    batch_id: int
    decision: str
    record_ids: list[int]
    masked_spans: int = 0


class PublicationService:
    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self._masker: PublicMasker | None = None
        self._config: PublicationConfig | None = None

    @property
    def config(self) -> PublicationConfig:
        if self._config is None:
            self._config = load_config(config_dir=self.inst.settings.resolved_config_dir)
        return self._config

    @property
    def masker(self) -> PublicMasker:
        if self._masker is None:
            self._masker = PublicMasker(screener_for(self.inst), self.config)
        return self._masker

    # -- batches -----------------------------------------------------------------------------------

    def create_batch(
        self,
        session: Session,
        actor: Actor,
        *,
        title: str,
        record_ids: Sequence[int] = (),
        fonds: str | None = None,
        year: int | None = None,
        level: Literal["file", "item"] | None = None,
        note: str = "",
    ) -> PublicationBatch:
        """A batch of the given records, or of every unpublished 开放 案卷/件 of ``fonds``."""
        actor.require(Perm.PUBLICATION_REVIEW)
        title = title.strip()
        if not title:
            raise ValidationFailed(
                "请填写批次名称", [Problem(message="批次名称不能为空", field="title", rule="必填")]
            )
        fonds_id: int | None = None
        if fonds:
            fonds_id = session.scalar(
                select(Record.id).where(
                    Record.level == "fonds", Record.archival_code == fonds.strip().upper()
                )
            )
            if fonds_id is None:
                raise NotFound(f"全宗「{fonds}」不存在")
        if record_ids:
            records = self._explicit(session, record_ids)
        elif fonds_id is not None:
            records = self._of_fonds(session, fonds_id, year, level)
        else:
            raise ValidationFailed(
                "请指定条目或全宗",
                [Problem(message="须给出条目（record_ids）或全宗号（fonds）", field="record_ids")],
            )
        records = self._with_items(session, records)
        if not records:
            raise ValidationFailed(
                "没有可提交上网审查的条目",
                [
                    Problem(
                        message="所选范围内没有尚未公布、也不在其他批次中待审的开放案卷或件",
                        field="fonds" if fonds else "record_ids",
                        rule="上网审查",
                    )
                ],
            )
        batch = PublicationBatch(
            title=title[:200], fonds_id=fonds_id, note=note, created_by=actor.username
        )
        session.add(batch)
        session.flush()
        for rec in records:
            session.add(PublicationItem(batch_id=batch.id, record_id=rec.id, reason=""))
        session.flush()
        self.inst.audit.append(
            session,
            actor=actor.username,
            action=EventType.PUBLICATION_BATCH_CREATED,
            object_type="publication_batch",
            object_id=batch.id,
            detail={"title": batch.title, "record_ids": [r.id for r in records], "fonds": fonds},
        )
        return batch

    def _explicit(self, session: Session, record_ids: Sequence[int]) -> list[Record]:
        ids = list(dict.fromkeys(int(i) for i in record_ids))
        found = {r.id: r for r in session.scalars(select(Record).where(Record.id.in_(ids)))}
        problems: list[Problem] = []
        for rid in ids:
            rec = found.get(rid)
            if rec is None:
                problems.append(
                    Problem(message=f"条目 {rid} 不存在", field="record_ids", value=str(rid))
                )
            elif (p := publishable_problem(rec)) is not None:
                problems.append(p)
        published = self._published_ids(session, ids)
        for rid in ids:
            if rid in published and rid in found:
                problems.append(
                    Problem(
                        message=f"{_name(found[rid])}已上网公布",
                        field="record_ids",
                        value=str(rid),
                        rule="上网审查",
                    )
                )
        if problems:
            raise ValidationFailed("有条目不能提交上网审查", problems)
        return [found[i] for i in ids]

    def _of_fonds(
        self, session: Session, fonds_id: int, year: int | None, level: str | None
    ) -> list[Record]:
        q = select(Record).where(
            Record.fonds_id == fonds_id,
            Record.lifecycle == "active",
            Record.open_status == OPEN,
            Record.level.in_([level] if level else LEVELS),
        )
        if year is not None:
            q = q.where(Record.year == year)
        return list(session.scalars(q.order_by(Record.id)))

    def _with_items(self, session: Session, records: list[Record]) -> list[Record]:
        """Add the 开放 件 of each 案卷; drop the published ones and those pending elsewhere."""
        out = {r.id: r for r in records}
        files = [r.id for r in records if r.level == "file"]
        for i in range(0, len(files), 500):
            rows = session.scalars(
                select(Record)
                .join(RecordClosure, RecordClosure.descendant_id == Record.id)
                .where(
                    RecordClosure.ancestor_id.in_(files[i : i + 500]),
                    RecordClosure.depth > 0,
                    Record.lifecycle == "active",
                    Record.open_status == OPEN,
                    Record.level == "item",
                )
            )
            for r in rows:
                out.setdefault(r.id, r)
        ids = list(out)
        skip = self._published_ids(session, ids) | self._pending_ids(session, ids)
        return [r for rid, r in sorted(out.items()) if rid not in skip]

    @staticmethod
    def _published_ids(session: Session, ids: Sequence[int]) -> set[int]:
        out: set[int] = set()
        for i in range(0, len(ids), 500):
            out.update(
                session.scalars(
                    select(PublishedRecord.record_id).where(
                        PublishedRecord.record_id.in_(ids[i : i + 500]),
                        PublishedRecord.state == PublicationState.PUBLISHED.value,
                    )
                )
            )
        return out

    @staticmethod
    def _pending_ids(session: Session, ids: Sequence[int]) -> set[int]:
        out: set[int] = set()
        for i in range(0, len(ids), 500):
            out.update(
                session.scalars(
                    select(PublicationItem.record_id).where(
                        PublicationItem.record_id.in_(ids[i : i + 500]),
                        PublicationItem.decision == PublicationDecision.PENDING.value,
                    )
                )
            )
        return out

    def batches(self, session: Session, actor: Actor) -> list[PublicationBatch]:
        actor.require(Perm.PUBLICATION_READ)
        return list(session.scalars(select(PublicationBatch).order_by(PublicationBatch.id.desc())))

    def batch(self, session: Session, actor: Actor, batch_id: int) -> PublicationBatch:
        actor.require(Perm.PUBLICATION_READ)
        batch = session.get(PublicationBatch, batch_id)
        if batch is None:
            raise NotFound(f"上网审查批次 {batch_id} 不存在")
        return batch

    def items(
        self, session: Session, actor: Actor, batch_id: int
    ) -> list[tuple[PublicationItem, Record]]:
        self.batch(session, actor, batch_id)
        rows = session.execute(
            select(PublicationItem, Record)
            .join(Record, Record.id == PublicationItem.record_id)
            .where(PublicationItem.batch_id == batch_id)
            .order_by(Record.level, Record.archival_code, Record.id)
        )
        return [(i, r) for i, r in rows]

    # -- decisions ---------------------------------------------------------------------------------

    def decide(
        self,
        session: Session,
        actor: Actor,
        batch_id: int,
        decision: Literal["approve", "reject"],
        *,
        reason: str = "",
        record_ids: Sequence[int] | None = None,
    ) -> DecisionReport:
        """Approve or reject pending items of a batch (``record_ids``, or all pending ones)."""
        actor.require(Perm.PUBLICATION_REVIEW)
        if decision not in ("approve", "reject"):
            raise ValidationFailed(
                "审查结论有误",
                [
                    Problem(
                        message="结论应为 approve（准予上网）或 reject（不予上网）",
                        field="decision",
                        value=str(decision),
                    )
                ],
            )
        reason = reason.strip()
        if decision == "reject" and not reason:
            raise ValidationFailed(
                "请填写不予上网的理由",
                [Problem(message="不予上网须说明理由", field="reason", rule="必填")],
            )
        if session.get(PublicationBatch, batch_id) is None:
            raise NotFound(f"上网审查批次 {batch_id} 不存在")
        items = self._pending(session, batch_id, record_ids)
        if not items:
            raise ValidationFailed(
                "没有待审查的条目",
                [Problem(message=f"批次 {batch_id} 中没有待审查的条目", field="record_ids")],
            )
        now = utcnow()
        ids = [i.record_id for i in items]
        if decision == "reject":
            for item in items:
                item.decision = PublicationDecision.REJECTED.value
                item.reviewer, item.decided_at, item.reason = actor.username, now, reason
            self.inst.audit.append(
                session,
                actor=actor.username,
                action=EventType.PUBLICATION_ITEMS_REJECTED,
                object_type="publication_batch",
                object_id=batch_id,
                detail={"record_ids": ids, "reason": reason},
            )
            return DecisionReport(batch_id, "reject", ids)
        records = {r.id: r for r in session.scalars(select(Record).where(Record.id.in_(ids)))}
        problems = [p for rid in ids if (p := publishable_problem(records[rid])) is not None]
        if problems:
            raise ValidationFailed("有条目不能准予上网", problems)
        masked = self._mask(session, [records[i] for i in ids])
        spans = 0
        for item in items:
            m = masked[item.record_id]
            self._publish(session, actor, records[item.record_id], m, batch_id)
            item.decision = PublicationDecision.APPROVED.value
            item.reviewer, item.decided_at, item.reason = actor.username, now, reason
            item.masked_spans = m.spans
            spans += m.spans
        session.flush()
        self.inst.audit.append(
            session,
            actor=actor.username,
            action=EventType.CATALOGUE_RECORDS_PUBLISHED,
            object_type="publication_batch",
            object_id=batch_id,
            detail={"record_ids": ids, "reason": reason, "masked_spans": spans},
        )
        return DecisionReport(batch_id, "approve", ids, spans)

    def _pending(
        self, session: Session, batch_id: int, record_ids: Sequence[int] | None
    ) -> list[PublicationItem]:
        items = list(
            session.scalars(
                select(PublicationItem)
                .where(PublicationItem.batch_id == batch_id)
                .order_by(PublicationItem.id)
            )
        )
        if record_ids is None:
            return [i for i in items if i.decision == PublicationDecision.PENDING.value]
        by_record = {i.record_id: i for i in items}
        problems: list[Problem] = []
        out: list[PublicationItem] = []
        for rid in dict.fromkeys(int(r) for r in record_ids):
            item = by_record.get(rid)
            if item is None:
                problems.append(
                    Problem(
                        message=f"条目 {rid} 不在批次 {batch_id} 中",
                        field="record_ids",
                        value=str(rid),
                    )
                )
            elif item.decision != PublicationDecision.PENDING.value:
                label = PublicationDecision(item.decision).label
                problems.append(
                    Problem(
                        message=f"条目 {rid} 已审查（{label}）", field="record_ids", value=str(rid)
                    )
                )
            else:
                out.append(item)
        if problems:
            raise ValidationFailed("有条目不能审查", problems)
        return out

    def _mask(self, session: Session, records: Sequence[Record]) -> dict[int, MaskedRecord]:
        texts: dict[int, list[tuple[str, str]]] = {}
        ids = [r.id for r in records]
        for i in range(0, len(ids), 500):
            rows = session.execute(
                select(RecordText.record_id, RecordText.part, RecordText.text)
                .where(RecordText.record_id.in_(ids[i : i + 500]))
                .order_by(RecordText.record_id, RecordText.id)
            )
            for rid, part, text in rows:
                texts.setdefault(int(rid), []).append((part, text))
        return {
            r.id: self.masker.mask_record(
                r.title, r.responsible, r.fields or {}, texts.get(r.id, [])
            )
            for r in records
        }

    def _publish(
        self, session: Session, actor: Actor, rec: Record, m: MaskedRecord, batch_id: int | None
    ) -> None:
        now = utcnow()
        row = session.get(PublishedRecord, rec.id)
        if row is None:
            row = PublishedRecord(record_id=rec.id, published_by=actor.username, title="")
            session.add(row)
        row.state = PublicationState.PUBLISHED.value
        row.batch_id = batch_id
        row.published_at = row.datestamp = now
        row.published_by = actor.username
        row.unpublished_at, row.unpublished_by, row.unpublish_reason = None, None, ""
        row.title, row.responsible, row.fields = m.title, m.responsible, m.fields
        row.masked_spans = m.spans
        session.flush()
        session.execute(delete(PublishedText).where(PublishedText.record_id == rec.id))
        for part, text in m.texts:
            session.add(PublishedText(record_id=rec.id, part=part, text=text))

    # -- taking records off the portal ---------------------------------------------------------------

    def unpublish(
        self, session: Session, actor: Actor, record_ids: Iterable[int], *, reason: str
    ) -> list[int]:
        """Take published records off the portal; returns the ids that were published."""
        actor.require(Perm.PUBLICATION_REVIEW)
        reason = reason.strip()
        if not reason:
            raise ValidationFailed(
                "请填写撤下理由",
                [Problem(message="撤下公布须说明理由", field="reason", rule="必填")],
            )
        return self._unpublish(session, actor.username, list(record_ids), reason)

    def _unpublish(
        self, session: Session, who: str, record_ids: list[int], reason: str
    ) -> list[int]:
        rows = list(
            session.scalars(
                select(PublishedRecord).where(
                    PublishedRecord.record_id.in_(record_ids),
                    PublishedRecord.state == PublicationState.PUBLISHED.value,
                )
            )
        )
        if not rows:
            return []
        now = utcnow()
        for row in rows:
            row.state = PublicationState.UNPUBLISHED.value
            row.unpublished_at = row.datestamp = now
            row.unpublished_by, row.unpublish_reason = who, reason
        ids = sorted(r.record_id for r in rows)
        session.flush()
        self.inst.audit.append(
            session,
            actor=who,
            action=EventType.CATALOGUE_RECORDS_UNPUBLISHED,
            object_type="record" if len(ids) == 1 else "records",
            object_id=ids[0] if len(ids) == 1 else f"{ids[0]}..{ids[-1]}",
            detail={"record_ids": ids, "reason": reason},
        )
        return ids

    def reconcile(self, session: Session, actor: Actor) -> list[int]:
        """Unpublish every published record that is no longer 开放 or no longer active."""
        actor.require(Perm.PUBLICATION_REVIEW)
        rows = session.execute(
            select(Record.id, Record.open_status, Record.lifecycle)
            .join(PublishedRecord, PublishedRecord.record_id == Record.id)
            .where(
                PublishedRecord.state == PublicationState.PUBLISHED.value,
                (Record.open_status.is_(None))
                | (Record.open_status != OPEN)
                | (Record.lifecycle != "active"),
            )
        ).all()
        out: list[int] = []
        by_reason: dict[str, list[int]] = {}
        for rid, status, lifecycle in rows:
            why = (
                "条目已撤销或销毁"
                if lifecycle != "active"
                else f"开放标识已变更为「{status or '未审核'}」"
            )
            by_reason.setdefault(why, []).append(int(rid))
        for why, ids in sorted(by_reason.items()):
            out += self._unpublish(session, actor.username, ids, f"自动撤下：{why}")
        return out


def publish_all_open(
    inst: Instance, actor: Actor, *, reason: str, service: PublicationService | None = None
) -> list[int]:
    """Put every 开放 案卷/件 not yet published into one batch per 全宗 and approve it.

    For the demo data and for tests that need a public catalogue; an archive reviews its batches
    item by item instead. Returns the ids published.
    """
    svc = service or PublicationService(inst)
    out: list[int] = []
    with inst.db.write() as s:
        fonds = s.execute(
            select(Record.archival_code)
            .where(Record.level == "fonds", Record.lifecycle == "active")
            .order_by(Record.archival_code)
        ).scalars()
        for code in list(fonds):
            records = svc._with_items(s, svc._of_fonds(s, _fonds_id(s, code), None, None))
            if not records:
                continue
            batch = svc.create_batch(
                s, actor, title=f"{code} 开放档案上网公布", record_ids=[r.id for r in records]
            )
            out += svc.decide(s, actor, batch.id, "approve", reason=reason).record_ids
    return out


def _fonds_id(session: Session, code: str | None) -> int:
    fid = session.scalar(
        select(Record.id).where(Record.level == "fonds", Record.archival_code == code)
    )
    assert fid is not None
    return int(fid)
