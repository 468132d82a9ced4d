"""The 后台作业 page, /api/jobs and `lantai jobs`: counts, rate, ETA, errors, retry, cancel, perms."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from lantai.audit import EventType
from lantai.instance import Instance
from lantai.jobs import JobState, enqueue
from lantai.jobs.admin import job_view
from lantai.security import Actor
from lantai.store import Event, Job, utcnow
from lantai.web.app import create_app
from web_support import PASSWORD, login

USERS = {
    "archivist": ("archivist",),
    "admin": ("sysadmin",),
    "reader": ("reader",),
    "auditor": ("auditor",),
}


@pytest.fixture
def jobs(instance: Instance, operator: Actor) -> dict[str, int]:
    """One job per state, written as a worker would have left them."""
    now = time.time()
    with instance.db.write() as s:
        for name, roles in USERS.items():
            instance.users.create(
                s, operator, username=name, display_name=name, password=PASSWORD, roles=roles
            )
        ids = {}
        for state in ("queued", "running", "succeeded", "failed"):
            job = enqueue(s, "digitisation.ocr", {"batch_id": 1}, created_by="archivist")
            ids[state] = job.id
        run = s.get(Job, ids["running"])
        assert run is not None
        run.state, run.attempts, run.lease_owner = "running", 1, "host-b:4242:abcd"
        # 30 of 120 pages in 60 s since the step began at page 0: 0.5 pages/s, 180 s to go
        run.progress = {
            "step": "ocr",
            "done": 30,
            "total": 120,
            "message": "",
            "since": now - 60,
            "done_at_since": 0,
            "at": now,
        }
        failed = s.get(Job, ids["failed"])
        assert failed is not None
        failed.state, failed.attempts, failed.error = "failed", 3, "OSError: 磁盘已满"
        failed.finished_at = utcnow()
        ok = s.get(Job, ids["succeeded"])
        assert ok is not None
        ok.state, ok.attempts = "succeeded", 1
    return ids


@pytest.fixture
def client(instance: Instance, jobs: dict[str, int]) -> Iterator[TestClient]:
    with TestClient(create_app(instance), base_url="http://127.0.0.1") as c:
        yield c


def test_rate_and_eta_from_progress(instance: Instance, jobs: dict[str, int]) -> None:
    with instance.db.read() as s:
        job = s.get(Job, jobs["running"])
        assert job is not None
        at = job.progress["at"]
        v = job_view(job, now=at)
    assert v.percent == 25.0
    assert v.rate == pytest.approx(0.5, rel=0.01)
    assert v.eta_seconds == pytest.approx(180, rel=0.01)
    # a stalled worker: no report for another 60 s halves the rate and doubles the ETA
    with instance.db.read() as s:
        stalled = job_view(s.get(Job, jobs["running"]), now=at + 60)  # type: ignore[arg-type]
    assert stalled.rate == pytest.approx(0.25, rel=0.01)


def test_api_lists_counts_and_errors(client: TestClient, jobs: dict[str, int]) -> None:
    login(client, "archivist")
    data = client.get("/api/jobs").json()
    assert data["backend"] == "inprocess"
    assert data["counts"]["*"] == {
        "queued": 1,
        "running": 1,
        "succeeded": 1,
        "failed": 1,
        "cancelled": 0,
    }
    by_id = {j["id"]: j for j in data["jobs"]}
    assert by_id[jobs["failed"]]["error"] == "OSError: 磁盘已满"
    assert by_id[jobs["running"]]["kind_label"] == "文字识别（OCR）"
    assert by_id[jobs["running"]]["eta_seconds"] > 0
    failed_only = client.get("/api/jobs", params={"state": "failed"}).json()["jobs"]
    assert [j["id"] for j in failed_only] == [jobs["failed"]]
    bad = client.get("/api/jobs", params={"state": "nonsense"})
    assert bad.status_code == 422 and "作业状态" in bad.text


def test_page_shows_jobs_and_retry_button(client: TestClient, jobs: dict[str, int]) -> None:
    login(client, "archivist")
    r = client.get("/jobs")
    assert r.status_code == 200
    html = r.text
    assert "后台作业" in html and "OSError: 磁盘已满" in html
    assert f'action="/jobs/{jobs["failed"]}/retry"' in html
    assert f'action="/jobs/{jobs["running"]}/cancel"' in html
    assert f'action="/jobs/{jobs["succeeded"]}/retry"' not in html
    # the rate of the running job counts up to the moment the page is made (≈ 0.5/s here)
    assert re.search(r"0\.(4\d|50)/秒", html) and "/static/js/jobs.js" in html
    assert "<script>" not in html  # strict CSP: no inline script
    assert "default-src 'self'" in r.headers["content-security-policy"]
    # the filter by state
    only = client.get("/jobs", params={"state": "failed"}).text
    assert f'data-job="{jobs["failed"]}"' in only and f'data-job="{jobs["queued"]}"' not in only


def test_retry_and_cancel_from_page_are_audited(
    client: TestClient, instance: Instance, jobs: dict[str, int]
) -> None:
    token = login(client, "admin")  # 系统管理员 watches and steers jobs too
    r = client.post(
        f"/jobs/{jobs['failed']}/retry", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    r = client.post(
        f"/jobs/{jobs['running']}/cancel", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    with instance.db.read() as s:
        retried = s.get(Job, jobs["failed"])
        cancelled = s.get(Job, jobs["running"])
        assert retried is not None and cancelled is not None
        assert (retried.state, retried.attempts) == (JobState.QUEUED, 0)
        assert cancelled.state == JobState.CANCELLED and cancelled.lease_owner is None
        actions = list(s.scalars(select(Event.action).where(Event.object_type == "job")))
    assert sorted(actions) == sorted([EventType.JOB_RETRIED.value, EventType.JOB_CANCELLED.value])
    # a succeeded job cannot be retried: the page says why, in Chinese
    r = client.post(f"/jobs/{jobs['succeeded']}/retry", data={"csrf_token": token})
    assert r.status_code == 422 and "只有失败或已取消的作业可以重试" in r.text


def test_permissions(client: TestClient, jobs: dict[str, int]) -> None:
    for user in ("reader", "auditor"):
        client.cookies.clear()
        token = login(client, user)
        assert client.get("/jobs").status_code == 403
        assert client.get("/api/jobs").status_code == 403
        r = client.post(f"/api/jobs/{jobs['failed']}/retry", headers={"x-csrf-token": token})
        assert r.status_code == 403
    client.cookies.clear()
    assert client.get("/api/jobs").status_code == 401
    token = login(client, "archivist")
    r = client.post(f"/api/jobs/{jobs['queued']}/cancel", headers={"x-csrf-token": token})
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    nav = client.get("/jobs").text
    assert 'href="/jobs"' in nav


def test_cli_list_show_retry(
    instance: Instance, jobs: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lantai.cli.main import app

    monkeypatch.setenv("LANTAI_HOME", str(instance.settings.home))
    runner = CliRunner()
    out = runner.invoke(app, ["jobs", "list"])
    assert out.exit_code == 0, out.output
    assert "失败 1" in out.output and "磁盘已满" in out.output
    out = runner.invoke(app, ["jobs", "show", str(jobs["running"])])
    assert out.exit_code == 0 and "30/120" in out.output and "预计剩余" in out.output
    out = runner.invoke(app, ["jobs", "retry", str(jobs["succeeded"])])
    assert out.exit_code == 1 and "只有失败或已取消的作业可以重试" in out.output
    out = runner.invoke(app, ["jobs", "retry", str(jobs["failed"])])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["jobs", "cancel", str(jobs["failed"])])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["jobs", "show", str(jobs["failed"]), "--follow"])
    assert out.exit_code == 0 and "已取消" in out.output
