"""Harvest a partner's OAI-PMH endpoint (ListRecords, oai_dc) into the union catalogue.

A run: ``Identify`` (for the granularity; tolerated when missing), then ``ListRecords`` from the
last datestamp harvested from that source (incremental) or the given ``from``, following
resumption tokens. Every response is read with a time-out and a size limit and parsed with
:mod:`lantai.formats.xmlsafe` (entity declarations, XInclude, XSLT refused). Network failures,
time-outs and HTTP 5xx/429 are retried with exponential back-off.

Tolerance: the protocol envelope is not schema-validated (half of the real responses in the
fixtures are not valid). Each ``<record>`` is read on its own: one without an identifier or with
an unreadable datestamp is rejected and reported; the others are kept. A page that is not XML at
all, or is refused as unsafe, ends the run (its resumption token cannot be trusted) and is
reported; the records of the earlier pages stay. Every problem is a zh-CN message naming the
source, the page or record and the problem, kept on the ``oai_harvests`` row.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from lxml import etree
from sqlalchemy import select

from lantai.formats.xmlsafe import XmlRefused, parse_bytes
from lantai.instance import Instance
from lantai.oai.union import HarvestedRecord, store_records
from lantai.store import HarvestRun, utcnow

__all__ = ["HarvestError", "HarvestReport", "Harvester", "parse_records"]

OAI: Final = "http://www.openarchives.org/OAI/2.0/"
OAI_DC: Final = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC: Final = "http://purl.org/dc/elements/1.1/"
MAX_RESPONSE: Final = 32 * 1024 * 1024
MAX_PAGES: Final = 100_000


class HarvestError(Exception):
    """A response could not be fetched at all (after the retries)."""


@dataclass
class HarvestReport:
    source: str
    run_id: int = 0
    state: str = "running"
    pages: int = 0
    records: int = 0
    deleted: int = 0
    rejected: int = 0
    last_datestamp: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)

    def problem(self, message: str, *, record: str | None = None, page: int | None = None) -> None:
        self.problems.append({"message": message, "record": record, "page": page})


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _text(el: etree._Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def _valid_stamp(text: str) -> bool:
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?Z)?", text))


def parse_records(
    root: etree._Element, source: str, report: HarvestReport, page: int
) -> list[HarvestedRecord]:
    """The readable ``<record>``s of one response; the unreadable ones reported."""
    out: list[HarvestedRecord] = []
    for i, rec in enumerate(root.iter(_q(OAI, "record")), start=1):
        header = rec.find(_q(OAI, "header"))
        ident = _text(header.find(_q(OAI, "identifier"))) if header is not None else ""
        where = f"来源「{source}」第 {page} 页第 {i} 条记录"
        if not ident:
            report.rejected += 1
            report.problem(
                f"{where}缺少 header/identifier，已跳过（行 {rec.sourceline}）", page=page
            )
            continue
        assert header is not None
        stamp = _text(header.find(_q(OAI, "datestamp")))
        if not _valid_stamp(stamp):
            report.rejected += 1
            report.problem(
                f"{where}「{ident}」的 datestamp「{stamp}」不是 OAI-PMH 日期"
                "（YYYY-MM-DD 或 YYYY-MM-DDThh:mm:ssZ），已跳过",
                record=ident,
                page=page,
            )
            continue
        deleted = header.get("status") == "deleted"
        sets = [_text(s) for s in header.findall(_q(OAI, "setSpec"))]
        dc: dict[str, list[str]] = {}
        if not deleted:
            meta = rec.find(_q(OAI, "metadata"))
            container = meta.find(_q(OAI_DC, "dc")) if meta is not None else None
            if container is None:
                report.rejected += 1
                report.problem(
                    f"{where}「{ident}」没有 oai_dc 元数据（metadata/oai_dc:dc），已跳过",
                    record=ident,
                    page=page,
                )
                continue
            for el in container:
                if not isinstance(el.tag, str) or etree.QName(el).namespace != DC:
                    continue
                value = _text(el)
                if value:
                    dc.setdefault(etree.QName(el).localname, []).append(value[:10_000])
        raw = etree.tostring(rec, encoding="unicode")
        out.append(HarvestedRecord(ident, stamp, deleted, sets, dc, raw))
    return out


def _error(root: etree._Element) -> tuple[str, str] | None:
    err = root.find(_q(OAI, "error"))
    return (err.get("code") or "", _text(err)) if err is not None else None


class Harvester:
    """Harvests one endpoint into the union catalogue of ``inst``."""

    def __init__(
        self,
        inst: Instance,
        *,
        timeout: float | None = None,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inst = inst
        self.timeout = timeout or inst.settings.oai_harvest_timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep

    # -- HTTP --------------------------------------------------------------------------------------

    def fetch(self, base_url: str, params: dict[str, str]) -> bytes:
        url = f"{base_url}?{urllib.parse.urlencode(params)}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                req = urllib.request.Request(url, headers={"User-Agent": "Lantai-OAI-harvester"})
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    data: bytes = resp.read(MAX_RESPONSE + 1)
                if len(data) > MAX_RESPONSE:
                    raise HarvestError(f"响应超过 {MAX_RESPONSE // 1024 // 1024} MiB 上限")
                return data
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code < 500 and exc.code != 429:
                    break  # a client error does not get better by asking again
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last = "连接超时" if isinstance(reason, TimeoutError) else f"无法连接：{reason}"
        raise HarvestError(last)

    # -- a run -------------------------------------------------------------------------------------

    def harvest(
        self,
        source: str,
        base_url: str,
        *,
        set_spec: str | None = None,
        since: str | None = None,
        actor: str = "system:oai",
        incremental: bool = True,
    ) -> HarvestReport:
        report = HarvestReport(source)
        if since is None and incremental:
            since = self._last_datestamp(source)
        with self.inst.db.write() as s:
            run = HarvestRun(
                source=source,
                base_url=base_url,
                set_spec=set_spec,
                from_date=since,
                state="running",
                created_by=actor,
            )
            s.add(run)
            s.flush()
            report.run_id = run.id
        since = self._granular(source, base_url, since, report)
        params: dict[str, str] = {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
        if set_spec:
            params["set"] = set_spec
        if since:
            params["from"] = since
        try:
            self._pages(source, base_url, params, report)
        finally:
            self._finish(report)
        return report

    def _pages(
        self, source: str, base_url: str, params: dict[str, str], report: HarvestReport
    ) -> None:
        seen_tokens: set[str] = set()
        while report.pages < MAX_PAGES:
            page = report.pages + 1
            try:
                data = self.fetch(base_url, params)
            except HarvestError as exc:
                report.problem(f"来源「{source}」第 {page} 页无法获取：{exc}", page=page)
                report.state = "failed"
                return
            report.pages = page
            try:
                root = parse_bytes(data, name=f"{source} 第 {page} 页").getroot()
            except XmlRefused as exc:
                where = f"（行 {exc.row}）" if exc.row else ""
                report.problem(
                    f"来源「{source}」第 {page} 页响应被拒绝{where}：{exc.problems[0].message}",
                    page=page,
                )
                report.state = "failed"
                return
            if root.tag != _q(OAI, "OAI-PMH"):
                report.problem(
                    f"来源「{source}」第 {page} 页不是 OAI-PMH 响应（根元素 "
                    f"{etree.QName(root).localname}）",
                    page=page,
                )
                report.state = "failed"
                return
            err = _error(root)
            if err is not None:
                if err[0] != "noRecordsMatch":
                    report.problem(
                        f"来源「{source}」第 {page} 页返回 OAI-PMH 错误 {err[0]}：{err[1]}",
                        page=page,
                    )
                    report.state = "failed"
                return
            records = parse_records(root, source, report, page)
            with self.inst.db.write() as s:
                store_records(s, source, records, harvest_id=report.run_id)
            for r in records:
                report.records += 1
                report.deleted += r.deleted
                if report.last_datestamp is None or r.datestamp > report.last_datestamp:
                    report.last_datestamp = r.datestamp
            token_el = root.find(f".//{_q(OAI, 'resumptionToken')}")
            token = _text(token_el)
            if not token:
                return
            if token in seen_tokens:
                report.problem(f"来源「{source}」第 {page} 页重复给出已用过的续传令牌，停止收割")
                report.state = "failed"
                return
            seen_tokens.add(token)
            params = {"verb": "ListRecords", "resumptionToken": token}

    def _granular(
        self, source: str, base_url: str, since: str | None, report: HarvestReport
    ) -> str | None:
        """``since`` cut to the partner's granularity (Identify); as given if Identify fails."""
        if not since:
            return since
        try:
            root = parse_bytes(self.fetch(base_url, {"verb": "Identify"}), name=source).getroot()
        except (HarvestError, XmlRefused) as exc:
            report.problem(f"来源「{source}」的 Identify 无法读取（{exc}），按秒级粒度增量收割")
            return since
        gran = _text(root.find(f".//{_q(OAI, 'granularity')}"))
        return since[:10] if gran == "YYYY-MM-DD" else since

    def _last_datestamp(self, source: str) -> str | None:
        with self.inst.db.read() as s:
            return s.scalar(
                select(HarvestRun.last_datestamp)
                .where(
                    HarvestRun.source == source,
                    HarvestRun.state.in_(("ok", "partial")),
                    HarvestRun.last_datestamp.is_not(None),
                )
                .order_by(HarvestRun.id.desc())
                .limit(1)
            )

    def _finish(self, report: HarvestReport) -> None:
        if report.state == "running":
            report.state = "partial" if report.rejected else "ok"
        with self.inst.db.write() as s:
            run = s.get(HarvestRun, report.run_id)
            assert run is not None
            run.state = report.state
            run.finished_at = utcnow()
            run.pages, run.records = report.pages, report.records
            run.deleted, run.rejected = report.deleted, report.rejected
            run.last_datestamp = report.last_datestamp
            run.problems = list(report.problems)
