"""跨馆协作 API: the node and its partners, messages between nodes, federated search, 跨馆查档.

* Administrators (``federation:node:manage``, 系统管理员): this node, the partner registry (address,
  code, the keys a partner offers), the outbox. Trusting a partner's keys is the 安全保密员's
  (``certificate:key:manage``): ``GET /api/federation/partners/keys``, ``POST …/{code}/trust``.
* Partner nodes (no session; every request is a signed LANTAI-FED-MSG-1 message verified
  against the registry): ``POST /api/federation/inbox`` (store-and-forward messages, answered
  with a signed acknowledgement) and ``POST /api/federation/search`` (a signed query of the open
  catalogue). ``GET /api/public/federation/node`` is this node's identity and public keys.
* Staff (``federation:search:query``): federated search; (``livelihood:request:process``): the
  跨馆查档 queue, candidates, forwarding, issuing, notifying, handing over at the counter.
* Citizens (``access:portal:self``): their 跨馆查档 applications and the certificate download.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from lantai.errors import InputError, LantaiError, NotFound, PermissionDenied
from lantai.federation import livelihood as lh
from lantai.federation.config import federation_config
from lantai.federation.federated_search import answer_query, federated_search
from lantai.federation.identity import get_node, init_node, node_info
from lantai.federation.registry import (
    add_partner,
    fetch_node_document,
    list_partners,
    offered_keys,
    set_enabled,
    trust_partner_keys,
)
from lantai.federation.service import receive
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store.federation import FederationOutbox, LivelihoodRequest, LivelihoodStep
from lantai.web.api.schemas import ErrorOut
from lantai.web.deps import get_instance, require

__all__ = ["livelihood_router", "node_router", "public_router", "router"]

_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut},
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
}
router = APIRouter(prefix="/api/federation", tags=["跨馆协作"], responses=_RESPONSES)
node_router = APIRouter(prefix="/api/federation", tags=["跨馆协作（节点间）"], responses=_RESPONSES)
public_router = APIRouter(
    prefix="/api/public/federation",
    tags=["跨馆协作（节点间）"],
    responses={400: {"model": ErrorOut}},  # this node is not set up yet
)
livelihood_router = APIRouter(prefix="/api/livelihood", tags=["跨馆查档"], responses=_RESPONSES)


# -- between nodes -----------------------------------------------------------------------------


async def _json(request: Request) -> Any:
    if int(request.headers.get("content-length") or 0) > 32 * 1024 * 1024:
        raise InputError("消息过大（上限 32 MiB）")
    try:
        return await request.json()
    except ValueError:
        return None


@public_router.get("/node", summary="本馆节点信息与证明签名公钥")
def public_node(request: Request, _: Actor = require(Perm.PUBLIC)) -> dict[str, Any]:
    with get_instance(request).db.read() as s:
        return node_info(s)


@node_router.post("/inbox", summary="接收协作馆的签名消息（返回签名回执）")
async def inbox(request: Request, _: Actor = require(Perm.PUBLIC)) -> JSONResponse:
    wire = await _json(request)
    inst = get_instance(request)
    return JSONResponse(await run_in_threadpool(receive, inst, wire))


@node_router.post("/search", summary="协作馆的签名检索请求（仅开放目录）")
async def node_search(request: Request, _: Actor = require(Perm.PUBLIC)) -> JSONResponse:
    wire = await _json(request)
    inst = get_instance(request)
    runtime = getattr(request.app.state, "search", None)
    if runtime is None:
        raise LantaiError("检索服务未启动")
    return JSONResponse(await run_in_threadpool(answer_query, inst, runtime.service, wire))


# -- administration ----------------------------------------------------------------------------


class NodeIn(BaseModel):
    base_url: str | None = Field(None, max_length=500)


class PartnerIn(BaseModel):
    base_url: str = Field(max_length=500)
    archive_code: str | None = Field(None, max_length=16)
    name: str | None = Field(None, max_length=200)
    keys: dict[str, Any] | None = Field(
        None, description="LANTAI-CERT-KEYS-1；缺省时从对方节点读取"
    )
    note: str = Field("", max_length=2000)


def _partner_json(p: Any) -> dict[str, Any]:
    return {
        "archive_code": p.archive_code,
        "name": p.name,
        "base_url": p.base_url,
        "key_ids": p.key_ids,
        "offered_keys": [
            {
                "key_id": k.key_id,
                "algorithm": k.algorithm,
                "issuer_name": k.issuer_name,
                "valid_from": k.valid_from.isoformat(),
            }
            for k in offered_keys(p)
        ],
        "enabled": p.enabled,
        "last_seen_at": p.last_seen_at.isoformat() if p.last_seen_at else None,
    }


@router.get("/node", summary="本馆节点")
def node_get(request: Request, _: Actor = require(Perm.FEDERATION_NODE_MANAGE)) -> dict[str, Any]:
    with get_instance(request).db.read() as s:
        node = get_node(s)
        return {} if node is None else node_info(s)


@router.post("/node", summary="设置本馆节点（档案馆代码与名称取实例设置）")
def node_set(
    request: Request, body: NodeIn, actor: Actor = require(Perm.FEDERATION_NODE_MANAGE)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        init_node(inst, s, actor, base_url=body.base_url)
    with inst.db.read() as s:
        return node_info(s)


@router.get("/partners", summary="协作馆")
def partners(
    request: Request, _: Actor = require(Perm.FEDERATION_NODE_MANAGE)
) -> list[dict[str, Any]]:
    with get_instance(request).db.read() as s:
        return [_partner_json(p) for p in list_partners(s)]


def register_partner(inst: Instance, actor: Actor, body: PartnerIn) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    keys = body.keys
    if keys is None or not body.archive_code or not body.name:
        doc = fetch_node_document(body.base_url)
        keys = keys or doc["keys"]
    with inst.db.write() as s:
        row = add_partner(
            inst,
            s,
            actor,
            base_url=body.base_url,
            keys=keys or {},
            archive_code=body.archive_code or str(doc.get("archive_code", "")),
            name=body.name or str(doc.get("name", "")),
            note=body.note,
        )
        return _partner_json(row)


@router.post("/partners", status_code=201, summary="登记协作馆（地址、代码、待核公钥）")
def partner_add(
    request: Request, body: PartnerIn, actor: Actor = require(Perm.FEDERATION_NODE_MANAGE)
) -> dict[str, Any]:
    return register_partner(get_instance(request), actor, body)


@router.get("/partners/keys", summary="协作馆提交待核的公钥（安全保密员核对指纹后信任）")
def partner_keys(
    request: Request, _: Actor = require(Perm.CERTIFICATE_KEY_MANAGE)
) -> list[dict[str, Any]]:
    with get_instance(request).db.read() as s:
        return [_partner_json(p) for p in list_partners(s)]


class TrustIn(BaseModel):
    key_ids: list[str] = Field(min_length=1, max_length=20, description="公钥指纹（key_id）")


@router.post("/partners/{code}/trust", summary="信任协作馆公钥（安全保密员，须先核对指纹）")
def partner_trust(
    request: Request,
    code: str,
    body: TrustIn,
    actor: Actor = require(Perm.CERTIFICATE_KEY_MANAGE),
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        return _partner_json(trust_partner_keys(inst, s, actor, code, body.key_ids))


class EnabledIn(BaseModel):
    enabled: bool


@router.post("/partners/{code}/enabled", summary="启用或停用协作馆")
def partner_enabled(
    request: Request,
    code: str,
    body: EnabledIn,
    actor: Actor = require(Perm.FEDERATION_NODE_MANAGE),
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        return _partner_json(set_enabled(inst, s, actor, code, body.enabled))


@router.get("/outbox", summary="待送达与已送达的消息（最近的在前）")
def outbox(
    request: Request,
    state: Annotated[str | None, Query(max_length=12)] = None,
    _: Actor = require(Perm.FEDERATION_NODE_MANAGE),
) -> list[dict[str, Any]]:
    with get_instance(request).db.read() as s:
        q = select(FederationOutbox).order_by(FederationOutbox.id.desc()).limit(200)
        if state:
            q = q.where(FederationOutbox.state == state)
        return [
            {
                "message_id": r.message_id,
                "recipient": r.recipient,
                "type": r.type,
                "ref": r.ref,
                "state": r.state,
                "attempts": r.attempts,
                "next_attempt_at": r.next_attempt_at.isoformat(),
                "last_error": r.last_error,
                "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None,
            }
            for r in s.scalars(q)
        ]


@router.get("/federated-search", summary="跨馆联合检索（各协作馆的开放目录）")
async def fed_search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    size: Annotated[int | None, Query(ge=1, le=200)] = None,
    _: Actor = require(Perm.FEDERATION_SEARCH),
) -> dict[str, Any]:
    result = await federated_search(get_instance(request), q, size=size)
    return result.to_dict()


# -- 跨馆查档 ----------------------------------------------------------------------------------


def request_json(
    inst: Instance,
    req: LivelihoodRequest,
    steps: list[LivelihoodStep] | None = None,
    *,
    staff: bool = True,
) -> dict[str, Any]:
    flag = lh.deadline_flag(inst, req)
    rtype = federation_config(inst).record_type(req.record_type)
    out: dict[str, Any] = {
        "ref": req.ref,
        "side": req.side,
        "side_label": lh.Side(req.side).label,
        "accepting_code": req.accepting_code,
        "holding_code": req.holding_code,
        "record_type": req.record_type,
        "record_type_label": rtype.label if rtype else req.record_type,
        "applicant_name": req.applicant_name,
        "applicant_id_masked": req.applicant_id_masked,
        "purpose": req.purpose,
        "description": req.description,
        "state": req.state,
        "state_label": lh.State(req.state).label,
        "due_on": req.due_on.isoformat() if req.due_on else None,
        "due_side": req.due_side,
        "overdue": flag.overdue,
        "due_soon": flag.due_soon,
        "workdays_left": flag.workdays_left,
        "certificate_code": req.certificate_code,
        "result_note": req.result_note,
        "record_ids": req.record_ids,
        "created_at": req.created_at.isoformat(),
        "updated_at": req.updated_at.isoformat(),
        "closed": lh.is_closed(req),
    }
    if steps is not None:
        out["steps"] = [
            {
                "state": st.state,
                "state_label": lh.State(st.state).label
                if st.state in lh.State.__members__.values()
                else st.state,
                "node": st.node,
                "actor": st.actor,
                "at": st.at.isoformat(),
                "note": st.note,
                "due_on": st.due_on.isoformat() if st.due_on else None,
            }
            for st in steps
        ]
    return out


def _steps(s: Any, req: LivelihoodRequest) -> list[LivelihoodStep]:
    return list(
        s.scalars(
            select(LivelihoodStep)
            .where(LivelihoodStep.request_id == req.id)
            .order_by(LivelihoodStep.id)
        )
    )


class ApplyIn(BaseModel):
    holding_code: str = Field(max_length=16)
    record_type: str = Field(max_length=32)
    id_number: str = Field(max_length=20)
    purpose: str = Field(max_length=200)
    description: str = Field("", max_length=2000)


class NoteIn(BaseModel):
    note: str = Field("", max_length=2000)


class IssueIn(BaseModel):
    record_ids: list[int] = Field(max_length=50)
    note: str = Field("", max_length=2000)


class CollectIn(BaseModel):
    channel: str = Field("到馆", pattern="^(网上|到馆)$")


@livelihood_router.get("/options", summary="申请表选项：档案类型与可选的出证馆")
def options(request: Request, _: Actor = require(Perm.ACCESS_PORTAL_SELF)) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        partners = [
            {"archive_code": p.archive_code, "name": p.name}
            for p in list_partners(s, enabled_only=True)
        ]
    return {
        "record_types": [
            {"code": t.code, "label": t.label} for t in federation_config(inst).record_types
        ],
        "partners": partners,
    }


@livelihood_router.post("/mine", status_code=201, summary="提交跨馆查档申请（本人）")
def apply(
    request: Request, body: ApplyIn, actor: Actor = require(Perm.ACCESS_PORTAL_SELF)
) -> dict[str, Any]:
    inst = get_instance(request)
    app = lh.Application(
        body.holding_code, body.record_type, body.id_number, body.purpose, body.description
    )
    with inst.db.write() as s:
        req = lh.submit(inst, s, actor, app)
        return request_json(inst, req, _steps(s, req), staff=False)


@livelihood_router.get("/mine", summary="我的跨馆查档申请")
def mine(request: Request, actor: Actor = require(Perm.ACCESS_PORTAL_SELF)) -> list[dict[str, Any]]:
    inst = get_instance(request)
    with inst.db.read() as s:
        rows = s.scalars(
            select(LivelihoodRequest)
            .where(LivelihoodRequest.citizen_user_id == actor.user_id)
            .order_by(LivelihoodRequest.id.desc())
        )
        return [request_json(inst, r, _steps(s, r), staff=False) for r in rows]


def _pdf(req: LivelihoodRequest) -> Response:
    if req.certificate_pdf is None or not req.certificate_code:
        raise NotFound("该申请没有证明文件")
    return Response(
        req.certificate_pdf,
        media_type="application/pdf",
        headers={
            "content-disposition": f'attachment; filename="certificate-{req.certificate_code}.pdf"'
        },
    )


@livelihood_router.get("/mine/{ref}/certificate", summary="下载证明（本人；记为已领取）")
def my_certificate(
    request: Request, ref: str, actor: Actor = require(Perm.ACCESS_PORTAL_SELF)
) -> Response:
    inst = get_instance(request)
    with inst.db.write() as s:
        req = lh.get_request(s, ref)
        if req.citizen_user_id != actor.user_id:
            raise NotFound(f"跨馆查档申请「{ref}」不存在")
        state = lh.State(req.state)
        if state is lh.State.NOTIFIED:
            lh.collect(inst, s, actor, ref, channel="网上")
        elif state is not lh.State.COLLECTED:
            raise PermissionDenied("受理馆告知领取后才能下载证明")
        return _pdf(req)


@livelihood_router.get("/requests", summary="跨馆查档队列（受理与出证两侧，含期限与逾期标记）")
def queue_api(
    request: Request,
    side: Annotated[str | None, Query(pattern="^(accepting|holding)$")] = None,
    state: Annotated[str | None, Query(max_length=12)] = None,
    open_only: bool = True,
    _: Actor = require(Perm.LIVELIHOOD_PROCESS),
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        q = select(LivelihoodRequest).order_by(
            LivelihoodRequest.due_on.is_(None), LivelihoodRequest.due_on, LivelihoodRequest.id
        )
        if side:
            q = q.where(LivelihoodRequest.side == side)
        if state:
            q = q.where(LivelihoodRequest.state == state)
        if open_only:
            q = q.where(LivelihoodRequest.closed_at.is_(None))
        return {
            "summary": lh.deadline_summary(inst, s),
            "requests": [request_json(inst, r) for r in s.scalars(q.limit(500))],
        }


@livelihood_router.get("/summary", summary="未办结与逾期件数（供一屏掌控）")
def summary(request: Request, _: Actor = require(Perm.LIVELIHOOD_PROCESS)) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        return lh.deadline_summary(inst, s)


@livelihood_router.get("/requests/{ref}", summary="一件跨馆查档申请与全过程")
def request_get(
    request: Request, ref: str, _: Actor = require(Perm.LIVELIHOOD_PROCESS)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        req = lh.get_request(s, ref)
        return request_json(inst, req, _steps(s, req))


@livelihood_router.get("/requests/{ref}/candidates", summary="出证馆：与申请人有关或已开放的档案")
def request_candidates(
    request: Request, ref: str, actor: Actor = require(Perm.LIVELIHOOD_PROCESS)
) -> list[dict[str, Any]]:
    inst = get_instance(request)
    with inst.db.read() as s:
        return [
            {
                "record_id": c.record_id,
                "archival_code": c.archival_code,
                "title": c.title,
                "year": c.year,
                "matched": list(c.matched),
                "keyword": c.keyword,
            }
            for c in lh.candidates(inst, s, actor, ref)
        ]


def _step_route(fn: Any, request: Request, ref: str, actor: Actor, *args: Any) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        req = fn(inst, s, actor, ref, *args)
        return request_json(inst, req, _steps(s, req))


@livelihood_router.post("/requests/{ref}/forward", summary="受理馆：审核通过，转出证馆")
def forward_api(
    request: Request, ref: str, body: NoteIn, actor: Actor = require(Perm.LIVELIHOOD_PROCESS)
) -> dict[str, Any]:
    return _step_route(lh.forward, request, ref, actor, body.note)


@livelihood_router.post("/requests/{ref}/refuse", summary="受理馆：不予受理（须说明理由）")
def refuse_api(
    request: Request, ref: str, body: NoteIn, actor: Actor = require(Perm.LIVELIHOOD_PROCESS)
) -> dict[str, Any]:
    return _step_route(lh.refuse, request, ref, actor, body.note)


@livelihood_router.post("/requests/{ref}/issue", summary="出证馆：确认档案并出具证明")
def issue_api(
    request: Request, ref: str, body: IssueIn, actor: Actor = require(Perm.LIVELIHOOD_PROCESS)
) -> dict[str, Any]:
    return _step_route(lh.issue, request, ref, actor, body.record_ids, body.note)


@livelihood_router.post("/requests/{ref}/not-found", summary="出证馆：查无档案（说明查档情况）")
def not_found_api(
    request: Request, ref: str, body: NoteIn, actor: Actor = require(Perm.LIVELIHOOD_PROCESS)
) -> dict[str, Any]:
    return _step_route(lh.not_found, request, ref, actor, body.note)


@livelihood_router.post("/requests/{ref}/notify", summary="受理馆：已告知申请人结果")
def notify_api(
    request: Request, ref: str, body: NoteIn, actor: Actor = require(Perm.LIVELIHOOD_PROCESS)
) -> dict[str, Any]:
    return _step_route(lh.notify, request, ref, actor, body.note)


@livelihood_router.post("/requests/{ref}/collect", summary="受理馆：申请人到馆领取")
def collect_api(
    request: Request, ref: str, body: CollectIn, actor: Actor = require(Perm.LIVELIHOOD_PROCESS)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        req = lh.collect(inst, s, actor, ref, channel=body.channel)
        return request_json(inst, req, _steps(s, req))


@livelihood_router.get("/requests/{ref}/certificate", summary="证明文件（工作人员）")
def staff_certificate(
    request: Request, ref: str, _: Actor = require(Perm.LIVELIHOOD_PROCESS)
) -> Response:
    with get_instance(request).db.read() as s:
        return _pdf(lh.get_request(s, ref))
