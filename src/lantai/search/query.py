"""The query language of the search box: parsed to a small AST, then compiled to a tantivy query.

For archivists (检索式)::

    档案馆 移交                 both words (a space means AND); each word matches as a substring
    "档案 移交" 「档案移交」      a phrase (any of "" “” 「」 『』)
    档案 OR 文书  档案 或 文书    either
    档案 NOT 会计  档案 -会计     without
    (档案 OR 文书) 年度:2010..2015
    题名:通知  责任者:国务院  档号:Z109-WS·2011-Y-BGS-0001  文号:赣府发〔2010〕12号  全文:习近平
    年度:2010  年度:2010..  日期:2010-03-01..2010-06-30  全宗:Z109  门类:文书  保管期限:永久
    开放标识:开放  密级:秘密  专题库:民生

Operators are upper-case ``AND``/``OR``/``NOT`` or 与/或/非 written as separate words, and ``-``
before a word; NOT binds tightest, then AND, then OR. Full-width brackets and colons work.
Every syntax error raises :class:`~lantai.errors.ValidationFailed` with a zh-CN message that names
the character position.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import tantivy

from lantai.errors import Problem, ValidationFailed
from lantai.search.analysis import Slot, fold, key_form, query_slots, runs

__all__ = [
    "FACET_NAMES",
    "FIELD_NAMES",
    "And",
    "Facet",
    "MatchAll",
    "Node",
    "Not",
    "Or",
    "ParsedQuery",
    "QuerySyntax",
    "Range",
    "Term",
    "compile_query",
    "estimate_hits",
    "highlight_terms",
    "parse",
]

MAX_QUERY_CHARS = 1000
MAX_TERMS = 64
MAX_DEPTH = 16

# Field names as archivists type them → index field. Text fields are matched by substring.
FIELD_NAMES: dict[str, str] = {
    "题名": "title",
    "标题": "title",
    "title": "title",
    "责任者": "responsible",
    "responsible": "responsible",
    "档号": "code",
    "code": "code",
    "文号": "docno",
    "docno": "docno",
    "全文": "fulltext",
    "fulltext": "fulltext",
    "主题词": "other",
    "关键词": "other",
    "摘要": "other",
    "附注": "other",
    "人名": "other",
    "其他": "other",
    "other": "other",
    "年度": "year",
    "year": "year",
    "日期": "date",
    "date": "date",
    "全宗": "fonds",
    "fonds": "fonds",
    "门类": "category",
    "category": "category",
    "保管期限": "retention",
    "retention": "retention",
    "开放标识": "open_status",
    "开放": "open_status",
    "open": "open_status",
    "密级": "security",
    "security": "security",
    "专题库": "collections",
    "专题": "collections",
    "collection": "collections",
}
TEXT_FIELD_LABELS = {
    "title": "题名",
    "responsible": "责任者",
    "code": "档号",
    "docno": "文号",
    "fulltext": "全文",
    "other": "其他著录项",
}
FACET_NAMES = {
    "fonds": "全宗",
    "category": "门类",
    "year": "年度",
    "retention": "保管期限",
    "open_status": "开放标识",
    "security": "密级",
    "collections": "专题库",
}
# Default fields of an unprefixed word, with their weight.
DEFAULT_FIELDS = (
    ("title", 3.0),
    ("code", 3.0),
    ("docno", 2.5),
    ("responsible", 2.0),
    ("other", 1.0),
    ("fulltext", 1.0),
)

_QUOTES = {'"': '"', "“": "”", "「": "」", "『": "』", "”": "”"}
_CLOSERS = {'"': '"', "“": '”"', "「": "」", "『": "』", "”": '”"'}
_OPEN_PAREN = "(（"
_CLOSE_PAREN = ")）"
_COLONS = ":："
_SPACE = re.compile(r"\s")
_AND = frozenset({"AND", "与", "且", "&&"})
_OR = frozenset({"OR", "或", "||"})
_NOT = frozenset({"NOT", "非", "!"})
_FIELD_NAME = re.compile(r"[^\W\d_][\w]*")
_YEAR = re.compile(r"\d{4}")
_RANGE_SPLIT = re.compile(r"\.\.|～|~|—|至")
_DATE = re.compile(r"(\d{4})(?:[-./年]?(\d{1,2}))?(?:[-./月]?(\d{1,2}))?日?")


# -- the AST ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """Text to find as a substring: in one field, or (``field is None``) in the default fields."""

    field: str | None
    text: str
    start: int
    phrase: bool = False


@dataclass(frozen=True)
class Range:
    """``year`` (years) or ``date`` (YYYYMMDD) between ``lo`` and ``hi`` inclusive (None: open)."""

    field: str
    lo: int | None
    hi: int | None
    start: int


@dataclass(frozen=True)
class Facet:
    """An exact value of a facet field (a code: 全宗号, 门类代码, 保管期限代码 …)."""

    field: str
    value: str
    start: int


@dataclass(frozen=True)
class MatchAll:
    start: int = 0


@dataclass(frozen=True)
class Not:
    item: Node
    start: int


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Term | Range | Facet | MatchAll | Not | And | Or


@dataclass(frozen=True)
class ParsedQuery:
    root: Node | None  # None: the query was empty
    text: str = ""


# -- errors ----------------------------------------------------------------------------------------


class QuerySyntax:
    """Builds the errors of one query string, naming the parameter and the position."""

    def __init__(self, text: str, param: str) -> None:
        self.text = text
        self.param = param

    def error(self, pos: int, message: str) -> ValidationFailed:
        where = f"第 {pos + 1} 个字符处" if pos < len(self.text) else "检索式末尾"
        near = self.text[max(0, pos - 8) : pos + 8]
        return ValidationFailed(
            f"检索式有误：{where}，{message}",
            [
                Problem(
                    field=self.param,
                    value=self.text,
                    rule="检索式语法",
                    message=f"{where}（「{near}」附近）：{message}",
                )
            ],
        )


# -- lexer -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tok:
    kind: str  # word, phrase, lparen, rparen, and, or, not, field
    text: str
    start: int
    end: int
    glued: bool = False  # a word/phrase/paren directly after a field prefix


def _field_key(name: str) -> str | None:
    return FIELD_NAMES.get(name) or FIELD_NAMES.get(name.lower())


def _is_field(name: str, colon: str) -> bool:
    """Whether ``name`` before a colon is meant as a field prefix.

    Known names always are. An unknown name before an ASCII colon (``作者:张三``) is taken as a
    mistyped field and reported; text before a full-width colon (a title such as
    ``会议纪要：第三次``) is just text.
    """
    if not name or not _FIELD_NAME.fullmatch(name):
        return False
    return _field_key(name) is not None or (colon == ":" and len(name) <= 8)


def _lex(text: str, syn: QuerySyntax) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    after_field = False
    while i < n:
        ch = text[i]
        if _SPACE.match(ch):
            i += 1
            after_field = False
            continue
        if ch in _OPEN_PAREN:
            toks.append(_Tok("lparen", ch, i, i + 1, after_field))
            i += 1
            after_field = False
            continue
        if ch in _CLOSE_PAREN:
            toks.append(_Tok("rparen", ch, i, i + 1))
            i += 1
            after_field = False
            continue
        if ch in _QUOTES:
            closers = _CLOSERS[ch]
            j = i + 1
            while j < n and text[j] not in closers:
                j += 1
            if j >= n:
                raise syn.error(i, f"引号「{ch}」没有对应的右引号")
            toks.append(_Tok("phrase", text[i + 1 : j], i, j + 1, after_field))
            i = j + 1
            after_field = False
            continue
        j = i
        while j < n:
            c = text[j]
            if _SPACE.match(c) or c in _OPEN_PAREN or c in _CLOSE_PAREN:
                break
            if c in _COLONS and not after_field and _is_field(text[i:j], c):
                break
            j += 1
        word = text[i:j]
        if j < n and text[j] in _COLONS and not after_field and _is_field(word, text[j]):
            if _field_key(word) is None:
                known = "、".join(k for k in FIELD_NAMES if not k.isascii())
                raise syn.error(
                    i,
                    f"检索字段「{word}」不存在。可用字段：{known}"
                    "（如要检索含冒号的文字，请加引号）",
                )
            toks.append(_Tok("field", word, i, j + 1))
            i = j + 1
            after_field = True
            if i >= n or _SPACE.match(text[i]):
                raise syn.error(i, f"字段「{word}」后缺少检索词")
            continue
        kind = "word"
        if not after_field:
            if word == "-" and j < n and text[j] in _OPEN_PAREN:
                kind = "not"  # -(a OR b)
            elif word in _AND:
                kind = "and"
            elif word in _OR:
                kind = "or"
            elif word in _NOT:
                kind = "not"
        toks.append(_Tok(kind, word, i, j, after_field))
        i = j
        after_field = False
    return toks


# -- parser ----------------------------------------------------------------------------------------


@dataclass
class _Parser:
    toks: list[_Tok]
    syn: QuerySyntax
    resolve: Callable[[str, str, int], Node]
    default_field: str | None = None
    pos: int = 0
    terms: int = 0
    depth: int = 0
    end: int = field(default=0)

    def peek(self) -> _Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def parse(self) -> Node:
        node = self.or_expr()
        tok = self.peek()
        if tok is not None:
            if tok.kind == "rparen":
                raise self.syn.error(tok.start, "多了一个右括号「）」")
            raise self.syn.error(tok.start, f"无法理解「{tok.text}」")  # pragma: no cover
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while (tok := self.peek()) is not None and tok.kind == "or":
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind in ("or", "and", "rparen"):
                raise self.syn.error(
                    nxt.start if nxt else self.end, f"「{tok.text}」后面缺少检索词"
                )
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.unary()]
        while (tok := self.peek()) is not None and tok.kind not in ("or", "rparen"):
            if tok.kind == "and":
                self.take()
                nxt = self.peek()
                if nxt is None or nxt.kind in ("or", "and", "rparen"):
                    raise self.syn.error(
                        nxt.start if nxt else self.end, f"「{tok.text}」后面缺少检索词"
                    )
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise self.syn.error(self.end, "缺少检索词")
        if tok.kind in ("and", "or"):
            raise self.syn.error(tok.start, f"「{tok.text}」前面缺少检索词")
        if tok.kind == "not":
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind in ("or", "and", "rparen", "not"):
                raise self.syn.error(
                    nxt.start if nxt else self.end, f"「{tok.text}」后面缺少检索词"
                )
            return Not(self.unary(), tok.start)
        if tok.kind == "word" and tok.text.startswith("-") and len(tok.text) > 1 and not tok.glued:
            self.take()
            inner = _Tok("word", tok.text[1:], tok.start + 1, tok.end)
            return Not(self.word(inner, self.default_field), tok.start)
        return self.primary()

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "lparen":
            return self.group(tok, self.default_field)
        if tok.kind == "rparen":
            raise self.syn.error(tok.start, "多了一个右括号「）」")
        if tok.kind == "field":
            if self.default_field is not None:
                raise self.syn.error(
                    tok.start,
                    f"字段「{self.default_field_label()}」的括号内不能再用字段「{tok.text}」",
                )
            name = _field_key(tok.text)
            assert name is not None
            value = self.peek()
            if value is None or not value.glued:
                raise self.syn.error(tok.end, f"字段「{tok.text}」后缺少检索词")
            self.take()
            if value.kind == "lparen":
                if name not in TEXT_FIELD_LABELS:
                    raise self.syn.error(value.start, f"字段「{tok.text}」不能跟括号，请写单个值")
                return self.group(value, name)
            return self.word(value, name, field_label=tok.text)
        return self.word(tok, self.default_field)

    def default_field_label(self) -> str:
        return TEXT_FIELD_LABELS.get(self.default_field or "", self.default_field or "")

    def group(self, open_tok: _Tok, field_name: str | None) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.syn.error(open_tok.start, f"括号嵌套超过 {MAX_DEPTH} 层")
        saved = self.default_field
        self.default_field = field_name
        nxt = self.peek()
        if nxt is None:
            raise self.syn.error(open_tok.start, "左括号「（」没有对应的右括号")
        if nxt.kind == "rparen":
            raise self.syn.error(open_tok.start, "括号内是空的")
        node = self.or_expr()
        close = self.peek()
        if close is None or close.kind != "rparen":
            raise self.syn.error(open_tok.start, "左括号「（」没有对应的右括号")
        self.take()
        self.default_field = saved
        self.depth -= 1
        return node

    def word(self, tok: _Tok, field_name: str | None, field_label: str = "") -> Node:
        if tok.kind not in ("word", "phrase"):
            raise self.syn.error(tok.start, f"「{tok.text}」不能作为检索词")
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.syn.error(tok.start, f"检索词超过 {MAX_TERMS} 个，请简化检索式")
        if field_name is not None and field_name not in TEXT_FIELD_LABELS:
            return self.resolve(field_name, tok.text, tok.start)
        if not runs(fold(tok.text)):
            what = f"字段「{field_label}」的值" if field_label else f"「{tok.text}」"
            raise self.syn.error(tok.start, f"{what}中没有可检索的文字或数字")
        return Term(field_name, tok.text, tok.start, phrase=tok.kind == "phrase")


def parse(
    text: str,
    *,
    param: str = "q",
    field_name: str | None = None,
    resolve_facet: Callable[[str, str], str | None] | None = None,
) -> ParsedQuery:
    """Parse one query string; ``field_name`` makes every word search that field.

    ``resolve_facet(field, value)`` turns what an archivist types (文书, 永久) into the stored code
    (WS, Y), or returns None when the value is not valid for the field.
    """
    syn = QuerySyntax(text, param)
    if len(text) > MAX_QUERY_CHARS:
        raise syn.error(MAX_QUERY_CHARS, f"检索式超过 {MAX_QUERY_CHARS} 个字符")
    toks = _lex(text, syn)
    if not toks:
        return ParsedQuery(None, text)

    def resolve(name: str, value: str, start: int) -> Node:
        return _resolve_value(name, value, start, syn, resolve_facet)

    p = _Parser(toks, syn, resolve, default_field=field_name, end=len(text))
    return ParsedQuery(p.parse(), text)


def _resolve_value(
    name: str,
    value: str,
    start: int,
    syn: QuerySyntax,
    resolve_facet: Callable[[str, str], str | None] | None,
) -> Node:
    label = FACET_NAMES.get(name, "日期")
    if name == "year":
        lo, hi = _year_range(value, start, syn)
        return Range("year", lo, hi, start)
    if name == "date":
        lo, hi = _date_range(value, start, syn)
        return Range("date", lo, hi, start)
    code = value.strip()
    if resolve_facet is not None:
        found = resolve_facet(name, code)
        if found is None:
            raise syn.error(start, f"「{value}」不是有效的{label}")
        code = found
    return Facet(name, code, start)


def _bounds(value: str, start: int, syn: QuerySyntax) -> tuple[str, str]:
    parts = _RANGE_SPLIT.split(value)
    if len(parts) == 1:
        return value, value
    if len(parts) != 2:
        raise syn.error(start, f"范围「{value}」应写作 起..止")
    return parts[0], parts[1]


def _year_range(value: str, start: int, syn: QuerySyntax) -> tuple[int | None, int | None]:
    if "-" in value and ".." not in value and re.fullmatch(r"\d{4}-\d{4}", value):
        value = value.replace("-", "..")
    a, b = _bounds(value, start, syn)
    years: list[int | None] = []
    for part in (a, b):
        part = part.strip().removesuffix("年")
        if not part:
            years.append(None)
            continue
        if not _YEAR.fullmatch(part) or not 1000 <= int(part) <= 2999:
            raise syn.error(start, f"年度「{part}」应为四位年份，范围写作 2010..2015")
        years.append(int(part))
    lo, hi = years
    if lo is None and hi is None:
        raise syn.error(start, "年度范围的起止不能都为空")
    if lo is not None and hi is not None and lo > hi:
        raise syn.error(start, f"年度范围的起年 {lo} 晚于止年 {hi}")
    return lo, hi


def _date_value(part: str, start: int, syn: QuerySyntax, *, upper: bool) -> int:
    m = _DATE.fullmatch(part)
    if not m:
        raise syn.error(start, f"日期「{part}」应写作 2010-03-01、20100301、2010-03 或 2010")
    y = int(m.group(1))
    mo = int(m.group(2)) if m.group(2) else None
    d = int(m.group(3)) if m.group(3) else None
    if len(part) == 8 and part.isdigit():
        mo, d = int(part[4:6]), int(part[6:8])
    try:
        if mo is None:
            return y * 10_000 + (1231 if upper else 0)
        date(y, mo, d or 1)
    except ValueError:
        raise syn.error(start, f"日期「{part}」不是有效日期") from None
    if d is None:
        return y * 10_000 + mo * 100 + (31 if upper else 0)
    return y * 10_000 + mo * 100 + d


def _date_range(value: str, start: int, syn: QuerySyntax) -> tuple[int | None, int | None]:
    if ".." not in value and not re.search("[～~—至]", value) and value.count("-") == 1:
        # 2010-2011 is a range of years; 2010-03 a month
        a, b = value.split("-")
        if len(a) == 4 and len(b) == 4:
            value = f"{a}..{b}"
    a, b = _bounds(value, start, syn)
    lo = _date_value(a.strip(), start, syn, upper=False) if a.strip() else None
    hi = _date_value(b.strip(), start, syn, upper=True) if b.strip() else None
    if lo is None and hi is None:
        raise syn.error(start, "日期范围的起止不能都为空")
    if lo is not None and hi is not None and lo > hi:
        raise syn.error(start, "日期范围的起日晚于止日")
    return lo, hi


# -- compiling -------------------------------------------------------------------------------------

_RUST_META = re.compile(r"([\\.+*?()|\[\]{}^$#&\-~])")


def _regex_escape(token: str) -> str:
    return _RUST_META.sub(r"\\\1", token)


def _is_bigram(slot: Slot) -> bool:
    return not slot.prefix and len(slot.token) == 2 and slot.token > "\u2fff"


def _kept(slots: Sequence[Slot]) -> list[tuple[int, Slot]]:
    """The slots a phrase query needs, with their positions: in a chain of CJK bigrams every
    other one is implied by its neighbours (``档案 案馆 馆藏`` → ``档案@0 馆藏@2``).

    The token at a skipped position is fixed by the characters of its neighbours, and it cannot
    be the end of a run there, because punctuation between CJK characters is removed at folding
    (analysis), so a CJK run ends only before a Latin/digit run or a value separator, never
    before another CJK bigram. Phrase queries read half the posting lists for the same answer.
    """
    kept: list[tuple[int, Slot]] = []
    i, n = 0, len(slots)
    while i < n:
        j = i
        if _is_bigram(slots[i]):
            while j + 1 < n and _is_bigram(slots[j + 1]):
                j += 1
        kept += [(k, slots[k]) for k in range(i, j + 1) if (k - i) % 2 == 0 or k == j]
        i = j + 1
    return kept


def _slots_query(schema: tantivy.Schema, field_name: str, slots: Sequence[Slot]) -> tantivy.Query:
    kept = _kept(slots)
    if not slots[-1].prefix:
        if len(kept) == 1:
            return tantivy.Query.term_query(schema, field_name, kept[0][1].token)
        return tantivy.Query.phrase_query(schema, field_name, [(k, s.token) for k, s in kept])
    last = _regex_escape(slots[-1].token) + ".?"
    if len(kept) == 1:
        return tantivy.Query.regex_query(schema, field_name, last)
    words: list[str | tuple[int, str]] = [(k, _regex_escape(s.token)) for k, s in kept[:-1]]
    words.append((kept[-1][0], last))
    return tantivy.Query.regex_phrase_query(schema, field_name, words)


def _looks_like_code(text: str) -> bool:
    parts = runs(fold(text))
    return len(parts) >= 2 and any(p.isdigit() for p in parts)


def _term_query(
    schema: tantivy.Schema, term: Term, fields: Mapping[str, str] | None = None
) -> tantivy.Query:
    slots = query_slots(fold(term.text))
    if term.field is not None:
        q = _slots_query(
            schema, fields.get(term.field, term.field) if fields else term.field, slots
        )
        if term.field in ("code", "docno"):
            key = tantivy.Query.term_query(schema, f"{term.field}_key", key_form(term.text))
            return tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Should, q),
                    (tantivy.Occur.Should, tantivy.Query.boost_query(key, 20.0)),
                ]
            )
        return q
    subs: list[tuple[tantivy.Occur, tantivy.Query]] = [
        (
            tantivy.Occur.Should,
            tantivy.Query.boost_query(
                _slots_query(schema, fields.get(f, f) if fields else f, slots), w
            ),
        )
        for f, w in DEFAULT_FIELDS
    ]
    if _looks_like_code(term.text):  # an exact 档号 or 文号 lookup ranks first
        exact = key_form(term.text)
        for f, w in (("code_key", 50.0), ("docno_key", 30.0)):
            subs.append(
                (
                    tantivy.Occur.Should,
                    tantivy.Query.boost_query(tantivy.Query.term_query(schema, f, exact), w),
                )
            )
    return tantivy.Query.boolean_query(subs)


def compile_query(
    schema: tantivy.Schema, node: Node, fields: Mapping[str, str] | None = None
) -> tantivy.Query:
    """The tantivy query of an AST node. ``fields`` renames text fields (the public, masked
    form of a published record's text: ``schema.PUBLIC_TEXT_FIELDS``)."""
    if isinstance(node, Term):
        return _term_query(schema, node, fields)
    if isinstance(node, Range):
        return tantivy.Query.range_query(
            schema, node.field, tantivy.FieldType.Integer, node.lo, node.hi
        )
    if isinstance(node, Facet):
        value: int | str = node.value
        return tantivy.Query.term_query(schema, node.field, value)
    if isinstance(node, MatchAll):
        return tantivy.Query.all_query()
    if isinstance(node, Not):
        return tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, tantivy.Query.all_query()),
                (tantivy.Occur.MustNot, compile_query(schema, node.item, fields)),
            ]
        )
    if isinstance(node, Or):
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, compile_query(schema, n, fields)) for n in node.items]
        )
    clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
    for item in node.items:
        if isinstance(item, Not):
            clauses.append((tantivy.Occur.MustNot, compile_query(schema, item.item, fields)))
        else:
            clauses.append((tantivy.Occur.Must, compile_query(schema, item, fields)))
    if all(occ == tantivy.Occur.MustNot for occ, _ in clauses):
        clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
    return tantivy.Query.boolean_query(clauses)


def estimate_hits(searcher: tantivy.Searcher, node: Node | None) -> int:
    """An upper bound of the hits of ``node`` from term statistics alone (no query is run).

    A phrase cannot match more documents than its rarest token; AND is at most its smallest part,
    OR at most the sum. Used to decide, before searching, whether facets are counted exactly.
    """
    everything = int(searcher.num_docs)
    if node is None or isinstance(node, MatchAll | Range | Not):
        return everything
    if isinstance(node, Facet):
        return int(searcher.doc_freq(node.field, node.value))
    if isinstance(node, Term):
        exact = [s.token for s in query_slots(fold(node.text)) if not s.prefix]
        fields = [node.field] if node.field else [f for f, _ in DEFAULT_FIELDS]
        if not exact:
            return everything
        total = sum(min(int(searcher.doc_freq(f, t)) for t in exact) for f in fields)
        if node.field in ("code", "docno") or (node.field is None and _looks_like_code(node.text)):
            key = key_form(node.text)
            total += sum(int(searcher.doc_freq(f, key)) for f in ("code_key", "docno_key"))
        return min(everything, total)
    parts = [estimate_hits(searcher, n) for n in node.items]
    if isinstance(node, Or):
        return min(everything, sum(parts))
    return min(parts)


def highlight_terms(node: Node | None, negated: bool = False) -> list[tuple[str | None, str]]:
    """The (field, text) of every term that a hit matched (terms under NOT are left out)."""
    if node is None:
        return []
    if isinstance(node, Term):
        return [] if negated else [(node.field, node.text)]
    if isinstance(node, Not):
        return highlight_terms(node.item, not negated)
    if isinstance(node, And | Or):
        return [t for n in node.items for t in highlight_terms(n, negated)]
    return []
