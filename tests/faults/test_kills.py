"""kill -9 of real `lantai` processes at seeded fault points, then restart: every invariant holds.

Seeds are fixed so a failure replays exactly (``LANTAI_FAULT_SEED`` overrides the base seed).
The counts here keep the default run short (50 kills: 28 ingest/replication/indexing, 10 OCR,
8 disposal, 2 `lantai serve`, 2 `lantai worker`); ``bench/faults.py`` runs the same
campaigns with 200.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from faults.harness import Campaign, Lab
from faults.workloads import RESUME, DisposalWork, IngestWork, OcrWork, pending_work

pytestmark = [pytest.mark.faults, pytest.mark.slow]

SEED = int(os.environ.get("LANTAI_FAULT_SEED", "20261121"))
FINISH = (RESUME, ["search", "catchup"])


def _assert_clean(campaign: Campaign, kills: int) -> None:
    assert campaign.kills >= kills, campaign.report()
    assert campaign.violations == [], campaign.violations[:20]


def test_ingest_and_replication_killed_at_seeded_points(lab: Lab) -> None:
    work = IngestWork(lab)
    campaign = Campaign(lab, SEED, work.steps())
    work.walk(campaign, kills=28)
    campaign.settle(*FINISH, expected_codes=work.expected)
    _assert_clean(campaign, 28)
    # the real executable agrees that the chain verifies
    verify = lab.lantai("audit", "verify", fork=False)
    assert verify.returncode == 0, verify.text


def test_ocr_killed_at_seeded_points(lab: Lab) -> None:
    work = OcrWork(lab)
    campaign = Campaign(lab, SEED + 1, work.steps())
    work.walk(campaign, kills=10)
    for uid in work.uids:  # run every batch to the end (pages already recognised are skipped)
        run = lab.lantai("scan", "ocr", uid, "--engine", "tesseract")
        assert run.returncode == 0, run.text[-2000:]
    campaign.settle(*FINISH)
    _assert_clean(campaign, 10)
    assert work.finished()


def test_disposal_killed_at_seeded_points(lab: Lab) -> None:
    work = DisposalWork(lab, batches=7)
    campaign = Campaign(lab, SEED + 2, work.steps())
    work.walk(campaign, kills=8)
    work.finish()
    campaign.settle(*FINISH, expected_codes=work.codes)
    _assert_clean(campaign, 8)


def _wait_settled(lab: Lab, proc: subprocess.Popen[str], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pending_work(lab):
            return
        assert proc.poll() is None, "lantai serve exited"
        time.sleep(0.5)
    raise AssertionError("the server did not finish the queued work")


def _queue_transfer(lab: Lab, work: IngestWork) -> None:
    """A transfer received (its job queued) for a server or worker to run."""
    from lantai.ingest.service import Submission, submit
    from lantai.security import Actor

    cmd = work.submit()
    with lab.instance() as inst, inst.db.write() as s:
        submission = Submission(
            source=Path(cmd[2]), fonds_code="Z109", category="WS", idempotency_key=cmd[-1]
        )
        submit(inst, s, Actor.operator(), submission)


def test_server_killed_while_working_then_restarted(lab: Lab) -> None:
    """`lantai serve` (the installed executable) runs the queued ingest, replication and
    indexing in the background: killed at a point or after a delay, restarted, it finishes."""
    work = IngestWork(lab)
    kills = 0
    for fault in ("ingest.check.reports:1", None):
        _queue_transfer(lab, work)
        with lab.serve(fault=fault) as (proc, _url):
            if fault is None:
                time.sleep(3.0)  # a delay kill: wherever start-up or the work has got to
                proc.send_signal(signal.SIGKILL)
            assert proc.wait(120) == -signal.SIGKILL
        kills += 1
        assert lab.check(settled=False) == []
        with lab.serve() as (proc, _url):
            _wait_settled(lab, proc)
        assert lab.check(settled=True, expected_codes=work.expected) == []
    assert kills == 2


@pytest.mark.redis
def test_redis_worker_killed_while_working_then_restarted(lab: Lab) -> None:
    """`lantai worker` (Redis backend) killed at a point and after a delay; a new worker takes the
    jobs over and finishes them."""
    import secrets

    redis = {
        "LANTAI_JOBS_BACKEND": "redis",
        "LANTAI_REDIS_NAMESPACE": f"lantai-faults-{secrets.token_hex(4)}",
    }
    work = IngestWork(lab)
    for fault in ("ingest.aip_committed:1", None):
        _queue_transfer(lab, work)
        with lab.daemon("worker", "--poll", "0.5", fault=fault, env=redis) as proc:
            if fault is None:
                time.sleep(3.0)
                proc.send_signal(signal.SIGKILL)
            assert proc.wait(120) == -signal.SIGKILL
        assert lab.check(settled=False) == []
        with lab.daemon("worker", "--poll", "0.5", env=redis) as proc:
            _wait_settled(lab, proc)
        assert lab.check(settled=True, expected_codes=work.expected) == []
