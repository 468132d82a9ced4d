"""到期鉴定与销毁: expiry candidates, review rounds, extension vs destruction, the 销毁清册,
and no other way to delete preserved content (API refuses with an audit event; the CLI has none)."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from factories import create_fonds
from ingest.builders import make_bag, sample_items
from lantai.disposal import Decision, create_batch, decide, execute, find_expired
from lantai.errors import NotFound, PermissionDenied, ValidationFailed
from lantai.ingest.service import Submission, submit
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, default_registry
from lantai.security import Actor, Perm
from lantai.storage import open_store
from lantai.store import DisposalBatch, Event, Record, RecordFile, RecordText
from search_support import make_kit

AS_OF = date(2026, 11, 21)
REVIEW = frozenset({Perm.DISPOSAL_REVIEW, Perm.DISPOSAL_READ, Perm.CATALOGUE_RECORD_READ})
CHEN = Actor(
    username="chen", display_name="陈工", user_id=11, permissions=REVIEW | {Perm.DISPOSAL_APPROVE}
)
WANG = Actor(
    username="wang",
    display_name="王馆长",
    user_id=12,
    permissions=frozenset({Perm.DISPOSAL_APPROVE}),
)
EXEC = Actor(
    username="li", display_name="李工", user_id=13, permissions=frozenset({Perm.DISPOSAL_EXECUTE})
)


def _items() -> list:  # type: ignore[type-arg]
    """2011: two D10 (expired in 2021), one D30 (2041), one 永久."""
    items = sample_items(4, year=2011)
    for item, ret, no in zip(items, ("D10", "D10", "D30", "Y"), (1, 2, 1, 1), strict=True):
        item.values["retention"] = ret
        item.values["archival_code"] = f"Z109-WS·2011-{ret}-BGS-{no:04d}"
        item.values["item_no"] = no
    return items


@pytest.fixture
def ingested(instance: Instance, tmp_path: Path) -> dict[str, int]:
    op = Actor.operator()
    create_fonds(instance, op, code="Z109")
    with instance.db.write() as s:
        submit(
            instance,
            s,
            op,
            Submission(source=make_bag(tmp_path, _items()), fonds_code="Z109", category="WS"),
        )
    InProcessRunner(instance, default_registry()).run_until_idle()
    with instance.db.read() as s:
        rows = s.execute(
            select(Record.archival_code, Record.id).where(Record.level == "item")
        ).all()
    ids = {code: rid for code, rid in rows}
    assert len(ids) == 4, ids
    return ids


def _decide_all(inst: Instance, uid: str, ids: dict[str, int]) -> None:
    d10a, d10b = ids["Z109-WS·2011-D10-BGS-0001"], ids["Z109-WS·2011-D10-BGS-0002"]
    with inst.db.write() as s:
        decide(
            inst,
            s,
            CHEN,
            uid,
            1,
            [
                Decision(d10a, "destroy", "已无查考利用价值"),
                Decision(d10b, "extend", "涉及产权，仍有查考价值", "D30"),
            ],
        )
    with inst.db.write() as s:
        decide(
            inst,
            s,
            WANG,
            uid,
            2,
            [
                Decision(d10a, "destroy", "同意销毁"),
                Decision(d10b, "extend", "同意延长至30年", "D30"),
            ],
        )


def test_expired_records_are_candidates_and_permanent_ones_never(
    instance: Instance, ingested: dict[str, int]
) -> None:
    with instance.db.read() as s:
        found = find_expired(s, instance.domain.table("retention"), as_of=AS_OF)
        assert sorted(e.archival_code or "" for e in found) == [
            "Z109-WS·2011-D10-BGS-0001",
            "Z109-WS·2011-D10-BGS-0002",
        ]
        assert {e.expiry_year for e in found} == {2021}
        # 2020: 2011 + 10 > 2020, nothing; 2041: the D30 one too; 永久 never
        assert find_expired(s, instance.domain.table("retention"), as_of=date(2020, 1, 1)) == []
        later = find_expired(s, instance.domain.table("retention"), as_of=date(2041, 1, 1))
        assert len(later) == 3


def test_rounds_extension_destruction_and_register(
    instance: Instance, ingested: dict[str, int]
) -> None:
    kit = make_kit(instance)
    kit.sync()
    store = open_store(instance.settings)
    d10a, d10b = ids = ingested["Z109-WS·2011-D10-BGS-0001"], ingested["Z109-WS·2011-D10-BGS-0002"]
    assert d10a in kit.ids("")
    with instance.db.read() as s:
        files_a = s.execute(
            select(RecordFile.aip_id, RecordFile.path).where(RecordFile.record_id == d10a)
        ).all()
        files_b = s.execute(
            select(RecordFile.aip_id, RecordFile.path).where(RecordFile.record_id == d10b)
        ).all()
    assert files_a and files_b

    with instance.db.write() as s, pytest.raises(ValidationFailed):  # a 永久 record: not expired
        create_batch(
            instance,
            s,
            CHEN,
            title="x",
            record_ids=[ingested["Z109-WS·2011-Y-BGS-0001"]],
            as_of=AS_OF,
        )
    with instance.db.write() as s:
        batch = create_batch(
            instance, s, CHEN, title="2011年文书档案到期鉴定", record_ids=list(ids), as_of=AS_OF
        )
        uid = batch.uid
    with instance.db.read() as s:  # items of an open batch are not listed again
        assert find_expired(s, instance.domain.table("retention"), as_of=AS_OF) == []

    with instance.db.write() as s, pytest.raises(ValidationFailed, match="上一轮"):
        decide(instance, s, WANG, uid, 2, [Decision(d10a, "destroy", "同意")])
    with instance.db.write() as s, pytest.raises(PermissionDenied):
        decide(instance, s, WANG, uid, 1, [Decision(d10a, "destroy", "x")])  # no review perm
    with instance.db.write() as s, pytest.raises(ValidationFailed) as bad:
        decide(instance, s, CHEN, uid, 1, [Decision(d10b, "extend", "x", "D10")])
    assert bad.value.problems[0].field == "新保管期限"
    with instance.db.write() as s:
        decide(
            instance,
            s,
            CHEN,
            uid,
            1,
            [
                Decision(d10a, "destroy", "已无查考利用价值"),
                Decision(d10b, "extend", "涉及产权，仍有查考价值", "D30"),
            ],
        )
    with pytest.raises(ValidationFailed, match="最后一轮"):
        execute(instance, EXEC, uid)
    with instance.db.write() as s, pytest.raises(ValidationFailed) as same:
        decide(instance, s, CHEN, uid, 2, [Decision(d10a, "destroy", "同意")])  # same person
    assert same.value.problems[0].rule == "鉴定与审批分离"
    with instance.db.write() as s:
        decide(
            instance,
            s,
            WANG,
            uid,
            2,
            [
                Decision(d10a, "destroy", "同意销毁"),
                Decision(d10b, "extend", "同意延长至30年", "D30"),
            ],
        )
    summary = execute(instance, EXEC, uid)
    assert (summary["destroyed"], summary["extended"], summary["files"]) == (1, 1, len(files_a))

    with instance.db.read() as s:
        a, b = s.get(Record, d10a), s.get(Record, d10b)
        assert a is not None and b is not None
        assert a.lifecycle == "destroyed" and b.lifecycle == "active"
        assert a.title.startswith("关于2011年") and a.archival_code == "Z109-WS·2011-D10-BGS-0001"
        assert s.scalar(
            select(func.count()).select_from(RecordFile).where(RecordFile.record_id == d10a)
        ) == len(files_a)
        assert (
            s.scalar(
                select(func.count()).select_from(RecordText).where(RecordText.record_id == d10a)
            )
            == 0
        )
        assert instance.audit.verify(s).ok
        actions = set(s.scalars(select(Event.action).where(Event.seq > 0)))
        batch_row = s.scalar(select(DisposalBatch).where(DisposalBatch.uid == uid))
    assert {
        "catalogue:record:destroyed",
        "storage:objects:destroyed",
        "disposal:retention:extended",
        "disposal:batch:executed",
    } <= actions
    for aip, path in files_a:  # gone from the store and from the disk
        assert not store.exists(f"{aip}/{path}")
        assert not list(instance.settings.storage_dir.glob(f"packages/*/{aip}/{path}"))
    for aip, path in files_b:
        assert store.exists(f"{aip}/{path}")
    with pytest.raises(NotFound), instance.db.read() as s:  # staff views drop it
        instance.catalogue.get(s, Actor.operator(), d10a)
    kit.sync()
    assert d10a not in kit.ids("") and d10b in kit.ids("")

    # the extension holds: not expired in 2026, expired when 2011 + 30 has come
    with instance.db.read() as s:
        assert find_expired(s, instance.domain.table("retention"), as_of=AS_OF) == []
        later = {
            e.record_id: e
            for e in find_expired(s, instance.domain.table("retention"), as_of=date(2041, 1, 1))
        }
    assert later[d10b].retention == "D30" and d10a not in later

    # the 销毁清册 lists exactly the destroyed item, in XLSX and PDF, kept in the store
    assert batch_row is not None and batch_row.register_package
    with store.open(f"{batch_row.register_package}/销毁清册.xlsx") as f:
        ws = load_workbook(io.BytesIO(f.read())).active
    rows = [r for r in ws.iter_rows(min_row=4, values_only=True) if r and isinstance(r[0], int)]
    assert [(r[1], r[7], r[8]) for r in rows] == [("Z109-WS·2011-D10-BGS-0001", "同意销毁", "wang")]
    with store.open(f"{batch_row.register_package}/销毁清册.pdf") as f:
        assert f.read(5) == b"%PDF-"
    with pytest.raises(Exception, match="已执行"):
        execute(instance, EXEC, uid)


def test_destroy_objects_refuses_without_approval(
    instance: Instance, ingested: dict[str, int]
) -> None:
    from lantai.disposal.destroy import DisposalAuthorisation, authorise, destroy_objects

    d10a = ingested["Z109-WS·2011-D10-BGS-0001"]
    with instance.db.write() as s:
        batch = create_batch(instance, s, CHEN, title="t", record_ids=[d10a], as_of=AS_OF)
        decide(instance, s, CHEN, batch.uid, 1, [Decision(d10a, "destroy", "无价值")])
        item_id = s.scalar(select(func.min(RecordFile.id)))
    with instance.db.read() as s:
        from lantai.store import DisposalItem

        item = s.scalar(select(DisposalItem).where(DisposalItem.record_id == d10a))
        assert item is not None
        with pytest.raises(PermissionDenied, match="最后一轮审批"):
            authorise(s, item.id)
        forged = DisposalAuthorisation(
            batch_uid=batch.uid,
            item_id=item.id,
            record_id=d10a,
            approved_by="x",
            approved_at="",
            destroyed_at="2026-11-21T00:00:00+00:00",
        )
        with pytest.raises(PermissionDenied):
            destroy_objects(instance, s, forged, [("a", "b")], actor="x")
        # the store itself accepts nothing but a DestructionOrder
        store = open_store(instance.settings)
        pid = next(iter(store.packages()))
        with pytest.raises(PermissionDenied):
            store.destroy_objects(pid, ["data/x"], authorisation=object())  # type: ignore[arg-type]
    assert item_id is not None


def test_withdraw_keeps_the_files(instance: Instance, ingested: dict[str, int]) -> None:
    rid = ingested["Z109-WS·2011-Y-BGS-0001"]
    with instance.db.write() as s:
        instance.catalogue.withdraw(s, Actor.operator(), rid, reason="著录错误")
    store = open_store(instance.settings)
    with instance.db.read() as s:
        keys = [
            f"{a}/{p}"
            for a, p in s.execute(
                select(RecordFile.aip_id, RecordFile.path).where(RecordFile.record_id == rid)
            )
        ]
    assert keys and all(store.exists(k) for k in keys)
    assert not hasattr(store, "delete")


def test_api_refuses_deletion_with_an_audit_event_and_the_cli_has_no_delete(
    web_instance: Instance, client: object
) -> None:
    from fastapi.testclient import TestClient
    from typer.main import get_command

    from lantai.cli.main import app
    from lantai.web.app import ROUTERS
    from web_support import login

    assert isinstance(client, TestClient)
    op = Actor.operator()
    fonds = create_fonds(web_instance, op, code="Z109")
    csrf = login(client, "archivist")
    for url in (f"/api/records/{fonds.id}", f"/api/records/{fonds.id}/files"):
        r = client.delete(url, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 403, r.text
        assert "只能经到期鉴定审批后销毁" in r.json()["error"]
    with web_instance.db.read() as s:
        refused = s.scalars(
            select(Event.actor).where(Event.action == "storage:delete:refused")
        ).all()
        assert refused == ["archivist", "archivist"]
        assert s.get(Record, fonds.id) is not None
    # every DELETE route of the API is one of these refusals
    deletes = {
        route.path  # type: ignore[attr-defined]
        for router in ROUTERS
        for route in router.routes
        if "DELETE" in getattr(route, "methods", set())
    }
    assert deletes <= {
        "/api/records/{record_id}",
        "/api/records/{record_id}/files",
        "/api/auth/session",
        "/api/auth/logout",
    }, deletes

    def names(cmd: object, prefix: str = "") -> list[str]:
        sub = getattr(cmd, "commands", {})
        out = [prefix.strip()]
        for name, c in sub.items():
            out += names(c, f"{prefix} {name}")
        return out

    words = {w for n in names(get_command(app)) for w in n.split()}
    assert not words & {"delete", "remove", "rm", "purge", "destroy", "drop", "erase"}
