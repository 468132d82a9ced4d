"""Dashboard benchmark: ``GET /api/dashboard`` at 1,000,000 and 10,000,000 records.

Run ``.venv/bin/python bench/dashboard.py [--quick] [--records N ...]``. Prints ONE JSON object on
stdout (progress on stderr). For each size, on a fresh SQLite instance in a temporary home:

* generate N 文书 items with ``lantai.demo.generator.generate_records`` (one event per batch);
* ``catch_up``: the follower applies the generator's events to the empty summary (the delta path);
* ``rebuild``: the whole summary recomputed from the records (one GROUP BY over the catalogue);
* ``api``: ``GET /api/dashboard`` through the ASGI app with a logged-in archivist, median of
  several requests after one warm-up (nothing pending: the steady state);
* ``after_edit``: one record edited, then ``GET /api/dashboard`` (applies the event — recomputes
  that record's (全宗, 门类, 年度) partition — inside the request);
* baseline: the live GROUP BY the summary replaces (holdings by 门类/年度/层级/开放 over ``records``),
  i.e. what the dashboard would cost without maintained aggregates.

Default sizes 1,000,000 and 10,000,000 (the 10M instance needs about 10 GB of disk and tens of
minutes); ``--quick`` runs 100,000 in under a minute. Goal: the API ≤ 300 ms at every size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchlib import load_average, log, machine
from lantai.dashboard import catch_up, rebuild
from lantai.demo.generator import generate_records
from lantai.instance import Instance
from lantai.security import Actor
from lantai.settings import Settings
from lantai.store import Record

PASSWORD = "Lantai-Dash-2026!"
RUNS = 7
GOAL_MS = 300.0


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


def run_size(n: int, batch: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from lantai.web.app import create_app

    with tempfile.TemporaryDirectory(prefix="lantai-bench-dash-") as tmp:
        settings = Settings(
            home=Path(tmp) / "home",
            archive_code="136101",
            password_time_cost=1,
            password_memory_kib=8192,
        )
        inst = Instance.initialise(settings)
        try:
            op = Actor.operator()
            with inst.db.write() as s:
                inst.users.create(
                    s,
                    op,
                    username="leader01",
                    display_name="馆领导",
                    password=PASSWORD,
                    roles=("archivist",),
                    clearance="机密",
                )
            log(f"{n:,}: generating records")
            t0 = time.perf_counter()
            done = [0]

            def progress(k: int) -> None:
                done[0] += k
                if done[0] % (batch * 100) < k:
                    log(f"  {done[0]:,} records")

            gen = generate_records(inst, records=n, batch=batch, progress=progress)
            gen_s = time.perf_counter() - t0
            log(f"{n:,}: catch_up from an empty summary")
            cu = catch_up(inst.db, max_events=5000)
            log(f"{n:,}: rebuild")
            rb = rebuild(inst.db)
            log(f"{n:,}: baseline GROUP BY over records")
            base_s = _baseline(inst)
            with TestClient(create_app(inst), base_url="http://127.0.0.1") as client:
                r = client.post(
                    "/api/auth/login", json={"username": "leader01", "password": PASSWORD}
                )
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
                rid = gen.first_id
                assert rid is not None
                with inst.db.write() as s:
                    inst.catalogue.update_record(s, op, rid, {"pages": 99})
                t0 = time.perf_counter()
                client.get("/api/dashboard").raise_for_status()
                after_edit = time.perf_counter() - t0
            items = figs["holdings.items"]["value"]
            return {
                "records": gen.count,
                "generate_s": round(gen_s, 1),
                "catch_up_s": round(cu.seconds, 2),
                "catch_up_events": cu.events,
                "rebuild_s": round(rb.seconds, 2),
                "summary_partitions": rb.partitions,
                "api_ms_median": _ms(statistics.median(times)),
                "api_ms_max": _ms(max(times)),
                "api_after_one_edit_ms": _ms(after_edit),
                "baseline_group_by_ms": _ms(base_s),
                "speedup_vs_baseline": round(base_s / statistics.median(times), 1),
                "figure_holdings_items": items,
                "figures_consistent": items == gen.count,
            }
        finally:
            inst.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="100,000 records only (< 60 s)")
    ap.add_argument("--records", type=int, nargs="+", default=None, help="sizes to measure")
    ap.add_argument("--batch", type=int, default=5000)
    args = ap.parse_args(argv)
    sizes = args.records or ([100_000] if args.quick else [1_000_000, 10_000_000])
    load = load_average()
    results: dict[str, Any] = {}
    failed = False
    for n in sizes:
        try:
            results[str(n)] = run_size(n, args.batch)
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
