"""The 四性检测报告 (DA/T 70 check report) of one transfer: JSON, HTML and PDF.

Public API::

    facts = TransferFacts.from_transfer(transfer)          # 单位, 时间, 件数, 字节数, digests …
    data = report_data(check_report, facts, archive_name="示范市档案馆")   # the JSON document
    check_report = unreadable_report(uid, stage, error)      # a package no reader could read
    files = write_reports(data, directory)                   # 四性检测报告.json/.html/.pdf
    write_json(data, path); write_html(data, path); write_pdf(data, path, font=None)

``report_data`` is the single source of all three renderings, so they never disagree. The JSON
schema (``"schema": "lantai.ingest.report/1"``) is stable; its top-level keys are
``schema, title, archive, generated, transfer, stage, mode, started, finished, decision, counts,
items, problems``. Each element of ``items`` is one catalogue item with the columns of the
standards digest §1.3 — 编号 ``code``, 检测项目 ``name``, 四性类别 ``property_label``, 检测对象
``target_label``, 检测目的 ``purpose``, 检测依据和方法 ``basis`` + ``method``, 结果
``status_label``, 说明/问题清单 ``summary`` (+ ``findings``), 检测时间 ``checked_at``, 环节
``stage_label`` — plus ``blocking``, ``status`` and ``seconds``. ``problems`` lists every finding
that is not 通过, in catalogue order, with its evidence (file, field, expected, found, rule,
record). Times are ISO 8601 in UTC in the JSON and China Standard Time (UTC+8) on the pages.

The report is kept with the package whatever the outcome, so every writer is atomic (a
temporary file renamed into place): a crash leaves the old report or none, never half of one.
HTML is self-contained (inline CSS, no scripts, no external assets). The PDF uses the CJK font
registration of :mod:`lantai.catalogue.directory` (WenQuanYi Micro Hei when installed, else
reportlab's STSong-Light) and lists at most ``PDF_MAX_PROBLEMS`` problems (the JSON has all).
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from lantai.errors import LantaiError
from lantai.ingest.checks import (
    CheckOutcome,
    CheckReport,
    CheckSpec,
    Finding,
    Stage,
    Status,
    Target,
    load_catalogue,
)
from lantai.ingest.transfer import Transfer

__all__ = [
    "HTML_MAX_PROBLEMS",
    "PDF_MAX_PROBLEMS",
    "REPORT_NAME",
    "SCHEMA",
    "ReportFiles",
    "TransferFacts",
    "report_data",
    "unreadable_report",
    "write_html",
    "write_json",
    "write_pdf",
    "write_reports",
]

SCHEMA = "lantai.ingest.report/1"
TITLE = "电子档案四性检测报告"
REPORT_NAME = "四性检测报告"
HTML_MAX_PROBLEMS = 5000
PDF_MAX_PROBLEMS = 2000
CST = timezone(timedelta(hours=8), "CST")

TARGET_LABELS = {
    Target.PACKAGE: "信息包",
    Target.DATABASE: "目录数据库",
    Target.BOTH: "信息包及目录数据库",
    Target.SYSTEM: "接收系统",
}
KIND_LABELS = {
    "bagit": "BagIt 信息包",
    "eep": "DA/T 48 电子文件封装包（EEP）",
    "eep_set": "EEP 封装包集合",
    "offline": "离线移交（文件夹与目录表格）",
}
_SUMMARY_FINDINGS = 3


@dataclass(frozen=True, kw_only=True)
class TransferFacts:
    """What the report states about the transfer: 登记 (declared) and 实际 (received) facts."""

    uid: str
    source_name: str
    kind: str
    unit: str | None = None  # 单位名称
    time: str | None = None  # 移交时间
    category: str | None = None  # 门类
    method: str | None = None  # 方式
    carrier: str | None = None
    fonds_code: str | None = None
    declared_items: int | None = None
    declared_bytes: int | None = None
    declared_files: int | None = None
    items: int = 0
    files: int = 0
    bytes: int = 0
    package_size: int | None = None
    package_sha256: str | None = None
    package_sm3: str | None = None

    @classmethod
    def from_transfer(cls, t: Transfer) -> TransferFacts:
        reg = t.register
        return cls(
            uid=t.uid,
            source_name=t.source_name,
            kind=t.kind.value,
            unit=reg.unit if reg else None,
            time=reg.time if reg else None,
            category=(reg.category if reg else None) or t.category,
            method=reg.method if reg else None,
            carrier=reg.carrier if reg else None,
            fonds_code=t.fonds_code,
            declared_items=(reg.items if reg and reg.items is not None else t.declared.items),
            declared_bytes=(reg.bytes if reg and reg.bytes is not None else t.declared.bytes),
            declared_files=t.declared.files,
            items=len(t.records),
            files=len(t.content_files()),
            bytes=t.total_bytes,
            package_size=t.package_size,
            package_sha256=t.package_sha256,
            package_sm3=t.package_sm3,
        )


def _cst(moment: datetime) -> str:
    return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def _evidence_text(f: Mapping[str, Any]) -> str:
    parts = []
    for key, label in (
        ("record", "记录"),
        ("file", "文件"),
        ("field", "字段"),
        ("expected", "应为"),
        ("found", "实为"),
        ("rule", "依据"),
    ):
        value = f.get(key)
        if value not in (None, ""):
            parts.append(f"{label}：{value}")
    return "；".join(parts)


def report_data(
    report: CheckReport,
    facts: TransferFacts,
    *,
    archive_name: str = "",
    generated: datetime | None = None,
) -> dict[str, Any]:
    """The report document (JSON-ready) from a check run and the transfer's facts."""
    generated = generated or datetime.now(UTC)
    decision = report.decision
    items: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    elapsed = 0.0
    for outcome in report.outcomes:
        spec = outcome.spec
        elapsed += outcome.seconds
        checked_at = report.started + timedelta(seconds=elapsed)
        findings = [f.to_dict() for f in outcome.findings]
        issues = [f for f in findings if f["status"] != Status.PASSED.value]
        for f in issues:
            problems.append(
                {
                    **f,
                    "name": spec.name,
                    "status_label": Status(f["status"]).label,
                    "blocking": spec.blocking and f["status"] == Status.FAILED.value,
                }
            )
        shown = issues or findings
        summary = "；".join(f["message"] for f in shown[:_SUMMARY_FINDINGS])
        if len(shown) > _SUMMARY_FINDINGS:
            summary += f"……（共 {len(shown)} 条，见问题清单）"
        items.append(
            {
                "code": spec.code,
                "name": spec.name,
                "property": spec.property.value,
                "property_label": spec.property.label,
                "target": spec.target.value,
                "target_label": TARGET_LABELS[spec.target],
                "purpose": spec.purpose,
                "basis": spec.basis,
                "method": spec.method,
                "blocking": spec.blocking,
                "confidence": spec.confidence,
                "status": outcome.status.value,
                "status_label": outcome.status.label,
                "summary": summary,
                "findings": findings,
                "checked_at": checked_at.isoformat(),
                "stage": spec.stage.value,
                "stage_label": spec.stage.label,
                "seconds": round(outcome.seconds, 4),
            }
        )
    return {
        "schema": SCHEMA,
        "title": TITLE,
        "archive": archive_name,
        "generated": generated.isoformat(),
        "transfer": {**asdict(facts), "kind_label": KIND_LABELS.get(facts.kind, facts.kind)},
        "stage": {"code": report.stage.value, "label": report.stage.label},
        "mode": report.mode,
        "started": report.started.isoformat(),
        "finished": report.finished.isoformat(),
        "decision": {"code": decision.value, "label": decision.label},
        "counts": report.counts(),
        "items": items,
        "problems": problems,
    }


def unreadable_report(
    transfer_uid: str,
    stage: Stage,
    error: LantaiError,
    *,
    specs: tuple[CheckSpec, ...] | None = None,
    source_name: str = "",
    started: datetime | None = None,
    item: str = "3-1",
) -> CheckReport:
    """The report of a package no reader could read (malformed XML, unsafe archive …).

    Item ``item`` — 3-1 (信息包中元数据的可读性) for an unreadable package, 4-7 (过程安全)
    for an archive refused by safe unpacking — fails with the error and its problems as
    evidence and counts as blocking, so the transfer is rejected with a report like any other;
    every other enabled item of the stage is 不适用 (not run).
    """
    started = started or datetime.now(UTC)
    code = f"{stage.value}-{item}"
    chosen = [
        s.model_copy(update={"blocking": True, "enabled": True}) if s.code == code else s
        for s in (specs or load_catalogue())
        if s.stage is stage and (s.enabled or s.code == code)
    ]
    problems = error.problems or []
    outcomes: list[CheckOutcome] = []
    for spec in sorted(chosen, key=lambda s: (s.cost, s.code)):
        if spec.code == code:
            findings = [
                Finding(
                    code=spec.code,
                    status=Status.FAILED,
                    message=f"信息包无法读取：{error.message}",
                    file=source_name,
                    rule=error.code,
                )
            ] + [
                Finding(
                    code=spec.code,
                    status=Status.FAILED,
                    message=p.message,
                    file=p.file or source_name,
                    field=p.field,
                    found=p.value,
                    rule=p.rule,
                )
                for p in problems[:200]
            ]
            outcomes.append(CheckOutcome(spec, Status.FAILED, findings, 0.0))
        else:
            findings = [
                Finding(
                    code=spec.code,
                    status=Status.NOT_APPLICABLE,
                    message="信息包无法读取，本项未执行",
                )
            ]
            outcomes.append(CheckOutcome(spec, Status.NOT_APPLICABLE, findings, 0.0))
    return CheckReport(transfer_uid, stage, "full", started, datetime.now(UTC), outcomes)


# -- writers ----------------------------------------------------------------------------------------


@contextmanager
def _atomic(path: Path, mode: str = "w") -> Iterator[Path]:
    """A temporary path next to ``path``, renamed onto it only if the body succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with tmp_path.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_json(data: Mapping[str, Any], path: Path) -> Path:
    with _atomic(path) as tmp:
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def _local(iso: str) -> str:
    return _cst(datetime.fromisoformat(iso))


def _size(n: int | None) -> str:
    if n is None:
        return "未登记"
    if n < 1024:
        return f"{n} 字节"
    units = ["KiB", "MiB", "GiB", "TiB"]
    value = float(n)
    for unit in units:
        value /= 1024
        if value < 1024 or unit == units[-1]:
            break
    return f"{n:,} 字节（{value:.1f} {unit}）"


def _overview(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The header rows shared by the HTML and PDF renderings."""
    t = data["transfer"]
    c = data["counts"]

    def declared(v: int | None, unit: str = "") -> str:
        return "未登记" if v is None else f"{v}{unit}"

    rows = [
        ("档案馆", data["archive"] or "—"),
        ("报告编号", t["uid"]),
        ("信息包", f"{t['source_name']}（{t['kind_label']}）"),
        ("移交单位", t["unit"] or "—"),
        ("移交时间", t["time"] or "—"),
        ("门类", t["category"] or "—"),
        ("移交方式", (t["method"] or "—") + (f"（载体：{t['carrier']}）" if t["carrier"] else "")),
        ("目标全宗", t["fonds_code"] or "—"),
        ("件数（登记／实际）", f"{declared(t['declared_items'], ' 件')}／{t['items']} 件"),
        ("字节数（登记／实际）", f"{_size(t['declared_bytes'])}／{_size(t['bytes'])}"),
        ("文件数（登记／实际）", f"{declared(t['declared_files'], ' 个')}／{t['files']} 个"),
        ("信息包大小", _size(t["package_size"]) if t["package_size"] is not None else "—"),
        ("信息包 SHA-256", t["package_sha256"] or "—"),
        ("信息包 SM3", t["package_sm3"] or "—"),
        ("检测环节", data["stage"]["label"]),
        ("检测方式", "快速检测（数量、字节与结构）" if data["mode"] == "quick" else "完整检测"),
        ("检测时间", f"{_local(data['started'])} 至 {_local(data['finished'])}"),
        (
            "检测结果统计",
            f"通过 {c['passed']} 项，不通过 {c['failed']} 项，人工复核 {c['manual']} 项，"
            f"不适用 {c['not_applicable']} 项",
        ),
        ("结论", data["decision"]["label"]),
    ]
    return rows


_CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;
margin:24px;color:#222;font-size:14px}
h1{text-align:center;font-size:22px;margin:0 0 16px}h2{font-size:17px;margin:24px 0 8px}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #999;padding:4px 6px;
vertical-align:top;text-align:left}th{background:#eee;white-space:nowrap}
table.overview th{width:11em}.passed{color:#176117}.failed{color:#b00000;font-weight:bold}
.manual{color:#a05a00;font-weight:bold}.not_applicable{color:#666}
.decision-reject{color:#b00000}.decision-accept_flagged{color:#a05a00}
.decision-accept{color:#176117}small{color:#555}td.code{white-space:nowrap}
footer{margin-top:24px;color:#666;font-size:12px}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def write_html(data: Mapping[str, Any], path: Path) -> Path:
    """A self-contained zh-CN HTML page (inline CSS, no scripts, no external assets)."""
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{_e(data['title'])}（{_e(data['transfer']['source_name'])}）</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(data['title'])}</h1>",
        '<table class="overview">',
    ]
    for label, value in _overview(data):
        cls = f' class="decision-{_e(data["decision"]["code"])}"' if label == "结论" else ""
        out.append(f"<tr><th>{_e(label)}</th><td{cls}>{_e(value)}</td></tr>")
    out += [
        "</table>",
        "<h2>检测项目</h2>",
        "<table><thead><tr><th>编号</th><th>检测项目</th><th>四性类别</th><th>检测对象</th>"
        "<th>检测目的</th><th>检测依据和方法</th><th>结果</th><th>说明/问题清单</th>"
        "<th>检测时间</th><th>环节</th></tr></thead><tbody>",
    ]
    for item in data["items"]:
        blocking = "<br><small>（否决项）</small>" if item["blocking"] else ""
        out.append(
            "<tr>"
            f'<td class="code">{_e(item["code"])}</td><td>{_e(item["name"])}{blocking}</td>'
            f"<td>{_e(item['property_label'])}</td><td>{_e(item['target_label'])}</td>"
            f"<td>{_e(item['purpose'])}</td>"
            f"<td>{_e(item['basis'])}<br><small>{_e(item['method'])}</small></td>"
            f'<td class="{_e(item["status"])}">{_e(item["status_label"])}</td>'
            f"<td>{_e(item['summary'])}</td>"
            f"<td>{_e(_local(item['checked_at']))}</td><td>{_e(item['stage_label'])}</td>"
            "</tr>"
        )
    out.append("</tbody></table>")
    problems = data["problems"]
    out.append(f"<h2>问题清单（{len(problems)} 条）</h2>")
    if problems:
        out.append(
            "<table><thead><tr><th>序号</th><th>编号</th><th>检测项目</th><th>结果</th>"
            "<th>说明</th><th>证据</th></tr></thead><tbody>"
        )
        for i, p in enumerate(problems[:HTML_MAX_PROBLEMS], 1):
            out.append(
                f'<tr><td>{i}</td><td class="code">{_e(p["code"])}</td><td>{_e(p["name"])}</td>'
                f'<td class="{_e(p["status"])}">{_e(p["status_label"])}</td>'
                f"<td>{_e(p['message'])}</td><td>{_e(_evidence_text(p))}</td></tr>"
            )
        out.append("</tbody></table>")
        if len(problems) > HTML_MAX_PROBLEMS:
            out.append(
                f"<p>另有 {len(problems) - HTML_MAX_PROBLEMS} 条问题未在此页列出，见 JSON 报告。</p>"
            )
    else:
        out.append("<p>无。</p>")
    out.append(
        f"<footer>报告生成时间：{_e(_local(data['generated']))}；"
        f"报告格式 {_e(data['schema'])}；依据 DA/T 70-2018《文书类电子档案检测一般要求》。</footer>"
        "</body></html>"
    )
    with _atomic(path) as tmp:
        tmp.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


# -- PDF --------------------------------------------------------------------------------------------


def write_pdf(data: Mapping[str, Any], path: Path, *, font: Path | None = None) -> Path:
    """The report as an A4 landscape PDF; ``font`` is a CJK TrueType/TTC font (see module doc)."""
    from lantai.ingest.report_pdf import render_pdf

    with _atomic(path) as tmp:
        render_pdf(data, tmp, font=font)
    return path


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class ReportFiles:
    json: Path
    html: Path
    pdf: Path


def write_reports(
    data: Mapping[str, Any],
    directory: Path,
    *,
    name: str = REPORT_NAME,
    font: Path | None = None,
) -> ReportFiles:
    """Write ``<name>.json``, ``.html`` and ``.pdf`` into ``directory`` (each atomically)."""
    writers: list[tuple[str, Callable[[Path], Path]]] = [
        ("json", lambda p: write_json(data, p)),
        ("html", lambda p: write_html(data, p)),
        ("pdf", lambda p: write_pdf(data, p, font=font)),
    ]
    paths = {ext: fn(directory / f"{name}.{ext}") for ext, fn in writers}
    return ReportFiles(json=paths["json"], html=paths["html"], pdf=paths["pdf"])
