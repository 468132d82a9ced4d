"""``lantai search``: rebuild, status, catchup, query, add-text — and deferring to a running server."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from factories import create_fonds, create_series, item_values
from lantai.appraisal.publication import publish_all_open
from lantai.archival import Level
from lantai.cli.search import search_app
from lantai.instance import Instance
from lantai.search import Indexer, search_home
from lantai.security import Actor

OP = Actor.operator()


@pytest.fixture
def cli(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("LANTAI_HOME", str(instance.settings.resolved_home))
    monkeypatch.delenv("LANTAI_DATABASE_URL", raising=False)
    fonds = create_fonds(instance, OP)
    series = create_series(instance, OP, fonds.id, "文书档案 2011年")
    with instance.db.write() as s:
        for title, status in (
            ("关于檔案館開放時間的通知", "开放"),
            ("关于档案馆库房改造的请示", "控制"),
        ):
            instance.catalogue.create_record(
                s,
                OP,
                parent_id=series.id,
                level=Level.ITEM,
                values=item_values(title=title, open_status=status),
            )
    # 开放 is not public until published (上网审查)
    publish_all_open(instance, OP, reason="测试：公布开放条目")
    return CliRunner()


def test_rebuild_status_query(cli: CliRunner, instance: Instance) -> None:
    r = cli.invoke(search_app, ["status"])
    assert r.exit_code == 0 and "尚未建立" in r.output
    r = cli.invoke(search_app, ["rebuild"])
    assert r.exit_code == 0, r.output
    assert "已启用" in r.output and "个条目" in r.output
    r = cli.invoke(search_app, ["status"])
    assert r.exit_code == 0 and "gen-000001" in r.output and "落后 0" in r.output
    r = cli.invoke(search_app, ["query", "檔案館"])
    assert r.exit_code == 0, r.output
    assert "共 2 条" in r.output and "库房改造" in r.output
    r = cli.invoke(search_app, ["query", "檔案館", "--public"])
    assert "共 1 条" in r.output and "库房改造" not in r.output
    r = cli.invoke(search_app, ["query", "(档案"])
    assert r.exit_code == 1 and "左括号" in r.output


def test_catchup_and_add_text(cli: CliRunner, instance: Instance, tmp_path: Path) -> None:
    r = cli.invoke(search_app, ["catchup"])  # no index yet: builds one
    assert r.exit_code == 0, r.output
    text = tmp_path / "正文.txt"
    text.write_text("查阅档案须凭有效身份证件。", encoding="utf-8")
    r = cli.invoke(search_app, ["add-text", "3", str(text)])
    assert r.exit_code == 0, r.output
    assert "已保存条目 3 的全文「正文.txt」" in r.output
    r = cli.invoke(search_app, ["query", "有效身份证件"])
    assert "共 0 条" in r.output  # not applied yet
    r = cli.invoke(search_app, ["catchup"])
    assert r.exit_code == 0 and "已补齐" in r.output
    r = cli.invoke(search_app, ["query", "全文:有效身份证件"])
    assert "共 1 条" in r.output
    bad = tmp_path / "bad.txt"
    bad.write_bytes("档案".encode("gbk"))
    r = cli.invoke(search_app, ["add-text", "3", str(bad)])
    assert r.exit_code == 1 and "不是 UTF-8" in r.output


def test_a_running_server_is_asked_instead(cli: CliRunner, instance: Instance) -> None:
    server = Indexer(instance, search_home(instance))
    assert server.acquire()
    try:
        r = cli.invoke(search_app, ["rebuild"])
        assert r.exit_code == 0 and "已请求它在后台重建" in r.output
        assert search_home(instance).request_path.exists()
        r = cli.invoke(search_app, ["catchup"])
        assert r.exit_code == 0 and "无需手动补齐" in r.output
    finally:
        server.release()
