"""Dashboard benchmark: ``GET /api/dashboard`` at 1,000,000 and 10,000,000 records.

Run ``.venv/bin/python bench/dashboard.py [--quick] [--records N ...]``. Prints ONE JSON object on
stdout (progress on stderr). For each size, on an SQLite instance cached in
``bench/out/dashboard/db-<N>-seed0/`` (``--prepare`` only makes the caches):

* once: generate N 文书 items with ``lantai.demo.generator.generate_records`` (one event per
  batch) and fill the summary (the first ``catch_up`` rebuilds it);
* every run: publish every 开放 案卷/件 (about a fifth; INSERT … SELECT, idempotent), then
  ``catch_up`` (the events since the last run) and ``rebuild`` (the whole summary recomputed from
  the records: one GROUP BY over the catalogue), both timed;
* ``api``: ``GET /api/dashboard`` (every figure of the registry) through the ASGI app with a
  logged-in archivist, median of several requests after one warm-up (nothing pending: the
  steady state);
* ``after_edit``: one record edited, then ``GET /api/dashboard`` (applies the event — recomputes
  that record's (全宗, 门类, 年度) partition — inside the request);
* baseline: the live GROUP BY the summary replaces (holdings by 门类/年度/层级/开放 over ``records``),
  i.e. what the dashboard would cost without maintained aggregates;
* consistency: 件 and 网上公布 figures equal counts over the records.

Default sizes 1,000,000 and 10,000,000 (the 10M instance needs about 7 GB of disk and about 20
minutes to generate on a loaded 2-core machine, once); ``--quick`` runs 100,000 (generated on the
first run, under a minute). Goal: the API ≤ 300 ms at every size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy import text as sql

from benchlib import load_average, log, machine
from lantai.dashboard import catch_up, rebuild
from lantai.demo.generator import generate_records
from lantai.instance import Instance
from lantai.security import Actor
from lantai.settings import Settings
from lantai.store import Record
from lantai.store.migrate import upgrade

PASSWORD = "Lantai-Dash-2026!"
RUNS = 7
GOAL_MS = 300.0
OUT = Path(__file__).resolve().parent / "out" / "dashboard"
SEED = 0


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _baseline(inst: Instance) -> float:
    """The live aggregate the summary replaces, timed once (seconds)."""
    q = select(
        Record.category, Record.year, Record.level, Record.open_status, func.count()
    ).group_by(Record.category, Record.year, Record.level, Record.open_status)
    t0 = time.perf_counter()
    with inst.db.read() as s:
        s.execute(q).all()
    return time.perf_counter() - t0


def _settings(home: Path) -> Settings:
    return Settings(
        home=home, archive_code="136101", password_time_cost=1, password_memory_kib=8192
    )


def cached_home(n: int, batch: int, out: Path) -> tuple[Path, dict[str, Any]]:
    """The instance home of ``n`` generated records: made once under ``out``, then reused (the
    10M generation takes tens of minutes); upgraded to the current schema on every use."""
    home = out / f"db-{n}-seed{SEED}"
    marker = home / "bench-generated.json"
    if marker.exists():
        upgrade(_settings(home).resolved_database_url)
        return home, {**json.loads(marker.read_text()), "cached": True}
    shutil.rmtree(home, ignore_errors=True)
    inst = Instance.initialise(_settings(home))
    try:
        with inst.db.write() as s:
            inst.users.create(
                s,
                Actor.operator(),
                username="leader01",
                display_name="馆领导",
                password=PASSWORD,
                roles=("archivist",),
                clearance="机密",
            )
        log(f"{n:,}: generating records into {home} (cached for later runs)")
        t0 = time.perf_counter()
        done = [0]

        def progress(k: int) -> None:
            done[0] += k
            if done[0] % (batch * 100) < k:
                log(f"  {done[0]:,} records, {time.perf_counter() - t0:.0f} s")

        gen = generate_records(inst, records=n, seed=SEED, batch=batch, progress=progress)
        gen_s = time.perf_counter() - t0
        log(f"{n:,}: first catch_up (fills the summary)")
        cu = catch_up(inst.db)
    finally:
        inst.close()
    info = {
        "records": gen.count,
        "first_id": gen.first_id,
        "generate_s": round(gen_s, 1),
        "first_catch_up_s": round(cu.seconds, 2),
    }
    marker.write_text(json.dumps(info))
    return home, {**info, "cached": False}


def publish_open(inst: Instance) -> int:
    """Publish every active 开放 record, as an archive that reviewed its open holdings would have
    them (about a fifth of the generated records); idempotent. One INSERT … SELECT behind the
    catalogue's back, like the search bench: the following ``rebuild`` counts them."""
    with inst.db.write() as s:
        result = s.execute(
            sql(
                "INSERT INTO published_records (record_id, state, published_at, published_by,"
                " datestamp, title, responsible, fields, masked_spans, unpublish_reason)"
                " SELECT r.id, 'published', :now, 'bench', :now, r.title, r.responsible, '{}', 0, ''"
                " FROM records r WHERE r.open_status = '开放' AND r.lifecycle = 'active'"
                " AND r.level IN ('file', 'item')"
                " AND NOT EXISTS (SELECT 1 FROM published_records p WHERE p.record_id = r.id)"
            ),
            {"now": datetime.now(UTC).replace(tzinfo=None)},
        )
        return int(getattr(result, "rowcount", 0) or 0)


def run_size(n: int, batch: int, out: Path) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from lantai.web.app import create_app

    home, info = cached_home(n, batch, out)
    inst = Instance.open(_settings(home))
    try:
        op = Actor.operator()
        newly_published = publish_open(inst)
        log(f"{n:,}: catch_up (events since the last run)")
        cu = catch_up(inst.db)
        log(f"{n:,}: rebuild")
        rb = rebuild(inst.db)
        log(f"{n:,}: baseline GROUP BY over records")
        base_s = _baseline(inst)
        with TestClient(create_app(inst), base_url="http://127.0.0.1") as client:
            r = client.post("/api/auth/login", json={"username": "leader01", "password": PASSWORD})
            r.raise_for_status()
            times = []
            body: dict[str, Any] = {}
            for i in range(RUNS + 1):
                t0 = time.perf_counter()
                resp = client.get("/api/dashboard")
                dt = time.perf_counter() - t0
                resp.raise_for_status()
                body = resp.json()
                if i:
                    times.append(dt)
            figs = {f["key"]: f for f in body["figures"]}
            # One edit, then the first request applies it (recomputes one partition).
            rid = int(info["first_id"])
            with inst.db.write() as s:
                rec = s.get(Record, rid)
                assert rec is not None
                pages = 98 if rec.pages == 99 else 99  # a real change on every run
                inst.catalogue.update_record(s, op, rid, {"pages": pages})
            t0 = time.perf_counter()
            client.get("/api/dashboard").raise_for_status()
            after_edit = time.perf_counter() - t0
        with inst.db.read() as s:
            active = int(
                s.scalar(
                    select(func.count()).where(Record.level == "item", Record.lifecycle == "active")
                )
                or 0
            )
        with inst.db.read() as s:
            published = int(
                s.scalar(
                    sql(
                        "SELECT count(*) FROM published_records p JOIN records r"
                        " ON r.id = p.record_id WHERE p.state = 'published'"
                        " AND r.open_status = '开放' AND r.lifecycle = 'active'"
                    )
                )
                or 0
            )
        items = figs["holdings.items"]["value"]
        return {
            "records": info["records"],
            "cached_instance": info["cached"],
            "generate_s": info["generate_s"],
            "first_catch_up_s": info["first_catch_up_s"],
            "catch_up_s": round(cu.seconds, 2),
            "rebuild_s": round(rb.seconds, 2),
            "summary_partitions": rb.partitions,
            "figures": len(figs),
            "api_ms_median": _ms(statistics.median(times)),
            "api_ms_max": _ms(max(times)),
            "api_after_one_edit_ms": _ms(after_edit),
            "baseline_group_by_ms": _ms(base_s),
            "speedup_vs_baseline": round(base_s / statistics.median(times), 1),
            "figure_holdings_items": items,
            "published_records": published,
            "newly_published": newly_published,
            "figure_publication_online": figs["publication.online"]["value"],
            "figures_consistent": items == active
            and figs["publication.online"]["value"] == published,
        }
    finally:
        inst.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="100,000 records only (< 60 s)")
    ap.add_argument("--records", type=int, nargs="+", default=None, help="sizes to measure")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--out", type=Path, default=OUT, help="cache of generated instances")
    ap.add_argument(
        "--prepare", action="store_true", help="only generate the cached instances, measure nothing"
    )
    args = ap.parse_args(argv)
    sizes = args.records or ([100_000] if args.quick else [1_000_000, 10_000_000])
    load = load_average()
    results: dict[str, Any] = {}
    failed = False
    if args.prepare:
        for n in sizes:
            log(json.dumps(cached_home(n, args.batch, args.out)[1]))
        return 0
    for n in sizes:
        try:
            results[str(n)] = run_size(n, args.batch, args.out)
        except Exception as exc:  # a failed size is reported, the others still run
            failed = True
            results[str(n)] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"{n:,}: failed: {exc}")
    goals = []
    for n, res in results.items():
        if "api_ms_median" in res:
            goals.append(
                {
                    "name": f"GET /api/dashboard at {int(n):,} records (median)",
                    "value": res["api_ms_median"],
                    "unit": "ms",
                    "goal": GOAL_MS,
                    "met": res["api_ms_median"] <= GOAL_MS,
                }
            )
    out = {
        "bench": "dashboard",
        "machine": machine(load, database="sqlite"),
        "results": results,
        "goals": goals,
    }
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
