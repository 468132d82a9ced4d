"""The query language: every operator parses and finds what it says, every error is explained."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from conftest import make_settings
from factories import create_fonds, create_series
from lantai.errors import ValidationFailed
from lantai.instance import Instance
from lantai.search.query import (
    MAX_DEPTH,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    And,
    Facet,
    Node,
    Not,
    Or,
    Range,
    Term,
    highlight_terms,
    parse,
)
from lantai.security import Actor
from lantai.store import Record
from search_support import SearchKit, make_kit

_CODES = {
    ("category", "文书"): "WS",
    ("category", "WS"): "WS",
    ("retention", "永久"): "Y",
    ("retention", "D30"): "D30",
    ("security", "JM"): "机密",
    ("security", "机密"): "机密",
    ("open_status", "开放"): "开放",
    ("fonds", "z109"): "Z109",
    ("collections", "民生"): "民生",
}


def _resolve(name: str, value: str) -> str | None:
    return _CODES.get((name, value))


def _p(text: str) -> Node | None:
    return parse(text, resolve_facet=_resolve).root


def T(text: str, start: int, field: str | None = None, phrase: bool = False) -> Term:
    return Term(field, text, start, phrase)


@pytest.mark.parametrize(
    ("query", "ast"),
    [
        ("档案馆", T("档案馆", 0)),
        ("档案馆 移交", And((T("档案馆", 0), T("移交", 4)))),
        ("档案馆\u3000移交", And((T("档案馆", 0), T("移交", 4)))),  # full-width space
        ("档案 AND 移交", And((T("档案", 0), T("移交", 7)))),
        ("档案 与 移交", And((T("档案", 0), T("移交", 5)))),
        ("档案 OR 文书", Or((T("档案", 0), T("文书", 6)))),
        ("档案 或 文书", Or((T("档案", 0), T("文书", 5)))),
        ("档案 NOT 会计", And((T("档案", 0), Not(T("会计", 7), 3)))),
        ("档案 非 会计", And((T("档案", 0), Not(T("会计", 5), 3)))),
        ("档案 -会计", And((T("档案", 0), Not(T("会计", 4), 3)))),
        ("NOT 会计", Not(T("会计", 4), 0)),
        # precedence: NOT, then AND, then OR
        ("a OR b c", Or((T("a", 0), And((T("b", 5), T("c", 7)))))),
        ("(a OR b) c", And((Or((T("a", 1), T("b", 6))), T("c", 9)))),
        ("（a OR b）c", And((Or((T("a", 1), T("b", 6))), T("c", 8)))),  # full-width brackets
        # phrases: any quote form
        ('"档案 移交"', T("档案 移交", 0, phrase=True)),
        ("“档案移交”", T("档案移交", 0, phrase=True)),
        ("「档案移交」", T("档案移交", 0, phrase=True)),
        ("『档案移交』", T("档案移交", 0, phrase=True)),
        ('"a OR b"', T("a OR b", 0, phrase=True)),  # operators inside a phrase are words
        # fields
        ("题名:通知", T("通知", 3, "title")),
        ("题名：通知", T("通知", 3, "title")),
        ("标题:通知", T("通知", 3, "title")),
        ("title:通知", T("通知", 6, "title")),
        ("责任者:国务院", T("国务院", 4, "responsible")),
        ("档号:Z109-WS·2011-Y-BGS-0001", T("Z109-WS·2011-Y-BGS-0001", 3, "code")),
        ("文号:赣府发〔2010〕12号", T("赣府发〔2010〕12号", 3, "docno")),
        ("全文:习近平", T("习近平", 3, "fulltext")),
        ("主题词:档案", T("档案", 4, "other")),
        ('题名:"档案 移交"', T("档案 移交", 3, "title", phrase=True)),
        ("题名:(档案 OR 馆)", Or((T("档案", 4, "title"), T("馆", 10, "title")))),
        # ranges
        ("年度:2010..2015", Range("year", 2010, 2015, 3)),
        ("年度:2010", Range("year", 2010, 2010, 3)),
        ("年度:2010..", Range("year", 2010, None, 3)),
        ("年度:..2015", Range("year", None, 2015, 3)),
        ("年度:2010-2015", Range("year", 2010, 2015, 3)),
        ("年度:2010年", Range("year", 2010, 2010, 3)),
        ("日期:2010-03-01..2010-06-30", Range("date", 20100301, 20100630, 3)),
        ("日期:20100301..20100630", Range("date", 20100301, 20100630, 3)),
        ("日期:2010-03", Range("date", 20100300, 20100331, 3)),
        ("日期:2010", Range("date", 20100000, 20101231, 3)),
        ("日期:2010-2011", Range("date", 20100000, 20111231, 3)),
        ("日期:2010年3月1日", Range("date", 20100301, 20100301, 3)),
        # facets, by name or code
        ("门类:文书", Facet("category", "WS", 3)),
        ("保管期限:永久", Facet("retention", "Y", 5)),
        ("密级:JM", Facet("security", "机密", 3)),
        ("开放标识:开放", Facet("open_status", "开放", 5)),
        ("全宗:z109", Facet("fonds", "Z109", 3)),
        ("专题库:民生", Facet("collections", "民生", 4)),
        # colons that are not field prefixes
        ("10:30", T("10:30", 0)),
        ("会议纪要：第三次会议", T("会议纪要：第三次会议", 0)),
        ("", None),
        ("   ", None),
    ],
)
def test_parse(query: str, ast: Node | None) -> None:
    assert _p(query) == ast


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ("“档案", "第 1 个字符处", "引号「“」没有对应的右引号"),
        ('档案 "移交', "第 4 个字符处", '引号「"」没有对应的右引号'),
        ("(档案", "第 1 个字符处", "左括号「（」没有对应的右括号"),
        ("档案)", "第 3 个字符处", "多了一个右括号「）」"),
        ("()", "第 1 个字符处", "括号内是空的"),
        ("作者:张三", "第 1 个字符处", "检索字段「作者」不存在"),
        ("题名:", "检索式末尾", "字段「题名」后缺少检索词"),
        ("题名: 通知", "第 4 个字符处", "字段「题名」后缺少检索词"),
        ("AND 档案", "第 1 个字符处", "「AND」前面缺少检索词"),
        ("OR 档案", "第 1 个字符处", "「OR」前面缺少检索词"),
        ("档案 AND", "检索式末尾", "「AND」后面缺少检索词"),
        ("档案 OR", "检索式末尾", "「OR」后面缺少检索词"),
        ("档案 OR OR 文书", "第 7 个字符处", "「OR」后面缺少检索词"),
        ("档案 AND OR 文书", "第 8 个字符处", "「AND」后面缺少检索词"),
        ("档案 NOT", "检索式末尾", "「NOT」后面缺少检索词"),
        ("NOT NOT 档案", "第 5 个字符处", "「NOT」后面缺少检索词"),
        ("(档案 OR)", "第 7 个字符处", "「OR」后面缺少检索词"),
        ("，，", "第 1 个字符处", "「，，」中没有可检索的文字或数字"),
        ("题名:《》", "第 4 个字符处", "字段「题名」的值中没有可检索的文字或数字"),
        ("年度:abc", "第 4 个字符处", "年度「abc」应为四位年份"),
        ("年度:20100", "第 4 个字符处", "年度「20100」应为四位年份"),
        ("年度:2015..2010", "第 4 个字符处", "年度范围的起年 2015 晚于止年 2010"),
        ("年度:..", "第 4 个字符处", "年度范围的起止不能都为空"),
        ("年度:2010..2012..2014", "第 4 个字符处", "应写作 起..止"),
        ("日期:2010-13-01", "第 4 个字符处", "日期「2010-13-01」不是有效日期"),
        ("日期:昨天", "第 4 个字符处", "日期「昨天」应写作"),
        ("日期:2011..2010", "第 4 个字符处", "日期范围的起日晚于止日"),
        ("门类:不存在", "第 4 个字符处", "「不存在」不是有效的门类"),
        ("保管期限:50年", "第 6 个字符处", "「50年」不是有效的保管期限"),
        ("年度:(2010)", "第 4 个字符处", "字段「年度」不能跟括号"),
        ("题名:(全宗:Z109)", "第 5 个字符处", "字段「题名」的括号内不能再用字段「全宗」"),
    ],
)
def test_errors_are_explained(query: str, position: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse(query, resolve_facet=_resolve)
    assert exc.value.message.startswith(f"检索式有误：{position}")
    assert message in exc.value.message
    (problem,) = exc.value.problems
    assert problem.field == "q" and problem.value == query and problem.rule == "检索式语法"
    assert message in problem.message


def test_limits() -> None:
    with pytest.raises(ValidationFailed, match=f"超过 {MAX_QUERY_CHARS} 个字符"):
        parse("档" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(ValidationFailed, match=f"检索词超过 {MAX_TERMS} 个"):
        parse(" ".join(["档案"] * (MAX_TERMS + 1)))
    with pytest.raises(ValidationFailed, match=f"括号嵌套超过 {MAX_DEPTH} 层"):
        parse("(" * (MAX_DEPTH + 1) + "档案" + ")" * (MAX_DEPTH + 1))


def test_error_names_the_parameter() -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse("(档案", param="within")
    assert exc.value.problems[0].field == "within"


def test_highlight_terms_leave_out_negated_words() -> None:
    root = _p("档案 NOT 会计 题名:通知 -(a OR b)")
    assert highlight_terms(root) == [(None, "档案"), ("title", "通知")]


# -- semantics on a real index ------------------------------------------------------------------


@pytest.fixture(scope="module")
def module_kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchKit]:
    inst = Instance.initialise(make_settings(tmp_path_factory.mktemp("query") / "home"))
    inst.catalogue.today = lambda: date(2026, 11, 21)
    kit = make_kit(inst)
    yield kit
    kit.indexer.release()
    inst.close()


@pytest.fixture(scope="module")
def corpus(module_kit: SearchKit) -> dict[str, int]:
    kit = module_kit
    op = Actor.operator()
    fonds = create_fonds(kit.inst, op)
    s2010 = create_series(kit.inst, op, fonds.id, "2010年")
    items = {
        "a": kit.item(
            s2010.id,
            title="关于档案移交工作的通知",
            date="20100305",
            retention="Y",
            doc_number="市府办发〔2010〕1号",
        ),
        "b": kit.item(
            s2010.id,
            title="关于会计档案管理的通知",
            date="20100612",
            retention="D30",
            doc_number="赣府发〔2010〕12号",
        ),
        "c": kit.item(
            s2010.id,
            title="关于文书立卷的意见",
            date="20121105",
            responsible="国务院",
            retention="D10",
            doc_number="国发〔2012〕3号",
        ),
        "d": kit.item(
            s2010.id,
            title="关于“三个四”工程的报告",
            date="20150101",
            security_level="机密",
            retention="D10",
            doc_number="市府办发〔2015〕7号",
        ),
    }
    kit.sync()
    return {k: v.id for k, v in items.items()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("档案", "ab"),
        ("檔案", "ab"),  # traditional finds simplified
        ("档案 移交", "a"),
        ("档案 AND 移交", "a"),
        ("档案 OR 文书", "abc"),
        ("档案 NOT 会计", "a"),
        ("档案 -会计", "a"),
        ("NOT 档案", "cd"),
        ("(移交 OR 会计) 通知", "ab"),
        ('"档案移交"', "a"),
        ("“档案移交”", "a"),
        ("「三个四」", "d"),  # quote forms are equivalent, also inside the title
        ("三个四工程", "d"),
        ("移交档案", ""),  # a phrase, not a bag of words
        ("题名:通知", "ab"),
        ("题名:(移交 OR 立卷)", "ac"),
        ("责任者:国务院", "c"),
        ("文号:赣府发〔2010〕12号", "b"),
        ("文号:贛府發[2010]12號", "b"),
        ("赣府发〔2010〕12号", "b"),
        ("文号:12号", "b"),
        ("档号:BGS-0001", "abcd"),
        ("档号:2010-Y-BGS", "a"),
        ("档号:Z109-WS·2012-D10-BGS-0001", "c"),
        ("Z109-WS・2012-D10-BGS-0001", "c"),
        ("年度:2010", "ab"),
        ("年度:2011..", "cd"),
        ("年度:..2012", "abc"),
        ("日期:2010-06..2012-12", "bc"),
        ("保管期限:永久", "a"),
        ("密级:机密", "d"),
        ("档", "ab"),  # one character
        ("通", "ab"),
    ],
)
def test_operators_find_what_they_say(
    module_kit: SearchKit, corpus: dict[str, int], query: str, expected: str
) -> None:
    kit = module_kit
    got = set(kit.ids(query))
    items = {v: k for k, v in corpus.items()}
    assert "".join(sorted(items[i] for i in got if i in items)) == expected


def test_exact_code_ranks_first(module_kit: SearchKit, corpus: dict[str, int]) -> None:
    kit = module_kit
    with kit.inst.db.read() as s:
        rec = s.get(Record, corpus["b"])
    assert rec is not None
    code = rec.archival_code
    assert code is not None
    assert kit.ids(code)[0] == corpus["b"]
    assert kit.ids(f"档号:{code}")[0] == corpus["b"]
