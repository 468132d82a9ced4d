"""挂接 by 档号: a batch with a missing and an extra image, orphans both ways, stored 挂接率."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from digitisation_support import make_items, render_page, save
from lantai.digitisation import import_batch, link_batch, linking_stats
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import Event, LinkingStat, Record, ScanPage


def test_linking_report_with_missing_and_extra_images(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    items = make_items(instance, operator, [1, 2, 1])
    (id0, c0), (id1, c1), (id2, c2) = items
    with instance.db.write() as s:  # two of them belong to the 专题库「民生」
        for rid in (id0, id2):
            rec = s.get(Record, rid)
            assert rec is not None
            rec.fields = {**rec.fields, "collections": ["民生"]}
    root = tmp_path / "batch"
    save(render_page(1), root / f"{c0}-0001.jpg")
    save(render_page(2), root / c1 / "0001.jpg")
    save(render_page(3), root / c1 / "0002.jpg")
    extra = c0.rsplit("-", 1)[0] + "-9999"  # an image whose 档号 is not in the catalogue
    save(render_page(4), root / extra / "0001.jpg")
    # c2 has no image: a record without images
    batch = import_batch(
        instance, operator, root, fonds_code="Z109", category="WS", collection="民生"
    )
    report = link_batch(instance, operator, batch.id)
    summary = report["summary"]
    assert summary["linked_records"] == 2 and summary["linked_pages"] == 3
    assert [x["archival_code"] for x in report["images_without_record"]] == [extra]
    assert [x["archival_code"] for x in report["records_without_images"]] == [c2]
    assert summary["images_without_record"] == 1 and summary["records_without_images"] == 1
    assert all(x["pages_match"] for x in report["linked"])
    with instance.db.read() as s:
        pages = list(s.scalars(select(ScanPage).where(ScanPage.batch_id == batch.id)))
        assert {p.record_id for p in pages if p.archival_code == c1} == {id1}
        assert {p.record_id for p in pages if p.archival_code == extra} == {None}
        stats = {(r.scope, r.value): r for r in s.scalars(select(LinkingStat))}
        assert stats[("fonds", "Z109")].records == 3 and stats[("fonds", "Z109")].linked == 2
        assert (
            stats[("fonds", "Z109")].ratio == round(2 / 3, 4)
            and stats[("fonds", "Z109")].pages == 3
        )
        assert stats[("category", "WS")].linked == 2
        assert (
            stats[("collection", "民生")].records == 2 and stats[("collection", "民生")].linked == 1
        )
        event = s.scalar(select(Event).where(Event.action == "digitisation:batch:linked"))
        assert event is not None and json.loads(event.detail)["records_without_images"] == 1
        assert len(linking_stats(s, operator)) == 3
    # scanning the missing record later and linking again completes the fonds
    root2 = tmp_path / "batch2"
    save(render_page(5), root2 / f"{c2}-0001.jpg")
    batch2 = import_batch(instance, operator, root2, fonds_code="Z109", category="WS")
    report2 = link_batch(instance, operator, batch2.id)
    assert report2["records_without_images"] == []
    with instance.db.read() as s:
        fonds = s.scalar(select(LinkingStat).where(LinkingStat.scope == "fonds"))
        assert fonds is not None and fonds.ratio == 1.0
