"""Figures of the work around the holdings (扫描、挂接、OCR、开放审核、上网公布、备份) on the known
instance, built through the real services, with their drill-downs and annual codes 58–59, 132–133."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dashboard_support import Known, build_known, build_progress
from lantai.dashboard import DashboardService, annual_form, catch_up, check
from lantai.instance import Instance
from lantai.security import Actor

FULL = 99  # 密级 rank above every record


@pytest.fixture
def progress(instance: Instance, operator: Actor, tmp_path: Path) -> Known:
    return build_progress(build_known(instance, operator), operator, tmp_path)


def _drill(k: Known, key: str, **params: str) -> dict[str, Any]:
    svc = DashboardService(k.inst)
    return svc.drill_page(key, params, offset=0, limit=50, clearance=FULL)


def test_progress_figures_of_the_known_instance(progress: Known) -> None:
    k = progress
    f = {x["key"]: x for x in DashboardService(k.inst).figures()["figures"]}
    got = {key: f[key]["value"] for key in f if key.split(".")[0] in _GROUPS}
    assert got == {
        "digitisation.ratio": round(100 * 3 / 13, 2),  # record files, unchanged
        "digitisation.scanned": round(100 * 2 / 13, 2),  # ws2011_0, ws2011_1
        "digitisation.frames": 3,  # the page whose 档号 is not catalogued is not counted
        "linking.ratio": round(100 * 2 / 3, 2),
        "ocr.backlog": 3,
        "review.batches": 1,
        "review.items": 2,
        "publication.online": 6,
        "publication.this_year": 6,
        "backup.last": 0,
        "backup.tested": 0,
        "use.visits": 3,
        "use.items": 5,
        "use.purposes": 3,
    }
    assert f["digitisation.scanned"]["parts"] == {"numerator": 2, "holdings": 13}
    lk = f["linking.ratio"]
    assert lk["target"] == 80 and lk["count"] is None
    assert lk["parts"] == {"linked": 2, "records": 3, "collections": 1, "below_target": 1}
    assert [(p["key"], p["value"], p["count"]) for p in lk["series"]] == [
        ("民生", round(100 * 2 / 3, 2), 2)
    ]
    assert f["ocr.backlog"]["parts"] == {"pending": 2, "low_confidence": 1}
    assert [(p["label"], p["count"]) for p in f["review.batches"]["series"]] == [("初审", 1)]
    assert f["review.items"]["parts"] == {"decided": 1, "undecided": 1}
    assert f["backup.last"]["count"] == 1 and f["backup.tested"]["parts"] == {
        "passed": 1,
        "failed": 0,
    }
    assert f["open.this_year"]["value"] == 0  # decided in 初审, not yet applied
    series = {k: [(p["key"], p["count"]) for p in f[k]["series"]] for k in f if k[:4] == "use."}
    assert series == {
        "use.visits": [("网上", 2), ("到馆", 1)],
        "use.items": [("view", 2), ("visit", 1), ("copy", 1), ("certificate", 1)],
        "use.purposes": [("个人·学术研究", 1), ("个人·权益维护", 1), ("单位·工作查考", 1)],
    }


_GROUPS = {"digitisation", "linking", "ocr", "review", "publication", "backup", "use"}


def test_progress_drill_downs_list_what_was_counted(progress: Known) -> None:
    k = progress
    ids = k.ids
    assert DashboardService(k.inst).verify() == []
    assert check(k.inst.db) == []
    scanned = _drill(k, "digitisation.scanned")
    assert {r["id"] for r in scanned["items"]} == {ids["ws2011_0"], ids["ws2011_1"]}
    assert _drill(k, "digitisation.frames")["total"] == 2  # records; their pages sum to 3
    民生 = _drill(k, "linking.ratio", collection="民生")
    assert {r["id"] for r in 民生["items"]} == {ids["ws2011_0"], ids["ws2011_1"]}
    low = _drill(k, "ocr.backlog", state="low_confidence")
    assert [(r["page_no"], r["record_id"]) for r in low["items"]] == [(2, ids["ws2011_0"])]
    pending = _drill(k, "ocr.backlog", state="pending")
    assert pending["kind"] == "page" and pending["total"] == 2
    assert sum(r["record_id"] is None for r in pending["items"]) == 1  # the stray page
    batches = _drill(k, "review.batches", round="first")
    assert [(r["id"], r["round"]) for r in batches["items"]] == [(ids["review_batch"], "初审")]
    decided = _drill(k, "review.items", state="decided")
    assert [r["id"] for r in decided["items"]] == [ids["ws2011_3"]]
    online = _drill(k, "publication.online")
    assert {r["id"] for r in online["items"]} == {
        ids[x] for x in ("ws2011_0", "ws2011_1", "ws1948_0", "zp0", "zp1", "zp2")
    }
    visits = _drill(k, "use.visits")  # one row per 人次: the first use of the day
    assert [(r["day"], r["person"], r["kind"]) for r in visits["items"]] == [
        ("2026-03-01", "实名账号", "view"),
        ("2026-05-02", "到馆登记", "visit"),
        ("2026-06-03", "实名账号", "certificate"),
    ]
    copies = _drill(k, "use.items", kind="copy")
    assert [(r["record_id"], r["channel"]) for r in copies["items"]] == [(ids["ws1948_0"], "到馆")]
    assert _drill(k, "use.purposes", purpose="个人·权益维护")["total"] == 1
    backups = _drill(k, "backup.tested")
    assert [(r["id"], r["verified_ok"]) for r in backups["items"]] == [(ids["backup"], True)]


def test_progress_annual_codes(progress: Known) -> None:
    form = annual_form(progress.inst, 2026, verify=True)
    rows = {r.code: r for r in form.rows}
    assert form.problems == []
    assert (rows[58].count, rows[59].count) == (0, 2)
    assert (rows[132].count, rows[133].count) == (0, 6)
    uses = {c: rows[c].count for c in range(134, 144)}
    assert uses == {
        134: 3,
        135: 5,
        136: 1,
        137: 0,
        138: 1,
        139: 1,
        140: 0,
        141: 4,
        142: 1,
        143: 2,
    }
    assert rows[144].status == rows[145].status == "disabled"
    assert rows[133].value == 0.0006 and rows[133].check is True
    assert annual_form(progress.inst, 2025).rows[[r.code for r in form.rows].index(133)].count == 0


def test_linking_keeps_the_summary_exact(progress: Known, operator: Actor, tmp_path: Path) -> None:
    """挂接 names its batch, not the records: the follower recomputes those records' partitions
    (the LY 2021 partition below is touched by no other event)."""
    from digitisation_support import render_page, save
    from lantai.digitisation import import_batch, link_batch
    from lantai.store import Record

    k = progress
    catch_up(k.inst.db)
    with k.inst.db.read() as s:
        code = s.get(Record, k.ids["ly1"]).archival_code  # type: ignore[union-attr]
        fonds = s.get(Record, k.fonds).archival_code  # type: ignore[union-attr]
    save(render_page(5, width_mm=60), tmp_path / "scan-c" / f"{code}-0001.png")
    batch = import_batch(k.inst, operator, tmp_path / "scan-c", fonds_code=fonds)
    link_batch(k.inst, operator, batch.id)
    done = catch_up(k.inst.db)
    assert done.partitions == 1 and check(k.inst.db) == []
    f = {x["key"]: x for x in DashboardService(k.inst).figures()["figures"]}
    assert f["digitisation.frames"]["value"] == 4
    assert f["digitisation.scanned"]["parts"]["numerator"] == 3


def test_progress_on_any_backend(any_instance: Instance, operator: Actor, tmp_path: Path) -> None:
    """The 专题库 condition is dialect-specific (json_each / jsonb ?|): same figures on both."""
    k = build_progress(
        build_known(any_instance, operator), operator, tmp_path, ocr=False, backup=False
    )
    f = {x["key"]: x for x in DashboardService(k.inst).figures()["figures"]}
    assert [(p["key"], p["count"]) for p in f["linking.ratio"]["series"]] == [("民生", 2)]
    assert f["digitisation.frames"]["value"] == 3 and f["ocr.backlog"]["value"] == 4
    assert f["publication.online"]["value"] == 6 and f["review.items"]["value"] == 2
    assert DashboardService(k.inst).verify() == [] and check(k.inst.db) == []
    民生 = _drill(k, "linking.ratio", collection="民生")
    assert {r["id"] for r in 民生["items"]} == {k.ids["ws2011_0"], k.ids["ws2011_1"]}


def test_every_drill_url_of_the_api_lists_its_count(progress: Known, operator: Actor) -> None:
    """Each breakdown point's ``drill`` URL (collection, state, round, kind, channel, purpose …)
    goes through the HTTP API and returns exactly the point's count."""
    from fastapi.testclient import TestClient

    from lantai.web.app import create_app
    from web_support import PASSWORD, login

    with progress.inst.db.write() as s:
        progress.inst.users.create(
            s,
            operator,
            username="archivist",
            display_name="档案员",
            password=PASSWORD,
            roles=("archivist",),
            clearance="机密",
        )
    with TestClient(create_app(progress.inst), base_url="http://127.0.0.1") as client:
        login(client, "archivist")
        figures = client.get("/api/dashboard").json()["figures"]
        checked = 0
        for f in figures:
            for p in f["series"]:
                if not p["drill"]:
                    continue
                r = client.get(p["drill"] + ("&" if "?" in p["drill"] else "?") + "limit=1")
                assert r.status_code == 200, (p["drill"], r.text)
                assert r.json()["total"] == p["count"], p["drill"]
                checked += 1
    assert checked >= 25
