"""Workers on several hosts through Redis: two real ``lantai worker`` processes, the local Redis.

Every test module run uses its own Redis key prefix (``LANTAI_REDIS_NAMESPACE``) and deletes its
keys afterwards. The tests run in file order over one pair of workers; the last one kills a
worker with SIGKILL.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import make_settings
from lantai.instance import Instance
from lantai.jobs import JobState, enqueue
from lantai.jobs.redisqueue import RedisQueue, queue_stats
from lantai.store import Job

pytestmark = [pytest.mark.redis, pytest.mark.slow]

REDIS_URL = os.environ.get("LANTAI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LANTAI = Path(sys.executable).parent / "lantai"
HERE = Path(__file__).resolve().parent


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc} (scripts/services.sh starts it)")


@dataclass
class Cluster:
    inst: Instance
    env: dict[str, str]
    log: Path
    workers: list[subprocess.Popen[bytes]]
    queue: RedisQueue

    def start_worker(self, n: int) -> subprocess.Popen[bytes]:
        out = open(self.log.parent / f"worker{n}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [
                str(LANTAI),
                "worker",
                "--threads",
                "1",
                "--poll",
                "0.3",
                "--kinds",
                "redis_kinds:register",
            ],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        return proc

    def add(self, kind: str, max_attempts: int = 3, **params: object) -> int:
        with self.inst.db.write() as s:
            return enqueue(s, kind, {"log": str(self.log), **params}, max_attempts=max_attempts).id

    def job(self, job_id: int) -> Job:
        with self.inst.db.read() as s:
            job = s.get(Job, job_id)
            assert job is not None
            return job

    def wait(self, cond: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.2)
        logs = "\n".join(
            p.read_text(errors="replace")[-3000:] for p in self.log.parent.glob("worker*.log")
        )
        raise AssertionError(f"timed out waiting for {what}\n{logs}")

    def finished(self, ids: list[int]) -> bool:
        with self.inst.db.read() as s:
            states = [s.get(Job, i).state for i in ids]  # type: ignore[union-attr]
        return all(st in (JobState.SUCCEEDED, JobState.FAILED) for st in states)

    def lines(self) -> list[tuple[str, int, int, int]]:
        if not self.log.exists():
            return []
        out = []
        for ln in self.log.read_text().splitlines():
            what, job, pid, attempt = ln.split()
            out.append((what, int(job), int(pid), int(attempt)))
        return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _redis_or_skip()
    root = tmp_path_factory.mktemp("redis-workers")
    settings = make_settings(
        root / "home",
        jobs_backend="redis",
        redis_url=REDIS_URL,
        redis_namespace=f"lantai-test-{secrets.token_hex(4)}",
        jobs_lease_seconds=3.0,
    )
    inst = Instance.initialise(settings)
    env = {
        **os.environ,
        "LANTAI_HOME": str(settings.home),
        "LANTAI_ARCHIVE_CODE": "136101",
        "LANTAI_JOBS_BACKEND": "redis",
        "LANTAI_REDIS_URL": REDIS_URL,
        "LANTAI_REDIS_NAMESPACE": settings.redis_namespace,
        "LANTAI_JOBS_LEASE_SECONDS": "3",
        "PYTHONPATH": str(HERE),
    }
    queue = RedisQueue.from_instance(inst)
    c = Cluster(inst=inst, env=env, log=root / "runs.log", workers=[], queue=queue)
    try:
        c.start_worker(1)
        c.start_worker(2)
        yield c
    finally:
        for p in c.workers:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in c.workers:
            try:
                p.wait(40)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        keys = list(queue.client.scan_iter(match=f"{settings.redis_namespace}:*"))
        if keys:
            queue.client.delete(*keys)
        queue.close()
        inst.close()


def test_two_workers_run_every_job_exactly_once(cluster: Cluster) -> None:
    ids = [cluster.add("test.steps", steps=2, sleep=0.1) for _ in range(20)]
    cluster.wait(lambda: cluster.finished(ids), what="20 jobs")
    assert {cluster.job(i).state for i in ids} == {JobState.SUCCEEDED}
    assert {cluster.job(i).attempts for i in ids} == {1}
    runs = [ln for ln in cluster.lines() if ln[1] in ids]
    assert Counter(j for w, j, _, _ in runs if w == "start") == Counter(ids)
    assert Counter(j for w, j, _, _ in runs if w == "done") == Counter(ids)
    # both processes took work (each has one thread; 20 jobs of ≥ 0.2 s)
    assert len({pid for _, _, pid, _ in runs}) == 2
    # the job table shows the finished progress; nothing left in Redis
    assert cluster.job(ids[0]).progress["done"] == 2
    cluster.wait(lambda: queue_stats(cluster.queue).waiting == 0, 10, "empty queue")
    assert queue_stats(cluster.queue).dead_letters == 0


def test_duplicate_and_stray_messages_are_harmless(cluster: Cluster) -> None:
    job_id = cluster.add("test.steps", steps=3, sleep=0.1)
    for _ in range(3):  # the dispatcher sends one too
        cluster.queue.send(job_id)
    cluster.queue.send(999_999)  # no such job
    cluster.wait(lambda: cluster.finished([job_id]), what="duplicated job")
    cluster.wait(lambda: queue_stats(cluster.queue).waiting == 0, 10, "empty queue")
    time.sleep(1.0)  # let every copy be consumed
    starts = [ln for ln in cluster.lines() if ln[0] == "start" and ln[1] == job_id]
    assert len(starts) == 1
    assert cluster.job(job_id).attempts == 1
    assert queue_stats(cluster.queue).dead_letters == 0


def test_failures_end_failed_and_visible(cluster: Cluster) -> None:
    permanent = cluster.add("test.permanent")
    broken = cluster.add("test.broken", max_attempts=2)
    cluster.wait(lambda: cluster.finished([permanent, broken]), what="failing jobs")
    p, b = cluster.job(permanent), cluster.job(broken)
    assert (p.state, p.attempts) == (JobState.FAILED, 1)
    assert "无法重试" in (p.error or "")
    assert (b.state, b.attempts) == (JobState.FAILED, 2)  # retried once by its kind's policy
    assert "每次都失败" in (b.error or "")
    listed = subprocess.run(
        [str(LANTAI), "jobs", "list", "--state", "failed", "--json"],
        env=cluster.env,
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(listed.stdout)
    assert {j["id"] for j in out["jobs"]} >= {permanent, broken}
    assert out["counts"]["*"]["failed"] >= 2


def test_killed_worker_loses_no_job(cluster: Cluster) -> None:
    job_id = cluster.add("test.steps", steps=25, sleep=0.2)  # ~5 s of work
    cluster.wait(
        lambda: (
            cluster.job(job_id).state == JobState.RUNNING
            and (cluster.job(job_id).progress or {}).get("done", 0) >= 2
        ),
        what="job running",
    )
    owner = cluster.job(job_id).lease_owner or ""
    pid = int(owner.split(":")[1])
    victim = next(p for p in cluster.workers if p.pid == pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    cluster.wait(lambda: cluster.finished([job_id]), 90, "job taken over")
    job = cluster.job(job_id)
    assert job.state == JobState.SUCCEEDED
    assert job.attempts == 2
    runs = [ln for ln in cluster.lines() if ln[1] == job_id]
    assert [w for w, *_ in runs] == ["start", "start", "done"]
    survivor = next(p for p in cluster.workers if p.pid != pid)
    assert runs[-1][2] == survivor.pid
    assert "已中断" in (job.error or "") or job.error is None
    # the dead consumer's unacknowledged message was handed back by Redis and consumed
    cluster.wait(
        lambda: (st := queue_stats(cluster.queue)).unacked == 0 and st.waiting == 0,
        30,
        "dead worker's message re-delivered",
    )
    assert queue_stats(cluster.queue).dead_letters == 0
