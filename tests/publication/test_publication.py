"""上网审查: 开放 is not public until published; published records are masked everywhere public.

Covers the gate in the index (hits, totals, facets), masking in snippets and fields (and that a
masked ID number cannot be searched for publicly), 控制 never publishable, unpublishing and
automatic removal when the 开放标识 changes, the exported catalogue, and the OAI-PMH sets.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from factories import create_fonds, create_series
from lantai.access.copies import PageCounts
from lantai.access.portal import portal_record
from lantai.appraisal.publication import (
    PublicationService,
    export_open_catalogue,
    list_open_catalogue_sets,
    open_catalogue_set_members,
)
from lantai.errors import PermissionDenied, ValidationFailed
from lantai.search import add_text
from lantai.security import Actor
from lantai.store import Event, PublishedRecord, PublishedText, RecordText
from search_support import SearchKit

OP = Actor.operator()
PUBLIC = Actor.anonymous()


def id_number(body: str = "11010519800101123") -> str:
    """A valid 18-digit 居民身份证号 (GB 11643 check digit) for ``body``."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


ID = id_number()
PHONE = "13812345678"
TEXT = f"经查，申请人身份证号{ID}，联系电话{PHONE}，现居某市。此件记载青铜鼎出土经过。"


@dataclass
class Fonds:
    open_a: int
    open_b: int
    controlled: int
    fonds_code: str


@pytest.fixture
def fonds(any_kit: SearchKit) -> Fonds:
    kit = any_kit
    f = create_fonds(kit.inst, OP)
    series = create_series(kit.inst, OP, f.id, "文书档案")
    a = kit.item(series.id, title="关于青铜鼎出土情况的报告", open_status="开放")
    b = kit.item(series.id, title="关于文物普查工作的通知", open_status="开放", retention="D30")
    c = kit.item(series.id, title="关于青铜鼎保护经费的请示", open_status="控制")
    add_text(kit.inst, OP, a.id, "正文", "ocr", TEXT)
    add_text(kit.inst, OP, c.id, "正文", "ocr", "控制件记载青铜鼎保护经费。")
    kit.sync()
    return Fonds(a.id, b.id, c.id, f.archival_code or "")


def publish(kit: SearchKit, ids: list[int], actor: Actor = OP) -> int:
    svc = PublicationService(kit.inst)
    with kit.inst.db.write() as s:
        batch = svc.create_batch(s, actor, title="第一批上网目录", record_ids=ids)
        svc.decide(s, actor, batch.id, "approve", reason="经上网保密审查，同意公布")
        bid = batch.id
    kit.sync()
    return bid


def public_ids(kit: SearchKit, q: str = "", **params: object) -> list[int]:
    return kit.ids(q, PUBLIC, **params)


def test_open_but_unpublished_is_absent_from_public_hits_totals_and_facets(
    any_kit: SearchKit, fonds: Fonds
) -> None:
    kit = any_kit
    res = kit.search(PUBLIC, q="青铜鼎")
    assert res.total == 0 and res.hits == [] and res.facets == {}
    assert kit.search(PUBLIC).total == 0
    # staff search is unchanged
    assert set(kit.ids("青铜鼎")) == {fonds.open_a, fonds.controlled}

    publish(kit, [fonds.open_a])
    res = kit.search(PUBLIC, q="青铜鼎")
    assert [h.id for h in res.hits] == [fonds.open_a]
    assert res.total == 1
    assert sum(v.count for v in res.facets["fonds"]) == 1
    assert sum(v.count for v in res.facets["retention"]) == 1
    everything = kit.search(PUBLIC)
    assert everything.total == 1  # open_b is 开放 but not published
    assert set(kit.ids("青铜鼎")) == {fonds.open_a, fonds.controlled}


def test_published_snippet_masks_id_number_and_phone(any_kit: SearchKit, fonds: Fonds) -> None:
    kit = any_kit
    publish(kit, [fonds.open_a])
    hit = kit.search(PUBLIC, q="申请人").hits[0]
    snippet = "".join(s.text for s in hit.highlights["fulltext"])
    assert ID not in snippet and PHONE not in snippet
    assert f"{ID[:6]}********{ID[-4:]}" in snippet
    assert "138****5678" in snippet
    assert any(s.mark and s.text == "申请人" for s in hit.highlights["fulltext"])
    # the masked numbers cannot be searched for publicly; staff still find them
    assert public_ids(kit, ID) == [] and public_ids(kit, PHONE) == []
    assert public_ids(kit, f"全文:{PHONE}") == []
    assert kit.ids(ID) == [fonds.open_a] and kit.ids(PHONE) == [fonds.open_a]
    staff = kit.search(OP, q="申请人").hits[0]
    assert ID in "".join(s.text for s in staff.highlights["fulltext"])
    # the master is never altered
    with kit.inst.db.read() as s:
        master = s.scalar(select(RecordText.text).where(RecordText.record_id == fonds.open_a))
        public = s.scalar(select(PublishedText.text).where(PublishedText.record_id == fonds.open_a))
    assert master == TEXT
    assert public is not None and ID not in public and len(public) == len(TEXT)


def test_portal_record_shows_the_published_masked_form_only(
    any_kit: SearchKit, fonds: Fonds
) -> None:
    """The record page's one statement (record, 全宗, published form, texts, page counts) shows the
    masked texts of a published record, and nothing of an unpublished or 控制 one."""
    kit = any_kit
    add_text(kit.inst, OP, fonds.open_a, "附件", "ocr", "附件记载出土经过。")
    publish(kit, [fonds.open_a])
    cat = kit.inst.catalogue
    with kit.inst.db.engine.connect() as conn, kit.inst.db.read() as s:
        for db in (conn, s):
            rec = portal_record(cat, db, fonds.open_a, None, with_pages=True)
            assert rec is not None and rec.access == "published"
            assert rec.title == "关于青铜鼎出土情况的报告" and rec.fonds_code == fonds.fonds_code
            assert [part for part, _ in rec.texts] == ["正文", "附件"]
            assert ID not in rec.texts[0][1] and f"{ID[:6]}********{ID[-4:]}" in rec.texts[0][1]
            assert rec.page_counts == PageCounts(0, None, False)
            assert portal_record(cat, db, fonds.open_a, None, with_texts=False).texts == []  # type: ignore[union-attr]
            for hidden in (fonds.open_b, fonds.controlled, fonds.controlled + 1000):
                assert portal_record(cat, db, hidden, None, with_pages=True) is None


def test_controlled_record_can_never_be_published(any_kit: SearchKit, fonds: Fonds) -> None:
    kit = any_kit
    svc = PublicationService(kit.inst)
    with pytest.raises(ValidationFailed) as err, kit.inst.db.write() as s:
        svc.create_batch(s, OP, title="试图公布控制件", record_ids=[fonds.controlled])
    assert "控制" in err.value.problems[0].message
    assert "不得上网公布" in err.value.problems[0].message
    # a record that became 控制 after the batch was made is refused at approval
    with kit.inst.db.write() as s:
        bid = svc.create_batch(s, OP, title="第二批", record_ids=[fonds.open_b]).id
    _set_open_status(kit, fonds.open_b, "控制")
    with pytest.raises(ValidationFailed) as err, kit.inst.db.write() as s:
        svc.decide(s, OP, bid, "approve", reason="同意")
    assert "「控制」" in err.value.problems[0].message
    kit.sync()
    assert public_ids(kit) == []
    with kit.inst.db.read() as s:
        assert s.get(PublishedRecord, fonds.open_b) is None


def _set_open_status(kit: SearchKit, record_id: int, status: str) -> None:
    with kit.inst.db.write() as s:
        kit.inst.catalogue.update_record(s, OP, record_id, {"open_status": status})


def test_status_change_hides_at_once_and_reconcile_unpublishes(
    any_kit: SearchKit, fonds: Fonds
) -> None:
    kit = any_kit
    publish(kit, [fonds.open_a, fonds.open_b])
    assert set(public_ids(kit)) == {fonds.open_a, fonds.open_b}
    _set_open_status(kit, fonds.open_b, "控制")
    kit.sync()
    assert public_ids(kit) == [fonds.open_a]  # query time: published AND 开放
    with kit.inst.db.read() as s:
        members = {m.record_id: m for m in open_catalogue_set_members(s, "open")}
    assert members[fonds.open_b].deleted and not members[fonds.open_a].deleted
    svc = PublicationService(kit.inst)
    with kit.inst.db.write() as s:
        assert svc.reconcile(s, OP) == [fonds.open_b]
    with kit.inst.db.read() as s:
        row = s.get(PublishedRecord, fonds.open_b)
        assert row is not None and row.state == "unpublished"
        assert "控制" in row.unpublish_reason


def test_reject_and_unpublish_record_reviewer_reason_and_events(
    any_kit: SearchKit, fonds: Fonds
) -> None:
    kit = any_kit
    svc = PublicationService(kit.inst)
    with kit.inst.db.write() as s:
        bid = svc.create_batch(s, OP, title="批次", record_ids=[fonds.open_a, fonds.open_b]).id
        with pytest.raises(ValidationFailed):
            svc.decide(s, OP, bid, "reject", record_ids=[fonds.open_b])  # no reason
        svc.decide(s, OP, bid, "reject", reason="含未脱敏照片", record_ids=[fonds.open_b])
        svc.decide(s, OP, bid, "approve", reason="同意")
        items = {r.id: i for i, r in svc.items(s, OP, bid)}
    assert items[fonds.open_b].decision == "rejected"
    assert items[fonds.open_b].reason == "含未脱敏照片"
    assert items[fonds.open_a].decision == "approved" and items[fonds.open_a].reviewer
    assert items[fonds.open_a].decided_at is not None and items[fonds.open_a].masked_spans == 2
    kit.sync()
    assert public_ids(kit) == [fonds.open_a]
    with kit.inst.db.write() as s:
        assert svc.unpublish(s, OP, [fonds.open_a], reason="权利人异议") == [fonds.open_a]
    kit.sync()
    assert public_ids(kit) == []
    with kit.inst.db.read() as s:
        members = open_catalogue_set_members(s, "open")
    assert [(m.record_id, m.deleted) for m in members] == [(fonds.open_a, True)]
    actions = [e.action for e in _events(kit)]
    for action in (
        "publication:batch:created",
        "publication:items:rejected",
        "catalogue:records:published",
        "catalogue:records:unpublished",
    ):
        assert action in actions


def _events(kit: SearchKit) -> list[Event]:
    with kit.inst.db.read() as s:
        return list(s.scalars(select(Event).order_by(Event.seq)))


def test_oai_sets_and_members_with_datestamps(any_kit: SearchKit, fonds: Fonds) -> None:
    kit = any_kit
    publish(kit, [fonds.open_a, fonds.open_b])
    with kit.inst.db.read() as s:
        sets = [x.spec for x in list_open_catalogue_sets(s)]
        assert sets == ["open", f"open:fonds:{fonds.fonds_code}"]
        members = open_catalogue_set_members(s, f"open:fonds:{fonds.fonds_code}")
        assert {m.record_id for m in members} == {fonds.open_a, fonds.open_b}
        assert all(not m.deleted and m.datestamp is not None and m.identifier for m in members)
        later = max(m.datestamp for m in members)
        assert open_catalogue_set_members(s, "open", since=later) != []
        with pytest.raises(ValidationFailed):
            open_catalogue_set_members(s, "closed")


def test_exported_catalogue_holds_exactly_the_published_items_masked(
    kit: SearchKit, tmp_path: Path
) -> None:
    f = create_fonds(kit.inst, OP)
    series = create_series(kit.inst, OP, f.id, "文书档案")
    a = kit.item(series.id, title=f"关于李明违纪处分的决定（联系电话{PHONE}）", open_status="开放")
    b = kit.item(series.id, title="关于档案开放的通知", open_status="开放")
    kit.item(series.id, title="关于控制件的请示", open_status="控制")
    publish(kit, [a.id])
    svc = PublicationService(kit.inst)
    out = export_open_catalogue(
        kit.inst, svc.config, tmp_path / "目录.xlsx", level="item", fmt="xlsx", actor=OP
    )
    assert out.rows == 1
    ws = load_workbook(out.path).active
    cells = [str(c) for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert any("138****5678" in c for c in cells)
    assert not any(PHONE in c or "李明" in c for c in cells)
    assert not any(b.title in c or "控制件" in c for c in cells)
    assert any("李*" in c for c in cells)
    pdf = export_open_catalogue(
        kit.inst, svc.config, tmp_path / "目录.pdf", level="item", fmt="pdf"
    )
    assert pdf.rows == 1 and pdf.path.read_bytes().startswith(b"%PDF")
    text = _pdf_text(pdf.path.read_bytes())
    assert "138****5678" in text and PHONE not in text and "关于档案开放的通知" not in text


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)


def test_anonymous_cannot_create_or_approve(kit: SearchKit) -> None:
    f = create_fonds(kit.inst, OP)
    series = create_series(kit.inst, OP, f.id, "文书档案")
    a = kit.item(series.id, title="关于档案开放的通知", open_status="开放")
    svc = PublicationService(kit.inst)
    with pytest.raises(PermissionDenied), kit.inst.db.write() as s:
        svc.create_batch(s, PUBLIC, title="x", record_ids=[a.id])
    with kit.inst.db.write() as s:
        bid = svc.create_batch(s, OP, title="x", record_ids=[a.id]).id
    with pytest.raises(PermissionDenied), kit.inst.db.write() as s:
        svc.decide(s, PUBLIC, bid, "approve", reason="")


def test_api_public_download_and_anonymous_denied(kit: SearchKit) -> None:
    from fastapi.testclient import TestClient

    from search_support import search_app

    f = create_fonds(kit.inst, OP)
    series = create_series(kit.inst, OP, f.id, "文书档案")
    a = kit.item(series.id, title=f"来电登记（电话{PHONE}）", open_status="开放")
    kit.item(series.id, title="关于控制件的请示", open_status="控制")
    with TestClient(search_app(kit.inst), base_url="http://127.0.0.1") as c:
        r = c.post("/api/publication/batches", json={"title": "x", "record_ids": [a.id]})
        assert r.status_code == 401
        r = c.get("/api/public/open-catalogue/item.xlsx")
        assert r.status_code == 200
        assert load_workbook(io.BytesIO(r.content)).active.max_row == 3  # title, note, header
        publish(kit, [a.id])
        r = c.get("/api/public/open-catalogue/item.xlsx")
        rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
        assert len(rows) == 4 and "138****5678" in str(rows[3]) and PHONE not in str(rows)
        r = c.get("/api/public/open-catalogue/file.pdf")
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
        r = c.get("/api/public/open-catalogue/series.csv")
        assert r.status_code == 422
