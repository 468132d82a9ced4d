"""Soak: a mixed workload against one real ``lantai serve`` for a bounded time.

Run ``.venv/bin/python bench/soak.py [--quick] [--minutes M] [--clients C] [--records N]``.
Prints ONE JSON object on stdout (progress goes to stderr)::

    {"bench": "soak", "machine": {...}, "results": {...}, "goals": [...]}

* data: a fresh copy (every run starts from the same state) of the cached instance of
  ``bench/portal.py`` (generated records over 40 years, 开放 records published, its own search
  index), 100,000 records by default (``--quick``: 20,000); the copy and the server log are kept
  under ``bench/out/soak/run-<records>/`` for inspection;
* server: ``lantai serve`` with its background work (job runner, search indexer) on 127.0.0.1 in
  a subprocess, with ``bench/portal.py``'s configuration copy raising the per-address rate limits
  (every client is 127.0.0.1) of search, viewer, registration, login and applications;
* load: ``--clients`` (default 50) concurrent keep-alive clients (httpx2 on uvloop, in process) for
  ``--minutes`` (default 30), each with a role:

  - anonymous (the rest): the portal mix of ``bench/portal.py`` (public search API, portal search
    page, record pages of published 开放 records);
  - citizens (20 %): register on the portal form, open 我的申请 and record pages, apply for
    查阅 of a published record (form with the session's CSRF token), log out and in again, check
    the API lists their applications; a new citizen after four applications;
  - staff (10 %): an archivist logged in through ``/api/auth/login`` searching as staff (search
    API and page, the staff cases of ``bench/search.py``'s query mix) and, every 8th request,
    deciding the oldest pending application of its share of the queue (approve or refuse, with
    ``X-CSRF-Token``);
  - ingest (1): an agency system (Bearer token) submitting a small generated BagIt transfer
    (``bench/ingest.py``'s generator, tar) through the resumable upload API every
    ``--ingest-every`` seconds and polling it until the pipeline has finished.

Every response's status is checked. An error is any unexpected status (5xx, an unexpected 4xx),
a transport error or timeout (30 s), a transfer that does not end ``done`` with decision accept
(or accept, flagged for review), an application missing from the citizen's list, and any
traceback or ``incident`` line in the server's log; counted by kind with a few examples.

Reported: latency p50/p95/p99/max per target and per window (``--window`` seconds; the first
``--warmup`` seconds are marked warm-up), request counts per window, errors; the server's RSS
(its process and any children, ``/proc/<pid>/status`` VmRSS) every ``--sample`` seconds, with the
growth of the mean of the last third of the run over the middle third; threads and open file
descriptors at start, after warm-up and at the end. Goals: no error; memory growth ≤ 5 %; p95
of the last window ≤ 1.5 × p95 of the first measured window (no absolute latency goal: the
machine is shared). Exit status 1 when an error occurred or the run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import random
import re
import shutil
import sqlite3
import statistics
import sys
import time
from collections import Counter, defaultdict
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import func, select

from benchlib import load_average, log, print_report
from ingest import make_bag, make_payload, to_tar
from lantai.appraisal.screening.identity import id18_check_digit
from lantai.security import Actor
from lantai.store import CodeCounter
from portal import (
    _cpu_seconds,
    _goal,
    _published,
    _tree,
    bench_config,
    ensure_index,
    portal_db,
    request_mix,
    start_server,
    stop_server,
    summarise,
)
from search import _open

OUT = Path(__file__).resolve().parent / "out" / "soak"
PASSWORD = "Soak-Bench-2026!"
CITIZEN_PASSWORD = "Soak-Citizen-2026!"
RATE_BUCKETS = ("search", "viewer", "register", "login", "apply")
STAFF_MIX = (("staff_api_search", 0.5), ("staff_page_search", 0.5))
STAFF_PATHS = {"staff_api_search": "/api/search", "staff_page_search": "/search"}
CITIZEN_SHARE, STAFF_SHARE = 0.2, 0.1
APPLICATIONS_PER_SESSION, SESSIONS_PER_CITIZEN = 2, 2
REVIEW_EVERY = 8  # a staff client decides one application every this many requests
MEMORY_GOAL_PCT = 5.0
P95_RATIO_GOAL = 1.5
TIMEOUT = 30.0
EXAMPLES = 3
ACCEPTED = ("accept", "accept_flagged")
BAG_GROUP = "Z109-WS·2011-Y-BGS"  # the 档号 group of bench/ingest.py's make_bag
_FORM_CSRF = re.compile(r'name="form_csrf" value="([^"]+)"')
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LOG_ERROR = re.compile(r"Traceback|incident [0-9a-f]{12}|\bERROR\b|\bCRITICAL\b")
_ACCESS_OK = re.compile(r'HTTP/1\.1" [23]0[0-9] ')


# -- the instance ------------------------------------------------------------------------------


def fresh_home(source: Path, dest: Path) -> Path:
    """A copy of the cached instance: the soak writes (transfers, accounts, applications), the
    cache stays as generated. The database is copied with SQLite's backup API (consistent even
    if another bench has it open), the rest (index, secrets, audit witness) file by file."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("lantai.db*"))
    with (
        closing(sqlite3.connect(source / "lantai.db")) as src,
        closing(sqlite3.connect(dest / "lantai.db")) as dst,
    ):
        src.backup(dst)
    return dest


def next_number(home: Path) -> int:
    """The first free 件号 of the 档号 group bench/ingest.py's make_bag writes into (the checks
    reject a 档号 the catalogue already holds and flag a gap in the numbering)."""
    inst = _open(home)
    try:
        with inst.db.read() as s:
            last = s.scalar(
                select(func.max(CodeCounter.value)).where(
                    CodeCounter.group_key.endswith(f"|{BAG_GROUP}")
                )
            )
    finally:
        inst.close()
    return int(last or 0) + 1


def add_accounts(home: Path, staff: int) -> None:
    """The staff (archivists, 机密 clearance) and the agency system the clients log in as."""
    inst = _open(home)
    op = Actor.operator()
    try:
        with inst.db.write() as s:
            for i in range(staff):
                inst.users.create(
                    s,
                    op,
                    username=f"soak-staff-{i}",
                    display_name=f"档案管理员{i}",
                    password=PASSWORD,
                    roles=("archivist",),
                    clearance="机密",
                )
            inst.users.create(
                s,
                op,
                username="soak-agency",
                display_name="立档单位系统",
                password=PASSWORD,
                roles=("agency",),
                clearance="公开",
            )
    finally:
        inst.close()


# -- the server's process ----------------------------------------------------------------------


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "Threads"):
            out[key] = int(value.split()[0])
    return out


def snapshot(pid: int) -> dict[str, Any]:
    """RSS (MB) of the server process and of its children, threads, open descriptors, CPU s."""
    main = _status(pid)
    children = 0
    child_rss = 0
    for p in _tree(pid)[1:]:
        try:
            child_rss += _status(p).get("VmRSS", 0)
            children += 1
        except OSError:
            pass  # ended meanwhile
    rss = main.get("VmRSS", 0) / 1024
    return {
        "rss_mb": round(rss + child_rss / 1024, 1),
        "main_rss_mb": round(rss, 1),
        # heap (anonymous) vs mapped files (the search index, SQLite pages): a growing heap is a
        # leak or fragmentation; mapped files follow what the index and database have touched
        "main_anon_mb": round(main.get("RssAnon", 0) / 1024, 1),
        "main_file_mb": round(main.get("RssFile", 0) / 1024, 1),
        "children": children,
        "children_rss_mb": round(child_rss / 1024, 1),
        "threads": main.get("Threads", 0),
        "fds": len(list(Path(f"/proc/{pid}/fd").iterdir())),
        "cpu_seconds": round(_cpu_seconds(pid), 2),
    }


# -- what the clients record -------------------------------------------------------------------


@dataclass
class Soak:
    """Latencies (ms) by (window, target), errors by kind with examples, transfers, counts."""

    window: float
    t0: float = field(default_factory=time.perf_counter)
    latencies: dict[tuple[int, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    error_windows: Counter[int] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    transfers: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    memory: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def fail(self, kind: str, **example: Any) -> None:
        t = self.now()
        self.errors[kind] += 1
        self.error_windows[int(t // self.window)] += 1
        if len(self.examples[kind]) < EXAMPLES:
            self.examples[kind].append({"t": round(t, 1), **example})

    async def call(
        self,
        client: httpx2.AsyncClient,
        target: str,
        method: str,
        path: str,
        expect: int,
        **kw: Any,
    ) -> httpx2.Response | None:
        """One request, timed; None (and an error) unless it answered ``expect``."""
        started = time.perf_counter()
        try:
            r = await client.request(method, path, **kw)
        except httpx2.HTTPError as exc:
            self._time(target, started)
            self.fail(f"{target} {type(exc).__name__}", path=path, error=str(exc)[:200])
            return None
        self._time(target, started)
        if r.status_code != expect:
            self.fail(
                f"{target} {r.status_code}", path=path, status=r.status_code, body=r.text[:300]
            )
            return None
        return r

    def _time(self, target: str, started: float) -> None:
        ended = time.perf_counter()
        self.latencies[(int((ended - self.t0) // self.window), target)].append(
            (ended - started) * 1000
        )


# -- the clients -------------------------------------------------------------------------------

Mix = list[tuple[str, str, dict[str, Any]]]


def _client(base: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(base_url=base, timeout=TIMEOUT)


async def anonymous(soak: Soak, base: str, mix: Mix, start: int, deadline: float) -> None:
    """The portal mix, as bench/portal.py's clients (each from its own place in the list)."""
    async with _client(base) as c:
        i = start
        while soak.now() < deadline:
            target, path, params = mix[i % len(mix)]
            i += 1
            await soak.call(c, target, "GET", path, 200, params=params)


def citizen_identity(client: int, n: int) -> dict[str, str]:
    """A valid, unique 11-digit phone and 18-digit 身份证号 (GB 11643 check digit)."""
    born = date(1960, 1, 1) + timedelta(days=n)
    first17 = f"110105{born:%Y%m%d}{client % 1000:03d}"
    return {
        "real_name": "稳定性测试市民",
        "id_number": first17 + id18_check_digit(first17),
        "phone": f"139{client % 1000:03d}{n % 100000:05d}",
        "password": CITIZEN_PASSWORD,
    }


async def citizen(soak: Soak, base: str, k: int, records: list[int], deadline: float) -> None:
    """Citizens one after another: register, apply, log out and in, check their list."""
    rng = random.Random(k)
    n = 0
    async with _client(base) as c:
        while soak.now() < deadline:
            n += 1
            c.cookies.clear()
            who = citizen_identity(k, n)
            r = await soak.call(c, "citizen_register_form", "GET", "/portal/register", 200)
            token = _FORM_CSRF.search(r.text) if r is not None else None
            if token is None:
                continue
            r = await soak.call(
                c,
                "citizen_register",
                "POST",
                "/portal/register",
                303,
                data={**who, "user_type": "个人", "form_csrf": token.group(1)},
            )
            if r is None:
                continue
            soak.counts["citizens_registered"] += 1
            applied = 0
            for session in range(SESSIONS_PER_CITIZEN):
                if session and not await _citizen_login(soak, c, who["phone"]):
                    break
                for _ in range(APPLICATIONS_PER_SESSION):
                    if soak.now() >= deadline:
                        return
                    applied += await _apply(soak, c, rng.choice(records))
                if not await _check_mine(soak, c, applied):
                    break
                r = await soak.call(c, "citizen_mine", "GET", "/portal/mine", 200)
                csrf = _CSRF.search(r.text) if r is not None else None
                if csrf is None:
                    break
                data = {"csrf_token": csrf.group(1)}
                if await soak.call(c, "citizen_logout", "POST", "/portal/logout", 303, data=data):
                    soak.counts["citizen_logouts"] += 1


async def _citizen_login(soak: Soak, c: httpx2.AsyncClient, phone: str) -> bool:
    r = await soak.call(c, "citizen_login_form", "GET", "/portal/login", 200)
    token = _FORM_CSRF.search(r.text) if r is not None else None
    if token is None:
        return False
    data = {
        "phone": phone,
        "password": CITIZEN_PASSWORD,
        "form_csrf": token.group(1),
        "next": "/portal/mine",
    }
    return await soak.call(c, "citizen_login", "POST", "/portal/login", 303, data=data) is not None


async def _apply(soak: Soak, c: httpx2.AsyncClient, record: int) -> int:
    """我的申请, the record's page, then a 查阅 application for it (1 when submitted)."""
    r = await soak.call(c, "citizen_mine", "GET", "/portal/mine", 200)
    csrf = _CSRF.search(r.text) if r is not None else None
    if csrf is None:
        return 0
    await soak.call(c, "citizen_record_page", "GET", f"/portal/records/{record}", 200)
    data = {
        "kind": "查阅",
        "purpose": "学术研究",
        "description": "稳定性测试：申请查阅该档案原件",
        "record_id": str(record),
        "csrf_token": csrf.group(1),
    }
    if await soak.call(c, "citizen_apply", "POST", "/portal/mine/requests", 303, data=data):
        soak.counts["applications"] += 1
        return 1
    return 0


async def _check_mine(soak: Soak, c: httpx2.AsyncClient, applied: int) -> bool:
    r = await soak.call(c, "citizen_requests_api", "GET", "/api/access/mine/requests", 200)
    if r is None:
        return False
    if len(r.json()) != applied:
        soak.fail("citizen applications missing", expected=applied, listed=len(r.json()))
    return True


async def staff(soak: Soak, base: str, k: int, staff_count: int, mix: Mix, deadline: float) -> None:
    """An archivist searching as staff and deciding its share of the applications."""
    async with _client(base) as c:
        body = {"username": f"soak-staff-{k}", "password": PASSWORD}
        r = await soak.call(c, "staff_login", "POST", "/api/auth/login", 200, json=body)
        if r is None:
            return
        headers = {"x-csrf-token": r.json()["csrf_token"]}
        i = k * 997
        while soak.now() < deadline:
            target, path, params = mix[i % len(mix)]
            i += 1
            await soak.call(c, target, "GET", path, 200, params=params)
            if i % REVIEW_EVERY == 0 and soak.now() < deadline:
                await _decide(soak, c, headers, k, staff_count)


async def _decide(
    soak: Soak, c: httpx2.AsyncClient, headers: dict[str, str], k: int, staff_count: int
) -> None:
    """The oldest pending application of this client's share (id mod staff): even ids are
    approved (the record applied for, 30 days), odd ones refused with a reason."""
    params = {"status": "submitted", "limit": 20}
    r = await soak.call(c, "staff_queue", "GET", "/api/access/requests", 200, params=params)
    mine = [q for q in (r.json() if r is not None else []) if q["id"] % staff_count == k]
    if not mine:
        return
    req = min(mine, key=lambda q: q["id"])
    if req["id"] % 2 == 0 and req["record_ids"]:
        path = f"/api/access/requests/{req['id']}/approve"
        body: dict[str, Any] = {"record_ids": req["record_ids"], "days": 30, "reason": "同意查阅"}
        kind = "approved"
    else:
        path = f"/api/access/requests/{req['id']}/refuse"
        body, kind = {"reason": "稳定性测试：所需档案已另行提供"}, "refused"
    if await soak.call(c, "staff_decide", "POST", path, 200, json=body, headers=headers):
        soak.counts[f"applications_{kind}"] += 1


def make_package(workdir: Path, n: int, files: int, first: int) -> bytes:
    """Transfer ``n``: a BagIt bag of ``files`` text files (two per 件) of 4–64 KiB as a tar,
    from bench/ingest.py's generator (different content, so a different package, every time),
    its 件 numbered from ``first``."""
    rng = random.Random(n)
    bag = workdir / f"transfer-{n}" / "bag"
    shutil.rmtree(bag.parent, ignore_errors=True)
    made = make_payload(bag, [rng.randint(4096, 65536) for _ in range(files)], seed=n)
    make_bag(bag, made, first=first)
    tar = to_tar(bag, bag.parent / "bag.tar")
    data = tar.read_bytes()
    shutil.rmtree(bag.parent)
    return data


async def ingest(soak: Soak, base: str, a: argparse.Namespace, deadline: float) -> None:
    """An agency system submitting a transfer every ``a.ingest_every`` s and waiting for it."""
    workdir = a.run_dir / "transfers"
    async with _client(base) as c:
        body = {"username": "soak-agency", "password": PASSWORD}
        r = await soak.call(c, "ingest_login", "POST", "/api/auth/login", 200, json=body)
        if r is None:
            return
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        c.cookies.clear()  # Bearer only, as an agency system: no cookie, no CSRF token
        n = 0
        next_at = soak.now()
        while next_at < deadline:
            await asyncio.sleep(max(0.0, next_at - soak.now()))
            next_at += a.ingest_every
            n += 1
            first = a.first_number + (n - 1) * math.ceil(a.ingest_files / 2)
            data = await asyncio.to_thread(make_package, workdir, n, a.ingest_files, first)
            await _transfer(soak, c, auth, data, n, a)


async def _transfer(
    soak: Soak,
    c: httpx2.AsyncClient,
    auth: dict[str, str],
    data: bytes,
    n: int,
    a: argparse.Namespace,
) -> None:
    body = {
        "idempotency_key": f"SOAK-{a.run_token}-{n:05d}",
        "filename": f"移交包-{n:05d}.tar",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "fonds_code": "Z109",
        "category": "WS",
    }
    started = soak.now()
    r = await soak.call(
        c, "ingest_create", "POST", "/api/transfers/uploads", 201, json=body, headers=auth
    )
    if r is None:
        return
    upload = r.json()["upload_id"]
    half = len(data) // 2
    for lo, hi in ((0, half), (half, len(data))):  # two chunks: the resumable protocol
        headers = {**auth, "Content-Range": f"bytes {lo}-{hi - 1}/{len(data)}"}
        path = f"/api/transfers/uploads/{upload}"
        if not await soak.call(
            c, "ingest_chunk", "PUT", path, 200, content=data[lo:hi], headers=headers
        ):
            return
    path = f"/api/transfers/uploads/{upload}/complete"
    r = await soak.call(c, "ingest_complete", "POST", path, 201, headers=auth)
    if r is None:
        return
    uid = r.json()["uid"]
    soak.counts["transfers_submitted"] += 1
    limit = soak.now() + a.transfer_timeout
    state: dict[str, Any] = {}
    while soak.now() < limit:
        await asyncio.sleep(a.poll)
        r = await soak.call(c, "ingest_poll", "GET", f"/api/transfers/{uid}", 200, headers=auth)
        if r is not None and (state := r.json())["finished"]:
            break
    seconds = round(soak.now() - started, 2)
    outcome = {
        "n": n,
        "uid": uid,
        "seconds": seconds,
        "state": state.get("state"),
        "decision": state.get("decision"),
        "records": state.get("record_count"),
    }
    soak.transfers.append(outcome)
    if not state.get("finished"):
        soak.fail("transfer not finished in time", **outcome)
    elif state["state"] != "done" or state["decision"] not in ACCEPTED:
        soak.fail("transfer not accepted", **outcome, error=state.get("error"))
    else:
        soak.counts["transfers_accepted"] += 1
        soak.counts["records_ingested"] += int(state.get("record_count") or 0)


async def sampler(soak: Soak, pid: int, every: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            soak.memory.append((soak.now(), snapshot(pid)))
        except OSError:
            return  # the server is gone: the clients report it
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


# -- the run -----------------------------------------------------------------------------------


def roles(clients: int) -> dict[str, int]:
    citizens = max(1, round(clients * CITIZEN_SHARE))
    staff_n = max(1, round(clients * STAFF_SHARE))
    return {
        "anonymous": clients - citizens - staff_n - 1,
        "citizen": citizens,
        "staff": staff_n,
        "ingest": 1,
    }


def run_load(
    base: str, pid: int, a: argparse.Namespace, anon: Mix, staff_mix: Mix, n: dict[str, int]
) -> Soak:
    import uvloop

    records = sorted({int(p.rsplit("/", 1)[1]) for t, p, _ in anon if t == "record_page"})

    async def main() -> Soak:
        soak = Soak(window=a.window)
        deadline = a.minutes * 60
        stop = asyncio.Event()
        sampling = asyncio.create_task(sampler(soak, pid, a.sample, stop))
        spread = len(anon) // max(1, n["anonymous"])
        tasks = [anonymous(soak, base, anon, i * spread, deadline) for i in range(n["anonymous"])]
        tasks += [citizen(soak, base, i, records, deadline) for i in range(n["citizen"])]
        tasks += [staff(soak, base, i, n["staff"], staff_mix, deadline) for i in range(n["staff"])]
        tasks.append(ingest(soak, base, a, deadline))
        watch = asyncio.create_task(_progress(soak, a))
        await asyncio.gather(*tasks)
        watch.cancel()
        stop.set()
        await sampling
        return soak

    return uvloop.run(main())


async def _progress(soak: Soak, a: argparse.Namespace) -> None:
    while True:
        await asyncio.sleep(a.window)
        w = int(soak.now() // a.window) - 1
        done = [x for (i, _), v in soak.latencies.items() if i == w for x in v]
        rss = soak.memory[-1][1]["rss_mb"] if soak.memory else None
        s = summarise(done, a.window)
        log(
            f"  {soak.now():6.0f} s: {s['requests']} requests, p95 {s['p95_ms']} ms, "
            f"errors {sum(soak.errors.values())}, transfers {soak.counts['transfers_accepted']}"
            f"/{soak.counts['transfers_submitted']}, RSS {rss} MB"
        )


# -- the report --------------------------------------------------------------------------------


def windows(soak: Soak, a: argparse.Namespace) -> list[dict[str, Any]]:
    duration = a.minutes * 60
    count = max(1, math.ceil(duration / a.window - 1e-9))
    out = []
    for w in range(count):
        lo, hi = w * a.window, min(duration, (w + 1) * a.window)
        # what ended after the last window (clients finishing, the last transfer) counts in it
        ws = range(w, w + 1) if w < count - 1 else range(w, w + 10_000)
        by_target: dict[str, list[float]] = defaultdict(list)
        for (i, target), v in soak.latencies.items():
            if i in ws:
                by_target[target].extend(v)
        every = [x for v in by_target.values() for x in v]
        mem = [m for t, m in soak.memory if lo <= t < hi]
        row: dict[str, Any] = {
            "from_s": round(lo, 1),
            "to_s": round(hi, 1),
            "warmup": lo < a.warmup,
            **summarise(every, hi - lo),
            "errors": sum(soak.error_windows[i] for i in ws),
            "p95_ms_by_target": {
                t: summarise(v, 1)["p95_ms"] for t, v in sorted(by_target.items())
            },
        }
        row.pop("mean_ms")
        if mem:
            row["rss_mb_mean"] = round(statistics.fmean(m["rss_mb"] for m in mem), 1)
            row["rss_mb_max"] = max(m["rss_mb"] for m in mem)
            cpu = mem[-1]["cpu_seconds"] - mem[0]["cpu_seconds"]
            span = [t for t, m in soak.memory if lo <= t < hi]
            if len(span) > 1:
                row["server_cpu_share"] = round(cpu / (span[-1] - span[0]), 2)
        out.append(row)
    return out


def memory(soak: Soak, a: argparse.Namespace) -> dict[str, Any]:
    """Mean RSS of the middle and the last third of the run (the first holds the warm-up)."""
    duration = a.minutes * 60
    mid = [m["rss_mb"] for t, m in soak.memory if duration / 3 <= t < 2 * duration / 3]
    last = [m["rss_mb"] for t, m in soak.memory if 2 * duration / 3 <= t <= duration]
    out: dict[str, Any] = {
        "sample_seconds": a.sample,
        "samples": len(soak.memory),
        "what": "VmRSS of the server process plus its child processes",
        "first_mb": soak.memory[0][1]["rss_mb"] if soak.memory else None,
        "last_mb": soak.memory[-1][1]["rss_mb"] if soak.memory else None,
        "max_mb": max((m["rss_mb"] for _, m in soak.memory), default=None),
        "max_children": max((m["children"] for _, m in soak.memory), default=None),
        "goal_growth_pct": MEMORY_GOAL_PCT,
    }
    if mid and last:
        m, l_ = statistics.fmean(mid), statistics.fmean(last)
        out.update(
            middle_third_mean_mb=round(m, 1),
            last_third_mean_mb=round(l_, 1),
            growth_mb=round(l_ - m, 1),
            growth_pct=round((l_ - m) / m * 100, 2),
            main_process_growth_mb=round(
                statistics.fmean(
                    x["main_rss_mb"] for t, x in soak.memory if 2 * duration / 3 <= t <= duration
                )
                - statistics.fmean(
                    x["main_rss_mb"] for t, x in soak.memory if duration / 3 <= t < 2 * duration / 3
                ),
                1,
            ),
        )
        for part in ("anon", "file"):  # where the main process's growth is (heap or mapped files)
            key = f"main_{part}_mb"
            mids = [x[key] for t, x in soak.memory if duration / 3 <= t < 2 * duration / 3]
            lasts = [x[key] for t, x in soak.memory if 2 * duration / 3 <= t <= duration]
            if mids and lasts:
                out[f"main_{part}_growth_mb"] = round(
                    statistics.fmean(lasts) - statistics.fmean(mids), 1
                )
    return out


def server_log(path: Path, soak: Soak) -> dict[str, Any]:
    """Tracebacks and incidents in the server's output are errors; other non-access lines are
    shown (the first few) for the reader."""
    errors, other = [], []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if _LOG_ERROR.search(line):
            errors.append(line[:300])
            soak.fail("server log", line=line[:300])
        elif not _ACCESS_OK.search(line):
            other.append(line[:300])
    return {
        "file": str(path),
        "error_lines": len(errors),
        "other_line_count": len(other),
        "other_lines": other[:10],
    }


def transfers(soak: Soak) -> dict[str, Any]:
    secs = [t["seconds"] for t in soak.transfers]
    return {
        "submitted": soak.counts["transfers_submitted"],
        "accepted": soak.counts["transfers_accepted"],
        "records_ingested": soak.counts["records_ingested"],
        "seconds_p50": round(statistics.median(secs), 2) if secs else None,
        "seconds_max": max(secs, default=None),
        "decisions": dict(Counter(str(t["decision"]) for t in soak.transfers)),
    }


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    seconds = results["minutes"] * 60
    span = f"{seconds:.0f} s" if seconds < 120 else f"{results['minutes']:g} min"
    where = f"{results['records']:,} records, {results['clients']} clients, {span}"
    measured = [w for w in results.get("windows", []) if not w["warmup"] and w["p95_ms"]]
    ratio = None
    if len(measured) >= 2:
        ratio = round(measured[-1]["p95_ms"] / measured[0]["p95_ms"], 2)
    mem = results.get("memory", {})
    return [
        _goal(
            f"errors (failed requests, timeouts, transfers not accepted, server log), {where}",
            results.get("errors"),
            "errors",
            "<= 0",
        ),
        _goal(
            f"server memory growth, mean RSS of the last third over the middle third, {where}",
            mem.get("growth_pct"),
            "%",
            f"<= {MEMORY_GOAL_PCT}",
        ),
        _goal(
            f"p95 latency of the last window / the first measured window, {where}",
            ratio,
            "ratio",
            f"<= {P95_RATIO_GOAL}",
        ),
        {
            "name": f"p95 latency per window, all targets (no absolute goal: shared machine), {where}",
            "value": [w["p95_ms"] for w in results.get("windows", [])],
            "unit": "ms",
            "goal": "reported",
            "met": bool(measured) and all(w["p95_ms"] is not None for w in measured),
        },
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 records, 10 clients, 25 s")
    parser.add_argument("--minutes", type=float, help="duration of the load (default 30)")
    parser.add_argument("--clients", type=int, help="concurrent clients (default 50, at least 4)")
    parser.add_argument("--records", type=int, help="records of the instance (default 100,000)")
    parser.add_argument("--window", type=float, help="seconds per reported window (default 60)")
    parser.add_argument("--warmup", type=float, help="seconds marked warm-up (default 60)")
    parser.add_argument("--sample", type=float, help="seconds between RSS samples (default 5)")
    parser.add_argument("--ingest-every", type=float, help="seconds between transfers (default 30)")
    parser.add_argument("--ingest-files", type=int, help="files per transfer (default 20)")
    parser.add_argument("--transfer-timeout", type=float, help="seconds a transfer may take")
    parser.add_argument("--mix-size", type=int, default=5000, help="distinct requests in the mix")
    a = parser.parse_args(argv)
    q = a.quick
    a.minutes = a.minutes or (25 / 60 if q else 30.0)
    a.clients = a.clients or (10 if q else 50)
    a.records = a.records or (20_000 if q else 100_000)
    a.window = a.window or (5.0 if q else 60.0)
    a.warmup = a.warmup if a.warmup is not None else (5.0 if q else 60.0)
    a.sample = a.sample or (1.0 if q else 5.0)
    a.ingest_every = a.ingest_every or (6.0 if q else 30.0)
    a.ingest_files = a.ingest_files or (10 if q else 20)
    a.transfer_timeout = a.transfer_timeout or (25.0 if q else 300.0)
    a.poll = 0.25 if q else 1.0
    a.run_dir = OUT / f"run-{a.records}"
    a.run_token = f"{int(time.time())}"
    if a.clients < 4:
        parser.error("--clients must be at least 4 (one per role)")
    started = time.perf_counter()
    load = load_average()
    n = roles(a.clients)
    results: dict[str, Any] = {
        "records": a.records,
        "clients": a.clients,
        "roles": n,
        "minutes": round(a.minutes, 2),
        "window_seconds": a.window,
        "warmup_seconds": a.warmup,
        "ingest_every_seconds": a.ingest_every,
    }
    failed = False
    proc = None
    soak: Soak | None = None
    log_file = a.run_dir / "server.log"
    try:
        source, results["data"] = portal_db(a.records)
        published = _published(source)
        results["data"]["published"] = published
        results["index"] = ensure_index(source, published)
        anon = request_mix(source, a.mix_size)
        staff_mix = request_mix(
            source, a.mix_size // 5, who="staff", mix=STAFF_MIX, paths=STAFF_PATHS
        )
        log(f"copying {source} for this run …")
        home = fresh_home(source, a.run_dir / "home")
        add_accounts(home, n["staff"])
        a.first_number = next_number(home)
        config = bench_config(a.run_dir / "config", RATE_BUCKETS)
        proc, base = start_server(home, config, background=True, log_file=log_file)
        server: dict[str, Any] = {"pid": proc.pid, "start": snapshot(proc.pid)}
        results["server"] = server
        log(
            f"soak: {a.clients} clients ({n}), {a.minutes * 60:.0f} s, windows of {a.window:.0f} s,"
            f" a transfer every {a.ingest_every:.0f} s …"
        )
        soak = run_load(base, proc.pid, a, anon, staff_mix, n)
        after = [m for t, m in soak.memory if t >= a.warmup]
        server["after_warmup"] = after[0] if after else None
        time.sleep(2)  # let the last requests' work settle
        server["end"] = snapshot(proc.pid)
    except Exception as exc:  # reported in the JSON
        failed = True
        results["error"] = f"{type(exc).__name__}: {exc}"
        log(f"failed: {exc}")
    finally:
        if proc is not None:
            stop_server(proc)
    if soak is not None:
        results["server"]["log"] = server_log(log_file, soak)
        every = [x for v in soak.latencies.values() for x in v]
        by_target: dict[str, list[float]] = defaultdict(list)
        for (_, target), v in soak.latencies.items():
            by_target[target].extend(v)
        seconds = a.minutes * 60
        results["requests"] = len(every)
        results["errors"] = sum(soak.errors.values())
        results["errors_by_kind"] = dict(sorted(soak.errors.items()))
        results["error_examples"] = dict(sorted(soak.examples.items()))
        results["overall"] = summarise(every, seconds)
        results["by_target"] = {t: summarise(v, seconds) for t, v in sorted(by_target.items())}
        results["windows"] = windows(soak, a)
        results["memory"] = memory(soak, a)
        results["transfers"] = transfers(soak)
        results["counts"] = dict(sorted(soak.counts.items()))
        log(
            f"soak: {results['requests']} requests, errors {results['errors']},"
            f" memory growth {results['memory'].get('growth_pct')} %"
        )
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["date"] = date.today().isoformat()
    found = goals(results) if soak is not None else []
    print_report("soak", results, found, load, httpx2=httpx2.__version__)
    return 1 if failed or results.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
