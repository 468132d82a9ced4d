"""``lantai storage …`` (locations, status, replicate, alerts, schedule) and ``lantai audit fixity``."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Annotated

import typer
from rich.table import Table

from lantai.cli.common import console, fail, open_instance, progress, run
from lantai.security import Actor
from lantai.storage import policy_satisfied
from lantai.storage.alerts import AlertKind, Severity, open_alerts, resolve_alert
from lantai.storage.fixity import PROBLEM_LABELS, audit_location, run_summary
from lantai.storage.ledger import copies, copy_state_label
from lantai.storage.monitor import check_locations
from lantai.storage.replication import pending_packages, replicate
from lantai.storage.system import StorageSystem
from lantai.storage.tasks import ensure_schedules

__all__ = ["fixity_command", "storage_app"]

storage_app = typer.Typer(help="长期保存存储：存储位置、副本、告警", no_args_is_help=True)


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@storage_app.command("locations")
def locations_command(
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
) -> None:
    """列出存储策略中的存储位置及其状态（可访问性、响应时间、可用空间），并据此告警。"""
    inst = open_instance()
    try:
        results = run(lambda: check_locations(inst))
    finally:
        inst.close()
    if as_json:
        console.print_json(json.dumps([h.as_dict() for h in results], ensure_ascii=False))
        return
    table = Table("名称", "说明", "地点", "介质", "必需", "状态", "可用空间", "响应(秒)", "说明")
    for h in results:
        free = f"{_size(h.free)} ({h.free_percent}%)" if h.free_percent is not None else "—"
        table.add_row(
            h.name + (" *" if h.primary else ""),
            h.label,
            h.site,
            h.medium_label,
            "是" if h.required else "否",
            h.as_dict()["level_label"],
            free,
            f"{h.seconds:.3f}",
            h.message,
        )
    console.print(table)
    console.print("* 主存储位置")


@storage_app.command("status")
def status_command(
    package: Annotated[str | None, typer.Option("--package", help="信息包标识")] = None,
) -> None:
    """副本台账：指定信息包的各副本；不指定时列出尚未满足存储策略的信息包。"""
    inst = open_instance()
    try:
        if package:
            with inst.db.read() as s:
                rows = copies(s, package)
            if not rows:
                fail(f"副本台账中没有信息包 {package}")
            table = Table(
                "存储位置", "状态", "信息包摘要(SHA-256)", "对象数", "大小", "最近检测", "结果"
            )
            for r in rows:
                table.add_row(
                    r.location,
                    copy_state_label(r.state),
                    (r.package_digest or "—")[:16] + "…",
                    str(r.objects),
                    _size(r.bytes),
                    r.verified_at.strftime("%Y-%m-%d %H:%M") if r.verified_at else "—",
                    r.verify_result or "—",
                )
            console.print(table)
            ok = policy_satisfied(inst, package)
            console.print("满足存储策略" if ok else "[yellow]尚未满足存储策略[/]")
            return
        system = StorageSystem(inst)
        pending = run(lambda: pending_packages(inst, system))
        console.print(f"存储策略要求的副本：{'、'.join(system.policy.required)}")
        if not pending:
            console.print("所有信息包均已满足存储策略。")
        for pid in pending:
            console.print(f"  未满足：{pid}")
    finally:
        inst.close()


@storage_app.command("replicate")
def replicate_command(
    package: Annotated[str | None, typer.Option("--package", help="只复制此信息包")] = None,
) -> None:
    """按存储策略补齐副本（指定信息包，或全部未满足策略的信息包）。"""
    inst = open_instance()
    try:
        system = StorageSystem(inst)
        pids = [package] if package else run(lambda: pending_packages(inst, system))
        failed = 0
        with progress("复制副本", len(pids)) as advance:
            for pid in pids:
                result = run(partial(replicate, inst, pid, system=system, raise_on_missing=False))
                for loc, err in result.failed.items():
                    console.print(f"[red]{pid} → {loc} 失败：{err}[/]", highlight=False)
                failed += bool(result.failed)
                if result.copied:
                    console.print(f"{pid} → {'、'.join(result.copied)}", highlight=False)
                advance(1)
        console.print(f"共 {len(pids)} 个信息包，{failed} 个尚缺副本。")
        if failed:
            raise typer.Exit(1)
    finally:
        inst.close()


@storage_app.command("alerts")
def alerts_command(
    all_: Annotated[bool, typer.Option("--all", help="包括已处理的告警")] = False,
    resolve: Annotated[int | None, typer.Option("--resolve", help="处理此编号的告警")] = None,
    reason: Annotated[str, typer.Option("--reason", help="处理说明（--resolve 时必填）")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
) -> None:
    """列出存储告警；--resolve 编号 --reason 说明：处理告警（记入审计日志）。"""
    inst = open_instance()
    try:
        if resolve is not None:
            if len(reason.strip()) < 2:
                fail("处理告警须用 --reason 填写处理说明")
            with inst.db.write() as s:
                run(
                    lambda: resolve_alert(
                        inst, s, resolve, actor=Actor.operator().username, resolution=reason
                    )
                )
            console.print(f"告警 {resolve} 已处理。")
            return
        with inst.db.read() as s:
            rows = open_alerts(s, include_resolved=all_)
            data = [
                {
                    "id": a.id,
                    "kind": AlertKind(a.kind).label
                    if a.kind in AlertKind._value2member_map_
                    else a.kind,
                    "severity": Severity(a.severity).label
                    if a.severity in Severity._value2member_map_
                    else a.severity,
                    "location": a.location,
                    "package": a.package_id,
                    "object": a.object_key,
                    "message": a.message,
                    "count": a.count,
                    "created_at": a.created_at.isoformat(timespec="seconds"),
                    "resolved_at": a.resolved_at.isoformat(timespec="seconds")
                    if a.resolved_at
                    else None,
                }
                for a in rows
            ]
    finally:
        inst.close()
    if as_json:
        console.print_json(json.dumps(data, ensure_ascii=False))
        return
    if not data:
        console.print("没有未处理的存储告警。")
        return
    table = Table("编号", "级别", "类别", "存储位置", "信息包", "说明", "次数", "时间", "已处理")
    for a in data:
        table.add_row(
            str(a["id"]),
            str(a["severity"]),
            str(a["kind"]),
            str(a["location"] or "—"),
            str(a["package"] or "—"),
            str(a["message"]),
            str(a["count"]),
            str(a["created_at"]),
            str(a["resolved_at"] or "否"),
        )
    console.print(table)


@storage_app.command("schedule")
def schedule_command() -> None:
    """排定定期固定性检测（每个存储位置）与存储监控作业（已排定的不重复）。"""
    inst = open_instance()
    try:
        added = run(lambda: ensure_schedules(inst))
    finally:
        inst.close()
    console.print(f"新排定 {added} 个定期作业（由 lantai serve 的后台作业执行）。")


def _ticker(advance: Callable[[int], None]) -> Callable[[int, int], None]:
    last = [0]

    def tick(done: int, _total: int) -> None:
        advance(done - last[0])
        last[0] = done

    return tick


def fixity_command(
    location: Annotated[str | None, typer.Option("--location", help="存储位置（默认全部）")] = None,
    package: Annotated[str | None, typer.Option("--package", help="只检测此信息包")] = None,
    no_repair: Annotated[bool, typer.Option("--no-repair", help="只检测，不自动修复")] = False,
    workers: Annotated[int | None, typer.Option("--workers", help="并行读取的线程数")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
) -> None:
    """固定性检测（DA/T 70 长期保存环节）：逐对象复核 SHA-256 与 SM3，自动从完好副本修复。"""
    inst = open_instance()
    bad = False
    summaries = []
    try:
        system = StorageSystem(inst)
        names = [location] if location else [loc.name for loc in system.policy.locations]
        for name in names:
            with progress(f"检测 {name}", None) as advance:
                result = run(
                    partial(
                        audit_location,
                        inst,
                        name,
                        package_id=package,
                        actor=Actor.operator().username,
                        trigger="manual",
                        repair=not no_repair,
                        workers=workers,
                        system=system,
                        progress=_ticker(advance),
                    )
                )
            summary = run_summary(result)
            summaries.append(summary)
            bad = bad or result.state != "done" or result.failures > result.repaired
    finally:
        inst.close()
    if as_json:
        console.print_json(json.dumps(summaries, ensure_ascii=False))
    else:
        for r in summaries:
            rate = r["bytes"] / r["seconds"] / 1e6 if r["seconds"] else 0.0
            console.print(
                f"[bold]{r['location']}[/]：{r['packages']} 个信息包，{r['objects']} 个对象，"
                f"{_size(r['bytes'])}，{r['seconds']:.1f} 秒（{rate:.0f} MB/s）；"
                f"问题 {r['failures']}，已修复 {r['repaired']}，不可恢复 {r['unrecoverable']}",
                highlight=False,
            )
            if r["error"]:
                console.print(f"  [red]{r['error']}[/]", highlight=False)
            for f in r["findings"]:
                action = {
                    "repaired": f"已从 {f['source']} 修复",
                    "unrecoverable": "不可恢复",
                    "reported": "未修复",
                }[f["action"]]
                console.print(
                    f"  - {PROBLEM_LABELS[f['problem']]}：{f['key']} → {action}", highlight=False
                )
    if bad:
        raise typer.Exit(1)
