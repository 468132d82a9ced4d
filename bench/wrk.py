"""Drive an HTTP server with wrk (Debian package ``wrk``), the C load generator the issues name.

On a 2-core machine the load generator shares the cores with the server: a Python asyncio
client spends about as much CPU per request as the server and so inflates every latency it
measures (at 50 connections ``/api/health`` gave 354 req/s from the Python client and 590 req/s
from wrk in the same minute). :func:`run` drives a list of paths (cycled, each connection at its
own offset) through ``bench/wrk_mix.lua`` and returns requests/s, latency percentiles and errors
by kind and status. :func:`available` says whether wrk is installed (``scripts/bootstrap.sh``
installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

__all__ = ["available", "path_of", "run"]

SCRIPT = Path(__file__).resolve().with_name("wrk_mix.lua")


def available() -> bool:
    return shutil.which("wrk") is not None


def path_of(path: str, params: dict[str, Any]) -> str:
    """The request line's target: ``path`` with ``params`` (lists repeated) as its query."""
    return f"{path}?{urlencode(params, doseq=True)}" if params else path


def _wrk(base: str, paths_file: Path, clients: int, seconds: float, threads: int) -> dict[str, Any]:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{clients}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(SCRIPT),
        base,
    ]
    env = {**os.environ, "WRK_PATHS": str(paths_file)}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 120)
    for line in out.stdout.splitlines():
        if line.startswith("WRK-JSON "):
            data: dict[str, Any] = json.loads(line[len("WRK-JSON ") :])
            return data
    raise RuntimeError(f"wrk failed (exit {out.returncode}): {out.stderr.strip() or out.stdout}")


def run(
    base: str,
    paths: Sequence[str],
    *,
    clients: int,
    seconds: float,
    warmup: float = 0.0,
    threads: int = 1,
) -> dict[str, Any]:
    """Warm up (unmeasured), then drive ``paths`` with ``clients`` keep-alive connections."""
    with tempfile.TemporaryDirectory(prefix="lantai-wrk-") as tmp:
        paths_file = Path(tmp) / "paths.txt"
        paths_file.write_text("\n".join(paths) + "\n", encoding="utf-8")
        if warmup >= 1:
            _wrk(base, paths_file, clients, warmup, threads)
        raw = _wrk(base, paths_file, clients, seconds, threads)
    seconds_run = raw["duration_us"] / 1e6
    socket_errors = {k: v for k, v in raw["errors"].items() if k != "status" and v}
    statuses = {str(k): v for k, v in sorted(raw["statuses"].items())}
    return {
        "requests": raw["requests"],
        "requests_per_second": round(raw["requests"] / seconds_run, 1) if seconds_run else None,
        "p50_ms": round(raw["p50_us"] / 1000, 1),
        "p90_ms": round(raw["p90_us"] / 1000, 1),
        "p95_ms": round(raw["p95_us"] / 1000, 1),
        "p99_ms": round(raw["p99_us"] / 1000, 1),
        "max_ms": round(raw["max_us"] / 1000, 1),
        "mean_ms": round(raw["mean_us"] / 1000, 1),
        "errors": sum(statuses.values()) + sum(socket_errors.values()),
        "errors_by_status": statuses,
        "socket_errors": socket_errors,
        "client": "wrk",
    }
