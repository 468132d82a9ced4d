"""OAI-PMH provider: every verb and error, XSD validity of every response kind, paging, deletions,
and that only published 开放 records (masked) are ever exposed."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from lantai.appraisal.publication import PublicationService
from lantai.instance import Instance
from lantai.oai.provider import OaiProvider
from lantai.store import Record
from lantai.web.app import create_app
from oai_support import OP, Holdings, make_holdings

NS = {"o": "http://www.openarchives.org/OAI/2.0/", "dc": "http://purl.org/dc/elements/1.1/"}


def ask(inst: Instance, query: str, page_size: int = 3) -> bytes:
    return OaiProvider(inst, "http://x/oai", page_size=page_size).respond(parse_qsl(query))


def error_code(doc: etree._Element) -> str | None:
    err = doc.find("o:error", NS)
    return None if err is None else err.get("code")


def ids(doc: etree._Element, *, deleted: bool | None = None) -> list[str]:
    out = []
    for h in doc.iterfind(".//o:header", NS):
        if deleted is None or (h.get("status") == "deleted") == deleted:
            out.append(h.findtext("o:identifier", namespaces=NS))
    return out


def harvest_all(
    inst: Instance, verb: str, assert_valid: Any, extra: str = ""
) -> list[etree._Element]:
    docs = [assert_valid(ask(inst, f"verb={verb}&metadataPrefix=oai_dc{extra}"))]
    while tok := docs[-1].findtext(".//o:resumptionToken", namespaces=NS):
        docs.append(assert_valid(ask(inst, f"verb={verb}&resumptionToken={tok}")))
    return docs


def test_identify_and_formats_and_sets_validate(
    instance: Instance, holdings: Holdings, assert_valid: Any
) -> None:
    doc = assert_valid(ask(instance, "verb=Identify"))
    ident = doc.find("o:Identify", NS)
    assert ident.findtext("o:repositoryName", namespaces=NS) == instance.settings.archive_name
    assert ident.findtext("o:deletedRecord", namespaces=NS) == "persistent"
    assert ident.findtext("o:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    assert ident.findtext("o:protocolVersion", namespaces=NS) == "2.0"
    assert doc.find("o:request", NS).get("verb") == "Identify"
    doc = assert_valid(ask(instance, "verb=ListMetadataFormats"))
    assert [e.text for e in doc.iterfind(".//o:metadataPrefix", NS)] == ["oai_dc", "ead"]
    doc = assert_valid(ask(instance, "verb=ListSets"))
    assert [e.text for e in doc.iterfind(".//o:setSpec", NS)] == [
        "open",
        f"open:fonds:{holdings.fonds_code}",
    ]


def test_list_records_pages_with_tokens_and_exposes_only_published(
    instance: Instance, holdings: Holdings, assert_valid: Any
) -> None:
    docs = harvest_all(instance, "ListRecords", assert_valid)
    assert len(docs) == 3  # 7 records, pages of 3
    got = [i for d in docs for i in ids(d)]
    assert len(got) == len(set(got)) == 7
    tokens = [d.find(".//o:resumptionToken", NS) for d in docs]
    assert [t.get("cursor") for t in tokens] == ["0", "3", "6"]
    assert {t.get("completeListSize") for t in tokens} == {"7"}
    assert tokens[-1].text is None  # the last part carries an empty token
    titles = [t.text for d in docs for t in d.iterfind(".//dc:title", NS)]
    assert all("青铜鼎" in t for t in titles) and len(titles) == 7
    text = b"".join(etree.tostring(d) for d in docs).decode()
    for hidden in ("开放未公布", "控制使用", "未审核"):
        assert hidden not in text
    # ListIdentifiers pages the same way; the fonds set holds the same records
    idents = [i for d in harvest_all(instance, "ListIdentifiers", assert_valid) for i in ids(d)]
    assert idents == got
    fonds_set = f"&set=open:fonds:{holdings.fonds_code}"
    assert [
        i for d in harvest_all(instance, "ListIdentifiers", assert_valid, fonds_set) for i in ids(d)
    ] == got


def test_get_record_oai_dc_and_ead_validate(
    instance: Instance, holdings: Holdings, assert_valid: Any
) -> None:
    first = ids(assert_valid(ask(instance, "verb=ListIdentifiers&metadataPrefix=oai_dc")))[0]
    assert first.startswith("oai:136101:")
    doc = assert_valid(ask(instance, f"verb=GetRecord&identifier={first}&metadataPrefix=oai_dc"))
    assert doc.findtext(".//dc:rights", namespaces=NS) == "开放"
    doc = assert_valid(ask(instance, f"verb=GetRecord&identifier={first}&metadataPrefix=ead"))
    ead = doc.find(".//{http://ead3.archivists.org/schema/}ead")
    assert ead is not None
    assert "青铜鼎" in "".join(ead.itertext())
    doc = assert_valid(ask(instance, "verb=ListRecords&metadataPrefix=ead", page_size=50))
    assert len(doc.findall(".//{http://ead3.archivists.org/schema/}ead")) == 7


def test_masked_values_are_what_is_disseminated(instance: Instance, assert_valid: Any) -> None:
    h = make_holdings(instance, n_published=0)
    from oai_support import add_item, publish

    with instance.db.read() as s:
        parent = s.get(Record, h.controlled).parent_id
    rid = add_item(instance, parent, title="关于申请人电话13812345678的答复", open_status="开放")
    publish(instance, [rid])
    doc = assert_valid(ask(instance, "verb=ListRecords&metadataPrefix=oai_dc"))
    title = doc.findtext(".//dc:title", namespaces=NS)
    assert "13812345678" not in title and "138****5678" in title


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("", "badVerb"),
        ("verb=Frobnicate", "badVerb"),
        ("verb=Identify&verb=Identify", "badVerb"),
        ("verb=Identify&extra=1", "badArgument"),
        ("verb=ListRecords", "badArgument"),
        ("verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=ead", "badArgument"),
        ("verb=ListRecords&metadataPrefix=oai_dc&from=2026-13-01", "badArgument"),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01&until=2026-01-02T00:00:00Z",
            "badArgument",
        ),
        ("verb=ListRecords&metadataPrefix=oai_dc&from=2026-02-01&until=2026-01-01", "badArgument"),
        ("verb=ListRecords&metadataPrefix=oai_dc&resumptionToken=abc", "badArgument"),
        ("verb=GetRecord&identifier=oai:136101:x", "badArgument"),
        ("verb=ListRecords&resumptionToken=abc.def", "badResumptionToken"),
        ("verb=ListSets&resumptionToken=abc", "badResumptionToken"),
        ("verb=ListRecords&metadataPrefix=marc21", "cannotDisseminateFormat"),
        ("verb=GetRecord&identifier=oai:136101:nope&metadataPrefix=oai_dc", "idDoesNotExist"),
        ("verb=GetRecord&identifier=oai:other:Z109&metadataPrefix=oai_dc", "idDoesNotExist"),
        ("verb=ListMetadataFormats&identifier=oai:136101:nope", "idDoesNotExist"),
        (
            "verb=ListRecords&metadataPrefix=oai_dc&from=2000-01-01&until=2000-01-02",
            "noRecordsMatch",
        ),
        ("verb=ListIdentifiers&metadataPrefix=oai_dc&set=open:fonds:NOPE", "noRecordsMatch"),
    ],
)
def test_errors(
    instance: Instance, holdings: Holdings, assert_valid: Any, query: str, code: str
) -> None:
    doc = assert_valid(ask(instance, query))
    assert error_code(doc) == code
    request = doc.find("o:request", NS)
    if code in ("badVerb", "badArgument"):
        assert dict(request.attrib) == {}  # only the base URL is echoed
    else:
        assert request.get("verb")


def test_tampered_and_cross_verb_tokens_are_refused(
    instance: Instance, holdings: Holdings, assert_valid: Any
) -> None:
    tok = assert_valid(ask(instance, "verb=ListRecords&metadataPrefix=oai_dc")).findtext(
        ".//o:resumptionToken", namespaces=NS
    )
    body, tag = tok.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + tag
    assert (
        error_code(assert_valid(ask(instance, f"verb=ListRecords&resumptionToken={forged}")))
        == "badResumptionToken"
    )
    assert (
        error_code(assert_valid(ask(instance, f"verb=ListIdentifiers&resumptionToken={tok}")))
        == "badResumptionToken"
    )
    # a token survives a "restart": a new provider (same home, same key) accepts it
    assert (
        error_code(assert_valid(ask(instance, f"verb=ListRecords&resumptionToken={tok}"))) is None
    )


def test_unpublished_and_reclassified_records_are_deleted(
    instance: Instance, holdings: Holdings, assert_valid: Any
) -> None:
    before = ids(
        assert_valid(ask(instance, "verb=ListIdentifiers&metadataPrefix=oai_dc", page_size=50))
    )
    stamp = etree.fromstring(ask(instance, "verb=Identify")).findtext(
        ".//o:responseDate", namespaces=NS
    )
    svc = PublicationService(instance)
    with instance.db.write() as s:
        svc.unpublish(s, OP, [holdings.published[0]], reason="发现需控制的内容")
    with instance.db.write() as s:  # 开放标识 changed, not reconciled yet
        rec = s.get(Record, holdings.published[1])
        rec.open_status = "控制"
    doc = assert_valid(ask(instance, "verb=ListRecords&metadataPrefix=oai_dc", page_size=50))
    gone = ids(doc, deleted=True)
    assert len(gone) == 2 and set(gone) <= set(before)
    for rec in doc.iterfind(".//o:record", NS):
        if rec.find("o:header", NS).get("status") == "deleted":
            assert rec.find("o:metadata", NS) is None
    assert "控制" not in "".join(t.text for t in doc.iterfind(".//dc:title", NS))
    # the unpublished one is in an incremental harvest from before the change
    inc = assert_valid(
        ask(instance, f"verb=ListIdentifiers&metadataPrefix=oai_dc&from={stamp}", page_size=50)
    )
    assert ids(inc, deleted=True) == [gone[0]] or set(ids(inc, deleted=True)) <= set(gone)
    assert len(ids(inc)) >= 1
    first = gone[0]
    doc = assert_valid(ask(instance, f"verb=GetRecord&identifier={first}&metadataPrefix=oai_dc"))
    assert doc.find(".//o:header", NS).get("status") == "deleted"


def test_http_get_post_and_anonymous(
    instance: Instance, holdings: Holdings, assert_valid: Any
) -> None:
    client = TestClient(create_app(instance))
    r = client.get("/oai", params={"verb": "Identify"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    assert_valid(r.content)
    r = client.post(
        "/oai",
        content="verb=ListIdentifiers&metadataPrefix=oai_dc",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and len(ids(assert_valid(r.content))) == 7
    assert client.get("/api/union/search").status_code == 401
