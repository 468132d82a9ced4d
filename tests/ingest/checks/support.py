"""Transfers built directly for the DA/T 70 check tests, and a runner for chosen codes.

``clean_transfer`` makes a small 离线移交 of two 文书 items (two real OFD files from the shared
fixtures, metadata as an agency sends it, a 登记表, declared digests) on which every item the
system can decide passes; each test then breaks one thing. Import with
``from ingest.checks.support import …``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from lantai.audit import EventType
from lantai.crypto.digest import digest_file
from lantai.formats.identify import identify
from lantai.ingest.checks import (
    CheckContext,
    CheckOutcome,
    CheckReport,
    Finding,
    Stage,
    Status,
    load_catalogue,
    run_checks,
)
from lantai.ingest.checks._core import bindings
from lantai.ingest.transfer import (
    DeclaredTotals,
    FileRole,
    ProcessStep,
    Register,
    SourceKind,
    Transfer,
    TransferFile,
    TransferRecord,
)
from lantai.instance import Instance
from lantai.security import Actor

__all__ = [
    "OFD_A",
    "OFD_DIR",
    "OFD_HELLO",
    "TODAY",
    "add_file",
    "build_transfer",
    "clean_transfer",
    "failed",
    "finding",
    "item_record",
    "log_receipt",
    "outcome",
    "run",
    "statuses",
]

TODAY = date(2026, 11, 21)
OFD_DIR = Path("/work/shared/fixtures/ofd/ofdrw-samples")
OFD_HELLO = OFD_DIR / "ofdrw-converter__helloworld.ofd"
OFD_A = OFD_DIR / "ofdrw-archive__test-ofda.ofd"
UNIT = "某市人民政府办公室"


def item_record(key: str, files: list[str], **values: Any) -> TransferRecord:
    """A 文书 件 as an agency sends it: strings, Chinese labels for codes."""
    base: dict[str, Any] = {
        "title": "关于印发2011年工作要点的通知",
        "responsible": UNIT,
        "date": "20110305",
        "year": "2011",
        "retention": "永久",
        "org_code": "BGS",
        "doc_number": "市府办发〔2011〕12号",
        "security_level": "公开",
        "open_status": "开放",
        "pages": "1",
    }
    base.update(values)
    return TransferRecord(
        key=key,
        values={k: v for k, v in base.items() if v is not None},
        files=list(files),
        process=[
            ProcessStep(action="起草", time="2011-03-01", agent="张三"),
            ProcessStep(action="签发", time="2011-03-05", agent="李四"),
        ],
        location=f"目录.xml 第 {key} 条",
    )


def add_file(
    t: Transfer,
    path: str,
    source: bytes | Path,
    *,
    role: FileRole = FileRole.CONTENT,
    record: str | None = None,
    declare: bool = True,
) -> TransferFile:
    """Stage ``source`` at payload ``path``, hash and identify it, and add it to ``t``."""
    local = t.payload_root / path
    local.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, Path):
        shutil.copyfile(source, local)
    else:
        local.write_bytes(source)
    d = digest_file(local)
    tf = TransferFile(
        path=path,
        local=local,
        size=d.size,
        role=role,
        sha256=d.sha256,
        sm3=d.sm3,
        declared={"sha256": d.sha256} if declare else {},
        record_key=record,
        format=identify(local),
    )
    t.files.append(tf)
    return tf


def build_transfer(
    root: Path,
    *,
    files: Mapping[str, bytes | Path],
    records: Iterable[TransferRecord] = (),
    kind: SourceKind = SourceKind.OFFLINE,
    uid: str = "t-0001",
    declare_digests: bool = True,
    electronic: bool = True,
    **fields: Any,
) -> Transfer:
    staging = root / "staging" / uid
    payload = staging / "payload"
    payload.mkdir(parents=True, exist_ok=True)
    recs = list(records)
    owner = {p: r.key for r in recs for p in r.files}
    t = Transfer(
        uid=uid,
        kind=kind,
        source_name=fields.pop("source_name", "移交包-2026-001"),
        staging=staging,
        payload_root=payload,
        records=recs,
        **fields,
    )
    for path, source in files.items():
        tf = add_file(t, path, source, record=owner.get(path), declare=declare_digests)
        r = next((r for r in recs if path in r.files), None)
        if electronic and r is not None:
            r.electronic[path] = {
                "计算机文件名": Path(path).name,
                "计算机文件大小": str(tf.size),
                "格式信息": "OFD"
                if path.endswith(".ofd")
                else (tf.format.name if tf.format else ""),
                "文档创建程序": "ofdrw 2.0",
            }
    return t


def clean_transfer(root: Path, **overrides: Any) -> Transfer:
    """Two 文书 items with OFD content, a 登记表, declared digests: everything checkable passes."""
    records = [
        item_record("DZWJ-0001", ["0001/正文.ofd"], archival_code="Z109-WS·2011-Y-BGS-0001"),
        item_record(
            "DZWJ-0002",
            ["0002/正文.ofd"],
            archival_code="Z109-WS·2011-Y-BGS-0002",
            title="某市人民政府办公室2011年度工作总结",
            doc_number="市府办发〔2011〕30号",
            date="20111228",
        ),
    ]
    files: dict[str, bytes | Path] = {"0001/正文.ofd": OFD_HELLO, "0002/正文.ofd": OFD_A}
    t = build_transfer(
        root, files=files, records=records, **{"fonds_code": "Z109", "category": "WS", **overrides}
    )
    add_file(
        t,
        "目录.xml",
        "<?xml version='1.0' encoding='UTF-8'?><目录><条目 编号='DZWJ-0001'/><条目 编号='DZWJ-0002'/></目录>".encode(),
        role=FileRole.METADATA,
    )
    content_bytes = sum(f.size for f in t.content_files())
    if t.register is None:
        t.register = Register(
            unit=UNIT,
            time="2026-11-20",
            category="文书",
            items=2,
            bytes=content_bytes,
            method="在线",
        )
    t.package_size = 12345
    t.package_sha256 = "a" * 64
    t.package_sm3 = "b" * 64
    if t.declared == DeclaredTotals():
        t.declared = DeclaredTotals(
            package_sha256="a" * 64, package_sm3="b" * 64, source="交接单据"
        )
    return t


def log_receipt(inst: Instance, t: Transfer) -> None:
    """The pipeline's receipt event for ``t`` (what GD-4-7 looks for)."""
    with inst.db.write() as s:
        inst.audit.append(
            s,
            actor="cli:test",
            action=EventType.INGEST_TRANSFER_RECEIVED,
            object_type="transfer",
            object_id=t.uid,
            detail={"source": t.source_name},
        )


def run(
    inst: Instance,
    t: Transfer,
    *codes: str,
    stage: Stage = Stage.GD,
    services: Mapping[str, Any] | None = None,
    mode: str = "full",
) -> CheckReport:
    """Run the catalogue's enabled items of ``stage`` (only ``codes`` when given)."""
    specs = [s for s in load_catalogue() if not codes or s.code in codes]
    ctx = CheckContext(
        transfer=t,
        stage=stage,
        inst=inst,
        actor=Actor.operator(),
        today=TODAY,
        services=dict(services or {}),
    )
    return run_checks(ctx, specs, bindings(), mode=mode)  # type: ignore[arg-type]


def outcome(report: CheckReport, code: str) -> CheckOutcome:
    for o in report.outcomes:
        if o.spec.code == code:
            return o
    raise AssertionError(f"{code} was not run; ran {[o.spec.code for o in report.outcomes]}")


def statuses(report: CheckReport) -> dict[str, Status]:
    return {o.spec.code: o.status for o in report.outcomes}


def failed(report: CheckReport) -> set[str]:
    return {o.spec.code for o in report.outcomes if o.status is Status.FAILED}


def finding(report: CheckReport, code: str, status: Status = Status.FAILED) -> Finding:
    found = [f for f in outcome(report, code).findings if f.status is status]
    assert found, f"{code}: no {status.value} finding in {outcome(report, code).findings}"
    return found[0]
