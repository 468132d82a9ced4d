"""Three real nodes: `lantai serve` processes on loopback, set up with the CLI, one killed mid-flow.

受理馆 310001 (A), 出证馆 330001 (B), a third partner 320001 (C). Each node is set up with the
CLI (`lantai init`, `lantai node init`, users, B's holdings by `lantai import`); partners are
registered over the HTTP API (系统管理员 registers, 安全保密员 trusts the fingerprints; the CLI
path, `lantai node add-partner` / `lantai node trust`, is test_federated_search.py's). A citizen applies at A; A forwards while B is
down (kill -9): A's outbox keeps the message and delivers it once B is back; B issues a
certificate and A is killed before it arrives: B's outbox delivers after A restarts. The
certificate verifies at both ends; the citizen downloads it at A. The outboxes are watched over
the HTTP API (``GET /api/federation/outbox``); message back-off is shortened in each node's
federation.yaml (0.5 s … 1.5 s) so retries happen within the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from federation.conftest import APPLICANT_ID
from federation.nodes import PW, Node, free_port, parallel, start_all, wait_for

pytestmark: Any = pytest.mark.timeout(240) if hasattr(pytest.mark, "timeout") else []
SPECS = [("310001", "上海市档案馆"), ("330001", "杭州市档案馆"), ("320001", "南京市档案馆")]


def _user(name: str, display: str, role: str) -> list[str]:
    return ["users", "create", name, "--name", display, "--role", role, "--password", PW]


def _setup(node: Node, extra: list[list[str]]) -> None:
    node.fast_retries()
    node.batch(
        [
            ["init", "--archive-code", node.code, "--archive-name", node.name],
            ["node", "init", "--url", node.url],
            _user("clerk", "办事员", "archivist"),
            _user("admin", "系统管理员", "sysadmin"),
            _user("baomi", "安全保密员", "secadmin"),
            *extra,
        ]
    )


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[dict[str, Node]]:
    out = {code: Node(code, name, tmp_path / code, free_port()) for code, name in SPECS}
    sheet = tmp_path / "婚姻登记.csv"
    sheet.write_text(
        "题名,责任者,日期,保管期限,机构（问题）\n"
        f"张建国（{APPLICANT_ID}）与李梅结婚登记,杭州市民政局,19880612,永久,BGS\n"
        "关于1988年婚姻登记工作的通知,杭州市民政局,19880301,永久,BGS\n",
        encoding="utf-8",
    )
    fonds = ["--name", "杭州市民政局", "--unit", "杭州市民政局", "--dates", "1980-1990"]
    holdings = [
        ["fonds", "create", "M001", *fonds, "--history", "2000年进馆"],
        ["import", str(sheet), "--fonds", "M001", "--category", "WS"],
    ]
    try:
        parallel(lambda n: _setup(n, holdings if n.code == "330001" else []), out.values())
        start_all(out.values())
        a = out["310001"]
        for n in out.values():
            for user in ("clerk", "admin", "baomi"):
                n.login(user)
        # each node: the 系统管理员 registers the partner (address; code, name and keys from its
        # node document), the 安全保密员 trusts the fingerprints compared with the partner's own
        links = [(a, out["330001"]), (a, out["320001"]), (out["330001"], a), (out["320001"], a)]
        parallel(lambda pair: _link(*pair), links)
        listed = {
            p["archive_code"] for p in a.call("GET", "/api/federation/partners", "admin").json()
        }
        assert listed == {"330001", "320001"}
        yield out
    finally:
        for node in out.values():
            node.stop()


def _link(node: Node, partner: Node) -> None:
    r = node.call("POST", "/api/federation/partners", "admin", json={"base_url": partner.url})
    assert r.status_code == 201 and r.json()["key_ids"] == [], r.text
    fps = [k["key_id"] for k in r.json()["offered_keys"]]
    assert fps == partner.fingerprints()
    r = node.call(
        "POST", f"/api/federation/partners/{partner.code}/trust", "baomi", json={"key_ids": fps}
    )
    assert r.status_code == 200 and r.json()["key_ids"] == fps, r.text


def _outbox(node: Node, state: str | None = None) -> list[dict[str, Any]]:
    params = {"state": state} if state else {}
    r = node.call("GET", "/api/federation/outbox", "admin", params=params)
    assert r.status_code == 200, r.text
    return list(r.json())


def _request(node: Node, ref: str) -> dict[str, Any] | None:
    r = node.call("GET", f"/api/livelihood/requests/{ref}", "clerk")
    return r.json() if r.status_code == 200 else None


def test_full_request_with_a_node_killed_mid_flow(nodes: dict[str, Node]) -> None:
    a, b = nodes["310001"], nodes["330001"]
    r = httpx2.post(
        a.url + "/api/public/register",
        json={
            "real_name": "张建国",
            "id_number": APPLICANT_ID,
            "phone": "13800138000",
            "password": PW,
        },
        timeout=10,
    )
    assert r.status_code == 201, r.text
    a.login("13800138000")
    a.login("clerk")
    b.login("clerk")
    options = a.call("GET", "/api/livelihood/options", "13800138000").json()
    assert {p["archive_code"] for p in options["partners"]} == {"330001", "320001"}
    r = a.call(
        "POST",
        "/api/livelihood/mine",
        "13800138000",
        json={
            "holding_code": "330001",
            "record_type": "婚姻登记",
            "id_number": APPLICANT_ID,
            "purpose": "办理房产继承公证",
        },
    )
    assert r.status_code == 201, r.text
    ref = r.json()["ref"]

    b.kill()  # the 出证馆 goes down before the request is forwarded
    r = a.call(
        "POST", f"/api/livelihood/requests/{ref}/forward", "clerk", json={"note": "身份核对无误"}
    )
    assert r.status_code == 200 and r.json()["state"] == "forwarded", r.text
    failed = wait_for(
        lambda: [m for m in _outbox(a, "pending") if m["ref"] == ref and m["attempts"] >= 1],
        "a failed attempt",
    )
    assert "ConnectError" in failed[0]["last_error"] or "refused" in failed[0]["last_error"]
    b.start()
    b.login("clerk")
    b.login("admin")
    held = wait_for(lambda: _request(b, ref), "the request at the 出证馆")
    assert held["state"] == "received" and held["side"] == "holding"
    wait_for(
        lambda: (_request(a, ref) or {}).get("state") == "received", "the receipt at the 受理馆"
    )

    cands = b.call("GET", f"/api/livelihood/requests/{ref}/candidates", "clerk").json()
    assert len(cands) == 1 and cands[0]["matched"] == ["身份证号", "姓名"]
    a.kill()  # the 受理馆 is down when the certificate is sent back
    r = b.call(
        "POST",
        f"/api/livelihood/requests/{ref}/issue",
        "clerk",
        json={"record_ids": [cands[0]["record_id"]]},
    )
    assert r.status_code == 200 and r.json()["state"] == "issued", r.text
    wait_for(
        lambda: [m for m in _outbox(b, "pending") if m["ref"] == ref and m["attempts"] >= 1],
        "a failed delivery of the certificate",
    )
    a.start()
    for user in ("clerk", "admin", "13800138000"):
        a.login(user)
    arrived = wait_for(
        lambda: (_request(a, ref) or {}).get("state") == "issued" and _request(a, ref),
        "the certificate at the 受理馆",
    )
    assert arrived["due_side"] == "accepting" and arrived["certificate_code"]

    r = a.call("GET", f"/api/livelihood/mine/{ref}/certificate", "13800138000")
    assert r.status_code == 403  # not before the 受理馆 has informed the applicant
    assert (
        a.call(
            "POST", f"/api/livelihood/requests/{ref}/notify", "clerk", json={"note": "已电话告知"}
        ).status_code
        == 200
    )
    r = a.call("GET", f"/api/livelihood/mine/{ref}/certificate", "13800138000")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    pdf = r.content
    for node in (a, b):  # verifies at the 受理馆 (partner key from the registry) and the issuer
        v = httpx2.post(
            node.url + "/api/public/certificates/verify",
            files={"file": ("c.pdf", pdf, "application/pdf")},
            timeout=30,
        )
        assert v.status_code == 200 and v.json()["verdict"] == "valid", v.text
        assert v.json()["issuer_code"] == "330001"
    wait_for(
        lambda: (_request(b, ref) or {}).get("state") == "collected", "collected at the 出证馆"
    )
    final = _request(a, ref)
    assert final is not None and final["state"] == "collected" and final["closed"]
    assert [s["state"] for s in final["steps"]] == [
        "submitted",
        "forwarded",
        "received",
        "issued",
        "notified",
        "collected",
    ]
    held_final = _request(b, ref)
    assert held_final is not None
    assert [s["state"] for s in held_final["steps"]] == [
        "submitted",
        "forwarded",
        "received",
        "issued",
        "notified",
        "collected",
    ]
    assert _outbox(a, "pending") == [] and _outbox(b, "pending") == []
    assert {m["state"] for m in _outbox(a) + _outbox(b)} == {"delivered"}
