"""This archive as a node: archive code, name, base URL, and its signing key.

The key pair is the certificate signing key of :mod:`lantai.certificates.keys` (one key system:
what signs certificates signs messages; partners trust it once for both). The archive code and
name are the instance settings (``lantai init --archive-code … --archive-name …``), so the
issuer of a certificate and the sender of a message are the same archive; :func:`init_node`
records the base URL partners reach this node on and makes the key if there is none yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from lantai.audit import EventType
from lantai.certificates.keys import SigningKey, export_keys, signing_key
from lantai.errors import ConfigError, InputError, Problem
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import utcnow
from lantai.store.federation import FederationNode

__all__ = [
    "NODE_ACTOR",
    "NodeInfo",
    "get_node",
    "init_node",
    "node_info",
    "node_key",
    "require_node",
]

# the actor of automatic steps (a message received, a delivery): logged as the node itself
NODE_ACTOR = Actor(username="system:federation", display_name="跨馆协作（系统）", is_operator=True)


@dataclass(frozen=True)
class NodeInfo:
    archive_code: str
    name: str
    base_url: str

    def to_dict(self) -> dict[str, Any]:
        return {"archive_code": self.archive_code, "name": self.name, "base_url": self.base_url}


def _check_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")) or len(url) > 500 or " " in url:
        raise InputError(
            "节点地址无效",
            [Problem(field="base_url", value=url, message="须为 http:// 或 https:// 开头的地址")],
        )
    return url


def get_node(session: Session) -> FederationNode | None:
    return session.get(FederationNode, 1)


def require_node(session: Session) -> FederationNode:
    node = get_node(session)
    if node is None:
        raise ConfigError("本馆尚未设置跨馆协作节点：请运行 `lantai node init --url 本馆地址`")
    return node


def init_node(
    inst: Instance, session: Session, actor: Actor, *, base_url: str | None = None
) -> FederationNode:
    """Record (or update) this node; the signing key is made now if there is none."""
    actor.require(Perm.FEDERATION_NODE_MANAGE)
    settings = inst.settings
    if not settings.archive_code:
        raise ConfigError(
            "未设置档案馆代码：请先运行 `lantai init --archive-code 六位代码 --archive-name 馆名`"
        )
    url = _check_url(base_url or settings.public_base_url)
    key = signing_key(inst, session, actor)
    node = get_node(session)
    if node is None:
        node = FederationNode(
            id=1,
            archive_code=settings.archive_code,
            name=settings.archive_name,
            base_url=url,
            created_by=actor.username,
        )
        session.add(node)
    else:
        node.archive_code, node.name, node.base_url = (
            settings.archive_code,
            settings.archive_name,
            url,
        )
        node.updated_at = utcnow()
    session.flush()
    from lantai.federation.reminders import ensure_schedule  # imports livelihood (and this)

    ensure_schedule(session)  # the daily deadline check of 跨馆查档 requests
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.FEDERATION_NODE_CONFIGURED,
        object_type="federation_node",
        object_id=settings.archive_code,
        detail={"base_url": url, "name": settings.archive_name, "key_id": key.key_id},
    )
    return node


def node_key(inst: Instance, session: Session) -> SigningKey:
    return signing_key(inst, session, NODE_ACTOR)


def node_info(session: Session) -> dict[str, Any]:
    """What partners read at ``/api/public/federation/node``: identity and public keys."""
    node = require_node(session)
    return {
        **NodeInfo(node.archive_code, node.name, node.base_url).to_dict(),
        "keys": export_keys(session),
    }
