"""One rule at a time: the checksums and the boundaries each detector relies on."""

from __future__ import annotations

import pytest

from lantai.appraisal.screening import Screener, load_rules
from lantai.appraisal.screening.bankcard import luhn_valid
from lantai.appraisal.screening.identity import id18_check_digit, id18_valid

SCREENER = Screener(load_rules())


def kinds(text: str) -> list[tuple[str, str]]:
    return [(h.kind, h.text) for h in SCREENER.screen({"title": text}).hits]


def test_id18_checksum() -> None:
    # GB 11643-1999 worked example.
    assert id18_check_digit("11010519491231002") == "X"
    assert id18_valid("11010519491231002X")
    assert id18_valid("11010519491231002x")
    assert not id18_valid("110105194912310021")  # wrong check digit
    assert not id18_valid("11010519491331002X")  # month 13


def test_luhn() -> None:
    assert luhn_valid("4539578763621486")
    assert not luhn_valid("4539578763621487")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("身份证号11010519491231002X", [("id_card", "11010519491231002X")]),
        ("编号110105194912310021", []),  # checksum fails: not an ID number
        ("联系电话13812345678", [("mobile", "13812345678")]),
        ("流水号2013812345678901", []),  # a mobile inside a longer digit run
        ("电话（0791）86281234", [("landline", "（0791）86281234")]),
        ("卡号4539578763621486", [("bank_card", "4539578763621486")]),
        ("卡号4539578763621487", []),  # Luhn fails
        ("赣府发〔2010〕12号", []),
        ("Z109-WS·2011-Y-BGS-0001", []),
    ],
)
def test_personal_numbers(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


def test_names_need_a_sensitive_context() -> None:
    assert ("name_context", "张三") in kinds("张三因违纪被开除")
    assert not [k for k in kinds("张三同志出席会议") if k[0] == "name_context"]


def test_traditional_sensitive_terms_match() -> None:
    simplified = kinds("关于国家秘密的说明")
    traditional = kinds("關於國家秘密的說明")
    assert [k for k, _ in simplified] == ["terms"]
    assert [k for k, _ in traditional] == ["terms"]
    # The hit points into the original text, in its own characters.
    assert traditional[0][1] == "國家秘密"


def test_false_positives_seen_in_the_seed_speeches() -> None:
    # From the demo's 2010 speech: 「责任追究」 is not a person 任追, 「行政审批」 is not 政审.
    text = "完善了行政执法责任追究制、公示制，清理规范了行政审批事项"
    assert kinds(text) == []
    # The words still fire where they are meant.
    assert [k for k, _ in kinds("任建国因违纪受到处分")] == ["name_context"]
    assert [k for k, _ in kinds("附干部政审材料一份")] == ["terms"]


def test_not_within_must_contain_a_term() -> None:
    from pydantic import ValidationError

    from lantai.appraisal.screening.config import TermsRule

    base = {"id": "t", "name": "测试", "kind": "terms", "category": "人事", "basis": "测试"}
    base |= {"basis_verified": False, "result": "控制", "severity": "中"}
    TermsRule.model_validate({**base, "terms": ["政审"], "not_within": ["行政审批"]})
    with pytest.raises(ValidationError, match="不包含"):
        TermsRule.model_validate({**base, "terms": ["政审"], "not_within": ["行政许可"]})
