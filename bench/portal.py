"""Portal load benchmark: the public search and record pages under 50 concurrent clients.

Run ``.venv/bin/python bench/portal.py [--quick] [--records N] [--clients C] [--seconds S]``.
Prints ONE JSON object on stdout (progress goes to stderr)::

    {"bench": "portal", "machine": {...}, "results": {...}, "goals": [...]}

* data: 1,000,000 generated records (``--quick``: 20,000), the instance cached by
  ``bench/search.py`` (``cached_db``: generated once, 开放 records published). When the cached
  instance has no published record (a small one spans only recent, 未审核 years) an instance with
  a 40-year span is generated under ``bench/out/portal/`` instead;
* index: the instance's own search index (``<home>/search``), built once with ``Indexer.rebuild``
  and reused while the number of published records is unchanged;
* server: ``lantai serve --no-background --workers N`` (the production entry point; ``--workers``
  defaults to the number of cores, as docs/operations.md advises for a public portal; the search
  index opened read-only) on 127.0.0.1 in a subprocess. The instance's configuration
  directory is a bench-only copy of ``access.yaml`` whose ``search`` and ``viewer`` rate limits
  are raised (the shipped limits are per client address, and every bench client is 127.0.0.1);
* load: ``--clients`` concurrent keep-alive connections from wrk (``bench/wrk.py``; the issue's
  load generator, written in C, so that the client does not take the server's CPU) for
  ``--seconds`` after a short warm-up, over a fixed mix: 40 % ``/api/public/search``,
  30 % the portal search page ``/portal/search``, 30 % record pages ``/portal/records/<id>`` of
  published 开放 records. The searches are the public cases of ``bench/search.py``'s query mix
  (one word, phrase, facet-heavy; drawn from the generator's vocabulary and sampled records);
* baseline, in the same run with the same clients and duration: ``/api/health`` (one
  ``SELECT 1``), the floor of this server, client and machine;
* per target: the same mix once more from an in-process asyncio client (httpx2 on uvloop, at most
  20 s), which checks every response and reports p50/p95 per target and the zero-hit share. Its
  latencies read high (it competes with the server for the 2 cores). Without wrk
  (``--client python``) this client makes the headline run.

Reported: requests/s, p50/p95/p99/max per target and overall, errors by status, the server's CPU
seconds per request. Goals: p95 ≤ 150 ms and no errors. Exit status 1 when the run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx2
import yaml
from sqlalchemy import func, select

import wrk
from benchlib import load_average, log, print_report
from lantai.access.config import ACCESS_FILE_NAME
from lantai.demo.generator import generate_records
from lantai.instance import Instance
from lantai.search import Indexer, search_home
from lantai.store import PublishedRecord
from search import OUT as SEARCH_OUT
from search import _open, _settings, cached_db, publish_open, query_mix

OUT = Path(__file__).resolve().parent / "out" / "portal"
ROOT = Path(__file__).resolve().parent.parent
LANTAI = Path(sys.executable).with_name("lantai")
# the share of each target in the mix
MIX = (("api_search", 0.4), ("page_search", 0.3), ("record_page", 0.3))
# where each search target of a mix asks
PATHS = {"api_search": "/api/public/search", "page_search": "/portal/search"}
# rate limits for the bench's configuration copy (requests per minute, burst) per client address
BENCH_LIMIT = {"per_minute": 6_000_000, "burst": 1_000_000}


# -- data, index, configuration ---------------------------------------------------------------


def _published(home: Path) -> int:
    inst = _open(home)
    try:
        with inst.db.read() as s:
            return int(s.scalar(select(func.count()).select_from(PublishedRecord)) or 0)
    finally:
        inst.close()


def portal_db(records: int) -> tuple[Path, dict[str, Any]]:
    """An instance home with ``records`` generated records, some of them published 开放."""
    home, info = cached_db(records, SEARCH_OUT)
    if _published(home):
        return home, info
    # a small cached instance spans recent years only: nothing is old enough to be 开放
    home = OUT / f"db-{records}-open"
    marker = home / "bench-generated.json"
    if marker.exists():
        return home, {**json.loads(marker.read_text()), "cached": True}
    shutil.rmtree(home, ignore_errors=True)
    log(f"generating {records:,} records over 40 years into {home} …")
    inst = Instance.initialise(_settings(home))
    inst.catalogue.today = lambda: date(2026, 11, 21)
    summary = generate_records(inst, records=records, seed=0, years=(1986, 2025))
    inst.close()
    publish_open(home)
    data = {
        "records": summary.count,
        "years": list(summary.years),
        "generate_seconds": round(summary.seconds, 1),
    }
    marker.write_text(json.dumps(data))
    return home, {**data, "cached": False}


def ensure_index(home: Path, published: int) -> dict[str, Any]:
    """The instance's own index, rebuilt when missing, incomplete or older than the publication."""
    marker = home / "search" / "bench-portal.json"
    inst = _open(home)
    indexer = Indexer(inst, search_home(inst), workers=2)
    try:
        if not indexer.acquire():
            raise RuntimeError("the search index of the bench instance is locked by a process")
        st = indexer.status()
        fresh = marker.exists() and json.loads(marker.read_text()).get("published") == published
        if st.complete and st.schema_ok and fresh:
            return {"cached": True, "records": st.records, "caught_up": indexer.catch_up()}
        log(f"building the search index of {home} …")
        report = indexer.rebuild()
        marker.write_text(json.dumps({"published": published}))
        return {
            "cached": False,
            "records": report.records,
            "seconds": round(report.seconds, 1),
            "records_per_second": round(report.per_second),
            "bytes": report.size_bytes,
        }
    finally:
        indexer.release()
        inst.close()


def bench_config(path: Path, buckets: tuple[str, ...] = ("search", "viewer")) -> Path:
    """A configuration directory whose access.yaml raises the limits of ``buckets``."""
    from importlib import resources

    shipped = Path(str(resources.files("lantai.access") / "data" / ACCESS_FILE_NAME))
    data = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    for bucket in buckets:
        data["rate_limits"][bucket] = dict(BENCH_LIMIT)
    path.mkdir(parents=True, exist_ok=True)
    (path / ACCESS_FILE_NAME).write_text(
        f"# bench: the shipped access.yaml with raised {'/'.join(buckets)} limits\n"
        + yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return path


# -- the request mix ---------------------------------------------------------------------------


def search_query(case: Any) -> dict[str, Any]:
    """The URL parameters of one of bench/search.py's cases."""
    p = case.params()
    out: dict[str, Any] = {"q": p.q, "size": 10}
    if p.year_from:
        out["year_from"] = str(p.year_from)
    if p.year_to:
        out["year_to"] = str(p.year_to)
    if p.category:
        out["category"] = list(p.category)
    if p.retention:
        out["retention"] = list(p.retention)
    return out


def request_mix(
    home: Path,
    n: int,
    seed: int = 7,
    *,
    who: str = "public",
    mix: tuple[tuple[str, float], ...] = MIX,
    paths: dict[str, str] = PATHS,
) -> list[tuple[str, str, dict[str, Any]]]:
    """``n`` (target, path, params) in the proportions of ``mix``, shuffled (seeded): record
    pages, and searches at ``paths[target]`` drawn from the query mix's cases for ``who``."""
    rng = random.Random(seed)
    inst = _open(home)
    try:
        cases = [c for c in query_mix(inst, 4000, seed) if c.who == who]
        with inst.db.read() as s:
            ids = list(
                s.scalars(
                    select(PublishedRecord.record_id)
                    .where(PublishedRecord.state == "published")
                    .order_by(func.random())
                    .limit(n)
                )
            )
    finally:
        inst.close()
    if not cases or not ids:
        raise RuntimeError(f"no {who} search cases or no published records to request")
    out: list[tuple[str, str, dict[str, Any]]] = []
    for target, share in mix:
        for _ in range(round(n * share)):
            if target == "record_page":
                out.append((target, f"/portal/records/{rng.choice(ids)}", {}))
            else:
                out.append((target, paths[target], search_query(rng.choice(cases))))
    rng.shuffle(out)
    return out


# -- the load ----------------------------------------------------------------------------------


@dataclass
class Run:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    zero_hits: int = 0
    api_searches: int = 0
    seconds: float = 0.0


async def _drive(
    base: str,
    requests: list[tuple[str, str, dict[str, Any]]],
    clients: int,
    seconds: float,
    record: bool,
) -> Run:
    run = Run()
    next_index = [0]
    limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                target, path, params = requests[next_index[0] % len(requests)]
                next_index[0] += 1
                started = time.perf_counter()
                try:
                    r = await client.get(path, params=params)
                    body = r.content
                    status = str(r.status_code)
                except httpx2.HTTPError as exc:
                    body, status = b"", type(exc).__name__
                elapsed = (time.perf_counter() - started) * 1000
                if not record:
                    continue
                run.latencies.setdefault(target, []).append(elapsed)
                if status != "200":
                    run.errors[f"{target} {status}"] += 1
                elif target == "api_search":
                    run.api_searches += 1
                    run.zero_hits += json.loads(body)["total"] == 0

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        run.seconds = time.perf_counter() - started
    return run


def drive(base: str, requests: list[tuple[str, str, dict[str, Any]]], a: argparse.Namespace) -> Run:
    import uvloop

    async def main() -> Run:
        await _drive(base, requests, a.clients, a.warmup, record=False)
        return await _drive(base, requests, a.clients, a.seconds, record=True)

    return uvloop.run(main())


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 1)


def summarise(values: list[float], seconds: float) -> dict[str, Any]:
    return {
        "requests": len(values),
        "requests_per_second": round(len(values) / seconds, 1) if seconds else None,
        "p50_ms": _pct(values, 50),
        "p95_ms": _pct(values, 95),
        "p99_ms": _pct(values, 99),
        "max_ms": round(max(values), 1) if values else None,
        "mean_ms": round(statistics.fmean(values), 1) if values else None,
    }


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (``serve --workers N`` forks N, helper processes)."""
    parents: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, ()))
    return out


def _cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants."""
    total = 0.0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure(
    name: str, base: str, pid: int, reqs: list[tuple[str, str, dict[str, Any]]], a: Any
) -> dict[str, Any]:
    log(f"{name}: {a.clients} clients, {a.warmup:.0f} s warm-up + {a.seconds:.0f} s …")
    load = load_average()
    cpu = _cpu_seconds(pid)
    run = drive(base, reqs, a)
    cpu = _cpu_seconds(pid) - cpu
    every = [x for v in run.latencies.values() for x in v]
    out: dict[str, Any] = {
        **summarise(every, run.seconds),
        "errors": sum(run.errors.values()),
        "errors_by_status": dict(sorted(run.errors.items())),
        "server_cpu_ms_per_request": round(cpu / max(1, len(every)) * 1000, 2),
        "load_average": {"start": load, "end": load_average()},
    }
    if len(run.latencies) > 1:
        out["by_target"] = {k: summarise(v, run.seconds) for k, v in sorted(run.latencies.items())}
    if run.api_searches:
        out["api_search_zero_hit_share"] = round(run.zero_hits / run.api_searches, 3)
    log(
        f"{name}: {out['requests_per_second']} req/s, p50 {out['p50_ms']} p95 {out['p95_ms']}"
        f" p99 {out['p99_ms']} ms, errors {out['errors']}"
    )
    return out


def measure_wrk(
    name: str, base: str, pid: int, reqs: list[tuple[str, str, dict[str, Any]]], a: Any
) -> dict[str, Any]:
    """The same as :func:`measure` with wrk as the client (all targets in one latency record)."""
    log(f"{name} (wrk): {a.clients} clients, {a.warmup:.0f} s warm-up + {a.seconds:.0f} s …")
    load = load_average()
    paths = [wrk.path_of(path, params) for _, path, params in reqs]
    if a.warmup >= 1:
        wrk.run(base, paths, clients=a.clients, seconds=a.warmup)
    cpu = _cpu_seconds(pid)
    out = wrk.run(base, paths, clients=a.clients, seconds=a.seconds)
    cpu = _cpu_seconds(pid) - cpu
    out["server_cpu_ms_per_request"] = round(cpu / max(1, out["requests"]) * 1000, 2)
    out["load_average"] = {"start": load, "end": load_average()}
    log(
        f"{name}: {out['requests_per_second']} req/s, p50 {out['p50_ms']} p95 {out['p95_ms']}"
        f" p99 {out['p99_ms']} ms, errors {out['errors']}"
    )
    return out


# -- the server --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    home: Path,
    config: Path,
    *,
    background: bool = False,
    log_file: Path | None = None,
    workers: int = 1,
) -> tuple[subprocess.Popen[bytes], str]:
    """``lantai serve`` (``--no-background`` unless ``background``) on a free port with
    ``workers`` processes; its output goes to ``log_file`` when given."""
    port = _free_port()
    env = {**os.environ, "LANTAI_HOME": str(home), "LANTAI_CONFIG_DIR": str(config)}
    env.pop("LANTAI_DATABASE_URL", None)
    with (log_file or Path(os.devnull)).open("wb") as out:
        proc = subprocess.Popen(
            [
                str(LANTAI),
                "serve",
                "--background" if background else "--no-background",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"lantai serve exited with status {proc.returncode}")
        try:
            if httpx2.get(f"{base}/api/health", timeout=2).status_code == 200:
                return proc, base
        except httpx2.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("lantai serve did not answer /api/health within 120 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- goals and main ----------------------------------------------------------------------------


def _goal(name: str, value: float | None, unit: str, goal: str) -> dict[str, Any]:
    met: bool | None = None
    if value is not None:
        op, bound = goal.split(" ", 1)
        met = value >= float(bound) if op == ">=" else value <= float(bound)
    return {"name": name, "value": value, "unit": unit, "goal": goal, "met": met}


def goals(results: dict[str, Any], records: int, clients: int) -> list[dict[str, Any]]:
    mix = results.get("mix", {})
    health = results.get("baseline_health", {})
    where = f"{records:,} records, {clients} clients"
    return [
        _goal(
            f"p95 latency, public search and record pages, {where}",
            mix.get("p95_ms"),
            "ms",
            "<= 150",
        ),
        _goal(
            f"errors, public search and record pages, {where}",
            mix.get("errors"),
            "requests",
            "<= 0",
        ),
        _goal(f"errors, /api/health baseline, {where}", health.get("errors"), "requests", "<= 0"),
        *(
            [
                _goal(
                    f"errors, Python-client pass over the same mix, {where}",
                    results["mix_by_target"].get("errors"),
                    "requests",
                    "<= 0",
                )
            ]
            if "mix_by_target" in results
            else []
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 records, 10 clients, 10 s")
    parser.add_argument("--records", type=int, help="records (default 1,000,000)")
    parser.add_argument("--clients", type=int, help="concurrent clients (default 50)")
    parser.add_argument("--seconds", type=float, help="measured seconds per phase (default 60)")
    parser.add_argument("--warmup", type=float, help="unmeasured seconds first (default 5)")
    parser.add_argument("--mix-size", type=int, default=5000, help="distinct requests in the mix")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="server processes (default: cores)"
    )
    parser.add_argument(
        "--client",
        choices=("wrk", "python"),
        default="wrk" if wrk.available() else "python",
        help="load generator (default wrk when installed)",
    )
    a = parser.parse_args(argv)
    a.records = a.records or (20_000 if a.quick else 1_000_000)
    a.clients = a.clients or (10 if a.quick else 50)
    a.seconds = a.seconds or (10.0 if a.quick else 60.0)
    a.warmup = a.warmup if a.warmup is not None else (2.0 if a.quick else 5.0)
    started = time.perf_counter()
    load = load_average()
    results: dict[str, Any] = {
        "records": a.records,
        "clients": a.clients,
        "seconds": a.seconds,
        "server_workers": a.workers,
        "client": a.client,
    }
    failed = False
    proc = None
    try:
        home, results["data"] = portal_db(a.records)
        published = _published(home)
        results["data"]["published"] = published
        results["index"] = ensure_index(home, published)
        reqs = request_mix(home, a.mix_size)
        results["mix_shares"] = dict(Counter(t for t, _, _ in reqs))
        config = bench_config(OUT / f"config-{a.records}")
        server_log = OUT / f"server-{a.records}.log"  # kept for inspection
        results["server_log"] = str(server_log)
        proc, base = start_server(home, config, workers=a.workers, log_file=server_log)
        health: list[tuple[str, str, dict[str, Any]]] = [("health", "/api/health", {})]
        if a.client == "wrk":
            results["mix"] = measure_wrk("mix", base, proc.pid, reqs, a)
            results["baseline_health"] = measure_wrk("baseline", base, proc.pid, health, a)
            # per target and the zero-hit share, from the Python client (shorter: it shares the
            # cores with the server, so its latencies read high; see bench/wrk.py)
            per_target = argparse.Namespace(**{**vars(a), "seconds": min(a.seconds, 20.0)})
            results["mix_by_target"] = measure(
                "mix, Python client", base, proc.pid, reqs, per_target
            )
        else:
            results["mix"] = measure("mix", base, proc.pid, reqs, a)
            results["baseline_health"] = measure("baseline /api/health", base, proc.pid, health, a)
        mix, floor = results["mix"], results["baseline_health"]
        if mix["p95_ms"] and floor["p95_ms"]:
            results["p95_ratio_mix_over_health"] = round(mix["p95_ms"] / floor["p95_ms"], 1)
        if mix["requests_per_second"] and floor["requests_per_second"]:
            results["rps_ratio_mix_over_health"] = round(
                mix["requests_per_second"] / floor["requests_per_second"], 2
            )
    except Exception as exc:  # reported in the JSON
        failed = True
        results["error"] = f"{type(exc).__name__}: {exc}"
        log(f"failed: {exc}")
    finally:
        if proc is not None:
            stop_server(proc)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["date"] = date.today().isoformat()
    print_report(
        "portal", results, goals(results, a.records, a.clients), load, httpx2=httpx2.__version__
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
