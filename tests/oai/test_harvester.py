"""Harvester: the real fixture responses (replayed by a local HTTP server on 127.0.0.1), XML
attacks, retries, incremental harvests, and a full harvest of our own provider by Sickle and by
the harvester (every published record exactly once, deleted ones flagged)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lantai.appraisal.publication import PublicationService
from lantai.instance import Instance
from lantai.oai.harvester import Harvester
from lantai.oai.union import search_union, union_summary
from lantai.store import HarvestRun, UnionRecord
from lantai.web.app import create_app
from oai_support import OP, Holdings
from web_support import served


class Replay(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, Any]] = {}
    hits: ClassVar[dict[str, int]] = {}

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        kind, _, name = url.path.strip("/").partition("/")
        Replay.hits[url.path] = Replay.hits.get(url.path, 0) + 1
        body = Replay.routes[kind](name, sorted(parse_qsl(url.query)), Replay.hits[url.path])
        if isinstance(body, int):
            self.send_response(body)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def replay(fixtures_dir: Path) -> Iterator[str]:
    oai = fixtures_dir / "oai-pmh"
    attacks = fixtures_dir / "security" / "defusedxml-xmltestdata"

    def pyoai(name: str, query: list[tuple[str, str]], _: int) -> bytes | int:
        folder = oai / "pyoai-recorded" / name
        lines = (folder / "mapping.txt").read_text().splitlines()
        table = dict(zip(lines[::2], lines[1::2], strict=True))
        found = table.get(urlencode(query))
        return (folder / found).read_bytes() if found else 404

    def asp(name: str, query: list[tuple[str, str]], _: int) -> bytes | int:
        if dict(query).get("verb") == "Identify":
            return (oai / "archivesspace-responses" / "identify.xml").read_bytes()
        return (oai / "archivesspace-responses" / name).read_bytes()

    def attack(name: str, query: list[tuple[str, str]], _: int) -> bytes | int:
        return (attacks / name).read_bytes()

    def flaky(name: str, query: list[tuple[str, str]], n: int) -> bytes | int:
        return 503 if n <= 2 else (oai / "pyoai-recorded" / "fake1" / "00005.xml").read_bytes()

    def raw(name: str, query: list[tuple[str, str]], _: int) -> bytes | int:
        return (oai / "pyoai-recorded" / name / "00001.xml").read_bytes()

    Replay.routes = {"raw": raw, "pyoai": pyoai, "asp": asp, "attack": attack, "flaky": flaky}
    Replay.hits = {}
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Replay)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()


def harvester(inst: Instance) -> Harvester:
    return Harvester(inst, timeout=5, retries=3, backoff=0.01)


def test_real_dspace_list_records_are_kept(instance: Instance, replay: str) -> None:
    h = harvester(instance)
    rep = h.harvest("鹿特丹", f"{replay}/pyoai/fake1", since="2003-04-10T00:00:00Z")
    assert rep.state == "ok", rep.problems
    assert rep.records == 16 and rep.rejected == 0
    rep2 = h.harvest("鹿特丹2", f"{replay}/pyoai/fake2", since="2004-01-01T00:00:00Z")
    assert rep2.records + rep2.rejected == 81 and rep2.records > 0
    # fake2 has no Identify: tolerated and reported
    assert any("Identify" in p["message"] for p in rep2.problems)
    with instance.db.read() as s:
        assert s.scalar(select(UnionRecord).where(UnionRecord.source == "鹿特丹").limit(1)).raw_xml
        total, rows = search_union(s, "")
        assert total == rep.records + rep2.records - rep2.deleted and rows  # deleted not listed
        assert [(x.source, x.deleted) for x in union_summary(s)] == [("鹿特丹", 0), ("鹿特丹2", 2)]


@pytest.mark.parametrize(
    "name",
    [
        "getrecord_oai_dc.xml",
        "getrecord_resource_oai_dc.xml",
        "getrecord_oai_ead.xml",
        "getrecord_oai_marc.xml",
        "getrecord_oai_mods.xml",
        "getrecord_oai_dcterms.xml",
        "list_sets.xml",
    ],
)
def test_archivesspace_responses_kept_or_reported(
    instance: Instance, replay: str, name: str
) -> None:
    rep = harvester(instance).harvest("ArchivesSpace", f"{replay}/asp/{name}")
    with instance.db.read() as s:
        kept = s.scalars(select(UnionRecord)).all()
    if name.endswith("oai_dc.xml"):
        assert rep.records == 1 and kept[0].title and kept[0].dc["creator"]
    elif name == "list_sets.xml":
        assert rep.records == 0 and rep.state == "ok"
    else:  # not oai_dc: reported, named, and skipped
        assert rep.records == 0 and rep.rejected == 1 and rep.state == "partial"
        msg = rep.problems[-1]["message"]
        assert "ArchivesSpace" in msg and "oai:archivesspace" in msg and "oai_dc" in msg


@pytest.mark.parametrize("name", ["fake3", "fake4"])
def test_malformed_responses_are_reported(instance: Instance, replay: str, name: str) -> None:
    # fake3 (an unclosed <bogus> wrapper) and fake4 (an undeclared entity) as a ListRecords page
    rep = harvester(instance).harvest(name, f"{replay}/raw/{name}")
    assert rep.records == 0 and rep.state == "failed"
    assert (
        f"来源「{name}」第 1 页响应被拒绝（行 1）：不是格式正确的 XML" in rep.problems[0]["message"]
    )


@pytest.mark.parametrize(
    "name", ["xmlbomb.xml", "xmlbomb2.xml", "quadratic.xml", "external.xml", "external_file.xml",
             "cyclic.xml", "dtd.xml", "xalan_exec.xsl"],
)  # fmt: skip
def test_xml_attacks_are_refused(instance: Instance, replay: str, name: str) -> None:
    rep = harvester(instance).harvest("攻击源", f"{replay}/attack/{name}")
    assert rep.state == "failed" and rep.records == 0
    msg = rep.problems[-1]["message"]
    assert msg.startswith("来源「攻击源」第 1 页") and ("拒绝" in msg or "不是 OAI-PMH" in msg)
    with instance.db.read() as s:
        run = s.scalar(select(HarvestRun))
        assert run.state == "failed" and run.problems


def test_retries_with_back_off_then_succeeds(instance: Instance, replay: str) -> None:
    waits: list[float] = []
    h = Harvester(instance, timeout=5, retries=3, backoff=0.5, sleep=waits.append)
    rep = h.harvest("不稳定", f"{replay}/flaky/x")
    assert rep.state == "ok" and rep.records == 16
    assert waits == [0.5, 1.0]


def test_dead_partner_fails_fast_with_message(instance: Instance) -> None:
    h = Harvester(instance, timeout=1, retries=1, backoff=0.01)
    rep = h.harvest("宕机馆", "http://127.0.0.1:9/oai")
    assert rep.state == "failed"
    assert "来源「宕机馆」第 1 页无法获取" in rep.problems[0]["message"]


def test_full_harvest_of_our_provider_sickle_and_harvester(
    instance: Instance, holdings: Holdings
) -> None:
    from sickle import Sickle

    instance.settings.oai_page_size = 3
    with instance.db.write() as s:
        PublicationService(instance).unpublish(s, OP, [holdings.published[0]], reason="撤下")
    app = create_app(instance)
    with served(app) as base:
        sickle = Sickle(f"{base}/oai", max_retries=1)
        records = list(sickle.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False))
        idents = [r.header.identifier for r in records]
        assert len(idents) == len(set(idents)) == 7  # 6 published + 1 deleted, each exactly once
        assert sum(r.header.deleted for r in records) == 1
        assert all(r.metadata["rights"] == ["开放"] for r in records if not r.header.deleted)
        assert next(iter(sickle.ListSets())).setSpec == "open"

        h = harvester(instance)
        rep = h.harvest("本馆", f"{base}/oai")
        assert rep.state == "ok" and rep.pages == 3 and rep.records == 7 and rep.deleted == 1
        # incremental: nothing new → noRecordsMatch is fine, starts from the last datestamp
        again = h.harvest("本馆", f"{base}/oai")
        assert again.state == "ok" and again.records >= 1
    with instance.db.read() as s:
        assert s.scalar(select(HarvestRun.from_date).order_by(HarvestRun.id.desc()).limit(1))
        total, rows = search_union(s, "青銅鼎")  # traditional finds simplified
        assert total == 6 and all("青铜鼎" in r.title for r in rows)
    assert TestClient(app).get("/api/union/search", params={"q": "青铜鼎"}).status_code == 401
