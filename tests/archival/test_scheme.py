"""Metadata schemes: coercion and every check family (GD-1-2 … GD-1-6, GD-2-4)."""

from __future__ import annotations

from datetime import date

import pytest

from lantai.archival import Level, load_domain
from lantai.archival.domain import Domain
from lantai.archival.scheme import normalize_date

TODAY = date(2026, 11, 21)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return load_domain()


def good_item() -> dict[str, object]:
    return {
        "archival_code": "Z109-WS·2011-Y-BGS-0001",
        "title": "关于印发2011年工作要点的通知",
        "date": "20110305",
        "responsible": "某市人民政府办公室",
        "year": 2011,
        "retention": "Y",
        "open_status": "未审核",
        "security_level": "公开",
    }


def rules_of(problems: list) -> set[str]:  # type: ignore[type-arg]
    return {p.rule.split()[0] for p in problems}


def test_valid_item_has_no_problems(domain: Domain) -> None:
    assert domain.scheme_for("WS").validate(Level.ITEM, good_item(), today=TODAY) == []


@pytest.mark.parametrize(
    "missing", ["title", "date", "responsible", "retention", "open_status", "archival_code"]
)
def test_required_items_per_dat18(domain: Domain, missing: str) -> None:
    values = good_item()
    del values[missing]
    problems = domain.scheme_for("WS").validate(Level.ITEM, values, today=TODAY)
    assert rules_of(problems) == {"GD-2-4"}
    assert "必著" in problems[0].message


def test_fonds_level_obligations_differ(domain: Domain) -> None:
    scheme = domain.scheme_for(None)
    problems = scheme.validate(
        Level.FONDS, {"title": "某全宗", "archival_code": "Z109"}, today=TODAY
    )
    missing = {p.field for p in problems}
    assert {"档案馆代码", "日期", "责任者", "档案保管沿革"} <= missing
    assert "保管期限" not in missing  # not a fonds-level element


def test_length_type_range_plausibility_and_characters(domain: Domain) -> None:
    scheme = domain.scheme_for("WS")
    values = good_item()
    values.update(
        {
            "title": "题" * 501,
            "pages": 0,
            "date": "20190101",
            "retention": "5年",
            "notes": "含响铃\u0007字符",
        }
    )
    problems = scheme.validate(Level.ITEM, values, today=TODAY)
    by_rule = {p.rule.split()[0]: p for p in problems}
    assert {"GD-1-2", "GD-1-4", "GD-1-5", "GD-1-6"} <= set(by_rule)
    assert "501" in by_rule["GD-1-2"].message
    assert "U+0007" in by_rule["GD-1-6"].message
    assert any("年度 2011" in p.message for p in problems)


def test_future_dates_are_implausible(domain: Domain) -> None:
    values = good_item() | {"date": "20301231", "year": 2030}
    problems = domain.scheme_for("WS").validate(Level.ITEM, values, today=TODAY)
    assert any("晚于今天" in p.message for p in problems)
    assert any("晚于今年" in p.message for p in problems)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2011-03-05", "20110305"),
        ("2011/3/5", "20110305"),
        ("2011年3月5日", "20110305"),
        ("20110305", "20110305"),
        ("[20110305]", "[20110305]"),
        ("２０１１０３０５", "20110305"),
    ],
)
def test_date_forms_normalise(raw: str, expected: str) -> None:
    assert normalize_date(raw) == expected


@pytest.mark.parametrize("raw", ["2021-13-40", "20110230", "2011", "abc"])
def test_invalid_dates_are_reported(domain: Domain, raw: str) -> None:
    _value, problem = domain.scheme_for("WS").coerce(Level.ITEM, "date", raw)
    assert problem is not None and problem.rule.startswith("GD-1-3")
    assert raw in problem.message


def test_codes_accept_labels_and_aliases(domain: Domain) -> None:
    scheme = domain.scheme_for("WS")
    assert scheme.coerce(Level.ITEM, "retention", "永久") == ("Y", None)
    assert scheme.coerce(Level.ITEM, "retention", "30年") == ("D30", None)
    assert scheme.coerce(Level.ITEM, "retention", "长期") == ("C", None)  # legacy, still readable
    assert scheme.coerce(Level.ITEM, "security_level", "机密★10年") == ("机密★10年", None)
    assert scheme.coerce(Level.ITEM, "security_level", "JM") == ("机密", None)
    assert scheme.coerce(Level.ITEM, "pages", "１２") == (12, None)
    _, problem = scheme.coerce(Level.ITEM, "security_level", "很秘密")
    assert problem is not None and problem.rule.startswith("GD-1-4")


def test_file_level_takes_date_spans(domain: Domain) -> None:
    scheme = domain.scheme_for("ZY")
    assert scheme.coerce(Level.FILE, "date", "20190101-20191231") == ("20190101-20191231", None)
    _, problem = scheme.coerce(Level.FILE, "date", "20191231-20190101")
    assert problem is not None


def test_elements_found_by_chinese_header(domain: Domain) -> None:
    scheme = domain.scheme_for("WS")
    for header, key in [
        ("文号", "doc_number"),
        ("题 名", "title"),
        ("机构（问题）", "org_code"),
        ("备注", "notes"),
        ("开放标识", "open_status"),
    ]:
        el = scheme.element_by_name(header)
        assert el is not None and el.key == key, header
