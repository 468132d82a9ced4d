"""开放审核 workbench: the catalogue values and full texts of one item, as the screening saw them.

::

    GET /api/appraisal/batches/{id}/items/{record_id}/source   values and texts (and the 件 of a 案卷)

The item's hits (``GET /api/appraisal/batches/{id}/items``) locate themselves in this by record,
field or text part, and character offsets. Permission: ``appraisal:review:read``; items above the
reader's 密级授权 are 404, as in the item list.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from lantai.appraisal.review import get_batch
from lantai.appraisal.review.source import item_source
from lantai.security import Actor, Perm
from lantai.web.api.schemas import ErrorOut
from lantai.web.deps import get_instance, require

__all__ = ["router"]

router = APIRouter(
    prefix="/api/appraisal",
    tags=["开放审核"],
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)

BatchId = Annotated[int, Path(ge=1, le=2**62, description="审核批次 ID")]
RecordId = Annotated[int, Path(ge=1, le=2**62, description="条目 ID")]


@router.get(
    "/batches/{batch_id}/items/{record_id}/source",
    summary="条目的著录项与全文（预筛命中按此定位；案卷含其件）",
)
def get_source(
    batch_id: BatchId,
    record_id: RecordId,
    request: Request,
    actor: Actor = require(Perm.APPRAISAL_REVIEW_READ),
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        return item_source(inst, s, actor, get_batch(s, batch_id), record_id)
