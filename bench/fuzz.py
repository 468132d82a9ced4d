"""API fuzz benchmark: schemathesis over the whole OpenAPI schema, many examples per operation.

Run ``.venv/bin/python bench/fuzz.py [--quick] [--budget SECONDS]``. Prints ONE JSON object::

    {"bench": "fuzz", "machine": {...}, "results": {...}, "goals": [...]}

The same harness as ``tests/fuzz/test_api_fuzz.py`` (``tests/fuzz_support.py``): an instance in a
temporary home with users for every role, a registered citizen, a small published catalogue and
its search index; every operation is fuzzed as staff (archivist) and as a citizen (positive and
negative data: no 5xx, declared status codes, content types and bodies, negative data rejected),
then without a session (an operation behind a permission must answer 401/403). The default
plan (5–10 minutes; the budget is 11) sends up to 100 positive + 60 negative cases per operation as staff,
30 + 15 as a citizen and 5 anonymous (fewer where the schema allows fewer distinct requests);
``--quick`` (under a minute) sends 1 + 1, 1 + 0 and 1. A run stops
starting new operations when ``--budget`` seconds have passed; the results say how many
operations were covered. Goal: 0 failures, every operation covered.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from benchlib import load_average, log, machine
from conftest import make_settings
from fuzz_support import fuzz_world, run_fuzz
from lantai.instance import Instance
from lantai.web.app import create_app

PLANS = {
    "quick": ({"staff": (1, 1), "citizen": (1, 0)}, 1, 50.0),
    "full": ({"staff": (100, 60), "citizen": (30, 15)}, 5, 660.0),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1 example per operation (< 60 s)")
    ap.add_argument("--budget", type=float, default=None, help="seconds (default 50 / 660)")
    args = ap.parse_args(argv)
    plan, anonymous, budget = PLANS["quick" if args.quick else "full"]
    budget = args.budget if args.budget is not None else budget
    load = load_average()
    import schemathesis

    info = machine(load, schemathesis=schemathesis.__version__)
    logging.getLogger("lantai.web").setLevel(logging.CRITICAL)  # the 500s are counted, not logged
    with tempfile.TemporaryDirectory(prefix="lantai-fuzz-") as tmp:
        inst = Instance.initialise(make_settings(Path(tmp) / "home"))
        inst.catalogue.today = lambda: date(2026, 11, 21)
        try:
            t0 = time.perf_counter()
            fuzz_world(inst)
            world_s = time.perf_counter() - t0
            app = create_app(inst)
            total = len(app.openapi()["paths"])
            log(f"fuzzing {total} paths, plan {plan}, anonymous {anonymous}, budget {budget:.0f} s")
            report = run_fuzz(
                app, plan=plan, anonymous_examples=anonymous, budget_s=budget, progress=log
            )
            schema_ops = sum(
                1
                for item in app.openapi()["paths"].values()
                for m in item
                if m in ("get", "put", "post", "delete", "patch", "head")
            )
        finally:
            inst.close()
    results = {
        "operations_in_schema": schema_ops,
        "operations_fuzzed": report.operations,
        "protected_operations": report.protected_operations,
        "cases": report.total_cases,
        "cases_by_identity": dict(report.cases),
        "statuses": {str(k): v for k, v in sorted(report.statuses.items())},
        "failures": len(report.failures),
        "failures_by_kind": report.failures_by_kind(),
        "failure_list": [
            {
                "operation": f.operation,
                "identity": f.identity,
                "check": f.check,
                "status": f.status,
                "message": f.message[:300],
                "reproduce": f.reproduce[:500],
            }
            for f in report.failures
        ],
        "world_s": round(world_s, 2),
        "duration_s": round(report.seconds, 1),
        "cases_per_s": round(report.total_cases / report.seconds, 1) if report.seconds else None,
        "plan": {"per_identity_positive_negative": plan, "anonymous": anonymous},
        "budget_s": budget,
    }
    goals = [
        {
            "name": "fuzz failures (5xx, schema, unauthenticated access)",
            "value": len(report.failures),
            "unit": "failures",
            "goal": 0,
            "met": not report.failures,
        },
        {
            "name": "operations covered within the budget",
            "value": report.operations,
            "unit": "operations",
            "goal": schema_ops,
            "met": report.operations == schema_ops,
        },
    ]
    print(
        json.dumps(
            {"bench": "fuzz", "machine": info, "results": results, "goals": goals},
            ensure_ascii=False,
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
