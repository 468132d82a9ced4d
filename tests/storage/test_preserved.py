"""A transfer is 已完成 when catalogued, but 已按策略保存 only once every required copy exists."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import select

from factories import create_fonds
from ingest.builders import make_bag, sample_items
from lantai.ingest.service import Submission, submit, transfer_json
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, default_registry
from lantai.security import Actor
from lantai.storage.replication import replicate
from lantai.store import Alert, IngestTransfer


def test_done_is_not_preserved_until_the_policy_is_satisfied(
    instance: Instance, tmp_path: Path
) -> None:
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
                "label": "异地磁盘（未挂载）",
                "site": "异地",
                "medium": "disk",
                "backend": {"type": "local", "root": str(tmp_path / "mnt" / "offsite")},
            },
        ],
        "required": ["primary", "offsite"],
    }
    cfg = instance.settings.resolved_config_dir
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "storage_policy.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    op = Actor.operator()
    create_fonds(instance, op, code="Z109")
    with instance.db.write() as s:
        submit(
            instance,
            s,
            op,
            Submission(
                source=make_bag(tmp_path / "bag", sample_items(2)),
                fonds_code="Z109",
                category="WS",
            ),
        )
    InProcessRunner(instance, default_registry()).run_until_idle()
    with instance.db.read() as s:
        row = s.scalar(select(IngestTransfer))
        assert row is not None
        out = transfer_json(row)
        alert = s.scalar(select(Alert).where(Alert.kind == "storage.replica_missing"))
    assert out["state"] == "done" and out["state_label"] == "已完成"
    assert (out["preservation"], out["preservation_label"]) == ("copies_pending", "副本复制中")
    assert out["preserved_at"] is None
    assert alert is not None and alert.resolved_at is None and alert.location == "offsite"

    (tmp_path / "mnt" / "offsite").mkdir(parents=True)  # the disk is mounted
    result = replicate(instance, out["aip_id"])
    assert result.copied == ["offsite"]
    with instance.db.read() as s:
        row = s.scalar(select(IngestTransfer))
        assert row is not None
        out = transfer_json(row)
        alert = s.get(Alert, alert.id)
    assert (out["preservation"], out["preservation_label"]) == ("preserved", "已按策略保存")
    assert out["preserved_at"] is not None
    assert alert is not None and alert.resolved_at is not None
