"""Domain data files are validated at load; every problem names the file and the path inside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lantai.archival import Level, load_domain
from lantai.errors import ConfigError


def test_shipped_domain_loads() -> None:
    d = load_domain()
    assert set(d.table("category").codes()) == {
        "WS",
        "KJ",
        "RS",
        "KU",
        "ZY",
        "ZP",
        "LY",
        "LX",
        "SJ",
        "YJ",
        "WY",
        "MT",
        "SW",
    }
    assert d.table("open_status").codes() == ["开放", "控制", "延期开放", "未审核"]
    assert d.table("retention").codes(include_legacy=False) == ["Y", "D30", "D10"]
    for cat in d.table("category").codes():
        assert d.scheme_for(cat).categories, cat


def test_instance_overrides_add_rules_and_assignments(tmp_path: Path) -> None:
    (tmp_path / "archival_codes.yaml").write_text(
        """
assignments:
  - {fonds: Z109, category: WS, level: item, parent_level: series, rule: dat13-item-4}
""",
        encoding="utf-8",
    )
    (tmp_path / "codes.yaml").write_text(
        """
tables:
  security_level:
    title: 密级
    entries:
      - {code: 工作秘密, rank: 1}
""",
        encoding="utf-8",
    )
    d = load_domain(tmp_path)
    rule = d.codes.rule_for(
        fonds_code="Z109", category="WS", level=Level.ITEM, parent_level=Level.SERIES
    )
    assert rule is not None and rule.id == "dat13-item-4"
    other = d.codes.rule_for(
        fonds_code="A001", category="WS", level=Level.ITEM, parent_level=Level.SERIES
    )
    assert other is not None and other.id == "dat22-ws-item"
    assert "工作秘密" in d.table("security_level") and "机密" in d.table("security_level")


def test_bad_files_report_file_path_and_rule(tmp_path: Path) -> None:
    (tmp_path / "archival_codes.yaml").write_text(
        """
rules:
  - id: broken
    title: 坏规则
    levels:
      - [fonds_code]
      - [{counter: item_no, width: 4}, year]
assignments:
  - {category: XX, level: item, rule: missing-rule}
""",
        encoding="utf-8",
    )
    (tmp_path / "schemes").mkdir()
    (tmp_path / "schemes" / "bad.yaml").write_text(
        "id: BAD\ntitle: x\nelements:\n  - key: 1bad\n    name: x\n    type: nonsense\n    obligation: {item: R}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_domain(tmp_path)
    text = str(err.value)
    assert "archival_codes.yaml" in text and "rules[" in text and "计数段" in text
    assert "bad.yaml" in text and "elements[0]" in text


def test_cross_file_references_are_checked(tmp_path: Path) -> None:
    (tmp_path / "archival_codes.yaml").write_text(
        "assignments:\n  - {category: XX, level: item, rule: missing-rule}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as err:
        load_domain(tmp_path)
    messages = [p.message for p in err.value.problems]
    assert any("missing-rule" in m for m in messages)
    assert any("XX" in m for m in messages)


def test_invalid_yaml_and_encoding(tmp_path: Path) -> None:
    (tmp_path / "codes.yaml").write_bytes(b"tables: [unclosed")
    with pytest.raises(ConfigError, match="领域配置"):
        load_domain(tmp_path)
    (tmp_path / "codes.yaml").write_bytes("tables: {}\n# 中文".encode("gbk"))
    with pytest.raises(ConfigError) as err:
        load_domain(tmp_path)
    assert any(p.rule == "UTF-8" for p in err.value.problems)
