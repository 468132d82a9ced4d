"""``lantai serve --workers N``: N web processes on one port; refused with background work."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx

from lantai.instance import Instance

LANTAI = Path(sys.executable).with_name("lantai")


def _env(inst: Instance) -> dict[str, str]:
    env = {
        **os.environ,
        "LANTAI_HOME": str(inst.settings.home),
        "LANTAI_DATABASE_URL": inst.settings.resolved_database_url,
        "LANTAI_ARCHIVE_CODE": inst.settings.archive_code,
    }
    env.pop("MALLOC_ARENA_MAX", None)  # serve sets it (LANTAI_MALLOC_ARENA_MAX, default 2)
    return env


def _wait_healthy(proc: subprocess.Popen[str], port: int, seconds: float) -> None:
    """Until ``/api/health`` answers 200; fails when the server exits or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"no answer from the workers within {seconds:.0f} s")


def test_workers_need_no_background(instance: Instance) -> None:
    done = subprocess.run(
        [str(LANTAI), "serve", "--workers", "2", "--port", "1"],
        env=_env(instance),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "--no-background" in done.stdout + done.stderr


def test_two_worker_processes_serve_one_port(instance: Instance) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [str(LANTAI), "serve", "--workers", "2", "--no-background", "--port", str(port)],
        env=_env(instance),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_healthy(proc, port, 180)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        cmdlines = [Path(f"/proc/{c}/cmdline").read_bytes() for c in children]
        # uvicorn's two worker processes (besides multiprocessing's resource tracker)
        assert sum(b"spawn_main" in c for c in cmdlines) == 2, cmdlines
        # the workers start with serve's malloc arena cap (lantai.malloc) in their environment
        for child, cmdline in zip(children, cmdlines, strict=True):
            if b"spawn_main" in cmdline:
                environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
                assert b"MALLOC_ARENA_MAX=2" in environ
        for _ in range(4):  # pages render in the workers (no index here: nothing was indexed)
            r = httpx.get(f"http://127.0.0.1:{port}/portal", timeout=10)
            assert r.status_code == 200 and '<html lang="zh-CN">' in r.text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_slow_starting_workers_are_not_killed(instance: Instance, tmp_path: Path) -> None:
    """A worker that needs longer than uvicorn's default 5 s health-check to start (importing the
    CLI and opening a large instance on a loaded machine) is waited for, not killed and respawned
    forever. The slowness is made real: a ``sitecustomize`` sleeps 8 s in every spawned worker
    before it can answer the supervisor's ping."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sys, time\nif '--multiprocessing-fork' in sys.argv:\n    time.sleep(8)\n",
        encoding="utf-8",
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**_env(instance), "PYTHONPATH": str(site)}
    proc = subprocess.Popen(
        [str(LANTAI), "serve", "--workers", "2", "--no-background", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_healthy(proc, port, 120)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "died" not in out, out
