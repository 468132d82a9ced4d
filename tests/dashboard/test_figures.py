"""Every dashboard figure on the known instance, incremental upkeep, and the consistency check."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dashboard_support import Known, build_known
from factories import item_values
from lantai.archival import Level
from lantai.catalogue.service import NewRecord
from lantai.dashboard import DashboardService, catch_up, check, rebuild
from lantai.security import Actor
from lantai.store import DashboardHolding


def _figs(k: Known) -> dict[str, dict[str, Any]]:
    return {f["key"]: f for f in DashboardService(k.inst).figures()["figures"]}


def test_every_figure_of_the_known_instance(known: Known) -> None:
    f = _figs(known)
    values = {key: fig["value"] for key, fig in f.items() if fig["status"] == "ok"}
    assert values | {"search.lag": 0} == {
        "holdings.fonds": 1,
        "holdings.files": 1,
        "holdings.items": 12,  # 7 WS + 3 ZP + 2 LY 件; the 2 卷内文件 count with their 卷
        "holdings.gb": round(7500 / 1024**3, 6),
        "holdings.photos": 3,
        "holdings.minutes": 75,
        "holdings.by_category": 13,
        "holdings.by_year": 13,
        "holdings.by_carrier": 13,
        "growth.this_year": round(100 * 7 / 6, 2),
        "digitisation.ratio": round(100 * 3 / 13, 2),
        "open.rate": round(100 * 6 / 13, 2),
        "open.this_year": 0,
        "ingest.queue": 2,
        "ingest.transfers": 1,
        "ingest.files": 3,
        "ingest.gb": round(7500 / 1024**3, 6),
        "summary.lag": 0,
        "search.lag": 0,
        # nothing scanned, reviewed, published or backed up yet (see test_progress.py)
        "digitisation.scanned": 0.0,
        "digitisation.frames": 0,
        "linking.ratio": 0.0,
        "ocr.backlog": 0,
        "review.batches": 0,
        "review.items": 0,
        "publication.online": 0,
        "publication.this_year": 0,
        "backup.last": None,
        "backup.tested": None,
        "use.visits": 0,
        "use.items": 0,
        "use.purposes": 0,
        # preservation.py: no storage ledger or disposal on this instance
        "storage.copies": None,
        "storage.fixity": None,
        "storage.alerts": 0,
        "disposal.destroyed": 0,
        "xarchive.open": 0,  # no 跨馆查档 request (tests/federation/test_reminders.py)
    }
    assert f["backup.last"]["note"].startswith("尚无备份")
    assert f["linking.ratio"]["note"].startswith("尚无专题库挂接统计")
    assert f["holdings.gb"]["count"] == 7500
    assert f["growth.this_year"]["parts"] == {"added": 7, "start_of_year": 6}
    assert f["growth.this_year"]["target"] == 6
    assert f["digitisation.ratio"]["parts"] == {"numerator": 3, "holdings": 13}
    series = {k: [(p["key"], p["value"]) for p in f[k]["series"]] for k in f if f[k]["series"]}
    assert series == {
        "holdings.by_category": [("LY", 2), ("WS", 8), ("ZP", 3)],
        "holdings.by_year": [("1948", 2), ("2011", 5), ("2020", 3), ("2021", 2), ("2025", 1)],
        "holdings.by_carrier": [("未著录", 12), ("纸质", 1)],
        "ingest.queue": [("received", 1), ("staged", 1)],
        "ocr.backlog": [("pending", 0), ("low_confidence", 0)],
        "review.items": [("decided", 0), ("undecided", 0)],
    }
    assert f["holdings.by_category"]["series"][1]["label"] == "文书（WS）"
    disabled = {k for k, v in f.items() if v["status"] == "disabled"}
    assert disabled == {"holdings.frames"}
    assert f["xarchive.open"]["value"] == 0 and f["xarchive.open"]["note"] == "尚无跨馆查档申请"
    assert all(f[k]["value"] is None and f[k]["status_label"] == "未启用" for k in disabled)
    assert f["search.lag"]["parts"]["indexed"] == 0  # no index built in this test


def test_every_figure_equals_its_records(known: Known) -> None:
    assert DashboardService(known.inst).verify() == []
    assert check(known.inst.db) == []


def test_incremental_upkeep_matches_a_rebuild(known: Known, operator: Actor) -> None:
    inst = known.inst
    ids = known.ids
    with inst.db.write() as s:  # open one record, edit another, withdraw a third
        inst.catalogue.update_record(s, operator, ids["ws2011_2"], {"open_status": "开放"})
        inst.catalogue.update_record(s, operator, ids["ws2011_3"], {"pages": 9})
        inst.catalogue.withdraw(s, operator, ids["ws1948_1"], reason="重复著录")
    with inst.db.write() as s:  # a bulk creation (the delta path)
        inst.catalogue.create_records(
            s,
            operator,
            [
                NewRecord(
                    parent_id=known.ws,
                    level=Level.ITEM,
                    values=item_values(title=f"批量{n}", date="20260105", doc_number=None),
                    category="WS",
                )
                for n in range(5)
            ],
        )
    done = catch_up(inst.db)
    assert done.events >= 4 and done.openings == 1 and done.lag == 0
    f = _figs(known)
    assert f["open.this_year"]["value"] == 1
    assert f["holdings.items"]["value"] == 12 - 1 + 5
    assert f["open.rate"]["parts"] == {"numerator": 7, "holdings": 17}
    years = dict((p["key"], p["value"]) for p in f["holdings.by_year"]["series"])
    assert years == {"1948": 1, "2011": 5, "2020": 3, "2021": 2, "2025": 1, "2026": 5}
    assert check(inst.db) == []
    with inst.db.read() as s:
        before = sorted(
            tuple(
                getattr(h, c)
                for c in (
                    "fonds_id",
                    "category",
                    "year",
                    "unit",
                    "lifecycle",
                    "open_status",
                    "records",
                    "bytes",
                )
            )
            for h in s.scalars(select(DashboardHolding))
        )
    rebuild(inst.db)
    with inst.db.read() as s:
        after = sorted(
            tuple(
                getattr(h, c)
                for c in (
                    "fonds_id",
                    "category",
                    "year",
                    "unit",
                    "lifecycle",
                    "open_status",
                    "records",
                    "bytes",
                )
            )
            for h in s.scalars(select(DashboardHolding))
        )
    assert before == after
    assert _figs(known)["open.this_year"]["value"] == 1  # re-read from the audit log


def test_check_reports_a_summary_that_drifted(known: Known) -> None:
    with known.inst.db.write() as s:
        row = s.scalars(
            select(DashboardHolding).where(
                DashboardHolding.category == "ZP", DashboardHolding.unit == "item"
            )
        ).first()
        assert row is not None
        row.records += 1
    bad = check(known.inst.db)
    assert len(bad) == 1 and bad[0].partition[1] == "ZP"
    assert bad[0].summary[0] == bad[0].records[0] + 1
    assert DashboardService(known.inst).verify() != []
    rebuild(known.inst.db)
    assert check(known.inst.db) == []


def test_catch_up_from_an_empty_summary_on_any_backend(any_instance, operator: Actor) -> None:  # type: ignore[no-untyped-def]

    k = build_known(any_instance, operator)
    assert DashboardService(k.inst).verify() == []
    with k.inst.db.write() as s:
        k.inst.catalogue.update_record(s, operator, k.ids["zp1"], {"open_status": "控制"})
    catch_up(k.inst.db)
    assert check(k.inst.db) == []
    assert _figs(k)["open.rate"]["parts"]["numerator"] == 5
