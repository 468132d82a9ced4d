"""OAI fixtures: a fonds with published, 开放-unpublished, 控制 and 未审核 items; the XSD checker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from factories import create_fonds, create_series, item_values
from lantai.appraisal.publication import PublicationService
from lantai.archival import Level
from lantai.instance import Instance
from lantai.security import Actor

OP = Actor.operator()


@dataclass
class Holdings:
    fonds_code: str
    published: list[int]
    open_unpublished: int
    controlled: int
    unreviewed: int


def add_item(inst: Instance, parent: int, **values: Any) -> int:
    with inst.db.write() as s:
        return inst.catalogue.create_record(
            s, OP, parent_id=parent, level=Level.ITEM, values=item_values(**values)
        ).id


def publish(inst: Instance, ids: list[int]) -> None:
    svc = PublicationService(inst)
    with inst.db.write() as s:
        batch = svc.create_batch(s, OP, title="上网目录", record_ids=ids)
        svc.decide(s, OP, batch.id, "approve", reason="经上网保密审查，同意公布")


def make_holdings(inst: Instance, n_published: int = 7) -> Holdings:
    f = create_fonds(inst, OP)
    series = create_series(inst, OP, f.id, "文书档案")
    pub = [
        add_item(inst, series.id, title=f"关于青铜鼎出土情况的报告之{i}", open_status="开放")
        for i in range(n_published)
    ]
    hidden = add_item(inst, series.id, title="开放未公布的通知", open_status="开放")
    ctrl = add_item(inst, series.id, title="控制使用的请示", open_status="控制")
    unrev = add_item(inst, series.id, title="未审核的批复")
    if pub:
        publish(inst, pub)
    return Holdings(f.archival_code or "", pub, hidden, ctrl, unrev)


@pytest.fixture
def holdings(instance: Instance) -> Holdings:
    return make_holdings(instance)


class _FixtureSchemas(etree.Resolver):
    def __init__(self, root: Path) -> None:
        super().__init__()
        cat = etree.parse(str(root / "catalog.xml"))
        ns = "{urn:oasis:names:tc:entity:xmlns:xml:catalog}"
        self.map = {e.get("systemId"): root / e.get("uri") for e in cat.iter(f"{ns}system")}

    def resolve(self, url: str | None, pubid: str | None, context: Any) -> Any:
        local = self.map.get(url or "")
        return self.resolve_filename(str(local), context) if local else None


@pytest.fixture(scope="session")
def oai_schema(fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> etree.XMLSchema:
    """OAI-PMH.xsd + oai_dc.xsd + EAD3 from ../shared/fixtures/schemas: metadata checked strictly."""
    root = fixtures_dir / "schemas"
    driver = tmp_path_factory.mktemp("xsd") / "driver.xsd"
    driver.write_text(
        f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x-lantai:oai">
  <xs:import namespace="http://www.openarchives.org/OAI/2.0/" schemaLocation="{root}/oai-pmh/OAI-PMH.xsd"/>
  <xs:import namespace="http://www.openarchives.org/OAI/2.0/oai_dc/" schemaLocation="{root}/oai-pmh/oai_dc.xsd"/>
  <xs:import namespace="http://ead3.archivists.org/schema/" schemaLocation="{root}/ead3/ead3.xsd"/>
</xs:schema>""",
        encoding="utf-8",
    )
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_FixtureSchemas(root))
    return etree.XMLSchema(etree.parse(str(driver), parser))


@pytest.fixture
def assert_valid(oai_schema: etree.XMLSchema) -> Iterator[Any]:
    def check(xml: bytes) -> etree._Element:
        doc = etree.fromstring(xml)
        ok = oai_schema.validate(doc)
        assert ok, "\n".join(str(e) for e in oai_schema.error_log)
        return doc

    yield check
