"""Image QC of a scan batch (DA/T 31-2017 图像质量): findings listed, masters never changed.

Per page: the file decodes completely (不可读), resolution from the header against the batch's
profile (200 / 300 / 600 dpi), colour mode allowed by the profile, storage format, skew measured
(flagged above ``max_skew_degrees``), blank page (ink share). Per batch: duplicate pages
(perceptual hash within ``duplicate_max_distance`` bits) and, per 档号, the page count against
the record's 页数 plus gaps and repeats in the 页号. Thresholds and severities come from
``digitisation.yaml``. Measures are committed page by page, so a QC job that is interrupted
continues with the pages not yet measured.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from lantai.audit import EventType
from lantai.digitisation.config import DigitisationConfig, load_config
from lantai.digitisation.images import hamming, measure, open_page
from lantai.digitisation.masters import MasterCache
from lantai.instance import Instance
from lantai.storage import open_store
from lantai.store import Record, ScanBatch, ScanPage, utcnow

__all__ = ["CHECK_LABELS", "qc_batch"]

Progress = Callable[..., None]

CHECK_LABELS = {
    "unreadable": "文件不可读",
    "low_dpi": "分辨率不足",
    "no_dpi": "未记录分辨率",
    "colour_mode": "色彩模式不符",
    "format": "存储格式",
    "skew": "图像歪斜",
    "blank": "空白页",
    "duplicate": "重复页",
    "page_count": "页数不符",
}
_COMMIT_EVERY = 20


def _finding(
    config: DigitisationConfig,
    check: str,
    message: str,
    page: ScanPage | None = None,
    *,
    code: str | None = None,
    value: Any = None,
) -> dict[str, Any]:
    return {
        "check": check,
        "label": CHECK_LABELS[check],
        "severity": config.qc.severity[check],
        "archival_code": page.archival_code if page is not None else code,
        "page_no": page.page_no if page is not None else None,
        "page_id": page.id if page is not None else None,
        "file": page.source_name if page is not None else None,
        "value": value,
        "message": message,
    }


def _page_findings(
    config: DigitisationConfig, profile: str, page: ScanPage
) -> list[dict[str, Any]]:
    prof = config.profile(profile)
    out: list[dict[str, Any]] = []
    if not page.decodes:
        return [_finding(config, "unreadable", page.error or "文件无法解码", page)]
    meta = page.meta or {}
    dpi = meta.get("扫描分辨率")
    if dpi is None:
        out.append(_finding(config, "no_dpi", "图像文件头未记录分辨率，无法核对", page))
    elif dpi < prof.min_dpi:
        out.append(
            _finding(
                config,
                "low_dpi",
                f"分辨率 {dpi} dpi 低于「{prof.label}」要求的 {prof.min_dpi} dpi",
                page,
                value=dpi,
            )
        )
    colour = meta.get("扫描色彩模式")
    if colour and colour not in prof.colours:
        out.append(
            _finding(
                config,
                "colour_mode",
                f"色彩模式「{colour}」不在「{prof.label}」允许的 {'、'.join(prof.colours)} 之内",
                page,
                value=colour,
            )
        )
    fmt = meta.get("格式")
    if fmt and fmt not in config.formats:
        out.append(
            _finding(
                config,
                "format",
                f"存储格式 {fmt} 不是长期保存格式（{'、'.join(config.formats)}）",
                page,
                value=fmt,
            )
        )
    if page.skew is not None and abs(page.skew) > config.qc.max_skew_degrees:
        out.append(
            _finding(
                config,
                "skew",
                f"歪斜 {abs(page.skew):.1f}°，超过 {config.qc.max_skew_degrees:g}°",
                page,
                value=page.skew,
            )
        )
    if page.ink is not None and page.ink < config.qc.blank_max_ink:
        out.append(
            _finding(
                config, "blank", f"疑似空白页（墨迹占比 {page.ink:.4%}）", page, value=page.ink
            )
        )
    return out


def _measure_pages(
    inst: Instance, batch_id: int, pdf_dpi: int, force: bool, progress: Progress | None
) -> None:
    with inst.db.read() as s:
        q = select(ScanPage.id, ScanPage.object_key, ScanPage.frame).where(
            ScanPage.batch_id == batch_id
        )
        if not force:
            q = q.where(ScanPage.checked.is_(False))
        todo = list(s.execute(q.order_by(ScanPage.object_key, ScanPage.frame)))
    done: list[tuple[int, dict[str, Any]]] = []

    def flush() -> None:
        if not done:
            return
        with inst.db.write() as s:
            for page_id, values in done:
                row = s.get(ScanPage, page_id)
                if row is not None:
                    for k, v in values.items():
                        setattr(row, k, v)
        done.clear()

    with MasterCache(open_store(inst.settings)) as cache:
        for n, (page_id, key, frame) in enumerate(todo, 1):
            try:
                img = open_page(cache.path(key), frame, pdf_dpi=pdf_dpi)
                m = measure(img)
                values: dict[str, Any] = {
                    "skew": m.skew,
                    "ink": m.ink,
                    "phash": m.phash,
                    "checked": True,
                }
                img.close()
            except Exception as exc:
                values = {"decodes": False, "error": f"图像无法完整解码：{exc}", "checked": True}
            done.append((page_id, values))
            if len(done) >= _COMMIT_EVERY:
                flush()
            if progress is not None:
                progress("质检图像", n, len(todo))
        flush()


def _duplicates(
    config: DigitisationConfig, pages: list[ScanPage]
) -> list[tuple[ScanPage, ScanPage, int]]:
    """Pairs of non-blank pages whose hashes differ in at most the configured bits.

    With at most d differing bits among 16 bands of 16 bits, at least 16 - d bands are equal, so
    only pages sharing a band are compared (d ≤ 15; beyond that every pair is compared).
    """
    limit = config.qc.duplicate_max_distance
    hashed = [p for p in pages if p.phash and p.decodes and (p.ink or 0) >= config.qc.blank_max_ink]
    pairs: set[tuple[int, int]] = set()
    if limit <= 15:
        buckets: dict[tuple[int, str], list[int]] = defaultdict(list)
        for i, p in enumerate(hashed):
            for band in range(16):
                buckets[(band, (p.phash or "")[band * 4 : band * 4 + 4])].append(i)
        for members in buckets.values():
            for a in range(len(members)):
                for b in range(a + 1, len(members)):
                    pairs.add((members[a], members[b]))
    else:
        pairs = {(a, b) for a in range(len(hashed)) for b in range(a + 1, len(hashed))}
    out = []
    for a, b in sorted(pairs):
        d = hamming(hashed[a].phash or "0", hashed[b].phash or "0")
        if d <= limit:
            out.append((hashed[a], hashed[b], d))
    return out


def _page_counts(
    config: DigitisationConfig, pages: list[ScanPage], declared: dict[str, int | None]
) -> list[dict[str, Any]]:
    by_code: dict[str, list[int]] = defaultdict(list)
    for p in pages:
        by_code[p.archival_code].append(p.page_no)
    out = []
    for code, numbers in sorted(by_code.items()):
        problems = []
        want = declared.get(code)
        if want is not None and want != len(numbers):
            problems.append(f"图像 {len(numbers)} 页，目录著录页数 {want}")
        repeated = sorted({n for n in numbers if numbers.count(n) > 1})
        if repeated:
            problems.append(f"页号重复：{'、'.join(map(str, repeated))}")
        gaps = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        if gaps:
            problems.append(
                f"缺页号：{'、'.join(map(str, gaps[:20]))}{'…' if len(gaps) > 20 else ''}"
            )
        if problems:
            out.append(
                _finding(
                    config,
                    "page_count",
                    "；".join(problems),
                    code=code,
                    value={"images": len(numbers), "declared": want},
                )
            )
    return out


def qc_batch(
    inst: Instance,
    batch_id: int,
    *,
    actor_name: str,
    force: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Measure the batch's pages not yet measured, judge all of them, store and return the report."""
    config = load_config(config_dir=inst.settings.resolved_config_dir)
    with inst.db.read() as s:
        batch = s.get(ScanBatch, batch_id)
        if batch is None:
            raise ValueError(f"scan batch {batch_id} not found")
        profile = batch.profile
    _measure_pages(inst, batch_id, config.ocr.render_dpi, force, progress)
    with inst.db.write() as s:
        batch = s.get(ScanBatch, batch_id)
        assert batch is not None
        pages = list(
            s.scalars(
                select(ScanPage)
                .where(ScanPage.batch_id == batch_id)
                .order_by(ScanPage.archival_code, ScanPage.page_no, ScanPage.id)
            )
        )
        per_page: dict[int, list[dict[str, Any]]] = {
            p.id: _page_findings(config, profile, p) for p in pages
        }
        for a, b, d in _duplicates(config, pages):
            for x, y in ((a, b), (b, a)):
                per_page[x.id].append(
                    _finding(
                        config,
                        "duplicate",
                        f"与 {y.archival_code} 第 {y.page_no} 页（{y.source_name}）疑似重复（差异 {d} 位）",
                        x,
                        value={"page_id": y.id, "distance": d},
                    )
                )
        codes = sorted({p.archival_code for p in pages})
        declared: dict[str, int | None] = {}
        for i in range(0, len(codes), 500):
            q = select(Record.archival_code, Record.pages).where(
                Record.archival_code.in_(codes[i : i + 500])
            )
            declared.update({c: n for c, n in s.execute(q) if c})
        findings: list[dict[str, Any]] = []
        for p in pages:
            p.findings = per_page[p.id]
            findings += per_page[p.id]
        findings += _page_counts(config, pages, declared)
        counts: dict[str, int] = defaultdict(int)
        for f in findings:
            counts[f["check"]] += 1
        failed_pages = {f["page_id"] for f in findings if f["severity"] == "error" and f["page_id"]}
        summary = {
            "pages": len(pages),
            "codes": len(codes),
            "passed_pages": len(pages) - len(failed_pages),
            "failed_pages": len(failed_pages),
            "errors": sum(1 for f in findings if f["severity"] == "error"),
            "warnings": sum(1 for f in findings if f["severity"] == "warning"),
            "by_check": {CHECK_LABELS[k]: v for k, v in counts.items()},
            "profile": profile,
            "min_dpi": config.profile(profile).min_dpi,
            "max_skew_degrees": config.qc.max_skew_degrees,
            "result": "不合格" if any(f["severity"] == "error" for f in findings) else "合格",
            "checked_at": utcnow().isoformat(),
            "checked_by": actor_name,
        }
        batch.qc = {"summary": summary, "findings": findings}
        batch.updated_at = utcnow()
        inst.audit.append(
            s,
            actor=actor_name,
            action=EventType.DIGITISATION_BATCH_CHECKED,
            object_type="scan_batch",
            object_id=batch.uid,
            detail={
                k: summary[k]
                for k in ("pages", "failed_pages", "errors", "warnings", "result", "by_check")
            },
        )
        return batch.qc
