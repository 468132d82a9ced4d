"""Fault-injection benchmark: kill -9 real `lantai` processes at seeded points, check invariants.

Run ``.venv/bin/python bench/faults.py [--quick] [--kills N] [--fed-kills M] [--seed S]``.
Prints ONE JSON object::

    {"bench": "faults", "machine": {...}, "results": {...}, "goals": [...]}

The campaigns of ``tests/faults`` (harness, workloads and invariants are shared), with more kill
points: ingest + replication (half of ``--kills``), OCR and disposal (a quarter each), each a
seeded random walk; then cross-archive requests (跨馆出证, ``--fed-kills``): two archives as
``lantai serve`` processes, one request after the other, each round with one seeded fault point
armed in one archive's server. Each kill is a SIGKILL of a real process — at a named fault
point (``LANTAI_FAULT_POINT``) or after a seeded random delay — followed by the crash-consistency
check; every campaign ends with a restart without faults (``lantai ingest resume``, ``lantai
search catchup``) and the settled check. Default 200 + 25 kill points.

``--quick`` (``make test``; budget: under 60 s on a loaded 2-core machine) is a fixed sample
instead of the walks — 11 kills, every area: the ingest pipeline from staging to the index (6),
OCR (2), 销毁 (2) and one cross-archive request whose certificate is sent twice (the 出证馆 dies
after the 受理馆 acknowledged it). The areas run in two lanes at once, each with its own fork
server: the cross-archive round mostly waits for the servers' job runners.

Baseline, measured in the same run: the same commands run once each without any fault, so the
cost of a kill and its restart can be compared with a clean run of the work (``--quick``: the
first, clean, ingest of the ingest campaign).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlib import load_average, log, machine

# The harness lives in tests/ (tests/faults, tests/ingest …); bench/ingest.py and this script
# would shadow those packages, so bench/ leaves the path once benchlib is imported.
_BENCH = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _BENCH]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from faults import harness  # noqa: E402
from faults.crossarchive import HOLDING, CrossArchiveWork  # noqa: E402
from faults.harness import Campaign, Lab, Step  # noqa: E402
from faults.workloads import RESUME, DisposalWork, IngestWork, OcrWork  # noqa: E402
from lantai.faults import POINTS  # noqa: E402

FINISH = (RESUME, ["search", "catchup"])
# --quick: (step name, fault) in order — each reaches its point from where the last one left off
# (a transfer is killed at most twice: the third kill of its job fails it, by design)
QUICK_INGEST = [
    ("ingest run", "ingest.stage.snapshot:1"),  # transfer 2
    ("ingest resume", "ingest.aip_committed:1"),  # transfer 2 again
    ("ingest run", "catalogue.records.created:1"),  # transfer 3
    ("ingest resume", "replication.copied:1"),  # 2 and 3 finish, the first copy dies
    ("search catchup", "search.index.committed:1"),  # their records into the index
    ("ingest run", "storage.local.renamed:1"),  # transfer 4
]
QUICK_OCR = [("scan ocr", "ocr.page.committed:2"), ("scan ocr", "ocr.pdf.stored:1")]
QUICK_DISPOSAL = [
    ("disposal execute", "disposal.location.destroyed:2"),
    ("disposal execute", "disposal.register.stored:1"),
]
QUICK_FEDERATION = ("federation.outbox.acknowledged:2", HOLDING)


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


def _fixed(campaign: Campaign, steps: tuple[Step, ...], plan: list[tuple[str, str]]) -> None:
    by_name = {s.name: s for s in steps}
    for name, fault in plan:
        campaign.at(by_name[name], fault)


def _ingest(root: Path, seed: int, kills: int, quick: bool, out: dict[str, Any]) -> Campaign:
    lab = _lab(root, "ingest")
    work = IngestWork(lab)
    campaign = Campaign(lab, seed, work.steps())
    if quick:
        clean = lab.lantai(*work.submit())  # the baseline, and it warms the fork server
        assert clean.returncode == 0, clean.text[-2000:]
        out["baseline"] = {"ingest_run_s": round(clean.seconds, 3)}
        built = lab.lantai("search", "catchup")  # the index exists: the next catch-up commits
        assert built.returncode == 0, built.text[-2000:]
        _fixed(campaign, work.steps(), QUICK_INGEST)
    else:
        work.walk(campaign, kills)
    campaign.settle(*FINISH, expected_codes=work.expected)
    return campaign


def _ocr(root: Path, seed: int, kills: int, quick: bool, out: dict[str, Any]) -> Campaign:
    lab = _lab(root, "ocr")
    # a batch run to its end leaves the walk: enough of them that it never runs out
    work = OcrWork(lab, batches=1 if quick else max(2, kills // 2))
    campaign = Campaign(lab, seed, work.steps())
    if quick:
        _fixed(campaign, work.steps(), QUICK_OCR)
    else:
        work.walk(campaign, kills)
    for uid in work.uids:
        lab.lantai("scan", "ocr", uid, "--engine", "tesseract")
    campaign.settle(*FINISH)
    return campaign


def _disposal(root: Path, seed: int, kills: int, quick: bool, out: dict[str, Any]) -> Campaign:
    lab = _lab(root, "disposal")
    work = (
        DisposalWork(lab, batches=2, per_batch=1)
        if quick
        else DisposalWork(lab, batches=max(4, kills))
    )
    campaign = Campaign(lab, seed, work.steps())
    if quick:
        _fixed(campaign, work.steps(), QUICK_DISPOSAL)
    else:
        work.walk(campaign, kills)
    work.finish()
    campaign.settle(*FINISH, expected_codes=work.codes)
    return campaign


def _federation(root: Path, seed: int, kills: int, quick: bool) -> CrossArchiveWork:
    work = CrossArchiveWork(root / "federation", seed=seed)
    if quick:
        work.start(QUICK_FEDERATION[1], QUICK_FEDERATION[0])
        work.round()
    else:
        work.start()
        work.walk(random.Random(seed), kills, max_rounds=kills * 2)
    work.check()
    work.settled_check()
    work.close()
    return work


class _Results:
    """Campaign reports, violations and the points reached, from one or two lanes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.campaigns: dict[str, dict[str, Any]] = {}
        self.violations: list[str] = []
        self.reached: set[str] = set()
        self.extra: dict[str, Any] = {}
        self.errors: list[BaseException] = []

    def run(self, name: str, fn: Callable[[], Campaign | CrossArchiveWork]) -> None:
        t0 = time.monotonic()
        done = fn()
        report = {**done.report(), "seconds": round(time.monotonic() - t0, 1)}
        labs = [done.lab] if isinstance(done, Campaign) else [done.a.lab, done.b.lab]
        with self.lock:
            self.campaigns[name] = report
            self.violations += done.violations
            for lab in labs:
                assert lab is not None
                self.reached |= set(lab.hits())
        log(f"{name} {report}")

    def lane(self, jobs: list[tuple[str, Callable[[], Campaign | CrossArchiveWork]]]) -> None:
        try:
            for name, fn in jobs:
                self.run(name, fn)
        except BaseException as exc:  # re-raised by the main thread
            self.errors.append(exc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a fixed sample of 11 kill points")
    ap.add_argument("--kills", type=int, default=None, help="kill points in all (default 200)")
    ap.add_argument(
        "--fed-kills", type=int, default=None, help="cross-archive kill points (default 25)"
    )
    ap.add_argument("--seed", type=int, default=20261121)
    args = ap.parse_args()
    load = load_average()
    total = args.kills or 200
    fed_kills = args.fed_kills if args.fed_kills is not None else 25
    shares = {"ingest": total - 2 * (total // 4), "ocr": total // 4, "disposal": total // 4}
    if args.quick:
        shares = {
            "ingest": len(QUICK_INGEST),
            "ocr": len(QUICK_OCR),
            "disposal": len(QUICK_DISPOSAL),
        }
        fed_kills = 1
    wanted = sum(shares.values()) + fed_kills
    started = time.monotonic()
    res = _Results()
    seed, quick = args.seed, args.quick
    with tempfile.TemporaryDirectory(prefix="lantai-faults-") as tmp:
        root = Path(tmp)
        if not quick:
            res.extra["baseline"] = _baseline(root)
            log(f"baseline {res.extra['baseline']}")
        ingest = ("ingest", lambda: _ingest(root, seed, shares["ingest"], quick, res.extra))
        ocr = ("ocr", lambda: _ocr(root, seed + 1, shares["ocr"], quick, res.extra))
        disposal = (
            "disposal",
            lambda: _disposal(root, seed + 2, shares["disposal"], quick, res.extra),
        )
        federation = ("federation", lambda: _federation(root, seed + 3, fed_kills, quick))
        if quick:  # two lanes, each with its own fork server, both warmed up at once

            def lane2() -> None:
                harness.warm_up(servers=True)
                res.lane([federation, disposal])

            harness.warm_up()  # the second fork server is forked from this one
            other = threading.Thread(target=harness.with_own_zygote(lane2))
            other.start()
            res.lane([ingest, ocr])
            other.join()
        else:
            res.lane([ingest, ocr, disposal, *([federation] if fed_kills else [])])
        if res.errors:
            raise res.errors[0]

    campaigns = res.campaigns
    kills = sum(c["kills"] for c in campaigns.values())
    seconds = time.monotonic() - started
    covered = sorted(res.reached & set(POINTS))
    results = {
        "seed": args.seed,
        "mode": "quick (fixed sample)" if quick else "seeded random walks",
        "kill_points_injected": kills,
        "by_named_point": sum(c["kills"] - c["delay_kills"] for c in campaigns.values()),
        "by_random_delay": sum(c["delay_kills"] for c in campaigns.values()),
        "runs": sum(c["runs"] for c in campaigns.values()),
        "invariant_checks": sum(c["checks"] for c in campaigns.values()),
        "violations": len(res.violations),
        "violation_examples": res.violations[:10],
        "fault_points_reached": len(covered),
        "fault_points_defined": len(POINTS),
        "fault_points_not_reached": sorted(set(POINTS) - res.reached),
        "campaigns": campaigns,
        **res.extra,
        "seconds_per_kill": round(seconds / max(1, kills), 2),
        "seconds": round(seconds, 1),
    }
    goals = [
        {
            "name": "invariant violations after kill -9 and restart",
            "value": len(res.violations),
            "unit": "violations",
            "goal": 0,
            "met": not res.violations,
        },
        {
            "name": "kill points injected",
            "value": kills,
            "unit": "kills",
            "goal": wanted,
            "met": kills >= wanted,
        },
    ]
    if quick:
        goals.append(
            {
                "name": "--quick wall time",
                "value": round(seconds, 1),
                "unit": "s",
                "goal": 60,
                "met": seconds < 60,
            }
        )
    print(
        json.dumps(
            {"bench": "faults", "machine": machine(load), "results": results, "goals": goals},
            ensure_ascii=False,
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
