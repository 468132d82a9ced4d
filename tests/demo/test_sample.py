"""``lantai demo load``: idempotent, real seed texts kept as they are, users that can log in."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from lantai.archival import Level
from lantai.demo.sample import (
    DemoSummary,
    estimate_pages,
    load_demo,
    load_sample_data,
    seed_names,
    seed_text,
)
from lantai.errors import AuthenticationRequired, NotFound
from lantai.instance import Instance
from lantai.security.passwords import check_policy
from lantai.store import CodeCounter, Event, Record, RecordClosure, RecordText, User, UserRole

SEEDS = Path(__file__).parents[2] / "src" / "lantai" / "demo" / "seeds"

# 全宗号-门类·年度-保管期限-件号 (DA/T 22-2015, no 机构（问题）code), in date order.
EXPECTED_CODES = {
    "002_7c899f40747d4e6f.txt": "J001-WS·2010-D30-0001",
    "004_f37af430c5dd162e.txt": "J001-WS·2019-D10-0001",
    "000_fedd905e1e341066.txt": "J001-WS·2022-Y-0001",
    "001_c9d84257f07b9ea0.txt": "J001-WS·2022-D10-0001",
    "003_17242a030d047e50.txt": "J001-WS·2023-D10-0001",
}


@pytest.fixture
def loaded(instance: Instance) -> tuple[Instance, DemoSummary]:
    return instance, load_demo(instance)


def _counts(inst: Instance) -> dict[str, int]:
    with inst.db.read() as s:
        return {
            model.__tablename__: s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Record, RecordClosure, CodeCounter, User, UserRole, Event)
        }


def test_loading_twice_duplicates_nothing(any_instance: Instance) -> None:
    first = load_demo(any_instance)
    after_first = _counts(any_instance)
    second = load_demo(any_instance)
    assert _counts(any_instance) == after_first
    assert first.created_users == 5 and second.created_users == 0
    assert first.created_records > 200 and second.created_records == 0
    assert first.generated_records == 200 and second.generated_records == 0
    assert first.published_records > 0 and second.published_records == 0
    assert second.fonds_ids == first.fonds_ids
    with any_instance.db.read() as s:
        codes = s.scalars(select(Record.archival_code).where(Record.archival_code.is_not(None)))
        all_codes = list(codes)
        assert len(all_codes) == len(set(all_codes))
        assert any_instance.audit.verify(s).ok


def test_seed_items_catalogued_with_dat22_codes(loaded: tuple[Instance, DemoSummary]) -> None:
    inst, summary = loaded
    data = load_sample_data()
    rule = inst.domain.codes.rule_for(
        fonds_code="J001", category="WS", level=Level.ITEM, parent_level=Level.SERIES
    )
    assert rule is not None and rule.id == "dat22-ws-item"
    with inst.db.read() as s:
        items = s.scalars(
            select(Record).where(
                Record.fonds_id == summary.fonds_ids["J001"], Record.level == Level.ITEM.value
            )
        ).all()
        assert len(items) == 5
        by_seed = {}
        for doc in data.reference_fonds.documents:
            (rec,) = [r for r in items if r.title == doc.values["title"]]
            by_seed[doc.seed] = rec
            assert rec.archival_code == EXPECTED_CODES[doc.seed]
            values = {**rec.values(), "fonds_code": "J001", "category": "WS"}
            assert rule.check(rec.archival_code, values) == []
            assert rec.responsible == doc.values["responsible"]
            assert rec.date == doc.values["date"]
            assert rec.fields["doc_type"] == doc.values["doc_type"]
            (text,) = s.scalars(select(RecordText).where(RecordText.record_id == rec.id))
            assert (text.part, text.source) == (doc.seed, "seed")
            assert text.text == seed_text(doc.seed)
            assert rec.open_status == "未审核" and rec.security_level == "公开"
            assert rec.pages == estimate_pages(seed_text(doc.seed), 616)
            parent = s.get(Record, rec.parent_id)
            assert parent is not None and parent.level == "series"
            assert parent.title == f"{rec.year}年文书档案"
        scheme = inst.domain.scheme_for("WS")
        for rec in items:
            assert scheme.validate(Level.ITEM, rec.values(), today=inst.catalogue.today()) == []
    assert {r.responsible for r in by_seed.values()} == {
        "国家档案局",
        "宝鸡市档案局(馆)",
        "江西省档案局",
        "绵阳市档案馆",
        "上海市档案局(馆)",
    }
    assert by_seed["000_fedd905e1e341066.txt"].date == "20220225"
    assert by_seed["004_f37af430c5dd162e.txt"].date == "20191205"
    # Inferred dates are written in [ ] and explained.
    assert by_seed["002_7c899f40747d4e6f.txt"].date == "[20100101]"
    assert "考证" in by_seed["002_7c899f40747d4e6f.txt"].fields["notes"]


def test_seed_texts_are_kept_as_they_are() -> None:
    assert seed_names() == sorted(p.name for p in SEEDS.glob("*.txt"))
    for name in seed_names():
        assert seed_text(name) == (SEEDS / name).read_bytes().decode("utf-8")
    spam, _, rest = seed_text("000_fedd905e1e341066.txt").partition("\n")
    assert "视频" in spam  # the web spam picked up when scraped is still the first line
    assert "陸國強局長在全國檔案局長館長會議上的報告" in rest  # traditional characters kept
    assert "寶雞市委副秘書長(zhǎng)" in seed_text("001_c9d84257f07b9ea0.txt")  # pinyin glosses kept
    assert "鄱阳湖生态经济区" in seed_text("002_7c899f40747d4e6f.txt")


@pytest.mark.parametrize("name", ["../seeds.yaml", "999.txt", "/etc/passwd"])
def test_unknown_seed_names_are_refused(name: str) -> None:
    with pytest.raises(NotFound):
        seed_text(name)


def test_demo_users_can_log_in(loaded: tuple[Instance, DemoSummary]) -> None:
    inst, summary = loaded
    roles = {login.username: login.role for login in summary.logins}
    assert roles == {
        "admin": "sysadmin",
        "secadmin": "secadmin",
        "auditor": "auditor",
        "archivist": "archivist",
        "reader": "reader",
    }
    with inst.db.write() as s:
        for login in summary.logins:
            check_policy(login.password, username=login.username)
            user = inst.users.authenticate(s, login.username, login.password)
            actor = inst.users.actor_for(s, user)
            assert actor.roles == frozenset({login.role})
            assert actor.clearance == login.clearance
    clearances = {login.username: login.clearance for login in summary.logins}
    assert clearances["archivist"] == "机密" and clearances["reader"] == "公开"
    with pytest.raises(AuthenticationRequired), inst.db.write() as s:
        inst.users.authenticate(s, "reader", "wrong-Password-1")


def test_office_fonds_has_depth(loaded: tuple[Instance, DemoSummary]) -> None:
    inst, summary = loaded
    from lantai.security import Actor

    actor = Actor.operator()
    fonds_id = summary.fonds_ids["Z109"]
    with inst.db.read() as s:
        top = inst.catalogue.children(s, actor, fonds_id).items
        titles = [r.title for r in top]
        # The generated 文书档案 reach back more than 25 years (the demo portal has 开放 records).
        assert titles == ["政协提案办理", *(f"{y}年文书档案" for y in range(1990, 2026))]
        files = inst.catalogue.children(s, actor, top[0].id).items
        assert [f.archival_code for f in files] == [
            "Z109-ZY·TA·2023·D30-001",
            "Z109-ZY·TA·2023·D30-002",
            "Z109-ZY·TA·2023·D30-003",
        ]
        inner = inst.catalogue.children(s, actor, files[0].id).items
        assert [r.archival_code for r in inner] == [
            f"Z109-ZY·TA·2023·D30-001-00{i}" for i in range(1, 5)
        ]
        assert [a.id for a in inst.catalogue.ancestors(s, inner[0].id)] == [
            fonds_id,
            top[0].id,
            files[0].id,
        ]
        generated = sum(inst.catalogue.children(s, actor, r.id).total for r in top[1:])
        assert generated == 200


def test_cli_load_initialises_a_new_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lantai.cli.main import app

    home = tmp_path / "never-initialised"
    monkeypatch.setenv("LANTAI_HOME", str(home))
    monkeypatch.delenv("LANTAI_DATABASE_URL", raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8000" in result.output
    assert "Lantai-demo-2026" in result.output
    assert (home / "lantai.db").exists()
    again = runner.invoke(app, ["demo", "load"])
    assert again.exit_code == 0, again.output
    assert "本次新建 0 个条目" in again.output


def test_old_open_records_are_published_and_found_by_the_public(
    loaded: tuple[Instance, DemoSummary],
) -> None:
    """Items older than 25 years that are 开放 reach the portal through 上网审查; 控制 and 未审核
    never do, and an anonymous visitor finds exactly the published ones."""
    from fastapi.testclient import TestClient

    from lantai.store import PublicationBatch, PublishedRecord
    from search_support import running_search, search_app

    inst, summary = loaded
    today = inst.catalogue.today()
    with inst.db.read() as s:
        items = s.execute(
            select(Record.id, Record.title, Record.year, Record.open_status).where(
                Record.level == Level.ITEM.value
            )
        ).all()
        published = set(
            s.scalars(select(PublishedRecord.record_id).where(PublishedRecord.state == "published"))
        )
        batches = s.scalars(select(PublicationBatch)).all()
    status = {rid: st for rid, _, _, st in items}
    opened = {rid for rid, _, _, st in items if st == "开放"}
    controlled = {rid for rid, _, _, st in items if st == "控制"}
    assert len(opened) >= 10 and controlled
    assert summary.published_records == len(published) == len(opened)
    assert published == opened  # (a) every 开放 item is published, and only those
    assert not published & controlled  # (c) no 控制 record is published
    assert {status[rid] for rid in published} == {"开放"}
    assert all(year and today.year - year >= 25 for rid, _, year, _ in items if rid in opened)
    # published through the 上网审查 service: an approved batch per 全宗 (here only Z109)
    assert [b.title for b in batches] == ["Z109 开放档案上网公布"]

    # (b) an anonymous visitor: the public search API and the portal find them, nothing else
    app = search_app(inst)
    with TestClient(app, base_url="http://127.0.0.1") as client, running_search(app, inst):
        res = client.get("/api/public/search", params={"q": "", "size": 100}).json()
        assert res["total"] == len(opened)
        assert {h["id"] for h in res["hits"]} == opened
        rid, title = next((rid, t) for rid, t, _, st in items if rid in opened)
        res = client.get("/api/public/search", params={"q": title, "size": 100}).json()
        found = {h["id"] for h in res["hits"]}
        assert rid in found and found <= opened
        for rid2, title2, _, _ in items:
            if rid2 in controlled:
                res = client.get("/api/public/search", params={"q": title2, "size": 100}).json()
                assert rid2 not in {h["id"] for h in res["hits"]}
        page = client.get("/portal/search", params={"q": title})
        assert page.status_code == 200 and title in page.text
        assert f"/portal/records/{rid}" in page.text
        record = client.get(f"/portal/records/{rid}")
        assert record.status_code == 200 and title in record.text
        hidden = next(iter(controlled))
        assert client.get(f"/portal/records/{hidden}").status_code == 404
