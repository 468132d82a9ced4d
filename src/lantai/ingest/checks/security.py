"""安全性 (security) checks, DA/T 70 items 4-x of the 归档 (GD) and 移交接收 (YJ) stages.

- GD-4-1 :func:`antivirus_installed` — a clamd answers (``ctx.services["clamav"]``)
- GD-4-2 :func:`no_virus` — every file of the package scanned; no scanner is 人工复核, never 通过
- GD-4-7 :func:`process_logged` — the transfer's steps are in the audit log (who, when, what,
  outcome) and the package was unpacked safely

The scanner is whatever the pipeline put in ``ctx.services["clamav"]``: a
:class:`lantai.formats.clamav` client, or None when none is configured or reachable. GD-4-3 …
4-6 (carriers) are unidentified slots in the catalogue (disabled).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import select

from lantai.ingest.checks._core import CheckContext, Finding, Status, check
from lantai.ingest.checks._evidence import clip, code, reader_findings
from lantai.ingest.transfer import TransferFile
from lantai.store import Event

__all__ = ["TRANSFER_OBJECT", "antivirus_installed", "no_virus", "process_logged"]

TRANSFER_OBJECT = "transfer"  # Event.object_type of the ingest pipeline's events (object_id: uid)
NO_SCANNER = "未配置杀毒软件或无法连接 ClamAV 守护进程（clamd），病毒检测须人工复核"


def _scanner(ctx: CheckContext) -> Any:
    return ctx.services.get("clamav")


@check("GD-4-1", "YJ-4-1")
def antivirus_installed(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "4-1")
    scanner = _scanner(ctx)
    if scanner is None:
        return [Finding(code=c, status=Status.MANUAL, message=NO_SCANNER, field="杀毒软件")]
    try:
        alive = scanner.ping()
        version = scanner.version()
    except Exception as exc:  # a scanner that fails to answer is evidence, not a pass
        return [
            Finding(
                code=c,
                status=Status.MANUAL,
                message=f"杀毒软件未响应（{type(exc).__name__}: {exc}），须人工复核",
                field="杀毒软件",
            )
        ]
    if not alive:
        return [Finding(code=c, status=Status.MANUAL, message=NO_SCANNER, field="杀毒软件")]
    return [
        Finding(
            code=c,
            status=Status.PASSED,
            message="接收系统已安装并运行杀毒软件",
            field="杀毒软件",
            found=clip(version),
        )
    ]


def _scan(scanner: Any, f: TransferFile) -> tuple[TransferFile, Any, str | None]:
    try:
        return f, scanner.scan_file(f.local), None
    except Exception as exc:  # a scan that errs proves nothing: 人工复核
        return f, None, f"{type(exc).__name__}: {exc}"


@check("GD-4-2", "YJ-4-2")
def no_virus(ctx: CheckContext) -> list[Finding]:
    """Every file of the package (payload, metadata, tag files) through clamd INSTREAM,
    ``settings.ingest_workers`` files at a time."""
    from lantai.formats.clamav import ScanStatus

    c = code(ctx, "4-2")
    scanner = _scanner(ctx)
    files = ctx.transfer.files
    if scanner is None:
        return [
            Finding(
                code=c,
                status=Status.MANUAL,
                message=f"{NO_SCANNER}（{len(files)} 个文件未扫描）",
            )
        ]
    out: list[Finding] = reader_findings(ctx, "4-2")
    clean = 0
    workers = max(1, ctx.inst.settings.ingest_workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda f: _scan(scanner, f), files))
    for f, result, error in results:
        if result is not None and result.status is ScanStatus.FOUND:
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message=f"发现病毒：{result.signature}",
                    file=f.path,
                    expected="无病毒",
                    found=result.signature,
                    rule="ClamAV",
                    record=f.record_key or "",
                )
            )
        elif result is None or result.status is not ScanStatus.CLEAN:
            why = error or (result.message if result is not None else "")
            out.append(
                Finding(
                    code=c,
                    status=Status.MANUAL,
                    message=f"扫描未能完成（{why}），须人工复核",
                    file=f.path,
                    found=clip(why),
                )
            )
        else:
            clean += 1
    if not out:
        out.append(
            Finding(
                code=c,
                status=Status.PASSED,
                message=f"{clean} 个文件经 ClamAV 扫描未发现病毒",
                found=clip(_version(scanner)),
            )
        )
    return out


def _version(scanner: Any) -> str:
    try:
        return str(scanner.version())
    except Exception:
        return ""


# Reader notes with these item codes are the safe-unpacking findings (DA/T 70 4-3 过程安全).
_UNPACK_SUFFIX = "4-7"


@check("GD-4-7", "YJ-4-7")
def process_logged(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "4-7")
    t = ctx.transfer
    out = reader_findings(ctx, _UNPACK_SUFFIX)
    with ctx.inst.db.read() as s:
        relevant = list(
            s.scalars(
                select(Event)
                .where(Event.object_type == TRANSFER_OBJECT, Event.object_id == t.uid)
                .order_by(Event.seq)
                .limit(1000)
            )
        )
    if not relevant:
        out.append(
            Finding(
                code=c,
                status=Status.FAILED,
                message="审计日志中没有本次接收的操作记录（接收、解包、检测）",
                field="审计日志",
                expected="每一步骤有操作人、时间、动作和结果",
                found="无记录",
                rule="DA/T 70-2018 安全性 4-3",
            )
        )
        return out
    for e in relevant:
        lacking = [
            label
            for label, value in (
                ("操作人", e.actor),
                ("时间", e.ts),
                ("动作", e.action),
                ("结果", e.outcome),
            )
            if not value
        ]
        if lacking:
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message=f"审计事件 {e.seq}（{e.action}）缺少" + "、".join(lacking),
                    field="审计日志",
                    found=str(e.seq),
                )
            )
    if not out:
        actions = "、".join(dict.fromkeys(e.action for e in relevant))
        out.append(
            Finding(
                code=c,
                status=Status.PASSED,
                message=f"本次接收的 {len(relevant)} 个步骤均记入审计日志（{clip(actions, 150)}），信息包已安全解包",
                field="审计日志",
            )
        )
    return out
