"""Search benchmark: index build, a 1,000-query mix with facets, SQLite FTS5, rebuild under load.

Run ``.venv/bin/python bench/search.py [--quick] [--records N ...]``. Prints ONE JSON object on
stdout (progress goes to stderr)::

    {"bench": "search", "machine": {...}, "results": {...}, "goals": [...]}

For each size (default 1,000,000 and 10,000,000 records; ``--quick``: 20,000):

* data: ``lantai.demo.generator.generate_records`` into an SQLite instance cached in
  ``bench/out/search/db-<N>-seed<S>/`` (generated once: about 9 minutes for 10,000,000 records on the
  2-core test machine, 7 GB), reused by later runs;
* build: ``Indexer.rebuild`` of a fresh index (``--workers`` analysis processes), in a child process
  so that its peak memory (RSS of the indexer and of its workers) is its own; rate, seconds, size;
* queries: a fixed mix of 1,000 queries drawn (seeded) from the generator's vocabulary and from
  the records — one to four words, quoted phrases, field queries (题名/责任者/文号/档号/年度),
  facet-filtered and very broad queries, and the same kinds searched by a 公开-cleared reader and by
  the public — every one with all seven facet counts; p50/p95/p99 overall and per kind, and the peak
  memory of the query process;
* FTS5 (sizes up to ``--fts5-max``, default 1,000,000): the same records in an SQLite FTS5 table
  over the same analysed tokens (so both engines answer the same question), the same mix run
  against it (count, ranked top 10, the six column facets as GROUP BY), within ``--fts5-budget``
  seconds; the comparison uses the queries both ran;
* rebuild under load (the ``--rebuild-at`` size, default 1,000,000): a rebuild with two threads
  querying throughout; every query must succeed and return hits.

Exit status 1 when a measurement failed (its error is in the JSON); goals not met do not fail.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy import text as sql

from benchlib import load_average, log, print_report
from lantai.demo.generator import generate_records, load_vocabulary
from lantai.instance import Instance
from lantai.search import Indexer, SearchHome, SearchParams, SearchReader, SearchService
from lantai.search.analysis import fold, query_slots
from lantai.search.cache import ResultCache
from lantai.search.schema import doc_values
from lantai.security import Actor, Perm
from lantai.settings import Settings
from lantai.store import Record
from lantai.store.migrate import upgrade

OUT = Path(__file__).resolve().parent / "out" / "search"
SEED = 0
FACET_COLUMNS = {
    "fonds": "fonds_id",
    "category": "category",
    "year": "year",
    "retention": "retention",
    "open_status": "open_status",
    "security": "security_level",
}


# -- machine ------------------------------------------------------------------------------------------


def _engines() -> dict[str, str]:
    import tantivy

    return {"sqlite": sqlite3.sqlite_version, "tantivy": getattr(tantivy, "__version__", "?")}


def _peak_mib() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"process_mib": round(own, 1), "largest_child_mib": round(children, 1)}


# -- data ---------------------------------------------------------------------------------------------


def _settings(home: Path) -> Settings:
    return Settings(
        home=home, archive_code="136101", password_time_cost=1, password_memory_kib=8192
    )


def publish_open(home: Path) -> int:
    """Publish every active 开放 record (上网审查 approved, nothing to mask), as an archive that has
    reviewed its open holdings would have them; idempotent, so older cached instances catch up.
    One INSERT … SELECT: the service's per-record screening is not what this bench measures."""
    upgrade(_settings(home).resolved_database_url)
    inst = _open(home)
    try:
        with inst.db.write() as s:
            result = s.execute(
                sql(
                    "INSERT INTO published_records (record_id, state, published_at, published_by,"
                    " unpublish_reason, datestamp, title, responsible, fields, masked_spans)"
                    " SELECT r.id, 'published', :now, 'bench', '', :now, r.title, r.responsible,"
                    " '{}', 0"
                    " FROM records r WHERE r.open_status = '开放' AND r.lifecycle = 'active'"
                    " AND NOT EXISTS (SELECT 1 FROM published_records p WHERE p.record_id = r.id)"
                ),
                {"now": datetime.now(UTC).replace(tzinfo=None)},
            )
            return int(getattr(result, "rowcount", 0) or 0)
    finally:
        inst.close()


def cached_db(records: int, out: Path) -> tuple[Path, dict[str, Any]]:
    """The instance home of ``records`` generated records (made once, then reused), with its 开放
    records published."""
    home = out / f"db-{records}-seed{SEED}"
    marker = home / "bench-generated.json"
    if marker.exists():
        published = publish_open(home)
        return home, {
            **json.loads(marker.read_text()),
            "cached": True,
            "newly_published": published,
        }
    shutil.rmtree(home, ignore_errors=True)
    inst = Instance.initialise(_settings(home))
    log(f"generating {records:,} records into {home} (cached for later runs) …")
    started = time.perf_counter()
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        if done[0] % 1_000_000 < n:
            log(f"  {done[0]:,} records, {time.perf_counter() - started:.0f} s")

    summary = generate_records(inst, records=records, seed=SEED, progress=progress)
    inst.close()
    publish_open(home)
    info = {
        "records": summary.count,
        "years": list(summary.years),
        "generate_seconds": round(summary.seconds, 1),
        "generate_records_per_second": round(summary.per_second),
    }
    marker.write_text(json.dumps(info))
    return home, {**info, "cached": False}


def _open(home: Path) -> Instance:
    inst = Instance.open(_settings(home))
    inst.catalogue.today = lambda: date(2026, 11, 21)
    return inst


# -- the query mix ------------------------------------------------------------------------------------


@dataclass
class Case:
    """One query: the words (field or default), filters, and who searches."""

    kind: str
    who: str  # staff (机密 clearance) | reader (公开 clearance) | public
    terms: list[tuple[str | None, str]] = field(default_factory=list)
    year: tuple[int, int] | None = None
    filters: dict[str, str] = field(default_factory=dict)

    def params(self) -> SearchParams:
        labels = {
            "title": "题名",
            "responsible": "责任者",
            "docno": "文号",
            "code": "档号",
        }
        parts = []
        for f, text in self.terms:
            quoted = f'"{text}"' if " " in text or (f is None and self.kind == "phrase") else text
            parts.append(f"{labels[f]}:{quoted}" if f else quoted)
        return SearchParams(
            q=" ".join(parts),
            year_from=self.year[0] if self.year else None,
            year_to=self.year[1] if self.year else None,
            category=(self.filters["category"],) if "category" in self.filters else (),
            retention=(self.filters["retention"],) if "retention" in self.filters else (),
            open_status=(self.filters["open_status"],) if "open_status" in self.filters else (),
            size=10,
        )


def _actors() -> dict[str, Actor]:
    staff = Actor(
        username="bench-archivist",
        display_name="bench",
        user_id=1,
        permissions=frozenset({Perm.SEARCH_CATALOGUE}),
        clearance="机密",
        clearance_rank=3,
    )
    reader = Actor(
        username="bench-reader",
        display_name="bench",
        user_id=2,
        permissions=frozenset({Perm.SEARCH_CATALOGUE}),
        clearance="公开",
        clearance_rank=0,
    )
    return {"staff": staff, "reader": reader, "public": Actor.anonymous()}


def query_mix(inst: Instance, n: int, seed: int = 7) -> list[Case]:
    """``n`` queries in fixed proportions, made from the words of sampled records' titles (so
    most find something, as real searches do) and from the vocabulary.

    One word: a matter (土地征收), a district or an issuing body; two to four: a matter and a 文种,
    sometimes with a district or a year; phrases: 4–10 characters of a title; fields: 题名, 责任者
    (+ a word), 文号, 档号, or a word with a year range; facet-heavy: a matter — or, one time in
    five (about 5 % of the mix), a single 通知/报告/工作/关于 with millions of hits at 10,000,000
    records — with 保管期限, 门类 and year filters. All with the seven facet counts.
    """
    rng = random.Random(seed)
    vocab = load_vocabulary()
    matters = sorted({m.text for m in vocab.matters}, key=len, reverse=True)
    doc_types = sorted({t.doc_type for t in vocab.templates})
    own = {vocab.fonds.name, vocab.fonds.responsible, "某市人民政府"}
    issuers = sorted({i.name for pool in vocab.issuers.values() for i in pool} - own)
    districts = list(vocab.districts)
    with inst.db.read() as s:
        lo, hi = s.execute(select(func.min(Record.id), func.max(Record.id))).one()
        ids = [rng.randint(lo, hi) for _ in range(n * 2)]
        rows = {
            r.id: r
            for r in s.execute(
                select(
                    Record.id,
                    Record.title,
                    Record.doc_number,
                    Record.archival_code,
                    Record.year,
                    Record.responsible,
                ).where(Record.id.in_(ids), Record.level == "item")
            )
        }
    sample = [rows[i] for i in ids if i in rows] or list(rows.values())
    years = sorted({r.year for r in sample if r.year})

    def row() -> Any:
        return rng.choice(sample)

    def words(title: str) -> list[str]:
        """The vocabulary words of a generated title: its matter, district, year and 文种."""
        found = [m for m in matters if m in title][:1]
        found += [d for d in districts if d in title][:1]
        found += re.findall(r"\d{4}", title)[:1]
        found += [t for t in doc_types if title.endswith(t)][:1]
        return found or [title[2:6]]

    def phrase(title: str) -> str:
        """A substring of 4–10 characters that starts and ends with a CJK character."""
        for _ in range(20):
            k = rng.randint(4, 10)
            if len(title) < k:
                continue
            a = rng.randrange(0, len(title) - k + 1)
            sub = title[a : a + k]
            if re.fullmatch(r"[\u4e00-\u9fff].*[\u4e00-\u9fff]", sub) and not re.search(
                r"[《》“”]", sub
            ):
                return sub
        return words(title)[0]

    def base_case(kind: str, who: str) -> Case:
        c = Case(kind, who)
        r = row()
        if kind == "one_word":  # a matter, a district or an issuing body
            ws = words(r.title)
            pool = [ws[0], ws[0], rng.choice(issuers), *[w for w in ws[1:] if w in districts]]
            c.terms = [(None, rng.choice(pool))]
        elif kind == "two_to_four_words":  # matter + 文种, sometimes a district or a year
            ws = words(r.title)
            extra = [w for w in ws[1:] if w not in doc_types]
            c.terms = [(None, w) for w in [ws[0], *extra[: rng.randint(0, 2)]]]
            c.terms.append((None, next((w for w in ws if w in doc_types), rng.choice(doc_types))))
        elif kind == "phrase":
            c.terms = [(None, phrase(r.title))]
        elif kind == "field":
            choice = rng.randrange(5)
            if choice == 0:
                c.terms = [("title", words(r.title)[0])]
            elif choice == 1:
                c.terms = [("responsible", r.responsible), (None, words(r.title)[0])]
            elif choice == 2 and r.doc_number:
                c.terms = [("docno", r.doc_number)]
            elif choice == 3 and r.archival_code:
                c.terms = [("code", r.archival_code)]
            else:
                c.terms = [(None, words(r.title)[0])]
                c.year = (r.year - rng.randint(0, 3), r.year + rng.randint(0, 3))
        elif kind == "facet_heavy":
            broad = rng.random() < 0.2
            c.terms = [
                (None, rng.choice(["通知", "报告", "工作", "关于"]) if broad else words(r.title)[0])
            ]
            if rng.random() < 0.5:
                c.filters["retention"] = rng.choice(["Y", "D30", "D10"])
            if rng.random() < 0.5 and years:
                y = rng.choice(years)
                c.year = (y, min(y + rng.randint(0, 10), years[-1]))
            if rng.random() < 0.3:
                c.filters["category"] = "WS"
        return c

    plan = [
        ("one_word", "staff", 0.15),
        ("two_to_four_words", "staff", 0.15),
        ("phrase", "staff", 0.10),
        ("field", "staff", 0.15),
        ("facet_heavy", "staff", 0.15),
        ("one_word", "reader", 0.05),
        ("two_to_four_words", "reader", 0.05),
        ("facet_heavy", "reader", 0.05),
        ("one_word", "public", 0.05),
        ("phrase", "public", 0.05),
        ("facet_heavy", "public", 0.05),
    ]
    cases = []
    for kind, who, share in plan:
        cases += [base_case(kind, who) for _ in range(round(n * share))]
    rng.shuffle(cases)
    return cases[:n]


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[k], 2)


def summarise(latencies: list[float]) -> dict[str, Any]:
    return {
        "queries": len(latencies),
        "p50_ms": _pct(latencies, 50),
        "p95_ms": _pct(latencies, 95),
        "p99_ms": _pct(latencies, 99),
        "max_ms": round(max(latencies), 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
    }


def run_mix(service: SearchService, cases: list[Case], warmup: int = 50) -> dict[str, Any]:
    actors = _actors()
    for c in cases[:warmup]:
        service.search(actors[c.who], c.params())
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = {}
    totals: list[int] = []
    zero = 0
    for c in cases:
        started = time.perf_counter()
        res = service.search(actors[c.who], c.params())
        ms = (time.perf_counter() - started) * 1000
        latencies.append(ms)
        by_kind.setdefault(f"{c.kind}/{c.who}", []).append(ms)
        totals.append(res.total)
        zero += res.total == 0
    return {
        **summarise(latencies),
        "latencies_ms": latencies,
        "totals": totals,
        "zero_hit_queries": zero,
        "median_hits": int(statistics.median(totals)) if totals else 0,
        "by_kind": {k: summarise(v) for k, v in sorted(by_kind.items())},
    }


# -- phases (each run in a child process, so peak memory is its own) -----------------------------------


def phase_build(home: Path, index: Path, workers: int) -> dict[str, Any]:
    inst = _open(home)
    shutil.rmtree(index, ignore_errors=True)
    indexer = Indexer(inst, SearchHome(index), workers=workers)
    assert indexer.acquire()
    load = load_average()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    report = indexer.rebuild()
    after = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = (after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime) + (
        kids.ru_utime + kids.ru_stime
    )
    indexer.release()
    inst.close()
    return {
        "records": report.records,
        "seconds": round(report.seconds, 1),
        "records_per_second": round(report.per_second),
        "cpu_seconds": round(cpu_seconds, 1),
        "cpu_microseconds_per_record": round(cpu_seconds / max(1, report.records) * 1e6, 1),
        "index_bytes": report.size_bytes,
        "index_bytes_per_record": round(report.size_bytes / max(1, report.records), 1),
        "workers": workers,
        "load_average": {"start": load, "end": load_average()},
        "peak_memory": _peak_mib(),
    }


def phase_queries(home: Path, index: Path, n: int, rebuild: bool, workers: int) -> dict[str, Any]:
    inst = _open(home)
    reader = SearchReader(SearchHome(index))
    service = SearchService(inst, reader)
    service.cache = ResultCache(ranked=0, facets=0)  # measure the index, not the result cache
    cases = query_mix(inst, n)
    load = load_average()
    out: dict[str, Any] = run_mix(service, cases)
    out["load_average"] = {"start": load, "end": load_average()}
    out["cases"] = [asdict(c) for c in cases]
    if rebuild:
        out["rebuild_under_load"] = rebuild_under_load(
            inst, index, reader, service, cases, out, workers
        )
    out["peak_memory"] = _peak_mib()
    inst.close()
    return out


def rebuild_under_load(
    inst: Instance,
    index: Path,
    reader: SearchReader,
    service: SearchService,
    cases: list[Case],
    measured: dict[str, Any],
    workers: int,
) -> dict[str, Any]:
    """Rebuild while two threads keep searching (queries that had hits before must keep them)."""
    live = [c for c, total in zip(cases, measured["totals"], strict=True) if total > 0]
    actors = _actors()
    indexer = Indexer(inst, SearchHome(index), reader=reader, workers=workers)
    assert indexer.acquire()
    indexer.ensure()
    before = SearchHome(index).current()
    stop = threading.Event()
    lock = threading.Lock()
    stats: dict[str, Any] = {"queries": 0, "failed": 0, "empty": 0, "errors": [], "latencies": []}
    generations: set[str] = set()

    def loop(offset: int) -> None:
        i = offset
        while not stop.is_set():
            c = live[i % len(live)]
            i += 7
            started = time.perf_counter()
            try:
                res = service.search(actors[c.who], c.params())
                ms = (time.perf_counter() - started) * 1000
                with lock:
                    stats["queries"] += 1
                    stats["latencies"].append(ms)
                    generations.add(res.generation)
                    if res.total == 0 or not res.hits:
                        stats["empty"] += 1
            except Exception as exc:  # any failure is a finding
                with lock:
                    stats["failed"] += 1
                    if len(stats["errors"]) < 5:
                        stats["errors"].append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=loop, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    try:
        report = indexer.rebuild()
    finally:
        time.sleep(1.0)  # keep querying across the swap
        stop.set()
        for t in threads:
            t.join()
        indexer.release()
    after = SearchHome(index).current()
    return {
        "records": report.records,
        "seconds": round(report.seconds, 1),
        "records_per_second": round(report.per_second),
        "swapped": before is not None and after is not None and before.name != after.name,
        "generations_seen": sorted(generations),
        "queries": stats["queries"],
        "failed": stats["failed"],
        "empty": stats["empty"],
        "errors": stats["errors"],
        "latency_during_rebuild": summarise(stats["latencies"]),
    }


# -- SQLite FTS5 over the same analysed tokens ------------------------------------------------------------


def phase_fts5_build(home: Path, path: Path) -> dict[str, Any]:
    inst = _open(home)
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE VIRTUAL TABLE fts USING fts5(title, responsible, code, docno, other, "
        "content='', tokenize='unicode61 remove_diacritics 0')"
    )
    from lantai.search.indexer import record_rows

    started = time.perf_counter()
    count = 0
    after = 0
    with inst.db.read() as s:
        while True:
            rows = record_rows(s, Record.id > after, 5000)
            if not rows:
                break
            values = doc_values(rows)
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO fts(rowid, title, responsible, code, docno, other) VALUES (?,?,?,?,?,?)",
                [(v.id, v.title, v.responsible, v.code, v.docno, v.other) for v in values],
            )
            conn.execute("COMMIT")
            count += len(rows)
            after = rows[-1].id
    insert_seconds = time.perf_counter() - started
    started = time.perf_counter()
    conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
    optimize_seconds = time.perf_counter() - started
    conn.close()
    inst.close()
    return {
        "records": count,
        "insert_seconds": round(insert_seconds, 1),
        "optimize_seconds": round(optimize_seconds, 1),
        "records_per_second": round(count / (insert_seconds + optimize_seconds)),
        "bytes": path.stat().st_size,
        "note": "FTS5 unicode61 over the same analysed bigram tokens (contentless); analysis time included",
    }


def _fts_match(c: Case) -> str:
    parts = []
    for f, text in c.terms:
        slots = query_slots(fold(text))
        if not slots:
            continue
        words = " ".join(s.token for s in slots)
        phrase = f'"{words}"' + (" *" if slots[-1].prefix else "")
        column = {"title": "title", "responsible": "responsible", "docno": "docno", "code": "code"}
        parts.append(f"{column[f]} : {phrase}" if f else phrase)
    return " AND ".join(parts)


def _fts_where(c: Case) -> tuple[str, list[Any]]:
    clauses, args = ["r.lifecycle = 'active'"], []
    rank = {"staff": 3, "reader": 0, "public": 0}[c.who]
    clauses.append("r.security_rank <= ?")
    args.append(rank)
    if c.who == "public":
        clauses.append("r.open_status = '开放'")
        clauses.append(
            "r.id IN (SELECT record_id FROM cat.published_records WHERE state = 'published')"
        )
    if c.year:
        clauses.append("r.year BETWEEN ? AND ?")
        args += list(c.year)
    for k, v in c.filters.items():
        clauses.append(f"r.{k} = ?")
        args.append(v)
    return " AND ".join(clauses), args


def phase_fts5_queries(home: Path, path: Path, n: int, budget: float) -> dict[str, Any]:
    inst = _open(home)
    cases = query_mix(inst, n)
    db_path = inst.db.url.removeprefix("sqlite:///")
    inst.close()
    conn = sqlite3.connect(path)
    conn.execute(f"ATTACH DATABASE '{db_path}' AS cat")
    latencies: list[float] = []
    done: list[int] = []
    started_all = time.perf_counter()
    for i, c in enumerate(cases):
        if time.perf_counter() - started_all > budget:
            break
        match = _fts_match(c)
        where, args = _fts_where(c)
        started = time.perf_counter()
        if match:
            src = "fts JOIN cat.records r ON r.id = fts.rowid"
            cond = f"fts MATCH ? AND {where}"
            qargs = [match, *args]
            order = "ORDER BY fts.rank"
        else:
            src, cond, qargs, order = "cat.records r", where, args, "ORDER BY r.id"
        conn.execute(f"SELECT count(*) FROM {src} WHERE {cond}", qargs).fetchone()
        conn.execute(f"SELECT r.id FROM {src} WHERE {cond} {order} LIMIT 10", qargs).fetchall()
        for column in FACET_COLUMNS.values():
            conn.execute(
                f"SELECT r.{column}, count(*) FROM {src} WHERE {cond} GROUP BY r.{column}", qargs
            ).fetchall()
        latencies.append((time.perf_counter() - started) * 1000)
        done.append(i)
    conn.close()
    return {
        **summarise(latencies),
        "query_indexes": done,
        "latencies_ms": latencies,
        "budget_seconds": budget,
    }


# -- driver -------------------------------------------------------------------------------------------------


def child(phase: str, **kwargs: Any) -> dict[str, Any]:
    """Run one phase in a fresh interpreter; returns its JSON."""
    cmd = [sys.executable, __file__, "--phase", phase, "--args", json.dumps(kwargs, default=str)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"phase {phase} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def run_phase(phase: str, args: dict[str, Any]) -> dict[str, Any]:
    home = Path(args["home"])
    if phase == "build":
        return phase_build(home, Path(args["index"]), int(args["workers"]))
    if phase == "queries":
        return phase_queries(
            home, Path(args["index"]), int(args["n"]), bool(args["rebuild"]), int(args["workers"])
        )
    if phase == "fts5-build":
        return phase_fts5_build(home, Path(args["path"]))
    if phase == "fts5-queries":
        return phase_fts5_queries(home, Path(args["path"]), int(args["n"]), float(args["budget"]))
    raise SystemExit(f"unknown phase {phase}")


def measure_size(records: int, a: argparse.Namespace, out: Path) -> dict[str, Any]:
    home, data = cached_db(records, out)
    index = out / f"index-{records}"
    res: dict[str, Any] = {"data": data}
    log(f"{records:,}: building the index ({a.workers} workers) …")
    res["build"] = child("build", home=home, index=index, workers=a.workers)
    log(f"{records:,}: build {json.dumps(res['build'], ensure_ascii=False)}")
    rebuild = records == a.rebuild_at
    log(f"{records:,}: {a.queries} queries{' and a rebuild under load' if rebuild else ''} …")
    queries = child(
        "queries", home=home, index=index, n=a.queries, rebuild=rebuild, workers=a.workers
    )
    cases = queries.pop("cases")
    latencies = queries.pop("latencies_ms")
    queries.pop("totals")
    if rebuild:
        res["rebuild_under_load"] = queries.pop("rebuild_under_load")
        log(
            f"{records:,}: rebuild under load {json.dumps(res['rebuild_under_load'], ensure_ascii=False)}"
        )
    res["queries"] = queries
    log(
        f"{records:,}: queries p50 {queries['p50_ms']} p95 {queries['p95_ms']} p99 {queries['p99_ms']} ms"
    )
    if records <= a.fts5_max:
        path = out / f"fts5-{records}.db"
        log(f"{records:,}: SQLite FTS5 build …")
        fts_build = child("fts5-build", home=home, path=path)
        log(f"{records:,}: FTS5 queries (budget {a.fts5_budget:.0f} s) …")
        fts = child("fts5-queries", home=home, path=path, n=a.queries, budget=a.fts5_budget)
        same = [latencies[i] for i in fts.pop("query_indexes")]
        fts.pop("latencies_ms")
        res["fts5"] = {
            "build": fts_build,
            "queries": fts,
            "lantai_on_the_same_queries": summarise(same),
        }
        if fts["p95_ms"] and same:
            res["fts5"]["p95_ratio_fts5_over_lantai"] = round(fts["p95_ms"] / _pct(same, 95), 1)
        if not a.keep_fts5:
            path.unlink(missing_ok=True)
            Path(f"{path}-wal").unlink(missing_ok=True)
            Path(f"{path}-shm").unlink(missing_ok=True)
    res["mix"] = {
        k: sum(1 for c in cases if c["kind"] == k) for k in sorted({c["kind"] for c in cases})
    }
    return res


def _goal(name: str, value: float | None, unit: str, goal: str) -> dict[str, Any]:
    met: bool | None = None
    if value is not None:
        op, bound = goal.split(" ", 1)
        met = value >= float(bound) if op == ">=" else value <= float(bound)
    return {"name": name, "value": value, "unit": unit, "goal": goal, "met": met}


def goals(results: dict[str, Any], sizes: list[int], rebuild_at: int) -> list[dict[str, Any]]:
    top = max(sizes)
    r = results.get(str(top), {})
    out = [
        _goal(
            f"index build rate, {top:,} records, 2 cores",
            r.get("build", {}).get("records_per_second"),
            "records/s",
            ">= 25000",
        ),
        _goal(
            f"p95 latency of the 1,000-query mix with facet counts, {top:,} records",
            r.get("queries", {}).get("p95_ms"),
            "ms",
            "<= 100",
        ),
    ]
    rb = results.get(str(rebuild_at), {}).get("rebuild_under_load")
    if rb is not None:
        out.append(
            _goal(
                f"queries failed or empty during a rebuild of {rebuild_at:,} records",
                rb["failed"] + rb["empty"],
                "queries",
                "<= 0",
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 records, 200 queries (CI)")
    parser.add_argument(
        "--records", type=int, nargs="+", help="sizes (default 1,000,000 10,000,000)"
    )
    parser.add_argument("--queries", type=int, help="queries in the mix (default 1,000)")
    parser.add_argument("--workers", type=int, default=2, help="analysis processes for the build")
    parser.add_argument("--fts5-max", type=int, default=1_000_000, help="largest size for FTS5")
    parser.add_argument("--fts5-budget", type=float, default=600, help="seconds for FTS5 queries")
    parser.add_argument("--rebuild-at", type=int, help="size of the rebuild under load")
    parser.add_argument("--keep-fts5", action="store_true", help="keep the FTS5 database")
    parser.add_argument("--out", type=Path, default=OUT, help="cache directory (gitignored)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    a = parser.parse_args(argv)
    if a.phase:
        print(json.dumps(run_phase(a.phase, json.loads(a.args)), ensure_ascii=False))
        return 0
    sizes = a.records or ([20_000] if a.quick else [1_000_000, 10_000_000])
    a.queries = a.queries or (200 if a.quick else 1000)
    a.rebuild_at = a.rebuild_at or (sizes[0] if a.quick else 1_000_000)
    if a.quick:
        a.fts5_budget = min(a.fts5_budget, 20)
    a.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load = load_average()
    results: dict[str, Any] = {}
    failed = False
    for size in sizes:
        try:
            results[str(size)] = measure_size(size, a, a.out)
        except Exception as exc:  # reported in the JSON, the run goes on
            failed = True
            results[str(size)] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"{size:,}: failed: {exc}")
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["date"] = date.today().isoformat()
    print_report("search", results, goals(results, sizes, a.rebuild_at), load, **_engines())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
