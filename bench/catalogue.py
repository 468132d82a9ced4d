"""Catalogue benchmark: bulk insert, paging a node with 50,000 children, EAD3 export.

Run ``.venv/bin/python bench/catalogue.py [--quick] [--records N]``. Prints ONE JSON object on
stdout (progress goes to stderr)::

    {"bench": "catalogue", "machine": {...}, "results": {...}, "goals": [...]}

Every measurement runs on a fresh temporary instance: SQLite in a temporary home, PostgreSQL in
a database this script creates and drops (``--pg-url``, default the local server; skipped with
a note when it does not answer).

* insert: ``lantai.demo.generator.generate_records`` of N records (default 1,000,000;
  ``--quick`` 20,000), with 档号, closure rows, counters and one audit event per batch; and, as
  the physical bound, raw ``sqlite3`` executemany of N minimal rows with the same pragmas and
  batch size, so the generator's rate can be read as a share of what SQLite itself can do.
* children: ``Catalogue.children`` of a 类别 with 50,000 direct children, first page (50) and a
  page in the middle reached by cursor; median of several runs after one cold run.
* ead3: ``lantai.catalogue.ead3.export_ead3`` of a fonds of 10,000 items (ArchivesSpace needs
  about 40 s for a resource of this size). Skipped when the exporter is not installed.

Exit status 1 when a measurement failed (its error is in the JSON); goals not met do not fail.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from benchlib import load_average, log, machine
from lantai.demo.generator import generate_records, generate_wide_series
from lantai.instance import Instance
from lantai.security import Actor
from lantai.settings import Settings

PG_ADMIN_URL = os.environ.get(
    "LANTAI_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PAGE = 50
RUNS = 9


# -- machine ----------------------------------------------------------------------------------------


def _pg_version(admin_url: str) -> tuple[str | None, str | None]:
    """(server version, None) or (None, why it is unreachable)."""
    try:
        import psycopg

        with psycopg.connect(admin_url, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return (str(row[0]) if row else "unknown"), None
    except Exception as exc:
        return None, f"PostgreSQL not reachable at {admin_url}: {exc}".strip()


# -- instances ---------------------------------------------------------------------------------------


@contextmanager
def fresh_instance(backend: str, pg_admin: str) -> Iterator[Instance]:
    """An initialised instance in a temporary home (and database), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="lantai-bench-") as tmp:
        url = ""
        dbname = ""
        if backend == "postgresql":
            import psycopg

            dbname = f"lantai_bench_{secrets.token_hex(6)}"
            with psycopg.connect(pg_admin, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE \"{dbname}\" TEMPLATE template0 ENCODING 'UTF8'")
            base = pg_admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
            url = f"{base}/{dbname}"
        inst = Instance.initialise(
            Settings(home=Path(tmp) / "home", database_url=url, archive_code="136101")
        )
        try:
            yield inst
        finally:
            inst.close()
            if dbname:
                import psycopg

                with psycopg.connect(pg_admin, autocommit=True) as conn:
                    conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                        (dbname,),
                    )
                    conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')


# -- measurements ------------------------------------------------------------------------------------


def measure_insert(inst: Instance, records: int, batch: int) -> dict[str, Any]:
    """Overall rate (fonds, 类别 and checks included) and the rate after the first batch."""
    commits: list[tuple[float, int]] = []

    def committed(n: int) -> None:
        commits.append((time.perf_counter(), n))

    started = time.perf_counter()
    cpu = time.process_time()
    result = generate_records(inst, records=records, batch=batch, progress=committed)
    wall = time.perf_counter() - started
    out: dict[str, Any] = {
        "records": result.count,
        "batches": result.batches,
        "years": list(result.years),
        "seconds": round(wall, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "records_per_second": round(result.count / wall),
    }
    if len(commits) > 1:
        steady = sum(n for _, n in commits[1:]) / (commits[-1][0] - commits[0][0])
        out["records_per_second_after_first_batch"] = round(steady)
    return out


def measure_raw_sqlite(records: int, batch: int) -> dict[str, Any]:
    """The physical bound: sqlite3 executemany of minimal rows, same pragmas and batch size."""
    title = "关于进一步加强档案数字化工作的意见"
    with tempfile.TemporaryDirectory(prefix="lantai-bench-raw-") as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, title TEXT NOT NULL)")
        started = time.perf_counter()
        for lo in range(0, records, batch):
            rows = [(i, title) for i in range(lo + 1, min(lo + batch, records) + 1)]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO t (id, title) VALUES (?, ?)", rows)
            conn.execute("COMMIT")
        wall = time.perf_counter() - started
        conn.close()
    return {
        "records": records,
        "seconds": round(wall, 3),
        "records_per_second": round(records / wall),
        "row": "(id INTEGER PRIMARY KEY, title TEXT)",
    }


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return (time.perf_counter() - started) * 1000, value


def measure_children(inst: Instance, children: int, batch: int) -> dict[str, Any]:
    actor = Actor.operator()
    gen = generate_wide_series(inst, children=children, batch=batch)
    node = gen.series_ids[0]

    def first_page() -> Any:
        with inst.db.read() as s:
            return inst.catalogue.children(s, actor, node, limit=PAGE)

    cold, page = _timed(first_page)
    warm = [_timed(first_page)[0] for _ in range(RUNS)]
    assert page.total == children and len(page.items) == min(PAGE, children)
    # Walk to the middle with the largest page size, then time one page of 50 there.
    cursor = page.next_cursor
    with inst.db.read() as s:
        walked = len(page.items)
        while cursor and walked < children // 2:
            big = inst.catalogue.children(s, actor, node, cursor=cursor, limit=500)
            walked += len(big.items)
            cursor = big.next_cursor

    def later_page() -> Any:
        with inst.db.read() as s:
            return inst.catalogue.children(s, actor, node, cursor=cursor, limit=PAGE)

    later = [_timed(later_page)[0] for _ in range(RUNS)]
    middle = later_page()
    return {
        "children": children,
        "generate_seconds": round(gen.seconds, 3),
        "first_page_cold_ms": round(cold, 2),
        "first_page_median_ms": round(statistics.median(warm), 2),
        "first_page_max_ms": round(max(warm), 2),
        "later_page_position": middle.items[0].position if middle.items else None,
        "later_page_median_ms": round(statistics.median(later), 2),
        "runs": RUNS,
    }


def measure_ead3(inst: Instance, items: int, batch: int) -> dict[str, Any]:
    try:
        from lantai.catalogue.ead3 import export_ead3
    except ImportError:
        return {"skipped": "export_ead3 not available"}
    gen = generate_records(inst, records=items, batch=batch, years=(2016, 2025))
    with tempfile.TemporaryDirectory(prefix="lantai-bench-ead-") as tmp:
        out = Path(tmp) / "fonds.xml"
        started = time.perf_counter()
        result = export_ead3(inst, Actor.operator(), gen.fonds_id, out)
        wall = time.perf_counter() - started
        size = out.stat().st_size
    return {
        "items": items,
        "records": getattr(result, "records", None),
        "components": getattr(result, "components", None),
        "bytes": size,
        "seconds": round(wall, 3),
        "archivesspace_baseline_seconds": 40,
    }


# -- driver ---------------------------------------------------------------------------------------------


def _goal(name: str, value: float | None, unit: str, goal: str) -> dict[str, Any]:
    met: bool | None = None
    if value is not None:
        op, bound = goal.split(" ", 1)
        met = value >= float(bound) if op == ">=" else value <= float(bound)
    return {"name": name, "value": value, "unit": unit, "goal": goal, "met": met}


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = [
        _goal(
            "insert rate, SQLite",
            _get(results, "insert", "sqlite", "records_per_second"),
            "records/s",
            ">= 20000",
        )
    ]
    for backend in ("sqlite", "postgresql"):
        out.append(
            _goal(
                f"first page of 50 children of a 50,000-child node, {backend}",
                _get(results, "children", backend, "first_page_median_ms"),
                "ms",
                "<= 200",
            )
        )
        out.append(
            _goal(
                f"page of 50 in the middle (cursor), {backend}",
                _get(results, "children", backend, "later_page_median_ms"),
                "ms",
                "<= 200",
            )
        )
    out.append(
        _goal(
            "EAD3 export of 10,000 components",
            _get(results, "ead3", "sqlite", "seconds"),
            "s",
            "<= 10",
        )
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 records instead of 1,000,000")
    parser.add_argument("--records", type=int, help="records for the insert measurement")
    parser.add_argument("--children", type=int, default=50_000, help="children of the wide node")
    parser.add_argument("--ead-items", type=int, default=10_000, help="items in the EAD3 fonds")
    parser.add_argument("--batch", type=int, default=5000, help="records per transaction")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="PostgreSQL admin URL")
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    args = parser.parse_args(argv)
    records = args.records or (20_000 if args.quick else 1_000_000)
    started = time.perf_counter()
    load = load_average()

    pg_version: str | None = None
    pg_problem: str | None = "skipped (--no-postgres)"
    if not args.no_postgres:
        pg_version, pg_problem = _pg_version(args.pg_url)
    backends = ["sqlite"] + (["postgresql"] if pg_version else [])
    results: dict[str, Any] = {"insert": {}, "children": {}, "ead3": {}}
    if pg_problem:
        results["postgresql"] = {"skipped": pg_problem}
    failed = False

    def attempt(section: str, backend: str, fn: Callable[[], dict[str, Any]]) -> None:
        nonlocal failed
        log(f"{section} on {backend} …")
        try:
            results[section][backend] = fn()
        except Exception as exc:  # reported in the JSON, the run goes on
            failed = True
            results[section][backend] = {"error": f"{type(exc).__name__}: {exc}"}
        log(f"{section} on {backend}: {json.dumps(results[section][backend], ensure_ascii=False)}")

    for backend in backends:

        def insert(b: str = backend) -> dict[str, Any]:
            with fresh_instance(b, args.pg_url) as inst:
                return measure_insert(inst, records, args.batch)

        attempt("insert", backend, insert)
    attempt("insert", "raw_sqlite3", lambda: measure_raw_sqlite(records, args.batch))
    ours = _get(results, "insert", "sqlite", "records_per_second")
    raw = _get(results, "insert", "raw_sqlite3", "records_per_second")
    if ours and raw:
        results["insert"]["sqlite_share_of_raw"] = round(ours / raw, 3)

    for backend in backends:

        def children(b: str = backend) -> dict[str, Any]:
            with fresh_instance(b, args.pg_url) as inst:
                return measure_children(inst, args.children, args.batch)

        attempt("children", backend, children)

    def ead3() -> dict[str, Any]:
        with fresh_instance("sqlite", args.pg_url) as inst:
            return measure_ead3(inst, args.ead_items, args.batch)

    attempt("ead3", "sqlite", ead3)
    if "skipped" in results["ead3"]["sqlite"]:
        results["ead3"] = results["ead3"]["sqlite"]
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["date"] = date.today().isoformat()
    report = {
        "bench": "catalogue",
        "machine": machine(load, sqlite=sqlite3.sqlite_version, postgres=pg_version),
        "results": results,
        "goals": goals(results),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
