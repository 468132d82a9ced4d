"""Storage monitoring: reachability, response time and free space per location → alerts.

:func:`health` probes one location (a cheap read) and asks for free space, within the policy's
time-out; :func:`check_locations` does it for every location and raises or resolves the
不可访问 and 空间不足 alerts. Thresholds are percentages of free space (policy ``thresholds``,
overridable per location).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from lantai.errors import LantaiError
from lantai.storage.alerts import AlertKind, Severity, raise_alert, resolve_alerts
from lantai.storage.policy import MEDIUM_LABELS, Location
from lantai.storage.system import STORAGE_ACTOR, StorageSystem

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = ["LocationHealth", "check_locations", "health"]

LEVEL_LABELS = {"ok": "正常", "warning": "警告", "critical": "严重", "unreachable": "不可访问"}


@dataclass
class LocationHealth:
    name: str
    label: str
    site: str
    medium: str
    medium_label: str
    required: bool
    primary: bool
    reachable: bool
    seconds: float
    free: int | None
    total: int | None
    free_percent: float | None
    level: str  # ok | warning | critical | unreachable
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "level_label": LEVEL_LABELS[self.level]}


def health(system: StorageSystem, loc: Location) -> LocationHealth:
    timeout = system.policy.monitor.timeout_seconds
    t0 = time.perf_counter()

    def probe() -> tuple[int, int] | None:
        store = system.store(loc.name)
        store.probe()
        return store.space()

    pool = ThreadPoolExecutor(1, thread_name_prefix="lantai-probe")
    space: tuple[int, int] | None = None
    problem = ""
    try:
        space = pool.submit(probe).result(timeout=timeout)
    except FutureTimeout:
        problem = f"响应超时（超过 {timeout:g} 秒）"
    except (LantaiError, OSError) as exc:
        problem = exc.message if isinstance(exc, LantaiError) else str(exc)
    finally:
        pool.shutdown(wait=False)
    seconds = round(time.perf_counter() - t0, 3)
    base: dict[str, Any] = {
        "name": loc.name,
        "label": loc.label,
        "site": loc.site,
        "medium": loc.medium,
        "medium_label": MEDIUM_LABELS[loc.medium],
        "required": loc.name in system.policy.required,
        "primary": loc.primary,
        "seconds": seconds,
    }
    if problem:
        return LocationHealth(
            **base,
            reachable=False,
            free=None,
            total=None,
            free_percent=None,
            level="unreachable",
            message=problem,
        )
    th = system.policy.thresholds_for(loc)
    level, message, percent = "ok", "正常", None
    if space is not None and space[1] > 0:
        percent = round(100.0 * space[0] / space[1], 2)
        if percent < th.critical_free_percent:
            level = "critical"
            message = f"可用空间 {percent}% 低于严重阈值 {th.critical_free_percent:g}%"
        elif percent < th.warn_free_percent:
            level = "warning"
            message = f"可用空间 {percent}% 低于警告阈值 {th.warn_free_percent:g}%"
    return LocationHealth(
        **base,
        reachable=True,
        free=space[0] if space else None,
        total=space[1] if space else None,
        free_percent=percent,
        level=level,
        message=message,
    )


def check_locations(inst: Instance, system: StorageSystem | None = None) -> list[LocationHealth]:
    """Health of every location, with alerts raised for problems and resolved when they clear."""
    system = system or StorageSystem(inst)
    results = [health(system, loc) for loc in system.policy.locations]
    with inst.db.write() as s:
        for h in results:
            if h.level == "unreachable":
                raise_alert(
                    inst,
                    s,
                    actor=STORAGE_ACTOR,
                    kind=AlertKind.LOCATION_UNREACHABLE,
                    severity=Severity.CRITICAL,
                    location=h.name,
                    message=f"存储位置「{h.label}」不可访问：{h.message}",
                    detail={"seconds": h.seconds},
                )
                continue
            resolve_alerts(
                inst,
                s,
                actor=STORAGE_ACTOR,
                kind=AlertKind.LOCATION_UNREACHABLE,
                location=h.name,
                resolution="存储位置已恢复访问",
            )
            if h.level in ("warning", "critical"):
                raise_alert(
                    inst,
                    s,
                    actor=STORAGE_ACTOR,
                    kind=AlertKind.SPACE_LOW,
                    severity=Severity.CRITICAL if h.level == "critical" else Severity.WARNING,
                    location=h.name,
                    message=f"存储位置「{h.label}」{h.message}",
                    detail={"free": h.free, "total": h.total, "free_percent": h.free_percent},
                )
            else:
                resolve_alerts(
                    inst,
                    s,
                    actor=STORAGE_ACTOR,
                    kind=AlertKind.SPACE_LOW,
                    location=h.name,
                    resolution="可用空间已恢复到阈值以上",
                )
    return results
