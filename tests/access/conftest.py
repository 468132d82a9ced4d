"""Access fixtures: a catalogue with published 开放, unpublished 开放, 控制, 延期开放 and 未审核
items (one 开放 item with a scanned page), staff users, and a web client with search running."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from factories import create_fonds, create_series
from lantai.appraisal.publication import PublicationService
from lantai.instance import Instance
from lantai.security import Actor
from lantai.storage import open_store
from lantai.store import ScanBatch, ScanPage
from lantai.web.app import create_app
from search_support import SearchKit, make_kit, running_search
from web_support import PASSWORD, USERS

OP = Actor.operator()


def id_number(body: str = "11010519800101123") -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


@dataclass
class Catalogue:
    published: int
    published_other: int
    open_unpublished: int
    controlled: int
    controlled_other: int
    postponed: int
    unreviewed: int
    fonds_code: str
    master: bytes

    @property
    def hidden(self) -> dict[str, int]:
        return {
            "开放未公布": self.open_unpublished,
            "控制": self.controlled,
            "控制2": self.controlled_other,
            "延期开放": self.postponed,
            "未审核": self.unreviewed,
        }


def _master_png() -> bytes:
    img = Image.new("RGB", (1200, 1600), "white")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def attach_scan(inst: Instance, record_id: int, code: str, master: bytes) -> None:
    store = open_store(inst.settings)
    package = f"scan-test-{record_id}"
    with store.begin(package) as w:
        w.put_bytes("p1.png", master)
        w.commit()
    with inst.db.write() as s:
        batch = ScanBatch(
            uid=f"b{record_id}", name="b", source_path="/x", package_id=package, created_by="t"
        )
        s.add(batch)
        s.flush()
        s.add(
            ScanPage(
                batch_id=batch.id,
                archival_code=code,
                page_no=1,
                source_name="p1.png",
                object_key=f"{package}/p1.png",
                size=len(master),
                sha256="0" * 64,
                record_id=record_id,
            )
        )


@pytest.fixture
def kit(instance: Instance) -> Iterator[SearchKit]:
    k = make_kit(instance)
    yield k
    k.indexer.release()


@pytest.fixture
def catalogue(kit: SearchKit) -> Catalogue:
    inst = kit.inst
    f = create_fonds(inst, OP)
    series = create_series(inst, OP, f.id, "文书档案")
    word = "青铜鼎"
    pub = kit.item(series.id, title=f"关于{word}出土情况的报告", open_status="开放")
    pub2 = kit.item(series.id, title=f"关于{word}陈列的通知", open_status="开放")
    unpub = kit.item(series.id, title=f"关于{word}修复的函", open_status="开放")
    ctl = kit.item(series.id, title=f"关于{word}保护经费的请示", open_status="控制")
    ctl2 = kit.item(series.id, title=f"关于{word}鉴定意见的报告", open_status="控制")
    post = kit.item(series.id, title=f"关于{word}移交的批复", open_status="延期开放")
    unrev = kit.item(series.id, title=f"关于{word}借展的意见", open_status="未审核")
    svc = PublicationService(inst)
    with inst.db.write() as s:
        batch = svc.create_batch(s, OP, title="第一批", record_ids=[pub.id, pub2.id])
        svc.decide(s, OP, batch.id, "approve", reason="同意公布")
    master = _master_png()
    for r in (pub, ctl, ctl2, post, unrev, unpub):
        attach_scan(inst, r.id, r.archival_code or "", master)
    kit.sync()
    return Catalogue(
        pub.id, pub2.id, unpub.id, ctl.id, ctl2.id, post.id, unrev.id, f.archival_code or "", master
    )


@pytest.fixture
def staffed(instance: Instance) -> Instance:
    with instance.db.write() as s:
        for name, (roles, clearance) in USERS.items():
            instance.users.create(
                s,
                OP,
                username=name,
                display_name=f"{name}用户",
                password=PASSWORD,
                roles=roles,
                clearance=clearance,
            )
    return instance


@pytest.fixture
def client(staffed: Instance, catalogue: Catalogue) -> Iterator[TestClient]:
    app = create_app(staffed)
    with TestClient(app, base_url="http://127.0.0.1") as c, running_search(app, staffed):
        yield c
