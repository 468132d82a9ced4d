"""Fault-injection benchmark: kill -9 real `lantai` processes at seeded points, check invariants.

Run ``.venv/bin/python bench/faults.py [--quick] [--kills N] [--seed S]``. Prints ONE JSON
object::

    {"bench": "faults", "machine": {...}, "results": {...}, "goals": [...]}

The campaigns of ``tests/faults`` (harness, workloads and invariants are shared), with more kill
points: ingest + replication (half of them), OCR and disposal (a quarter each). Each kill is a
SIGKILL of a real process — at a named fault point (``LANTAI_FAULT_POINT``, chosen from the
seeded RNG) or after a seeded random delay — followed by the crash-consistency check; every
campaign ends with a restart without faults (``lantai ingest resume``, ``lantai search catchup``)
and the settled check. ``--quick``: 20 kill points in under a minute (``make test``); default 200.

Baseline, measured in the same run: the same commands run once each without any fault, so the
cost of a kill and its restart can be compared with a clean run of the work.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import load_average, log, machine

# The harness lives in tests/ (tests/faults, tests/ingest …); bench/ingest.py and this script
# would shadow those packages, so bench/ leaves the path once benchlib is imported.
_BENCH = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _BENCH]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from faults.harness import Campaign, Lab  # noqa: E402
from faults.workloads import RESUME, DisposalWork, IngestWork, OcrWork  # noqa: E402
from lantai.faults import POINTS  # noqa: E402

FINISH = (RESUME, ["search", "catchup"])


def _lab(root: Path, name: str) -> Lab:
    lab = Lab(root / name)
    lab.root.mkdir(parents=True)
    lab.initialise()
    return lab


def _baseline(root: Path) -> dict[str, float]:
    """Seconds of one clean `lantai ingest run` and one clean `lantai ingest resume`."""
    lab = _lab(root, "baseline")
    work = IngestWork(lab)
    lab.lantai(*work.submit())  # warms the zygote
    run = lab.lantai(*work.submit())
    resume = lab.lantai(*RESUME)
    return {"ingest_run_s": round(run.seconds, 3), "resume_idle_s": round(resume.seconds, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="20 kill points")
    ap.add_argument("--kills", type=int, default=None, help="kill points in all (default 200)")
    ap.add_argument("--seed", type=int, default=20261121)
    args = ap.parse_args()
    load = load_average()
    total = args.kills or (20 if args.quick else 200)
    shares = {"ingest": total - 2 * (total // 4), "ocr": total // 4, "disposal": total // 4}
    started = time.monotonic()
    campaigns: dict[str, dict[str, Any]] = {}
    violations: list[str] = []
    reached: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="lantai-faults-") as tmp:
        root = Path(tmp)
        baseline = _baseline(root)
        log(f"baseline {baseline}")

        lab = _lab(root, "ingest")
        ingest = IngestWork(lab)
        campaign = Campaign(lab, args.seed, ingest.steps())
        t0 = time.monotonic()
        ingest.walk(campaign, shares["ingest"])
        campaign.settle(*FINISH, expected_codes=ingest.expected)
        campaigns["ingest"] = {**campaign.report(), "seconds": round(time.monotonic() - t0, 1)}
        violations += campaign.violations
        reached |= set(lab.hits())
        log(f"ingest {campaigns['ingest']}")

        lab = _lab(root, "ocr")
        ocr = OcrWork(lab, batches=max(2, shares["ocr"] // 3))
        campaign = Campaign(lab, args.seed + 1, ocr.steps())
        t0 = time.monotonic()
        ocr.walk(campaign, shares["ocr"])
        for uid in ocr.uids:
            lab.lantai("scan", "ocr", uid, "--engine", "tesseract")
        campaign.settle(*FINISH)
        campaigns["ocr"] = {**campaign.report(), "seconds": round(time.monotonic() - t0, 1)}
        violations += campaign.violations
        reached |= set(lab.hits())
        log(f"ocr {campaigns['ocr']}")

        lab = _lab(root, "disposal")
        disposal = DisposalWork(lab, batches=max(4, shares["disposal"]))
        campaign = Campaign(lab, args.seed + 2, disposal.steps())
        t0 = time.monotonic()
        disposal.walk(campaign, shares["disposal"])
        disposal.finish()
        campaign.settle(*FINISH, expected_codes=disposal.codes)
        campaigns["disposal"] = {**campaign.report(), "seconds": round(time.monotonic() - t0, 1)}
        violations += campaign.violations
        reached |= set(lab.hits())
        log(f"disposal {campaigns['disposal']}")

    kills = sum(c["kills"] for c in campaigns.values())
    seconds = time.monotonic() - started
    covered = sorted(reached & set(POINTS))
    results = {
        "seed": args.seed,
        "kill_points_injected": kills,
        "by_named_point": sum(c["kills"] - c["delay_kills"] for c in campaigns.values()),
        "by_random_delay": sum(c["delay_kills"] for c in campaigns.values()),
        "runs": sum(c["runs"] for c in campaigns.values()),
        "invariant_checks": sum(c["checks"] for c in campaigns.values()),
        "violations": len(violations),
        "violation_examples": violations[:10],
        "fault_points_reached": len(covered),
        "fault_points_defined": len(POINTS),
        "fault_points_not_reached": sorted(set(POINTS) - reached),
        "campaigns": campaigns,
        "baseline": baseline,
        "seconds_per_kill": round(seconds / max(1, kills), 2),
        "seconds": round(seconds, 1),
    }
    goals = [
        {
            "name": "invariant violations after kill -9 and restart",
            "value": len(violations),
            "unit": "violations",
            "goal": 0,
            "met": not violations,
        },
        {
            "name": "kill points injected",
            "value": kills,
            "unit": "kills",
            "goal": total,
            "met": kills >= total,
        },
    ]
    print(
        json.dumps(
            {"bench": "faults", "machine": machine(load), "results": results, "goals": goals},
            ensure_ascii=False,
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
