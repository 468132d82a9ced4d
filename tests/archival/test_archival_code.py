"""档号 rules: every DA/T 22-2015 and DA/T 13-2022 example is generated and validated by a rule."""

from __future__ import annotations

import pytest

from lantai.archival import Level, load_domain
from lantai.archival.domain import Domain


@pytest.fixture(scope="module")
def domain() -> Domain:
    return load_domain()


# (rule id, field values, counter, parent code, expected 档号)
EXAMPLES = [
    (
        "dat22-ws-item",
        {"fonds_code": "Z109", "category": "WS", "year": 2011, "retention": "Y", "org_code": "BGS"},
        1,
        None,
        "Z109-WS·2011-Y-BGS-0001",
    ),
    (
        "dat13-item-4",
        {
            "fonds_code": "Z109",
            "category": "WS",
            "year": 2011,
            "retention": "Y",
            "org_code": "办公室",
        },
        1,
        None,
        "Z109-WS·2011·Y·办公室-0001",
    ),
    (
        "dat13-item-3",
        {
            "fonds_code": "A439",
            "category": "WS",
            "year": 2015,
            "retention": "D30",
            "org_code": "003",
        },
        5,
        None,
        "A439-WS·2015·D30·003-005",
    ),
    (
        "dat13-file-class",
        {
            "fonds_code": "J019",
            "category": "ZY",
            "class_code": "JC",
            "subclass_code": "CC",
            "year": 2019,
            "retention": "D30",
        },
        1,
        None,
        "J019-ZY·JC·CC·2019·D30-001",
    ),
    ("dat13-in-file-3", {}, 1, "J019-ZY·JC·CC·2019·D30-001", "J019-ZY·JC·CC·2019·D30-001-001"),
    (
        "dat13-file-project",
        {"fonds_code": "X032", "category": "KJ", "class_code": "JJ", "project_code": "02"},
        5,
        None,
        "X032-KJ·JJ·02-005",
    ),
    ("dat13-in-file-page", {}, 54, "X032-KJ·JJ·02-005", "X032-KJ·JJ·02-005-054"),
    (
        "dat13-group-photo",
        {"fonds_code": "K021", "category": "ZP", "year": 2019, "retention": "D30"},
        25,
        None,
        "K021-ZP·2019·D30-025",
    ),
    ("dat13-in-file-3", {}, 5, "K021-ZP·2019·D30-025", "K021-ZP·2019·D30-025-005"),
    (
        "dat13-item-class-5",
        {
            "fonds_code": "C015",
            "category": "WY",
            "class_code": "TZGG",
            "year": 2019,
            "retention": "D10",
        },
        1,
        None,
        "C015-WY·TZGG·2019·D10-00001",
    ),
]


@pytest.mark.parametrize(
    ("rule_id", "values", "n", "parent", "expected"), EXAMPLES, ids=[e[4] for e in EXAMPLES]
)
def test_standard_examples_are_generated_and_validated(
    domain: Domain,
    rule_id: str,
    values: dict[str, object],
    n: int,
    parent: str | None,
    expected: str,
) -> None:
    rule = domain.codes.rule(rule_id)
    prefix = rule.render_prefix(values, parent)
    assert rule.format(prefix, n) == expected
    assert rule.check(expected, values, parent) == []
    parsed = rule.parse(expected)
    assert parsed is not None
    assert parsed.counter == n
    assert parsed.prefix == prefix
    for key, value in values.items():
        assert parsed.values.get(key) == str(value)


def test_every_shipped_rule_accepts_its_own_example(domain: Domain) -> None:
    for rule in domain.codes.rules.values():
        assert rule.example, rule.id
        assert rule.parse(rule.example) is not None, rule.id


def test_optional_org_level_is_omitted(domain: Domain) -> None:
    rule = domain.codes.rule("dat22-ws-item")
    values = {"fonds_code": "Z109", "category": "WS", "year": 2011, "retention": "D10"}
    assert rule.format(rule.render_prefix(values), 12) == "Z109-WS·2011-D10-0012"
    assert rule.check("Z109-WS·2011-D10-0012", values) == []


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("Z109-WS-2011-Y-BGS-1", "4位数字"),
        ("Z109-WS-2011-Y-BGS-0001", "间隔号「·」"),
        ("Z109-WS•2011-Y-BGS-0001", "U+2022"),
        ("Z109-WS·2011-Y-BGS-00001", "4位数字"),
        ("Z109-WS·2011-5Y-BGS-0001", "不符合档号规则"),
        ("Z109—WS·2011-Y-BGS-0001", "破折号"),
    ],
)
def test_malformed_codes_are_explained(domain: Domain, code: str, fragment: str) -> None:
    problems = domain.codes.rule("dat22-ws-item").check(code)
    assert problems, code
    assert any(fragment in p.message for p in problems), [p.message for p in problems]
    assert all(p.rule.startswith("GD-1-7") for p in problems)


def test_code_must_agree_with_record_values(domain: Domain) -> None:
    rule = domain.codes.rule("dat22-ws-item")
    values = {
        "fonds_code": "Z109",
        "category": "WS",
        "year": 2012,
        "retention": "Y",
        "org_code": "BGS",
    }
    problems = rule.check("Z109-WS·2011-Y-BGS-0001", values)
    assert [p.field for p in problems] == ["年度"]
    assert "2011" in problems[0].message and "2012" in problems[0].message


def test_in_file_code_must_extend_parent(domain: Domain) -> None:
    rule = domain.codes.rule("dat13-in-file-3")
    problems = rule.check("J019-ZY·JC·CC·2019·D30-002-001", {}, "J019-ZY·JC·CC·2019·D30-001")
    assert any("上级档号" in p.message for p in problems)


def test_missing_field_prevents_rendering(domain: Domain) -> None:
    rule = domain.codes.rule("dat22-ws-item")
    problems = rule.check_values({"fonds_code": "Z109", "category": "WS", "retention": "Y"})
    assert [p.field for p in problems] == ["年度"]
    with pytest.raises(ValueError, match="年度"):
        rule.render_prefix({"fonds_code": "Z109", "category": "WS", "retention": "Y"})


def test_counter_overflow_is_refused(domain: Domain) -> None:
    rule = domain.codes.rule("dat13-item-3")
    with pytest.raises(ValueError, match="3 位"):
        rule.format("A439-WS·2015·D30", 1000)


def test_rule_selection_is_most_specific(domain: Domain) -> None:
    book = domain.codes
    pick = book.rule_for
    assert (
        pick(fonds_code="Z109", category="WS", level=Level.ITEM, parent_level=Level.SERIES).id
        == "dat22-ws-item"
    )  # type: ignore[union-attr]
    assert (
        pick(fonds_code="Z109", category="KU", level=Level.ITEM, parent_level=Level.SERIES).id
        == "dat13-item-generic"
    )  # type: ignore[union-attr]
    assert (
        pick(fonds_code="X032", category="KJ", level=Level.FILE, parent_level=Level.SERIES).id
        == "dat13-file-project"
    )  # type: ignore[union-attr]
    assert (
        pick(fonds_code="X032", category="KJ", level=Level.ITEM, parent_level=Level.FILE).id
        == "dat13-in-file-page"
    )  # type: ignore[union-attr]
    assert (
        pick(fonds_code="Z109", category="WS", level=Level.SERIES, parent_level=Level.FONDS) is None
    )
