"""民生档案跨馆查档出证: the request state machine, at the 受理馆 and at the 协办/出证馆.

A citizen applies at this node (the 受理馆, side ``accepting``) for a record type held by a
partner (the 协办馆, side ``holding``). Steps and who takes them::

    submitted ──受理馆 staff──▶ forwarded ──(arrives)──▶ received ──协办馆 staff──▶ issued
        │                                                          └────────────▶ not_found
        └──▶ refused            issued / not_found ──受理馆 staff──▶ notified ──▶ collected

Every step is a ``livelihood_steps`` row and an audit event at the node where it happened, and is
sent to the other node (outbox) where the same step is recorded as a remote step with its own
event (``actor = node:<code>``): both ends keep the whole timeline. Deadlines in working days
(federation.yaml, holidays.yaml): the 受理馆 checks within ``accepting_check_days``; the 协办馆
answers within ``holding_days`` of receiving; the 受理馆 informs the applicant within
``accepting_result_days`` of the result arriving. The full 居民身份证号 travels to the 协办馆 (it
searches on it) and is replaced by its masked form on both sides when the request is closed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, func, or_, select, true
from sqlalchemy.orm import Session

from lantai import faults
from lantai.access.accounts import id_key, mask_id
from lantai.access.uselog import Use, log_use
from lantai.appraisal.screening.identity import id18_valid
from lantai.audit import EventType
from lantai.certificates import issue_certificate, key_ring, mask_id_number, verify_pdf
from lantai.certificates.verify import Verdict
from lantai.errors import Conflict, InputError, NotFound, PermissionDenied, Problem
from lantai.federation.config import federation_config, work_calendar
from lantai.federation.identity import require_node
from lantai.federation.messages import Envelope
from lantai.federation.outbox import queue
from lantai.federation.registry import get_partner
from lantai.instance import Instance
from lantai.search.permissions import OPEN
from lantai.security import Actor, Perm
from lantai.store import Citizen, PublicationState, PublishedRecord, Record, RecordText, utcnow
from lantai.store.federation import LivelihoodRequest, LivelihoodStep

__all__ = [
    "STEP_MESSAGE",
    "Application",
    "Candidate",
    "Side",
    "State",
    "apply_remote_step",
    "candidates",
    "collect",
    "deadline_summary",
    "forward",
    "get_request",
    "issue",
    "not_found",
    "notify",
    "refuse",
    "submit",
]

STEP_MESSAGE = "livelihood.step"
_TZ = ZoneInfo("Asia/Shanghai")


class Side(StrEnum):
    ACCEPTING = "accepting"
    HOLDING = "holding"

    @property
    def label(self) -> str:
        return {"accepting": "受理馆", "holding": "出证馆"}[self.value]


class State(StrEnum):
    SUBMITTED = "submitted"
    FORWARDED = "forwarded"
    REFUSED = "refused"
    RECEIVED = "received"
    ISSUED = "issued"
    NOT_FOUND = "not_found"
    NOTIFIED = "notified"
    COLLECTED = "collected"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def side(self) -> Side:
        return (
            Side.HOLDING
            if self in (State.RECEIVED, State.ISSUED, State.NOT_FOUND)
            else Side.ACCEPTING
        )

    @property
    def event(self) -> EventType:
        return EventType(f"livelihood:request:{self.value}")


_LABELS = {
    State.SUBMITTED: "待受理馆审核",
    State.FORWARDED: "已转出证馆",
    State.REFUSED: "不予受理",
    State.RECEIVED: "出证馆查档中",
    State.ISSUED: "已出证",
    State.NOT_FOUND: "查无档案",
    State.NOTIFIED: "已告知申请人",
    State.COLLECTED: "已领取",
}
TRANSITIONS: dict[State, frozenset[State]] = {
    State.SUBMITTED: frozenset({State.FORWARDED, State.REFUSED}),
    State.FORWARDED: frozenset({State.RECEIVED}),
    State.RECEIVED: frozenset({State.ISSUED, State.NOT_FOUND}),
    State.ISSUED: frozenset({State.NOTIFIED}),
    State.NOT_FOUND: frozenset({State.NOTIFIED}),
    State.NOTIFIED: frozenset({State.COLLECTED}),
}
_NOT_SENT = frozenset({State.SUBMITTED, State.REFUSED})  # the 协办馆 never hears of these


def today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(_TZ).date()


def can_move(current: State, new: State, *, has_certificate: bool) -> bool:
    if new not in TRANSITIONS.get(current, frozenset()):
        return False
    return not (new is State.COLLECTED and not has_certificate)


def is_closed(req: LivelihoodRequest) -> bool:
    s = State(req.state)
    return s in (State.REFUSED, State.COLLECTED) or (
        s is State.NOTIFIED and not req.certificate_code
    )


# -- applying ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Application:
    holding_code: str
    record_type: str
    id_number: str
    purpose: str
    description: str = ""


def _id_matches(inst: Instance, citizen: Citizen, id_number: str) -> bool:
    digest = hmac.new(id_key(inst), id_number.upper().encode("ascii"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(digest, citizen.id_hash)


def submit(inst: Instance, session: Session, actor: Actor, app: Application) -> LivelihoodRequest:
    """A citizen's application at this node (the 受理馆); every problem is reported at once."""
    actor.require(Perm.ACCESS_PORTAL_SELF)
    citizen = session.get(Citizen, actor.user_id) if actor.user_id is not None else None
    if citizen is None:
        raise PermissionDenied("跨馆查档须以实名注册的公众账号申请")
    node = require_node(session)
    cfg = federation_config(inst)
    problems: list[Problem] = []
    rtype = cfg.record_type(app.record_type)
    if rtype is None:
        problems.append(
            Problem(
                field="record_type",
                value=app.record_type,
                message="档案类型须为：" + "、".join(t.label for t in cfg.record_types),
            )
        )
    idn = app.id_number.strip().upper()
    if not id18_valid(idn) or not _id_matches(inst, citizen, idn):
        problems.append(
            Problem(
                field="id_number",
                rule="身份核验",
                message="居民身份证号须与实名注册时的一致",
            )
        )
    if not app.purpose.strip() or len(app.purpose) > 200:
        problems.append(Problem(field="purpose", message="查档用途必填，至多 200 字"))
    if len(app.description) > 2000:
        problems.append(Problem(field="description", message="补充说明至多 2000 字"))
    partner = None
    if app.holding_code == node.archive_code:
        problems.append(
            Problem(
                field="holding_code",
                value=app.holding_code,
                message="本馆所藏档案请直接提交利用申请，跨馆查档须选择其他档案馆",
            )
        )
    else:
        try:
            partner = get_partner(session, app.holding_code)
            if not partner.enabled:
                raise NotFound("")
        except NotFound:
            problems.append(
                Problem(
                    field="holding_code",
                    value=app.holding_code,
                    message="出证馆须为本馆登记的协作馆",
                )
            )
    if problems or rtype is None or partner is None:
        raise InputError("跨馆查档申请不完整或不合规", problems)
    now = utcnow()
    req = LivelihoodRequest(
        ref=f"{node.archive_code}-{today():%Y%m%d}-{secrets.token_hex(4).upper()}",
        side=Side.ACCEPTING.value,
        accepting_code=node.archive_code,
        holding_code=partner.archive_code,
        record_type=rtype.code,
        applicant_name=citizen.real_name,
        applicant_id=idn,
        applicant_id_masked=mask_id(idn),
        applicant_phone=citizen.phone,
        purpose=app.purpose.strip(),
        description=app.description.strip(),
        citizen_user_id=citizen.user_id,
        state=State.SUBMITTED.value,
        record_ids=[],
        result_note="",
        created_at=now,
        updated_at=now,
    )
    session.add(req)
    session.flush()
    _record(
        inst, session, req, State.SUBMITTED, actor.username, node.archive_code, "", now, local=True
    )
    return req


# -- moving a request -------------------------------------------------------------------------


def get_request(session: Session, ref: str) -> LivelihoodRequest:
    req = session.scalar(select(LivelihoodRequest).where(LivelihoodRequest.ref == ref))
    if req is None:
        raise NotFound(f"跨馆查档申请「{ref}」不存在")
    return req


def _due(
    inst: Instance, req: LivelihoodRequest, state: State, at: datetime
) -> tuple[date | None, str | None]:
    d = federation_config(inst).deadlines
    cal = work_calendar(inst)
    start = today(at)
    if state is State.SUBMITTED:
        return cal.add_workdays(start, d.accepting_check_days), Side.ACCEPTING.value
    if state is State.RECEIVED:
        return cal.add_workdays(start, d.holding_days), Side.HOLDING.value
    if state in (State.ISSUED, State.NOT_FOUND) and req.side == Side.ACCEPTING.value:
        return cal.add_workdays(start, d.accepting_result_days), Side.ACCEPTING.value
    return None, None


def _record(
    inst: Instance,
    session: Session,
    req: LivelihoodRequest,
    state: State,
    actor: str,
    node: str,
    note: str,
    at: datetime,
    *,
    local: bool,
    due: tuple[date | None, str | None] | None = None,
    extra: dict[str, Any] | None = None,
) -> LivelihoodStep:
    req.state = state.value
    req.updated_at = utcnow()
    due_on, due_side = due if due is not None else _due(inst, req, state, at)
    req.due_on, req.due_side = due_on, due_side
    if is_closed(req) and req.closed_at is None:
        req.closed_at = utcnow()
        req.applicant_id = req.applicant_id_masked  # data minimisation: the full number goes
    step = LivelihoodStep(
        request_id=req.id,
        state=state.value,
        node=node,
        actor=actor[:64],
        at=at,
        note=note,
        due_on=due_on,
    )
    session.add(step)
    session.flush()
    faults.point("livelihood.step.recorded")  # state and step written, event not (tx open)
    inst.audit.append(
        session,
        actor=actor[:64] if local else f"node:{node}",
        action=state.event,
        object_type="livelihood_request",
        object_id=req.ref,
        detail={
            "state": state.value,
            "node": node,
            "remote": not local,
            "record_type": req.record_type,
            "due_on": due_on.isoformat() if due_on else None,
            **({"note": note} if note else {}),
            **(extra or {}),
        },
    )
    if local and state not in _NOT_SENT:
        other = req.holding_code if req.side == Side.ACCEPTING.value else req.accepting_code
        body: dict[str, Any] = {
            "ref": req.ref,
            "state": state.value,
            "at": at.astimezone(UTC).isoformat(),
            "actor": actor[:64],
            "node": node,
            "note": note,
            "due_on": due_on.isoformat() if due_on else None,
            "due_side": due_side,
        }
        if state is State.FORWARDED:
            body["request"] = _request_doc(session, req)
        if state is State.ISSUED and req.certificate_pdf is not None:
            body["certificate"] = {
                "code": req.certificate_code,
                "sha256": req.certificate_sha256,
                "pdf": base64.b64encode(req.certificate_pdf).decode("ascii"),
            }
        queue(inst, session, recipient=other, type=STEP_MESSAGE, body=body, ref=req.ref)
    return step


def _request_doc(session: Session, req: LivelihoodRequest) -> dict[str, Any]:
    steps = session.scalars(
        select(LivelihoodStep)
        .where(LivelihoodStep.request_id == req.id)
        .order_by(LivelihoodStep.id)
    )
    return {
        "accepting_code": req.accepting_code,
        "holding_code": req.holding_code,
        "record_type": req.record_type,
        "applicant_name": req.applicant_name,
        "applicant_id": req.applicant_id,
        "purpose": req.purpose,
        "description": req.description,
        "created_at": req.created_at.astimezone(UTC).isoformat(),
        "steps": [
            {
                "state": s.state,
                "node": s.node,
                "actor": s.actor,
                "at": s.at.astimezone(UTC).isoformat(),
                "note": s.note,
                "due_on": s.due_on.isoformat() if s.due_on else None,
            }
            for s in steps
        ],
    }


def _move(
    inst: Instance,
    session: Session,
    actor: Actor,
    ref: str,
    new: State,
    note: str,
    **kw: Any,
) -> LivelihoodRequest:
    actor.require(Perm.LIVELIHOOD_PROCESS)
    req = get_request(session, ref)
    node = require_node(session)
    if req.side != new.side.value:
        raise Conflict(
            f"「{new.label}」应由{new.side.label}办理，本馆是该申请的{Side(req.side).label}"
        )
    current = State(req.state)
    if not can_move(current, new, has_certificate=bool(req.certificate_code)):
        raise Conflict(f"申请 {ref} 当前为「{current.label}」，不能改为「{new.label}」")
    _record(
        inst,
        session,
        req,
        new,
        actor.username,
        node.archive_code,
        note.strip(),
        utcnow(),
        local=True,
        **kw,
    )
    return req


def forward(
    inst: Instance, session: Session, actor: Actor, ref: str, note: str = ""
) -> LivelihoodRequest:
    """受理馆: identity and scope checked; send the request to the 协办馆."""
    return _move(inst, session, actor, ref, State.FORWARDED, note)


def refuse(
    inst: Instance, session: Session, actor: Actor, ref: str, reason: str
) -> LivelihoodRequest:
    if not reason.strip():
        raise InputError("不予受理须说明理由", [Problem(field="reason", message="理由必填")])
    return _move(inst, session, actor, ref, State.REFUSED, reason)


def notify(
    inst: Instance, session: Session, actor: Actor, ref: str, note: str = ""
) -> LivelihoodRequest:
    """受理馆: the applicant has been told the result (and may now download the certificate)."""
    return _move(inst, session, actor, ref, State.NOTIFIED, note)


def collect(
    inst: Instance, session: Session, actor: Actor, ref: str, *, channel: str = "网上"
) -> LivelihoodRequest:
    """The applicant has the certificate: downloaded online (by the citizen) or at the counter."""
    req = get_request(session, ref)
    if actor.can(Perm.LIVELIHOOD_PROCESS) or (
        actor.can(Perm.ACCESS_PORTAL_SELF) and req.citizen_user_id == actor.user_id
    ):
        pass
    else:
        raise PermissionDenied("只有申请人本人或受理馆工作人员可以领取证明")
    node = require_node(session)
    if not can_move(State(req.state), State.COLLECTED, has_certificate=bool(req.certificate_code)):
        raise Conflict(f"申请 {ref} 当前为「{State(req.state).label}」，还不能领取")
    _record(
        inst,
        session,
        req,
        State.COLLECTED,
        actor.username,
        node.archive_code,
        channel,
        utcnow(),
        local=True,
    )
    cfg = federation_config(inst)
    log_use(
        session,
        Use(
            person=f"user:{req.citizen_user_id}"
            if req.citizen_user_id
            else f"walkin:{req.applicant_name}",
            user_type="个人",
            purpose=cfg.use_purpose,
            channel="到馆" if channel == "到馆" else "网上",
            kind="certificate",
            record_id=None,
            user_id=req.citizen_user_id,
        ),
    )
    return req


# -- the 协办馆: searching, issuing -------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    record_id: int
    archival_code: str | None
    title: str
    year: int | None
    matched: tuple[str, ...]  # 身份证号 / 姓名 / 已开放
    keyword: bool  # the title names the record type

    @property
    def about_applicant(self) -> bool:
        return "身份证号" in self.matched or "姓名" in self.matched


def candidates(
    inst: Instance, session: Session, actor: Actor, ref: str, *, limit: int = 50
) -> list[Candidate]:
    """Records of this archive about the applicant (name or ID in catalogue fields or full text)."""
    actor.require(Perm.LIVELIHOOD_PROCESS)
    req = get_request(session, ref)
    if req.side != Side.HOLDING.value:
        raise Conflict("查档候选只在出证馆提供")
    name, idn = req.applicant_name.strip(), req.applicant_id.strip()
    terms = [t for t in (name, idn if "*" not in idn else "") if t]
    if not terms:
        return []
    fields_text = cast(Record.fields, String)
    conds = []
    for t in terms:
        like = f"%{t}%"
        conds += [Record.title.like(like), fields_text.like(like), Record.responsible.like(like)]
        conds.append(Record.id.in_(select(RecordText.record_id).where(RecordText.text.like(like))))
    rows = session.scalars(
        select(Record)
        .where(
            Record.lifecycle == "active",
            Record.security_rank <= actor.clearance_rank if not actor.is_operator else true(),
            or_(*conds),
        )
        .order_by(Record.year.desc(), Record.id)
        .limit(limit)
    ).all()
    rtype = federation_config(inst).record_type(req.record_type)
    keywords = rtype.keywords if rtype else ()
    published = set(
        session.scalars(
            select(PublishedRecord.record_id).where(
                PublishedRecord.record_id.in_([r.id for r in rows]),
                PublishedRecord.state == PublicationState.PUBLISHED.value,
            )
        )
    )
    texts: dict[int, str] = {}
    for rid, text in session.execute(
        select(RecordText.record_id, RecordText.text).where(
            RecordText.record_id.in_([r.id for r in rows])
        )
    ):
        texts[rid] = texts.get(rid, "") + text
    out = []
    for r in rows:
        hay = " ".join([r.title, r.responsible or "", str(r.fields), texts.get(r.id, "")])
        matched = []
        if idn and "*" not in idn and idn in hay:
            matched.append("身份证号")
        if name and name in hay:
            matched.append("姓名")
        if r.id in published and r.open_status == OPEN:
            matched.append("已开放")
        out.append(
            Candidate(
                r.id,
                r.archival_code,
                r.title,
                r.year,
                tuple(matched),
                any(k in r.title for k in keywords),
            )
        )
    out.sort(key=lambda c: ("身份证号" not in c.matched, not c.keyword, -(c.year or 0)))
    return out


def issue(
    inst: Instance,
    session: Session,
    actor: Actor,
    ref: str,
    record_ids: Sequence[int],
    note: str = "",
) -> LivelihoodRequest:
    """协办馆: staff confirmed the match; issue the signed certificate and send it back."""
    actor.require(Perm.LIVELIHOOD_PROCESS)
    req = get_request(session, ref)
    if req.side != Side.HOLDING.value or State(req.state) is not State.RECEIVED:
        raise Conflict(f"申请 {ref} 当前为「{State(req.state).label}」，不能出证")
    allowed = {c.record_id for c in candidates(inst, session, actor, ref, limit=500) if c.matched}
    outside = [rid for rid in record_ids if rid not in allowed]
    if not record_ids or outside:
        raise InputError(
            "出证引用的档案须是查档候选中与申请人有关或已开放的档案",
            [Problem(field="record_ids", value=str(r), message="不在查档候选中") for r in outside]
            or [Problem(field="record_ids", message="至少确认一条档案")],
        )
    rtype = federation_config(inst).record_type(req.record_type)
    cert = issue_certificate(
        inst,
        session,
        actor,
        kind="certificate",
        record_ids=list(record_ids),
        applicant_name=req.applicant_name,
        applicant_id_masked=mask_id_number(req.applicant_id),
        purpose=f"{rtype.label if rtype else req.record_type}：{req.purpose}"[:200],
        request_ref=req.ref,
    )
    req.record_ids = list(record_ids)
    req.certificate_code, req.certificate_sha256, req.certificate_pdf = (
        cert.code,
        cert.file_sha256,
        cert.pdf,
    )
    req.result_note = note.strip()
    _move(
        inst,
        session,
        actor,
        ref,
        State.ISSUED,
        note,
        extra={"certificate": cert.code, "record_ids": list(record_ids)},
    )
    log_use(
        session,
        Use(
            person=f"remote:{req.accepting_code}:{req.applicant_id_masked}",
            user_type="个人",
            purpose=federation_config(inst).use_purpose,
            channel="网上",
            kind="certificate",
            record_id=record_ids[0],
        ),
    )
    return req


def not_found(
    inst: Instance, session: Session, actor: Actor, ref: str, note: str
) -> LivelihoodRequest:
    if not note.strip():
        raise InputError("查无档案须说明查档情况", [Problem(field="note", message="查档情况必填")])
    req = get_request(session, ref)
    req.result_note = note.strip()
    return _move(inst, session, actor, ref, State.NOT_FOUND, note)


# -- remote steps --------------------------------------------------------------------------------


def _parse_at(text: Any) -> datetime:
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        raise InputError("步骤时间格式错误") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _parse_day(text: Any) -> date | None:
    return date.fromisoformat(str(text)) if text else None


def apply_remote_step(
    inst: Instance, session: Session, env: Envelope, body: dict[str, Any]
) -> None:
    """A step taken at the partner node (message ``livelihood.step``)."""
    try:
        state = State(str(body.get("state")))
    except ValueError:
        raise InputError(f"未知的步骤「{body.get('state')}」") from None
    ref = str(body.get("ref", ""))
    node = require_node(session)
    at = _parse_at(body.get("at"))
    note = str(body.get("note", ""))[:2000]
    actor = str(body.get("actor", ""))[:64]
    due = (_parse_day(body.get("due_on")), body.get("due_side") or None)
    if state.side.value == Side.ACCEPTING.value and env.sender != _accepting_of(session, ref, body):
        raise InputError("步骤发送馆与申请的受理馆不符")
    if state is State.FORWARDED:
        _receive_forward(inst, session, env, body, node.archive_code, at, note, actor, due)
        return
    req = get_request(session, ref)
    partner = req.holding_code if req.side == Side.ACCEPTING.value else req.accepting_code
    if env.sender != partner or state.side.value == req.side:
        raise InputError(f"协作馆 {env.sender} 不能办理申请 {ref} 的「{state.label}」")
    if not can_move(
        State(req.state), state, has_certificate=bool(req.certificate_code) or "certificate" in body
    ):
        raise Conflict(f"申请 {ref} 当前为「{State(req.state).label}」，不能记为「{state.label}」")
    extra: dict[str, Any] = {}
    if state is State.ISSUED:
        cert = body.get("certificate") or {}
        pdf = base64.b64decode(str(cert.get("pdf", "")))
        check = verify_pdf(pdf, key_ring(session))
        if (
            check.verdict is not Verdict.VALID
            or check.issuer is None
            or check.issuer.issuer_code != env.sender
        ):
            raise InputError(f"出证馆发来的证明未通过查验：{check.message}")
        req.certificate_code = str(cert.get("code", ""))[:16]
        req.certificate_sha256 = hashlib.sha256(pdf).hexdigest()
        req.certificate_pdf = pdf
        extra = {"certificate": req.certificate_code, "verified": True}
        faults.point("livelihood.certificate.received")  # kept on the request, step not
    if state in (State.ISSUED, State.NOT_FOUND):
        req.result_note = note
        due = _due(inst, req, state, utcnow())  # the 受理馆's 2 days run from arrival here
    _record(
        inst, session, req, state, actor, env.sender, note, at, local=False, due=due, extra=extra
    )


def _accepting_of(session: Session, ref: str, body: dict[str, Any]) -> str:
    req = session.scalar(select(LivelihoodRequest).where(LivelihoodRequest.ref == ref))
    if req is not None:
        return req.accepting_code
    doc = body.get("request") or {}
    return str(doc.get("accepting_code", ""))


def _receive_forward(
    inst: Instance,
    session: Session,
    env: Envelope,
    body: dict[str, Any],
    own: str,
    at: datetime,
    note: str,
    actor: str,
    due: tuple[date | None, str | None],
) -> None:
    doc = body.get("request")
    if not isinstance(doc, dict) or doc.get("holding_code") != own:
        raise InputError("转办的申请未指定本馆为出证馆")
    ref = str(body.get("ref", ""))
    if session.scalar(select(LivelihoodRequest.id).where(LivelihoodRequest.ref == ref)) is not None:
        raise Conflict(f"申请 {ref} 已转来过")
    idn = str(doc.get("applicant_id", "")).upper()
    req = LivelihoodRequest(
        ref=ref[:64],
        side=Side.HOLDING.value,
        accepting_code=env.sender,
        holding_code=own,
        record_type=str(doc.get("record_type", ""))[:32],
        applicant_name=str(doc.get("applicant_name", ""))[:100],
        applicant_id=idn[:32],
        applicant_id_masked=mask_id(idn) if len(idn) >= 8 else idn,
        applicant_phone="",
        purpose=str(doc.get("purpose", ""))[:200],
        description=str(doc.get("description", ""))[:2000],
        citizen_user_id=None,
        state=State.SUBMITTED.value,
        record_ids=[],
        result_note="",
        created_at=_parse_at(doc.get("created_at") or body.get("at")),
        updated_at=utcnow(),
    )
    session.add(req)
    session.flush()
    for st in doc.get("steps") or []:
        if st.get("state") == State.FORWARDED.value:
            continue  # recorded below, with its event
        session.add(
            LivelihoodStep(
                request_id=req.id,
                state=str(st.get("state", ""))[:12],
                node=str(st.get("node", ""))[:16],
                actor=str(st.get("actor", ""))[:64],
                at=_parse_at(st.get("at")),
                note=str(st.get("note", ""))[:2000],
                due_on=_parse_day(st.get("due_on")),
            )
        )
    _record(inst, session, req, State.FORWARDED, actor, env.sender, note, at, local=False, due=due)
    # arrival is the 协办馆's first step: the 4 working days start now
    _record(inst, session, req, State.RECEIVED, "system:federation", own, "", utcnow(), local=True)


# -- deadlines -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineFlag:
    overdue: bool
    due_soon: bool
    workdays_left: int | None


def deadline_flag(inst: Instance, req: LivelihoodRequest, on: date | None = None) -> DeadlineFlag:
    if req.due_on is None or is_closed(req):
        return DeadlineFlag(False, False, None)
    day = on or today()
    left = work_calendar(inst).workdays_between(day, req.due_on)
    soon = 0 <= left <= federation_config(inst).deadlines.remind_days_before
    return DeadlineFlag(day > req.due_on, soon and day <= req.due_on, left)


def deadline_summary(inst: Instance, session: Session, on: date | None = None) -> dict[str, Any]:
    """Open and overdue counts per side (for the dashboard and the queue pages)."""
    day = on or today()
    rows = session.scalars(
        select(LivelihoodRequest).where(LivelihoodRequest.closed_at.is_(None))
    ).all()
    out: dict[str, Any] = {"open": 0, "overdue": 0, "due_soon": 0, "by_side": {}}
    for req in rows:
        side = out["by_side"].setdefault(req.side, {"open": 0, "overdue": 0, "due_soon": 0})
        flag = deadline_flag(inst, req, day)
        for bucket in (out, side):
            bucket["open"] += 1
            bucket["overdue"] += flag.overdue and req.due_side == req.side
            bucket["due_soon"] += flag.due_soon and req.due_side == req.side
    out["as_of"] = day.isoformat()
    out["total"] = int(session.scalar(select(func.count()).select_from(LivelihoodRequest)) or 0)
    return out
