"""Two in-process nodes (受理馆 310001, 出证馆 330001) wired through their real message path.

``Network`` replaces only the HTTP hop of the outbox (:func:`lantai.federation.outbox._post`):
a message goes through signing, the recipient's :func:`lantai.federation.service.receive`
(verification, nonces, idempotency), and the signed acknowledgement is checked by the sender.
Nodes can be taken down (connection refused) and brought back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from conftest import make_settings
from factories import create_fonds, create_series, item_values
from lantai.access.accounts import Registration, register
from lantai.archival import Level
from lantai.federation import outbox
from lantai.federation.identity import init_node, node_info
from lantai.federation.messages import MessageRejected
from lantai.federation.registry import add_partner, trust_partner_keys
from lantai.federation.service import receive
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import User

OP = Actor.operator()
ACCEPTING, HOLDING = "310001", "330001"
PASSWORD = "Lantai-2026-secure!"


def id_number(body: str = "33010219850307123") -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


APPLICANT_ID = id_number()


@dataclass
class Network:
    nodes: dict[str, Instance]
    down: set[str] = field(default_factory=set)
    deliveries: list[tuple[str, str]] = field(default_factory=list)

    def post(self, _inst: Instance, url: str, wire: dict[str, Any]) -> httpx2.Response:
        code = url.removeprefix("http://").removesuffix(".test")
        if code in self.down:
            raise httpx2.ConnectError("connection refused")
        self.deliveries.append((code, wire["envelope"]["id"]))
        try:
            return httpx2.Response(200, json=receive(self.nodes[code], wire))
        except MessageRejected as exc:
            return httpx2.Response(exc.status, json=exc.to_dict())

    def pump(self) -> None:
        """Deliver until nothing due is left (both directions)."""
        for _ in range(10):
            reports = [outbox.deliver_due(inst) for inst in self.nodes.values()]
            if not any(r.delivered or r.refused for r in reports):
                return


def make_node(tmp: Path, code: str, name: str) -> Instance:
    settings = make_settings(tmp / code, archive_name=name, public_base_url=f"http://{code}.test")
    inst = Instance.initialise(settings.model_copy(update={"archive_code": code}))
    with inst.db.write() as s:
        init_node(inst, s, OP)
    return inst


def link(a: Instance, b: Instance) -> None:
    with b.db.read() as s:
        doc = node_info(s)
    with a.db.write() as s:
        add_partner(
            a,
            s,
            OP,
            base_url=doc["base_url"],
            keys=doc["keys"],
            archive_code=doc["archive_code"],
            name=doc["name"],
        )
        trust_partner_keys(
            a, s, OP, doc["archive_code"], [k["key_id"] for k in doc["keys"]["keys"]]
        )


@pytest.fixture
def network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Network]:
    a = make_node(tmp_path, ACCEPTING, "上海市档案馆")
    b = make_node(tmp_path, HOLDING, "杭州市档案馆")
    link(a, b)
    link(b, a)
    net = Network({ACCEPTING: a, HOLDING: b})
    monkeypatch.setattr(outbox, "_post", net.post)
    yield net
    a.close()
    b.close()


def citizen(
    inst: Instance, name: str = "张建国", idn: str = APPLICANT_ID, phone: str = "13800138000"
) -> Actor:
    with inst.db.write() as s:
        user = s.scalar(select(User).where(User.username == phone))
        if user is None:
            user = register(inst, s, Registration(name, idn, phone, PASSWORD))
        return inst.users.actor_for(s, user)


def holdings(inst: Instance) -> dict[str, int]:
    """A marriage register entry about the applicant, a namesake's, and an unrelated record."""
    fonds = create_fonds(inst, OP, "M001", name="杭州市民政局", responsible="杭州市民政局")
    series = create_series(inst, OP, fonds.id, title="婚姻登记")
    out: dict[str, int] = {}
    titles = {
        "own": f"张建国（{APPLICANT_ID}）与李梅结婚登记",
        "namesake": "张建国与王芳结婚登记审查表",
        "other": "关于2011年婚姻登记工作的通知",
    }
    with inst.db.write() as s:
        for key, title in titles.items():
            rec = inst.catalogue.create_record(
                s,
                OP,
                parent_id=series.id,
                level=Level.ITEM,
                values=item_values(title=title, date="19880612", responsible="杭州市民政局"),
            )
            out[key] = rec.id
    return out
