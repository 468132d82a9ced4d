"""The storage API (permissions, ledger, audits, alerts) and the ``lantai storage`` / ``lantai audit
fixity`` commands, over an instance with a local primary and a tar-volume replica."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lantai.cli.main import app as cli_app
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, default_registry
from lantai.security import Actor
from lantai.settings import Settings
from lantai.storage.replication import replicate
from lantai.storage.system import StorageSystem
from lantai.web.app import create_app
from web_support import PASSWORD, login

PID = "aip-api-1"


def _setup(inst: Instance) -> None:
    doc = {
        "version": 1,
        "locations": [
            {
                "name": "primary",
                "label": "主存储",
                "site": "本地",
                "medium": "disk",
                "primary": True,
                "backend": {"type": "local", "root": "storage", "create": True},
            },
            {
                "name": "offsite",
                "label": "异地磁盘",
                "site": "异地",
                "medium": "disk",
                "backend": {"type": "local", "root": "offsite", "create": True},
            },
        ],
        "required": ["primary", "offsite"],
    }
    cfg = inst.settings.resolved_config_dir
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "storage_policy.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    with StorageSystem(inst).store("primary").begin(PID) as w:
        w.put_bytes("data/a.txt", "甲".encode() * 1000)
        w.put_bytes("data/b.txt", b"b" * 5000)
        w.commit()


def _corrupt(inst: Instance, location: str, path: str) -> None:
    root = {"primary": "storage", "offsite": "offsite"}[location]
    f = inst.home / root / "packages" / PID[:2] / PID / path
    f.chmod(0o600)
    f.write_bytes(b"X" + f.read_bytes()[1:])


@pytest.fixture
def client(instance: Instance) -> Iterator[TestClient]:
    _setup(instance)
    with instance.db.write() as s:
        for name, role in (("archivist", "archivist"), ("reader", "reader")):
            instance.users.create(
                s,
                Actor.operator(),
                username=name,
                display_name=name,
                password=PASSWORD,
                roles=[role],
                clearance="公开",
            )
    with TestClient(create_app(instance), base_url="http://127.0.0.1") as c:
        yield c


def test_storage_api(client: TestClient, instance: Instance) -> None:
    login(client, "reader")
    assert client.get("/api/storage/locations").status_code == 403
    csrf = login(client, "archivist")
    r = client.get("/api/storage/locations")
    assert r.status_code == 200
    body = r.json()
    assert body["required"] == ["primary", "offsite"]
    assert [loc["level"] for loc in body["locations"]] == ["ok", "ok"]
    assert client.get(f"/api/storage/packages/{PID}").status_code == 404

    r = client.post(f"/api/storage/packages/{PID}/replicate", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 202
    runner = InProcessRunner(instance, default_registry())
    runner.run_until_idle()
    r = client.get(f"/api/storage/packages/{PID}")
    assert r.json()["policy_satisfied"] is True
    assert {c["location"]: c["state"] for c in r.json()["copies"]} == {
        "offsite": "present",
        "primary": "present",
    }

    _corrupt(instance, "offsite", "data/b.txt")
    r = client.post(
        "/api/storage/audits", json={"location": "offsite"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 202
    assert (
        client.post(
            "/api/storage/audits", json={"location": "nowhere"}, headers={"X-CSRF-Token": csrf}
        ).status_code
        == 404
    )
    runner.run_until_idle()
    (run,) = client.get("/api/storage/audits").json()["items"]
    assert (run["location"], run["failures"], run["repaired"]) == ("offsite", 1, 1)
    detail = client.get(f"/api/storage/audits/{run['id']}").json()
    assert detail["findings"][0]["key"] == f"{PID}/data/b.txt"
    # the alert was resolved by the repair; it is listed with ?all=true
    assert client.get("/api/storage/alerts").json()["items"] == []
    (alert,) = client.get("/api/storage/alerts", params={"all": True}).json()["items"]
    assert alert["kind_label"] == "固定性检测未通过" and alert["resolved_at"]


def test_resolve_alert_needs_reason_and_permission(client: TestClient, instance: Instance) -> None:
    replicate(instance, PID)
    _corrupt(instance, "primary", "data/a.txt")
    _corrupt(instance, "offsite", "data/a.txt")
    runner = InProcessRunner(instance, default_registry())
    csrf = login(client, "archivist")
    client.post("/api/storage/audits", json={"location": "primary"}, headers={"X-CSRF-Token": csrf})
    runner.run_until_idle()
    open_ = client.get("/api/storage/alerts").json()["items"]
    unrecoverable = [a for a in open_ if a["kind"] == "storage.unrecoverable"]
    assert len(unrecoverable) == 1 and unrecoverable[0]["severity"] == "critical"
    aid = unrecoverable[0]["id"]
    r = client.post(
        f"/api/storage/alerts/{aid}/resolve",
        json={"resolution": ""},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 422
    r = client.post(
        f"/api/storage/alerts/{aid}/resolve",
        json={"resolution": "已从光盘离线备份人工恢复"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200 and r.json()["resolved_by"] == "archivist"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LANTAI_HOME", str(home))
    monkeypatch.setenv("LANTAI_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("LANTAI_PASSWORD_MEMORY_KIB", "8192")
    monkeypatch.delenv("LANTAI_DATABASE_URL", raising=False)
    return home


def test_cli_storage_and_audit_fixity(home: Path) -> None:
    inst = Instance.initialise(Settings.load())
    _setup(inst)
    inst.close()
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        r = runner.invoke(cli_app, list(args))
        return r.exit_code, r.output

    code, out = invoke("storage", "status")
    assert code == 0 and PID in out
    code, out = invoke("storage", "replicate")
    assert code == 0 and f"{PID} → offsite" in out
    code, out = invoke("storage", "status", "--package", PID)
    assert code == 0 and "满足存储策略" in out and "尚未" not in out
    code, out = invoke("storage", "locations")
    assert code == 0 and "异地磁盘" in out
    inst = Instance.open(Settings.load())
    _corrupt(inst, "primary", "data/a.txt")
    inst.close()
    code, out = invoke("audit", "fixity", "--location", "primary")
    assert code == 0, out
    assert "问题 1，已修复 1，不可恢复 0" in out and "已从 offsite 修复" in out
    code, out = invoke("storage", "alerts")
    assert code == 0 and "没有未处理的存储告警" in out
    code, out = invoke("storage", "schedule")
    assert code == 0 and "新排定 3 个" in out
