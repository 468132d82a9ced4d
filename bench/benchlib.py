"""What every benchmark prints besides its own results: progress on stderr and the machine block.

The benchmarks are scripts (``python bench/<name>.py``), so this module is imported as
``benchlib`` from the script's own folder.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

__all__ = ["load_average", "log", "machine"]


def log(message: str) -> None:
    """Progress for the reader; stdout carries only the JSON object."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine(load_at_start: list[float] | None = None, **extra: Any) -> dict[str, Any]:
    """CPU, cores, RAM, Python, platform and the load average when the run started (now, unless
    given), plus ``extra`` (versions of the engines a benchmark measures)."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "python": platform.python_version(),
        **extra,
        "load_average_at_start": load_at_start if load_at_start is not None else load_average(),
        "platform": platform.platform(),
    }


def print_report(
    name: str,
    results: dict[str, Any],
    goals: list[dict[str, Any]],
    load_at_start: list[float],
    **extra: Any,
) -> None:
    """Print the one JSON object of a benchmark: ``bench``, ``machine`` (with the load average
    at the start and now, at the end), ``results`` and ``goals``."""
    report = {
        "bench": name,
        "machine": {**machine(load_at_start, **extra), "load_average_at_end": load_average()},
        "results": results,
        "goals": goals,
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
