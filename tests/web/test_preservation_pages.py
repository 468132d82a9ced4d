"""存储, 到期鉴定 and 备份 pages: rendered for the roles holding the permission, 403 otherwise;
alerts resolved with a reason, a fixity audit queued, a backup created and verified, and the
whole disposal flow (candidates → batch → two rounds → confirmed execution → 销毁清册) by form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import create_fonds
from ingest.builders import make_bag, sample_items
from lantai.ingest.service import Submission, submit
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, default_registry
from lantai.security import Actor
from lantai.storage.alerts import AlertKind, Severity, raise_alert
from lantai.store import Alert, DisposalBatch, Job, Record
from web_support import PASSWORD, login


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


@pytest.mark.parametrize(
    ("path", "allowed", "denied"),
    [
        ("/storage", ("archivist", "admin"), ("reader", "auditor", "secadmin")),
        ("/disposal", ("archivist",), ("reader", "admin", "auditor")),
        ("/backups", ("admin",), ("archivist", "reader", "auditor")),
    ],
)
def test_pages_render_for_permitted_roles_only(
    web_instance: Instance, path: str, allowed: tuple[str, ...], denied: tuple[str, ...]
) -> None:
    from lantai.web.app import create_app

    for user in allowed + denied:
        with TestClient(create_app(web_instance), base_url="http://127.0.0.1") as c:
            login(c, user)
            r = c.get(path)
            if user in allowed:
                assert r.status_code == 200, (user, r.text[:300])
                assert f'href="{path}"' in r.text  # the nav entry
                assert "<script>" not in r.text  # no inline scripts (CSP)
            else:
                assert r.status_code == 403, (user, path)
                assert f'href="{path}"' not in c.get("/api/docs").text


def test_storage_page_resolves_an_alert_and_queues_an_audit(
    client: TestClient, web_instance: Instance
) -> None:
    with web_instance.db.write() as s:
        alert = raise_alert(
            web_instance,
            s,
            actor="system:storage",
            kind=AlertKind.REPLICA_MISSING,
            severity=Severity.WARNING,
            location="tape",
            package_id="aip-x",
            message="信息包 aip-x 在存储位置「异质备份」的副本未能写入：磁带库离线",
        )
        alert_id = alert.id
    login(client, "archivist")
    page = client.get("/storage")
    assert page.status_code == 200
    assert "副本缺失" in page.text and "磁带库离线" in page.text
    token = _csrf(page.text)
    r = client.post(f"/storage/alerts/{alert_id}/resolve", data={"csrf_token": token})
    assert r.status_code == 400 and "处理说明" in r.text
    r = client.post(
        f"/storage/alerts/{alert_id}/resolve",
        data={"csrf_token": token, "resolution": "已扩容磁盘"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with web_instance.db.read() as s:
        row = s.get(Alert, alert_id)
        assert row is not None and row.resolved_by == "archivist"
        assert row.resolution == "已扩容磁盘"
    r = client.post(
        "/storage/audits", data={"csrf_token": token, "location": "primary"}, follow_redirects=False
    )
    assert r.status_code == 303
    with web_instance.db.read() as s:
        jobs = s.scalars(select(Job).where(Job.kind == "storage.fixity")).all()
    assert any(
        j.params.get("location") == "primary" and not j.params.get("scheduled") for j in jobs
    )
    assert "没有未处理的告警" in client.get("/storage").text
    assert "信息包「nope」" in client.get("/storage?package=nope").text


def test_backup_page_creates_and_verifies(
    client: TestClient, web_instance: Instance, tmp_path: Path
) -> None:
    login(client, "admin")
    token = _csrf(client.get("/backups").text)
    r = client.post("/backups", data={"csrf_token": token, "dest": "relative/x"})
    assert r.status_code == 400 and "绝对路径" in r.text
    r = client.post(
        "/backups",
        data={"csrf_token": token, "dest": str(tmp_path / "backups")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    page = client.get("/backups?done=created")
    assert "备份已创建" in page.text and "尚未检测" in page.text
    uid = re.search(r'data-backup="([^"]+)"', page.text)
    assert uid
    r = client.post(
        f"/backups/{uid.group(1)}/verify", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "通过（admin）" in client.get("/backups").text


def test_disposal_flow_through_the_pages(
    client: TestClient, web_instance: Instance, tmp_path: Path
) -> None:
    inst = web_instance
    op = Actor.operator()
    with inst.db.write() as s:
        inst.users.create(
            s,
            op,
            username="leader",
            display_name="馆领导",
            password=PASSWORD,
            roles=("leader",),
            clearance="机密",
        )
    create_fonds(inst, op, code="Z109")
    items = sample_items(2, year=2011)
    for n, item in enumerate(items, 1):
        item.values["retention"] = "D10"
        item.values["archival_code"] = f"Z109-WS·2011-D10-BGS-{n:04d}"
        item.values["item_no"] = n
    with inst.db.write() as s:
        submit(
            inst,
            s,
            op,
            Submission(source=make_bag(tmp_path, items), fonds_code="Z109", category="WS"),
        )
    InProcessRunner(inst, default_registry()).run_until_idle()
    with inst.db.read() as s:
        ids = [
            i
            for (i,) in s.execute(
                select(Record.id).where(Record.level == "item").order_by(Record.id)
            )
        ]

    login(client, "archivist")
    page = client.get("/disposal")
    assert "Z109-WS·2011-D10-BGS-0001" in page.text and "到期待鉴定（2）" in page.text
    token = _csrf(page.text)
    r = client.post(
        "/disposal/batches",
        data={"csrf_token": token, "title": "2011年到期鉴定", "record_id": [str(i) for i in ids]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    url = r.headers["location"]
    uid = url.rsplit("/", 1)[1]
    page = client.get(url)
    assert "提交第 1 轮" in page.text
    r = client.post(  # a reason is required
        f"/disposal/{uid}/rounds/1",
        data={"csrf_token": token, "record_id": [str(i) for i in ids], "bulk": "destroy"},
    )
    assert r.status_code == 400 and "鉴定理由" in r.text
    r = client.post(
        f"/disposal/{uid}/rounds/1",
        data={
            "csrf_token": token,
            "record_id": [str(i) for i in ids],
            f"decision_{ids[0]}": "destroy",
            f"decision_{ids[1]}": "extend",
            f"retention_{ids[1]}": "D30",
            "reason": "经鉴定",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    # the approval round belongs to the leader; the archivist cannot take it
    page = client.get(url)
    assert "提交第 2 轮" in page.text and "execute-button" not in page.text
    r = client.post(
        f"/disposal/{uid}/rounds/2",
        data={
            "csrf_token": token,
            "record_id": [str(i) for i in ids],
            "bulk": "destroy",
            "reason": "x",
        },
    )
    assert r.status_code == 403

    with TestClient(client.app, base_url="http://127.0.0.1") as leader:
        ltoken = login(leader, "leader")
        del ltoken
        lpage = leader.get(url)
        assert lpage.status_code == 200
        r = leader.post(
            f"/disposal/{uid}/rounds/2",
            data={
                "csrf_token": _csrf(lpage.text),
                "record_id": [str(i) for i in ids],
                f"decision_{ids[0]}": "destroy",
                f"decision_{ids[1]}": "extend",
                f"retention_{ids[1]}": "D30",
                "reason": "同意",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text[:500]

    page = client.get(url)
    assert "execute-button" in page.text
    r = client.post(f"/disposal/{uid}/execute", data={"csrf_token": token})
    assert r.status_code == 400 and "确认" in r.text
    r = client.post(
        f"/disposal/{uid}/execute",
        data={"csrf_token": token, "confirm": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(url)
    assert "销毁 1 件" in page.text and "register-xlsx" in page.text
    xlsx = client.get(f"/api/disposal/batches/{uid}/register.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    with inst.db.read() as s:
        batch = s.scalar(select(DisposalBatch).where(DisposalBatch.uid == uid))
        assert batch is not None and batch.state == "executed"
