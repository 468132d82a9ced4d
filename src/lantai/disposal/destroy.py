"""Removing the preserved content of a record after an approved 销毁 — the only deletion path.

The object store has no delete (:mod:`lantai.storage.base`); its one removal of committed content
is :meth:`~lantai.storage.base.ObjectStore.destroy_objects`, which accepts nothing but a
:class:`~lantai.storage.base.DestructionOrder`. This module issues that order —
:class:`DisposalAuthorisation` — only from :func:`authorise`, which reads the database: the item
belongs to an open batch and the decision of the batch's final (approval) round is 销毁.
:func:`destroy_objects` re-checks it in the same transaction and then destroys the objects on
**every location** of the storage policy (:func:`lantai.storage.destruction.destroy_everywhere`):
each copy's index lists them under ``"destroyed"`` (identical entries everywhere, so the package
digest stays equal across replicas), their bytes are removed (tar volumes are rewritten without
them), and the ledger records each location's new package digest. A location that is unreachable
keeps a 待完成销毁 ledger row and a 销毁未完成 alert; replication and fixity audits complete it.
Other files of the package (METS, the sender's metadata, the 四性检测报告, other records' files)
stay. A repeated run is a no-op, so an interrupted execution can be repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.errors import PermissionDenied
from lantai.storage.base import DestructionOrder, check_package_id, check_path
from lantai.storage.destruction import DestructionReport, destroy_everywhere
from lantai.storage.system import StorageSystem
from lantai.store import DisposalBatch, DisposalDecision, DisposalItem

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = ["DisposalAuthorisation", "authorise", "destroy_objects"]


@dataclass(frozen=True, kw_only=True)
class DisposalAuthorisation(DestructionOrder):
    """An approved 销毁 of one item: the final round's decision, who took it and when."""


def authorise(session: Session, item_id: int, *, at: str | None = None) -> DisposalAuthorisation:
    """The authorisation for ``item_id``, or PermissionDenied naming what is missing.

    ``at`` is the destruction time written into every location's tombstones (now by default).
    """
    row = session.execute(
        select(DisposalItem, DisposalBatch)
        .join(DisposalBatch, DisposalBatch.id == DisposalItem.batch_id)
        .where(DisposalItem.id == item_id)
    ).first()
    if row is None:
        raise PermissionDenied(f"销毁被拒绝：鉴定条目 {item_id} 不存在")
    item, batch = row
    if batch.state != "open" or item.state not in ("pending", "destroyed"):
        raise PermissionDenied(f"销毁被拒绝：批次 {batch.uid} 的条目 {item.id} 不在待执行状态")
    final_round = len(batch.rounds)
    decision = session.scalar(
        select(DisposalDecision).where(
            DisposalDecision.item_id == item.id, DisposalDecision.round == final_round
        )
    )
    if decision is None or decision.decision != "destroy":
        raise PermissionDenied(
            f"销毁被拒绝：条目「{item.archival_code or item.record_id}」没有经最后一轮审批的销毁结论"
        )
    return DisposalAuthorisation(
        batch_uid=batch.uid,
        item_id=item.id,
        record_id=item.record_id,
        approved_by=decision.reviewer,
        approved_at=decision.decided_at.isoformat(),
        destroyed_at=at or datetime.now(UTC).isoformat(timespec="seconds"),
    )


def destroy_objects(
    inst: Instance,
    session: Session,
    auth: DisposalAuthorisation,
    keys: Sequence[tuple[str, str]],
    *,
    actor: str,
    system: StorageSystem | None = None,
) -> DestructionReport:
    """Remove the objects ``(package id, path)`` of the authorised item on every location."""
    if not isinstance(auth, DisposalAuthorisation) or (
        authorise(session, auth.item_id, at=auth.destroyed_at) != auth
    ):
        raise PermissionDenied("销毁被拒绝：授权与数据库中的审批结论不一致")
    checked = [(check_package_id(p), check_path(k)) for p, k in keys]
    if not checked:
        return DestructionReport()
    return destroy_everywhere(inst, session, auth, checked, actor=actor, system=system)
