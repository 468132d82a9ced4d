"""The check catalogue keeps itself honest: codes, functions and docs agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lantai.errors import ConfigError
from lantai.ingest.checks import Property, Stage, load_catalogue
from lantai.ingest.checks._core import bindings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "checks.md"
CATALOGUE = load_catalogue()
CODE = re.compile(r"^(GD|YJ|BC)-([1-4])-([0-9]{1,2})$")


def test_codes_are_well_formed_and_match_their_property() -> None:
    for spec in CATALOGUE:
        m = CODE.match(spec.code)
        assert m, spec.code
        assert m.group(2) == spec.property.digit, spec.code
        assert spec.stage is Stage(m.group(1))


def test_every_enabled_code_has_a_function() -> None:
    functions = bindings()
    missing = [s.code for s in CATALOGUE if s.enabled and s.code not in functions]
    assert missing == []


def test_every_function_code_is_in_the_catalogue() -> None:
    known = {s.code for s in CATALOGUE}
    assert sorted(set(bindings()) - known) == []


def test_gd_and_yj_items_of_the_digest_are_all_present() -> None:
    """standards §1.2: 1-1…1-14, 2-1…2-11, 3-1…3-8, 4-1…4-7 at both stages; slots disabled."""
    wanted = (
        [f"1-{n}" for n in range(1, 15)]
        + [f"2-{n}" for n in range(1, 12)]
        + [f"3-{n}" for n in range(1, 9)]
        + [f"4-{n}" for n in range(1, 8)]
    )
    codes = {s.code: s for s in CATALOGUE}
    for stage in ("GD", "YJ"):
        for suffix in wanted:
            assert f"{stage}-{suffix}" in codes
    slots = ["1-9", "2-8", "3-4", "3-5", "3-6", "3-7", "4-3", "4-4", "4-5", "4-6"]
    for suffix in slots:
        spec = codes[f"GD-{suffix}"]
        assert not spec.enabled and spec.confidence == "M", suffix
    assert all(not s.enabled for s in CATALOGUE if s.stage is Stage.BC)


def test_required_checklist_items_are_enabled_at_both_stages() -> None:
    """Checklist rows 1–31 of the digest map onto these items; each must run."""
    codes = {s.code: s for s in CATALOGUE}
    for suffix in ("1-1", "1-2", "1-3", "1-4", "1-5", "1-6", "1-7", "1-8", "1-10", "1-11",
                   "1-12", "1-13", "1-14", "2-1", "2-2", "2-3", "2-4", "2-5", "2-6", "2-7",
                   "2-10", "2-11", "3-1", "3-2", "3-3", "3-8", "4-1", "4-2", "4-7"):  # fmt: skip
        assert codes[f"GD-{suffix}"].enabled and codes[f"YJ-{suffix}"].enabled, suffix
    assert codes["GD-2-9"].enabled


def test_gd_and_yj_twins_share_a_function() -> None:
    functions = bindings()
    for spec in CATALOGUE:
        if spec.stage is Stage.GD and spec.enabled:
            twin = "YJ" + spec.code[2:]
            if twin in functions:
                assert functions[twin] is functions[spec.code]


def test_quick_mode_covers_counts_bytes_and_structure() -> None:
    quick = {s.code for s in CATALOGUE if s.enabled and s.stage is Stage.GD and s.cost <= 20}
    assert {"GD-2-1", "GD-2-2", "GD-2-11", "GD-1-12", "GD-1-13", "GD-1-14"} <= quick
    assert "GD-4-2" not in quick and "GD-3-3" not in quick


def test_every_property_has_items() -> None:
    assert {s.property for s in CATALOGUE if s.enabled} == set(Property)


@pytest.mark.parametrize("code", [s.code for s in CATALOGUE])
def test_every_code_has_a_docs_heading(code: str) -> None:
    assert f"\n### {code}\n" in DOCS.read_text(encoding="utf-8")


def test_a_broken_catalogue_is_refused_with_the_row(tmp_path: Path) -> None:
    bad = tmp_path / "catalogue.yaml"
    bad.write_text(
        "version: 1\nchecks:\n  - {code: GD-9-1, name: x, property: integrity}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as exc:
        load_catalogue(bad)
    field = exc.value.problems[0].field
    assert "checks" in field and "0" in field and "code" in field
