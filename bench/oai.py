"""OAI-PMH provider benchmark: ListRecords (oai_dc) throughput over published records.

Run ``.venv/bin/python bench/oai.py [--quick] [--records N]``. Prints ONE JSON object::

    {"bench": "oai", "machine": {...}, "results": {...}, "goals": [...]}

A fresh SQLite instance gets N 件 (100,000 by default; ``--quick`` 10,000) through
``Catalogue.create_records``; their ``published_records`` rows (the masked public form) are
inserted directly, as publication would leave them (publication's masking is benchmarked by
bench/screening.py). The provider then serves a complete ListRecords harvest, page after page
through its resumption tokens (``oai_page_size`` 500), building and serialising every XML
response. The baseline, measured in the same run, is the physical bound: one raw SQL read of the
same joined rows in datestamp order. The keyset check compares the time of the first page with
that of the last one: with OFFSET paging the last page would cost the whole list.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

from lxml import etree
from sqlalchemy import insert, text

from benchlib import log, machine
from lantai.archival import Level
from lantai.catalogue.service import NewRecord
from lantai.instance import Instance
from lantai.oai.provider import OaiProvider
from lantai.security import Actor
from lantai.settings import Settings
from lantai.store import PublishedRecord

NS = {"o": "http://www.openarchives.org/OAI/2.0/"}
PAGE = 500


def build(inst: Instance, n: int) -> None:
    op = Actor.operator()
    with inst.db.write() as s:
        fonds = inst.catalogue.create_fonds(
            s, op, code="Z109", name="某市人民政府办公室", responsible="某市人民政府办公室",
            values={"date": "1949-2024", "custody_history": "2010年整体移交进馆"},
        )  # fmt: skip
    with inst.db.write() as s:
        series = inst.catalogue.create_record(
            s, op, parent_id=fonds.id, level=Level.SERIES, values={"title": "文书档案"},
            category="WS",
        )  # fmt: skip
    start = datetime(2026, 1, 1, tzinfo=UTC)
    done = 0
    while done < n:
        k = min(5000, n - done)
        drafts = [
            NewRecord(
                parent_id=series.id,
                level=Level.ITEM,
                values={
                    "title": f"关于印发{2000 + i % 24}年工作要点的通知（第{done + i}号）",
                    "responsible": "某市人民政府办公室",
                    "date": f"{2000 + i % 24}0305",
                    "retention": "Y",
                    "org_code": "BGS",
                    "open_status": "开放",
                    "pages": 4,
                },
            )
            for i in range(k)
        ]
        with inst.db.write() as s:
            created = inst.catalogue.create_records(s, op, drafts)
            s.execute(
                insert(PublishedRecord),
                [
                    {
                        "record_id": c.id,
                        "state": "published",
                        "published_by": "bench",
                        "published_at": start,
                        "datestamp": start + timedelta(seconds=(done + j) // 3),
                        "title": d.values["title"],
                        "responsible": d.values["responsible"],
                        "fields": {},
                        "masked_spans": 0,
                    }
                    for j, (c, d) in enumerate(zip(created, drafts, strict=True))
                ],
            )
        done += k
        log(f"  {done:,} records")


def harvest(inst: Instance) -> tuple[int, int, float, list[float]]:
    provider = OaiProvider(inst, "http://bench/oai", page_size=PAGE)
    query = "verb=ListRecords&metadataPrefix=oai_dc"
    records = pages = 0
    page_s: list[float] = []
    t0 = time.perf_counter()
    while True:
        t = time.perf_counter()
        doc = etree.fromstring(provider.respond(parse_qsl(query)))
        page_s.append(time.perf_counter() - t)
        pages += 1
        records += len(doc.findall(".//o:record", NS))
        token = doc.findtext(".//o:resumptionToken", namespaces=NS)
        if not token:
            break
        query = f"verb=ListRecords&resumptionToken={token}"
    return records, pages, time.perf_counter() - t0, page_s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="10,000 records")
    ap.add_argument("--records", type=int, default=None)
    args = ap.parse_args(argv)
    n = args.records or (10_000 if args.quick else 100_000)
    info = machine()
    with tempfile.TemporaryDirectory(prefix="lantai-bench-oai-") as tmp:
        settings = Settings(home=Path(tmp) / "home", archive_code="136101")
        inst = Instance.initialise(settings)
        try:
            log(f"building {n:,} published records")
            t0 = time.perf_counter()
            build(inst, n)
            build_s = time.perf_counter() - t0
            log("baseline: raw SQL read of the same rows")
            t0 = time.perf_counter()
            with inst.db.read() as s:
                rows = s.execute(
                    text(
                        "SELECT r.id, r.archival_code, r.date, r.level, p.title, p.responsible,"
                        " p.fields, p.datestamp FROM published_records p"
                        " JOIN records r ON r.id = p.record_id ORDER BY p.datestamp, p.record_id"
                    )
                ).all()
            base_s = time.perf_counter() - t0
            log("provider: full ListRecords harvest")
            records, pages, oai_s, page_s = harvest(inst)
        finally:
            inst.close()
    assert records == n == len(rows), (records, n, len(rows))
    rate = records / oai_s
    base_rate = len(rows) / base_s
    first, last = page_s[0], page_s[-2] if len(page_s) > 1 else page_s[-1]
    results = {
        "records": n,
        "page_size": PAGE,
        "pages": pages,
        "build_s": round(build_s, 1),
        "listrecords_s": round(oai_s, 2),
        "listrecords_records_per_s": round(rate),
        "baseline_sql_s": round(base_s, 3),
        "baseline_records_per_s": round(base_rate),
        "fraction_of_bound": round(rate / base_rate, 4),
        "first_page_ms": round(first * 1000, 1),
        "last_full_page_ms": round(last * 1000, 1),
        "mean_page_ms": round(oai_s / pages * 1000, 1),
    }
    goals = [
        {
            "name": "ListRecords oai_dc throughput",
            "value": round(rate),
            "unit": "records/s",
            "goal": ">= 2000",
            "met": rate >= 2000,
        },
        {
            "name": "keyset paging: last page / first page time",
            "value": round(last / first, 2),
            "unit": "ratio",
            "goal": "<= 2",
            "met": last / first <= 2,
        },
    ]
    print(
        json.dumps(
            {"bench": "oai", "machine": info, "results": results, "goals": goals},
            ensure_ascii=False,
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
