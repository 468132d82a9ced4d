"""Certificates for citizens' requests: approving a 出具证明 or 复制 request issues its certificate.

:func:`certify` runs inside the approval's transaction (:func:`lantai.access.requests.approve`):
the certificate (:func:`lantai.certificates.issue_certificate`), its code on the request and the
利用登记 rows are committed with the approval or not at all; a certificate that cannot be issued
(a page beyond a record's 页数, a missing permission) fails the approval with the reason.

* 出具证明 → 档案证明 (``certificate``); 复制 → 档案复制件证明 (``certified_copy``, with the
  digitised page images of the cited pages).
* Pages: the request's single 页码 text becomes one range per record by :func:`pages_by_record`.
* 利用登记 (standards.md §7.3): one row per cited record, channel 网上, the request's purpose and
  user type — kind ``certificate`` for 出具证明 (code 142 counts one 份 per request), kind
  ``copy`` with the pages copied for 复制 (code 141 sums 页). Downloading the certificate later
  is not a new use of the archives and is not logged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.access.uselog import Use, log_use
from lantai.certificates import IssuedCertificate, issue_certificate
from lantai.errors import Conflict, InputError, Problem
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import AccessRequest, Citizen
from lantai.store.certificates import Certificate

__all__ = ["CERTIFICATE_KINDS", "certify", "pages_by_record", "request_ref"]

# request kind → certificate kind
CERTIFICATE_KINDS = {"出具证明": "certificate", "复制": "certified_copy"}
_ENTRY_SPLIT = re.compile(r"[;；\n]+")
_NAMED = re.compile(r"^(?P<code>.+?)\s*[:：]\s*(?P<pages>.*)$")


def request_ref(req: AccessRequest) -> str:
    """The request's number as printed on its certificate: ``SQ-2026-0012``."""
    return f"SQ-{req.created_at:%Y}-{req.id:04d}"


def pages_by_record(text: str, records: Sequence[tuple[int, str | None]]) -> dict[int, str]:
    """The request's 页码 text as one page range per cited record ``(id, 档号)``.

    * empty: all pages of every record (``{}``);
    * a plain range (``1-3,5``): that range of every cited record;
    * entries ``档号:范围`` separated by ``;`` / ``；`` / new lines name one record each (full-width
      ``：`` accepted); a plain range among them applies to the records not named.

    A 档号 that is not among the cited records is refused (field ``pages``); the ranges
    themselves are checked by the certificate service against each record's 页数.
    """
    by_code = {code: rid for rid, code in records if code}
    named: dict[int, str] = {}
    default = ""
    for entry in (e.strip() for e in _ENTRY_SPLIT.split(text.strip())):
        if not entry:
            continue
        m = _NAMED.match(entry)
        if m is None:
            default = f"{default},{entry}" if default else entry
            continue
        rid = by_code.get(m["code"].strip())
        if rid is None:
            raise InputError(
                "页码中的档号不在批准出证的档案中",
                [
                    Problem(
                        field="pages",
                        value=entry,
                        rule="页码写作「1-3」（各条目相同）或「档号:1-3；档号:5」",
                        message=f"档号「{m['code'].strip()}」不是本申请批准的条目",
                    )
                ],
            )
        named[rid] = f"{named[rid]},{m['pages']}" if rid in named else m["pages"]
    out = {rid: named.get(rid, default) for rid, _code in records}
    return {rid: pages for rid, pages in out.items() if pages.strip()}


def _applicant(citizen: Citizen) -> str:
    if citizen.user_type == "单位" and citizen.unit_name.strip():
        return f"{citizen.unit_name.strip()}（经办人 {citizen.real_name}）"[:100]
    return citizen.real_name


def certify(
    inst: Instance, session: Session, actor: Actor, req: AccessRequest
) -> IssuedCertificate | None:
    """Issue the certificate an approved 出具证明 / 复制 request asks for (None for 查阅).

    ``req`` must already be approved in ``session`` (status, reviewer, ``granted_ids``). A
    request is answered by one certificate only: a second call is a :class:`Conflict`.
    """
    kind = CERTIFICATE_KINDS.get(req.kind)
    if kind is None:
        return None
    if req.certificate_code is not None:
        raise Conflict(f"利用申请 {req.id} 已出具证明 {req.certificate_code}")
    from lantai.access.requests import certificate_order  # requests imports this module

    order = certificate_order(session, req.id)
    citizen = session.get(Citizen, req.user_id)
    assert citizen is not None
    issued = issue_certificate(
        inst,
        session,
        actor,
        kind=kind,
        record_ids=[rid for rid, _code, _title in order.records],
        pages=pages_by_record(order.pages, [(rid, code) for rid, code, _t in order.records]),
        applicant_name=_applicant(citizen),
        applicant_id_masked=order.id_masked,
        purpose=order.purpose,
        request_ref=request_ref(req),
    )
    req.certificate_code = issued.code
    citations = session.scalar(select(Certificate.citations).where(Certificate.id == issued.id))
    for c in citations or []:
        log_use(
            session,
            Use(
                person=f"user:{req.user_id}",
                user_id=req.user_id,
                user_type=req.user_type,
                purpose=req.purpose,
                channel="网上",
                kind="copy" if kind == "certified_copy" else "certificate",
                record_id=int(c["record_id"]),
                request_id=req.id,
                pages=int(c.get("page_images", 0)) if kind == "certified_copy" else 0,
            ),
        )
    return issued
