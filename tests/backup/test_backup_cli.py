"""``lantai backup create|list|verify`` and ``lantai restore`` end to end at the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lantai.cli.main import app


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LANTAI_HOME", str(home))
    monkeypatch.delenv("LANTAI_DATABASE_URL", raising=False)
    monkeypatch.delenv("LANTAI_CONFIG_DIR", raising=False)
    return home


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_create_list_verify_restore(home: Path, tmp_path: Path) -> None:
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
    assert code == 0, out
    code, out = invoke("backup", "create", "--dest", str(tmp_path / "backups"))
    assert code == 0, out
    assert "备份含审计密钥" in out
    (backup,) = (tmp_path / "backups").iterdir()
    code, out = invoke("backup", "verify", "latest")
    assert code == 0 and "可恢复" in out, out
    code, out = invoke("backup", "list")
    assert code == 0 and "可恢复" in out
    code, out = invoke("restore", str(backup), "--home", str(tmp_path / "new"))
    assert code == 0, out
    assert (tmp_path / "new" / "lantai.db").is_file()
    assert "136101" in (tmp_path / "new" / "lantai.env").read_text(encoding="utf-8")
    code, out = invoke("restore", str(backup), "--home", str(tmp_path / "new"))
    assert code == 1 and "不是空目录" in out
