"""三员: registering a partner (系统管理员) does not trust its keys; the 安全保密员 approves them.

A system administrator alone must not be able to make this node trust a foreign signing key:
partner registration stores the keys as *offered*; until the 安全保密员 trusts a key by its
fingerprint, a message signed with it is rejected (``unknown_key``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from federation.conftest import ACCEPTING, HOLDING, OP, make_node
from lantai.federation.identity import node_info, node_key
from lantai.federation.messages import MessageRejected, Rejection, sign
from lantai.federation.service import verify_inbound
from lantai.instance import Instance
from lantai.security import Perm
from lantai.security.roles import load_roles
from lantai.web.app import create_app
from web_support import PASSWORD, USERS


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    a = make_node(tmp_path, ACCEPTING, "上海市档案馆")
    b = make_node(tmp_path, HOLDING, "杭州市档案馆")
    with a.db.write() as s:
        for name in ("admin", "secadmin", "archivist"):
            roles, clearance = USERS[name]
            a.users.create(
                s,
                OP,
                username=name,
                display_name=name,
                password=PASSWORD,
                roles=roles,
                clearance=clearance,
            )
    yield a, b
    a.close()
    b.close()


def _login(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}


def _message_from(b: Instance) -> dict[str, object]:
    with b.db.read() as s:
        return sign(
            node_key(b, s),
            sender=HOLDING,
            recipient=ACCEPTING,
            type="livelihood.step",
            body={"ref": "x", "state": "received"},
        )


def _check(a: Instance, wire: dict[str, object]) -> None:
    with a.db.write() as s:
        verify_inbound(a, s, wire)


def test_roles_keep_key_trust_with_the_security_administrator() -> None:
    roles = load_roles()
    sysadmin = roles.permissions(["sysadmin"])
    secadmin = roles.permissions(["secadmin"])
    assert Perm.FEDERATION_NODE_MANAGE in sysadmin
    assert Perm.CERTIFICATE_KEY_MANAGE not in sysadmin
    assert Perm.CERTIFICATE_KEY_MANAGE in secadmin
    assert Perm.FEDERATION_NODE_MANAGE not in secadmin


def test_a_registered_partner_is_trusted_only_after_the_secadmin_approves(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    with b.db.read() as s:
        doc = node_info(s)
    fingerprints = [k["key_id"] for k in doc["keys"]["keys"]]
    with TestClient(create_app(a), base_url="http://127.0.0.1") as client:
        admin, sec, clerk = (_login(client, u) for u in ("admin", "secadmin", "archivist"))
        body = {
            "base_url": doc["base_url"],
            "archive_code": HOLDING,
            "name": doc["name"],
            "keys": doc["keys"],
        }
        # registration is the system administrator's; the others may not
        assert client.post("/api/federation/partners", json=body, headers=sec).status_code == 403
        assert client.post("/api/federation/partners", json=body, headers=clerk).status_code == 403
        r = client.post("/api/federation/partners", json=body, headers=admin)
        assert r.status_code == 201, r.text
        assert r.json()["key_ids"] == []
        assert [k["key_id"] for k in r.json()["offered_keys"]] == fingerprints

        # registered but not trusted: the partner's signed messages are refused
        with pytest.raises(MessageRejected) as exc:
            _check(a, _message_from(b))
        assert exc.value.reason is Rejection.UNKNOWN_KEY
        with a.db.read() as s:
            from lantai.certificates import key_ring

            assert not set(fingerprints) & set(key_ring(s).keys)

        # the system administrator cannot trust the keys himself
        trust = f"/api/federation/partners/{HOLDING}/trust"
        r = client.post(trust, json={"key_ids": fingerprints}, headers=admin)
        assert r.status_code == 403
        assert client.get("/api/federation/partners/keys", headers=admin).status_code == 403
        # nor does registering again (an update) trust anything
        r = client.post("/api/federation/partners", json=body, headers=admin)
        assert r.status_code == 201 and r.json()["key_ids"] == []

        # the security administrator sees the offered fingerprints and approves them
        listed = client.get("/api/federation/partners/keys", headers=sec).json()
        assert [k["key_id"] for k in listed[0]["offered_keys"]] == fingerprints
        r = client.post(trust, json={"key_ids": ["sm3:" + "0" * 64]}, headers=sec)
        assert r.status_code == 400 and "待核" in r.text
        r = client.post(trust, json={"key_ids": fingerprints}, headers=sec)
        assert r.status_code == 200, r.text
        assert r.json()["key_ids"] == fingerprints and r.json()["offered_keys"] == []
        # the secadmin cannot register or change partners (the sysadmin's part)
        r = client.post(
            f"/api/federation/partners/{HOLDING}/enabled", json={"enabled": False}, headers=sec
        )
        assert r.status_code == 403
    _check(a, _message_from(b))  # now it verifies
    with a.db.read() as s:
        from sqlalchemy import select

        from lantai.store import Event

        actions = [
            (e.actor, e.action)
            for e in s.scalars(select(Event).where(Event.action.like("%key%")).order_by(Event.seq))
        ]
    assert ("secadmin", "certificate:key:trusted") in actions
    assert not any(actor == "admin" and "trusted" in act for actor, act in actions)
