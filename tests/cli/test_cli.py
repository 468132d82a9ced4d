"""The `lantai` command line, end to end on a temporary instance."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from lantai.cli.main import app
from lantai.instance import Instance
from lantai.settings import Settings

PW = "Lantai-Cli-2026!"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LANTAI_HOME", str(home))
    monkeypatch.setenv("LANTAI_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("LANTAI_PASSWORD_MEMORY_KIB", "8192")
    monkeypatch.delenv("LANTAI_ARCHIVE_CODE", raising=False)
    monkeypatch.delenv("LANTAI_DATABASE_URL", raising=False)
    return home


def invoke(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.output


def test_init_records_the_archive_code(home: Path) -> None:
    code, out = invoke("init")
    assert code == 0 and "尚未设置档案馆代码" in out
    code, out = invoke("init", "--archive-code", "12345")
    assert code == 1 and "设置无效" in out
    code, _ = invoke("init", "--archive-code", "136101", "--archive-name", "某市档案馆")
    assert code == 0
    assert "LANTAI_ARCHIVE_CODE=136101" in (home / "lantai.env").read_text(encoding="utf-8")
    assert Settings.load().archive_name == "某市档案馆"


def test_fonds_users_import_export_and_audit(home: Path, tmp_path: Path) -> None:
    assert invoke("init", "--archive-code", "136101")[0] == 0
    code, out = invoke(
        "fonds",
        "create",
        "Z109",
        "--name",
        "某市人民政府办公室",
        "--unit",
        "某市人民政府办公室",
        "--dates",
        "1949-2024",
        "--history",
        "2010年进馆",
    )
    assert code == 0 and "Z109" in out
    code, out = invoke(
        "fonds", "create", "Z109", "--name", "x", "--unit", "x", "--dates", "2000", "--history", "x"
    )
    assert code == 1 and "已存在" in out
    assert (
        invoke(
            "users", "create", "chen", "--name", "陈工", "--role", "archivist", "--password", PW
        )[0]
        == 0
    )
    code, out = invoke(
        "users",
        "create",
        "wang",
        "--name",
        "王工",
        "--role",
        "auditor",
        "--role",
        "sysadmin",
        "--password",
        PW,
    )
    assert code == 1 and "三员" in out
    code, out = invoke("users", "list")
    assert "chen" in out and "档案管理员" in out and "wang" not in out

    sheet = tmp_path / "目录.csv"
    sheet.write_text(
        "题名,责任者,日期,保管期限,机构（问题）\n关于开展档案检查的通知,某市人民政府办公室,20110305,永久,BGS\n",
        encoding="utf-8",
    )
    code, out = invoke("import", str(sheet), "--fonds", "Z109", "--category", "WS")
    assert code == 0, out
    out_pdf = tmp_path / "目录.pdf"
    code, out = invoke("export", "directory", "Z109", "--out", str(out_pdf))
    assert code == 0 and out_pdf.read_bytes().startswith(b"%PDF")
    ead = tmp_path / "z109.xml"
    assert invoke("export", "ead3", "Z109", "--out", str(ead))[0] == 0 and ead.stat().st_size > 0

    code, out = invoke("audit", "verify")
    assert code == 0 and "校验通过" in out
    inst = Instance.open(Settings.load())
    with inst.db.engine.begin() as c:
        c.exec_driver_sql("DROP TRIGGER events_no_update")
        c.execute(text("UPDATE events SET actor = 'mallory' WHERE seq = 2"))
    inst.close()
    code, out = invoke("audit", "verify")
    assert code == 2 and "校验失败" in out


def test_config_commands(home: Path) -> None:
    code, out = invoke("config", "check")
    assert code == 0 and "档号规则" in out
    code, out = invoke(
        "config",
        "suggest",
        "市人民政府第十五次常务会议纪要",
        "--doc-type",
        "纪要",
        "--responsible",
        "某市人民政府办公室",
    )
    assert code == 0 and "1.2" in out and "永久" in out
    (home / "config").mkdir(parents=True)
    (home / "config" / "codes.yaml").write_text("tables: [broken", encoding="utf-8")
    code, out = invoke("config", "check")
    assert code == 1 and "codes.yaml" in out


def test_commands_need_an_initialised_instance(home: Path) -> None:
    code, out = invoke("fonds", "list")
    assert code == 1 and "lantai init" in out


def test_settings_lists_every_setting(home: Path) -> None:
    code, out = invoke("settings")
    assert code == 0
    for name in Settings.model_fields:
        assert f"LANTAI_{name.upper()}" in out
