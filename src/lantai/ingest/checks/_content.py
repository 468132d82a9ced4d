"""What the checks learn by opening content files, opened once per file per run.

Several items look inside the same file — 1-1 (OFD signature references), 1-8 (e-invoice
duplicates), 1-10 (page count), 3-3 (opens, OFD structure, PDF/A), 3-8 (encryption) — so
:func:`inspection` opens each file at most once per check run with the :mod:`lantai.formats`
inspector for its identified format and caches the result in ``ctx.cache``.

The cache is part of the contract with the pipeline: ``ctx.cache["inspections"]`` maps a
payload path to its :class:`Inspection`; for an OFD, ``Inspection.ofd.texts`` holds the text of
each page, so the full-text index needs no second opening.

An inspection that could not be made (no inspector for the format, an inspector module not
installed, an inspector that crashed) says so (``opens=None``); the checks then report 人工复核,
never 通过.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from lantai.ingest.checks._core import CheckContext, Finding, Status
from lantai.ingest.transfer import FileRole, TransferFile

if TYPE_CHECKING:
    from lantai.formats.encryption import Protection
    from lantai.formats.ofd import Invoice, OfdInspection

__all__ = [
    "Inspection",
    "Verdict",
    "content_kind",
    "eep_signature_findings",
    "has_signature",
    "inspect_all",
    "inspection",
    "invoices",
    "ofd_signature_findings",
    "policy_verdict",
    "protection",
    "protections",
]

log = logging.getLogger("lantai.ingest.checks")

OFD_PUID = "lantai/ofd"
PDF_PUIDS = frozenset(
    {"fmt/14", "fmt/15", "fmt/16", "fmt/17", "fmt/18", "fmt/19", "fmt/20", "fmt/276",
     "fmt/95", "fmt/354", "fmt/476", "fmt/477", "fmt/478", "fmt/479", "fmt/480", "fmt/481",
     "fmt/1129", "fmt/1451"}
)  # fmt: skip


@dataclass
class Inspection:
    """One content file as its format's inspector saw it."""

    kind: str  # ofd | pdf | image | audio | video | other
    opens: bool | None  # None: nothing could tell
    pages: int | None = None
    problems: list[str] = field(default_factory=list)  # why it does not open / is invalid
    warnings: list[str] = field(default_factory=list)  # e.g. strict-mode or PDF/A deviations
    conformance: list[str] = field(default_factory=list)  # 人工复核: e.g. PDF/A claim not met
    encrypted: bool | None = None
    ofd: OfdInspection | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # for the format policy (pdfa_claim …)
    detail: dict[str, Any] = field(default_factory=dict)


def content_kind(f: TransferFile) -> str:
    fmt = f.format
    suffix = PurePosixPath(f.path).suffix.lower()
    if fmt is not None and fmt.puid == OFD_PUID:
        return "ofd"
    mime = (fmt.mime or "") if fmt is not None else ""
    if (fmt is not None and fmt.puid in PDF_PUIDS) or mime == "application/pdf":
        return "pdf"
    for major in ("image", "audio", "video"):
        if mime.startswith(f"{major}/"):
            return major
    if fmt is None:
        return {".ofd": "ofd", ".pdf": "pdf"}.get(suffix, "other")
    return "other"


def _inspect_ofd(f: TransferFile) -> Inspection:
    from lantai.formats import ofd

    found = ofd.inspect(f.local, text=True)  # the pipeline indexes the text: one opening
    return Inspection(
        kind="ofd",
        opens=not found.tolerant_problems,
        pages=found.page_count,
        problems=[str(p) for p in found.tolerant_problems],
        warnings=[str(p) for p in found.strict_problems if p not in found.tolerant_problems],
        ofd=found,
        detail={"version": found.version, "doc_type": found.doc_type},
    )


def _inspect_pdf(f: TransferFile) -> Inspection:
    from lantai.formats.pdf import inspect_pdf

    info = inspect_pdf(f.local)
    conformance: list[str] = []
    facts: dict[str, Any] = {}
    pdfa = info.pdfa
    if pdfa.claimed:
        facts["pdfa_claim"] = pdfa.claim
        if pdfa.verdict == "failed":
            why = "；".join(x.message for x in pdfa.findings[:3])
            conformance.append(
                f"文件声明符合 PDF/A-{pdfa.claim}，但符合性校验未通过（{why}）；"
                "校验按允许列表进行，可能误报，须人工复核"
            )
        elif pdfa.verdict in ("unsupported", "not_checked"):
            conformance.append(f"文件声明符合 PDF/A-{pdfa.claim}，本系统无法校验该级别，须人工复核")
    return Inspection(
        kind="pdf",
        opens=info.opens,
        pages=info.pages,
        problems=[info.error] if info.error else [],
        conformance=conformance,
        encrypted=info.encrypted,
        facts=facts,
        detail={
            "version": info.version,
            "encryption": info.encryption,
            "password_required": info.password_required,
            "has_text": info.has_text,
            "pdfa_verdict": pdfa.verdict,
        },
    )


def _inspect_image(f: TransferFile) -> Inspection:
    from lantai.formats.media import inspect_image

    info = inspect_image(f.local)
    return Inspection(
        kind="image",
        opens=info.decodes,
        pages=info.frames if info.decodes else None,
        problems=[info.error] if info.error else [],
        detail={"width": info.width, "height": info.height, "dpi": info.dpi, "colour": info.colour},
    )


def _inspect_media(f: TransferFile, kind: str) -> Inspection:
    from lantai.formats.media import probe_media

    info = probe_media(f.local)
    if info is None:
        return Inspection(kind=kind, opens=None, problems=["本机未安装 ffprobe"])
    facts: dict[str, Any] = {}
    video = [st for st in info.streams if st.kind == "video"]
    if video and video[0].codec:
        facts["video_codec"] = video[0].codec
    audio = [st for st in info.streams if st.kind == "audio"]
    if audio and audio[0].codec:
        facts["audio_codec"] = audio[0].codec
    opens = info.readable and info.decodes is not False
    return Inspection(
        kind=kind,
        opens=opens,
        problems=[info.error] if info.error else [],
        conformance=(
            ["只探测了容器与码流，未验证解码（本机未安装 ffmpeg），须人工复核"]
            if opens and info.decodes is None
            else []
        ),
        facts=facts,
        detail={"container": info.container, "duration": info.duration, "decodes": info.decodes},
    )


def _inspect(f: TransferFile) -> Inspection:
    kind = content_kind(f)
    try:
        if kind == "ofd":
            return _inspect_ofd(f)
        if kind == "pdf":
            return _inspect_pdf(f)
        if kind == "image":
            return _inspect_image(f)
        if kind in ("audio", "video"):
            return _inspect_media(f, kind)
    except Exception as exc:  # an inspector crash is evidence, not a pass
        log.exception("inspecting %s crashed", f.path)
        return Inspection(
            kind=kind, opens=None, problems=[f"检查程序异常：{type(exc).__name__}: {exc}"]
        )
    return Inspection(kind=kind, opens=None)


_INSPECTED = frozenset({"ofd", "pdf", "image", "audio", "video"})


def _workers(ctx: CheckContext) -> int:
    return max(1, ctx.inst.settings.ingest_workers)


def inspect_all(ctx: CheckContext) -> None:
    """Inspect every content file that has an inspector, ``ingest_workers`` at a time (once)."""
    if ctx.cache.get("inspected_all"):
        return
    ctx.cache["inspected_all"] = True
    cache: dict[str, Inspection] = ctx.cache.setdefault("inspections", {})
    todo = [f for f in _content(ctx) if f.path not in cache and content_kind(f) in _INSPECTED]
    if not todo:
        return
    with ThreadPoolExecutor(max_workers=_workers(ctx)) as pool:
        for f, found in zip(todo, pool.map(_inspect, todo), strict=True):
            cache[f.path] = found


def inspection(ctx: CheckContext, f: TransferFile) -> Inspection:
    """The cached inspection of ``f`` (all content files are inspected on first use)."""
    cache: dict[str, Inspection] = ctx.cache.setdefault("inspections", {})
    found = cache.get(f.path)
    if found is None:
        inspect_all(ctx)
        found = cache.get(f.path)
        if found is None:
            found = _inspect(f)
            cache[f.path] = found
    return found


def protections(ctx: CheckContext, files: list[TransferFile]) -> list[list[Protection]]:
    """:func:`protection` of each file. Sequential: sniffing reads ~1 KiB per file (about
    20 µs), less than a thread hand-off costs; the PDF inspections it reuses ran in parallel."""
    inspect_all(ctx)
    return [protection(ctx, f) for f in files]


def _content(ctx: CheckContext) -> list[TransferFile]:
    return [f for f in ctx.transfer.files if f.role is FileRole.CONTENT]


# -- signatures -------------------------------------------------------------------------------------


def has_signature(ctx: CheckContext, f: TransferFile) -> bool:
    """The file carries its own 固化信息 (an OFD signature or seal)."""
    if content_kind(f) != "ofd":
        return False
    found = inspection(ctx, f).ofd
    return found is not None and bool(found.signatures)


def ofd_signature_findings(ctx: CheckContext, c: str) -> list[Finding]:
    """1-1: every Reference of every OFD signature recomputed; the seal itself is 人工复核."""
    out: list[Finding] = []
    signed = 0
    for f in _content(ctx):
        if content_kind(f) != "ofd":
            continue
        found = inspection(ctx, f).ofd
        if found is None:
            continue
        for sig in found.signatures:
            label = "电子印章" if sig.type == "Seal" else "电子签名"
            bad = [r for r in sig.references if not r.ok]
            for r in bad:
                out.append(
                    Finding(
                        code=c,
                        status=Status.FAILED,
                        message=f"OFD {label} {sig.id} 保护的文件「{r.file_ref}」{r.problem or '摘要不一致，签章后内容已被改动'}",
                        file=f.path,
                        field=f"{sig.location or 'Signature.xml'} Reference {r.file_ref}",
                        expected=r.expected,
                        found=r.actual or "无法重算",
                        rule=f"GB/T 33190-2016 签名 Reference（{r.algorithm or sig.check_method}）",
                        record=f.record_key or "",
                    )
                )
            for problem in sig.problems:
                out.append(
                    Finding(
                        code=c,
                        status=Status.FAILED,
                        message=f"OFD {label} {sig.id}：{problem}",
                        file=f.path,
                        field=sig.location or "Signature.xml",
                        rule="GB/T 33190-2016 签名",
                        record=f.record_key or "",
                    )
                )
            if not sig.references and not sig.problems:
                out.append(
                    Finding(
                        code=c,
                        status=Status.FAILED,
                        message=f"OFD {label} {sig.id} 没有任何 Reference，不能证明内容未被改动",
                        file=f.path,
                        field=sig.location or "Signature.xml",
                        rule="GB/T 33190-2016 签名",
                        record=f.record_key or "",
                    )
                )
            if sig.references_ok:
                signed += 1
    if signed:
        out.append(
            Finding(
                code=c,
                status=Status.MANUAL,
                message=(
                    f"{signed} 个 OFD 签章的 Reference 摘要全部核验一致；签章值（SES/PKCS#7）、"
                    "证书链与印章有效期须依据可信证书人工复核"
                ),
                rule="DA/T 70-2018 真实性 1-1（证书可信性须外部证据）",
            )
        )
    return out


def eep_signature_findings(ctx: CheckContext, c: str) -> list[Finding]:
    """1-1: the EEP 电子签名 / 锁定签名 blocks the reader kept, verified; trust is 人工复核."""
    from lantai.ingest.eep_signing import SignatureBlock, verify_block

    out: list[Finding] = []
    valid = 0
    seen: set[tuple[str, str, str, str]] = set()
    for r in ctx.transfer.records:
        for raw in r.signatures:
            try:
                block = SignatureBlock.from_dict(raw)
            except (KeyError, TypeError, ValueError) as exc:
                out.append(
                    Finding(
                        code=c,
                        status=Status.FAILED,
                        message=f"电子签名块无法解析：{exc}",
                        file=r.location,
                        field="电子签名",
                        record=r.key,
                    )
                )
                continue
            key = (block.kind, block.layer, block.id, block.location)
            if key in seen:
                continue
            seen.add(key)
            result = verify_block(block)
            what = "锁定签名" if block.kind == "lock" else "电子签名"
            layer = "（原封装包）" if block.layer == "original" else ""
            if result.status == "valid":
                valid += 1
                continue
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED if result.status == "invalid" else Status.MANUAL,
                    message=f"{what}{layer} {block.id}：{result.message}",
                    file=block.location or r.location,
                    field=what,
                    expected=result.details.get("digest"),
                    found=block.algorithm_name,
                    rule=f"DA/T 48-2009 电子签名（{block.rule[:40]}）",
                    record=r.key,
                )
            )
    if valid:
        out.append(
            Finding(
                code=c,
                status=Status.MANUAL,
                message=f"{valid} 个 EEP 电子签名/锁定签名验证通过；签名证书的可信性须人工复核",
                rule="DA/T 70-2018 真实性 1-1（证书可信性须外部证据）",
            )
        )
    return out


# -- e-invoices -------------------------------------------------------------------------------------


def invoices(ctx: CheckContext) -> dict[str, Invoice]:
    """E-invoice data of every OFD content file that carries one, by payload path."""
    out: dict[str, Invoice] = {}
    for f in _content(ctx):
        if content_kind(f) != "ofd":
            continue
        found = inspection(ctx, f).ofd
        if found is not None and found.invoice is not None:
            out[f.path] = found.invoice
    return out


# -- format policy and protection -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The long-term format policy's view of one file, as a check outcome."""

    status: Status
    message: str
    expected: str | None = None
    found: str | None = None
    rule: str = ""


def policy_verdict(ctx: CheckContext, f: TransferFile) -> Verdict:
    """3-3: long_term → 通过; accepted (flagged) or convert → 人工复核; reject → 不通过."""
    from lantai.formats.policy import Decision, classify

    fmt = f.format
    found = None if fmt is None else f"{fmt.name}（{fmt.puid or fmt.mime or '未识别'}）"
    facts = {k: str(v) for k, v in inspection(ctx, f).facts.items() if v}
    decision = classify(fmt, facts=facts)
    notes = f"（{'；'.join(decision.notes)}）" if decision.notes else ""
    if decision.decision is Decision.LONG_TERM:
        return Verdict(status=Status.PASSED, message=decision.rule, found=found, rule=decision.rule)
    status = Status.FAILED if decision.decision is Decision.REJECT else Status.MANUAL
    return Verdict(
        status=status,
        message=f"{decision.label}：{decision.decision.label}{notes}",
        expected="长期保存格式（OFD、PDF/A、TIFF、JPEG、XML 等）",
        found=found,
        rule=decision.rule,
    )


# Identified from their bytes as one of these, a file is none of the containers that
# ``detect_protection`` looks into (ZIP, PDF, OLE2/CFB, RAR), so it need not be opened again.
_PLAIN_MIME_PREFIXES = ("text/", "image/", "audio/", "video/", "application/xml")


def _cannot_carry_protection(f: TransferFile) -> bool:
    fmt = f.format
    if fmt is None or fmt.puid is None or fmt.mime is None or fmt.warning:
        return False
    return fmt.mime.startswith(_PLAIN_MIME_PREFIXES) and fmt.puid != OFD_PUID


def protection(ctx: CheckContext, f: TransferFile) -> list[Protection]:
    """3-8: encryption, passwords, non-public compression found in ``f`` (PDFs: from the
    inspection already made; other files: :func:`lantai.formats.encryption.detect_protection`)."""
    from lantai.formats.encryption import Protection, ProtectionKind, detect_protection

    if _cannot_carry_protection(f):
        return []
    found = inspection(ctx, f) if f.role is FileRole.CONTENT and content_kind(f) == "pdf" else None
    if found is not None and found.opens is not None:
        if found.detail.get("password_required"):
            return [
                Protection(
                    kind=ProtectionKind.PASSWORD,
                    message="PDF 设有打开口令",
                    detail=str(found.detail.get("encryption") or ""),
                )
            ]
        if found.encrypted:
            return [
                Protection(
                    kind=ProtectionKind.ENCRYPTED,
                    message="PDF 已加密（权限口令限制）",
                    detail=str(found.detail.get("encryption") or ""),
                )
            ]
        return []
    return detect_protection(f.local)
