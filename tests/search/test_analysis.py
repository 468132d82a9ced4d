"""Chinese analysis: folding, tokens, query slots — and that phrase queries are exact substrings."""

from __future__ import annotations

import random
import re
import tempfile

import pytest
import tantivy

from lantai.demo import seed_names, seed_text
from lantai.search.analysis import (
    CJK,
    analyze,
    fold,
    fold_many,
    fold_with_offsets,
    key_form,
    query_slots,
    token_string,
)
from lantai.search.query import _kept, _slots_query
from lantai.search.schema import date_key


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("檔案館開放時間", "档案馆开放时间"),  # traditional → simplified
        ("ＡＢＣ１２３，（全角）", "abc123,(全角)"),  # full-width → half-width, Latin lower-cased
        ("寶雞市檔案局館長(zhǎng)", "宝鸡市档案局馆长"),  # pinyin gloss of a bad conversion
        ("習(xí)近平", "习近平"),
        ("關於印發《實施意見》的通知", "关于印发实施意见的通知"),  # quotes do not break words
        ("「档案」与“档案”", "「档案与档案”"),  # at the edges they stay (and separate)
        ("档案，馆藏", "档案馆藏"),  # punctuation between CJK characters is not a word boundary
        ("Z109-WS·2011", "z109-ws·2011"),  # a middle dot between Latin runs stays a separator
        ("(2010)", "(2010)"),  # brackets that are not a gloss stay
        ("档案(da)", "档案(da)"),  # no tone mark: not a gloss
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_quote_forms_are_equivalent() -> None:
    assert analyze("「三个四」工程") == analyze("“三个四”工程") == analyze("三个四工程")


def test_fold_many_matches_fold_and_survives_newlines() -> None:
    texts = ["檔案館", "", "第一行\n第二行", "ＡＢＣ", "長(zhǎng)官"]
    assert fold_many(texts) == [fold(t.replace("\n", " ")) for t in texts]
    assert fold_many([]) == []


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("档案馆", "档案 案馆 馆"),  # one token per character: bigrams, then the last alone
        ("档", "档"),
        ("档案馆2010年", "档案 案馆 馆 2010 年"),
        ("赣府发〔2010〕12号", "赣府 府发 发 2010 12 号"),
        ("Z109-WS·2011-Y-BGS-0001", "z109 ws 2011 y bgs 0001"),  # Latin/digit runs kept whole
        ("档案，馆藏", "档案 案馆 馆藏 藏"),  # punctuation between CJK characters is dropped
        ("档案\n馆藏", "档案 案馆 馆藏 藏"),  # so is a line break (OCR splits words over lines)
        ("档案, abc", "档案 案 abc"),  # next to Latin letters and digits it separates
        ("", ""),
    ],
)
def test_tokens(text: str, tokens: str) -> None:
    assert analyze(text) == tokens


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ("档案", [(0, "档案")]),
        ("档案馆", [(0, "档案"), (1, "案馆")]),
        ("档案馆藏", [(0, "档案"), (2, "馆藏")]),  # 案馆 is implied by its neighbours
        ("数字档案馆建设", [(0, "数字"), (2, "档案"), (4, "馆建"), (5, "建设")]),
        ("赣府发2010", [(0, "赣府"), (1, "府发"), (2, "发"), (3, "2010")]),
        ("12号", [(0, "12"), (1, "号")]),
    ],
)
def test_phrases_read_every_other_bigram(query: str, kept: list[tuple[int, str]]) -> None:
    assert [(k, s.token) for k, s in _kept(query_slots(fold(query)))] == kept


def test_very_long_latin_runs_are_cut() -> None:
    assert analyze("a" * 500) == "a" * 64


@pytest.mark.parametrize(
    ("query", "slots"),
    [
        ("档案馆", [("档案", False), ("案馆", False)]),
        ("档", [("档", True)]),  # one character: every token starting with it
        ("12号", [("12", False), ("号", True)]),  # the document may go on: 12号文
        ("发〔2010〕", [("发", False), ("2010", False)]),  # the run must end before 2010
        ("档案 馆", [("档案", False), ("案馆", False)]),  # spaces between CJK do not count
        ("档案，馆藏", [("档案", False), ("案馆", False), ("馆藏", False)]),
        ("bgs-0001", [("bgs", False), ("0001", False)]),
    ],
)
def test_query_slots(query: str, slots: list[tuple[str, bool]]) -> None:
    assert [(s.token, s.prefix) for s in query_slots(fold(query))] == slots


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("赣府发〔2010〕12号", "赣府发[2010]12号"),
        ("赣府发〔2010〕12号", "贛府發（2010）12號"),
        ("Z109-WS·2011-Y-BGS-0001", "z109-ws・2011-y-bgs-0001"),
        ("Z109-WS·2011-Y-BGS-0001", "Ｚ１０９－ＷＳ．２０１１－Ｙ－ＢＧＳ－０００１"),
    ],
)
def test_key_form_equivalences(a: str, b: str) -> None:
    assert key_form(a) == key_form(b)


def test_key_form_keeps_order_and_digits() -> None:
    assert key_form("赣府发〔2010〕12号") != key_form("赣府发〔2010〕21号")
    assert key_form("Z109-WS·2011-Y-BGS-0001") != key_form("Z109-WS·2011-Y-BGS-0010")


def test_fold_with_offsets_maps_back_to_the_original() -> None:
    text = "關於「檔案」長(zhǎng)ﬁ館"
    folded, offsets = fold_with_offsets(text)
    assert folded == fold(text)
    assert len(offsets) == len(folded)
    for ch, at in zip(folded, offsets, strict=True):
        assert fold(text[at]) in (ch, "fi"), (ch, text[at])


@pytest.mark.parametrize(
    ("date", "year", "key"),
    [
        ("20110305", None, 20110305),
        ("[20220815]", None, 20220815),
        ("20230210-20230628", None, 20230210),
        ("2010-2023", None, 20100000),
        ("2011-03", None, 20110300),
        (None, 2011, 20110000),
        (None, None, 0),
        ("不详", None, 0),
    ],
)
def test_date_key(date: str | None, year: int | None, key: int) -> None:
    assert date_key(date, year) == key


# -- exact substring semantics, checked against brute force on the real seed texts ---------------

_WORD = re.compile(f"[{CJK}]|[0-9a-z]")


def _corpus() -> list[str]:
    lines: list[str] = []
    for name in seed_names():
        lines += [ln for ln in seed_text(name).splitlines() if ln.strip()]
    return lines[:400]


def _candidates(docs: list[str], rng: random.Random, n: int) -> list[str]:
    """Random substrings that start and end inside CJK runs and contain no punctuation."""
    found: list[str] = []
    while len(found) < n:
        doc = docs[rng.randrange(len(docs))]
        if len(doc) < 3:
            continue
        a = rng.randrange(len(doc))
        b = min(len(doc), a + rng.randint(1, 12))
        sub = doc[a:b]
        if not sub or not re.fullmatch(f"[{CJK}][{CJK}0-9a-z]*", sub):
            continue
        if not re.match(f"[{CJK}]", sub[-1]):
            continue
        found.append(sub)
    return found


def test_phrase_queries_are_exact_substring_matches() -> None:
    """For random substrings of the five speeches (traditional ones included), the index finds
    exactly the lines whose folded text contains the folded substring — with every other bigram
    of the phrase left out of the query."""
    docs = [fold(line) for line in _corpus()]
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", indexed=True, fast=True)
    sb.add_text_field("t", tokenizer_name="whitespace")
    schema = sb.build()
    index = tantivy.Index(schema, path=tempfile.mkdtemp())
    writer = index.writer(50_000_000, 1)
    for i, d in enumerate(docs):
        writer.add_document(tantivy.Document(id=i, t=token_string(d)))
    writer.commit()
    index.reload()
    searcher = index.searcher()
    rng = random.Random(20261121)
    checked = 0
    for sub in _candidates(docs, rng, 400):
        expected = {i for i, d in enumerate(docs) if sub in d}
        q = _slots_query(schema, "t", query_slots(sub))
        res = searcher.search(q, len(docs))
        got = {int(v) for v in searcher.fast_field_values("id", [a for _, a in res.hits])}
        assert got == expected, sub
        checked += 1
    assert checked == 400
