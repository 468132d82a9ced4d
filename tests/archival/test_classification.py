"""三合一 table: suggestions with the matching rule, versions by date, traditional characters."""

from __future__ import annotations

from datetime import date

import pytest

from lantai.archival import load_domain
from lantai.archival.classification import ClassificationBook
from lantai.archival.config import ClassificationFile
from lantai.archival.domain import Domain


@pytest.fixture(scope="module")
def domain() -> Domain:
    return load_domain()


@pytest.mark.parametrize(
    ("title", "doc_type", "responsible", "entry", "retention"),
    [
        ("关于2023年度工作总结的报告", "报告", "某市人民政府办公室", "1.8", "Y"),
        ("关于第三季度工作安排的通知", "通知", "某市人民政府办公室", "1.9", "D10"),
        ("市人民政府第十五次常务会议纪要", "纪要", "某市人民政府办公室", "1.2", "Y"),
        ("关于调整机构编制的请示", "请示", "某市人民政府办公室", "1.6", "Y"),
        ("关于同意某项目立项的批复", "批复", "省人民政府", "2.3", "Y"),
        ("关于报送2023年统计年报的报告", "报告", "区人民政府", "3.1", "D30"),
        ("关于召开会议的通知", "通知", "某某商会", "3.4", "D10"),
    ],
)
def test_suggestions(
    domain: Domain, title: str, doc_type: str, responsible: str, entry: str, retention: str
) -> None:
    table = domain.classifications.table("municipal-office")
    assert table is not None
    best = table.suggest(title=title, doc_type=doc_type, responsible=responsible)[0]
    assert (best.entry_code, best.retention, best.category) == (entry, retention, "WS")
    assert best.reasons and best.rule.startswith("municipal-office@2024 类目")


def test_traditional_title_matches_simplified_keywords(domain: Domain) -> None:
    table = domain.classifications.table("municipal-office")
    assert table is not None
    best = table.suggest(
        title="市人民政府第十五次常務會議紀要", doc_type="纪要", responsible="某市人民政府辦公室"
    )[0]
    assert best.entry_code == "1.2"


def test_versions_are_chosen_by_date(domain: Domain) -> None:
    spec = domain.classifications.versions("municipal-office")[0].spec
    older = ClassificationFile.model_validate(
        {
            **spec.model_dump(by_alias=True),
            "version": "2012",
            "effective_from": date(2012, 1, 1),
            "entries": [e.model_dump(by_alias=True) | {"retention": "D30"} for e in spec.entries],
        }
    )
    book = ClassificationBook((spec, older))
    assert [t.version for t in book.versions("municipal-office")] == ["2012", "2024"]
    t2015 = book.table("municipal-office", on=date(2015, 6, 1))
    assert t2015 is not None and t2015.version == "2012"
    assert book.table("municipal-office", on=date(2011, 1, 1)) is None
    latest = book.table("municipal-office")
    assert latest is not None and latest.version == "2024"
