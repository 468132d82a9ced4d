"""``lantai ingest``: run, exit codes, status, report export, review, reconcile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factories import create_fonds
from ingest.builders import make_bag, sample_items
from lantai.cli.ingest import ingest_app
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import IngestTransfer


@pytest.fixture
def cli(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("LANTAI_HOME", str(instance.settings.resolved_home))
    create_fonds(instance, Actor.operator(), code="Z109")
    return CliRunner()


def _rows(inst: Instance) -> list[IngestTransfer]:
    with inst.db.read() as s:
        return list(s.query(IngestTransfer).order_by(IngestTransfer.id))


def test_ingest_path_accepts_reports_and_reviews(
    cli: CliRunner, instance: Instance, tmp_path: Path
) -> None:
    bag = make_bag(tmp_path, sample_items(2), form="zip")
    r = cli.invoke(ingest_app, [str(bag), "--fonds", "Z109", "--category", "文书"])
    assert r.exit_code == 0, r.output
    assert "已完成" in r.output and "已编目 2 条" in r.output
    assert "存储策略：各副本已齐全" in r.output  # the policy's copies are made before it returns
    (row,) = _rows(instance)
    assert row.state == "done" and row.category == "WS"

    r = cli.invoke(ingest_app, ["status"])
    assert r.exit_code == 0 and "transfer-bag.zip" in r.output
    r = cli.invoke(ingest_app, ["status", row.uid])
    assert r.exit_code == 0 and row.uid in r.output

    out = tmp_path / "报告.json"
    r = cli.invoke(ingest_app, ["report", row.uid, "--format", "json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text(encoding="utf-8"))["transfer"]["uid"] == row.uid
    r = cli.invoke(ingest_app, ["report", row.uid, "--format", "pdf"])
    assert r.exit_code == 1 and "--out" in r.output

    r = cli.invoke(ingest_app, ["review", row.uid, "--reason", "已人工核对病毒检测"])
    assert r.exit_code == 0, r.output
    assert _rows(instance)[0].review == "confirmed"
    r = cli.invoke(ingest_app, ["review", row.uid, "--reason", "again"])
    assert r.exit_code == 1

    r = cli.invoke(ingest_app, ["reconcile"])
    assert r.exit_code == 0 and "未入库信息包 0 个" in r.output
    r = cli.invoke(ingest_app, ["resume"])
    assert r.exit_code == 0 and "已运行 0 个作业" in r.output


def test_rejected_and_refused_exit_codes(
    cli: CliRunner, instance: Instance, tmp_path: Path
) -> None:
    bad = make_bag(tmp_path, sample_items(1), defects=["wrong_count"], form="zip")
    r = cli.invoke(ingest_app, ["run", str(bad), "--fonds", "Z109", "--category", "WS"])
    assert r.exit_code == 2, r.output
    assert "拒收" in r.output
    # Refused before anything is written: unknown fonds, missing path, bad options.
    r = cli.invoke(ingest_app, [str(bad), "--fonds", "Q999", "--category", "WS"])
    assert r.exit_code == 1 and "Q999" in r.output
    r = cli.invoke(ingest_app, [str(tmp_path / "none.zip"), "--fonds", "Z109"])
    assert r.exit_code == 1 and "找不到" in r.output
    r = cli.invoke(ingest_app, [str(bad), "--stage", "BC"])
    assert r.exit_code == 1
    assert len(_rows(instance)) == 1
