"""Synthetic catalogue records, millions of them, for benchmarks and the demo.

``generate_records`` fills a fonds (全宗, default ``Z109`` 某市人民政府办公室) with 文书档案 items
built from the real vocabulary in ``vocabulary.yaml``: titles of the form 关于{事项}的{文种} with
real government matters limited to the years they existed, issuing bodies with the names they
had in each year, 文号 such as ``赣府发〔2010〕12号``, weekday dates, 保管期限, 密级 (mostly 公开),
页数 and 机构（问题）codes. The same ``seed`` gives the same records (their ids and uids aside).

Speed comes from bypassing the per-record service path, and nothing else is skipped:

* every record gets its 档号 from the configured rule (``CodeRuleBook.rule_for``,
  ``CodeRule.render_prefix``/``format``), consecutively per counter group, and the counter rows
  are advanced (``advance_counter``) to the highest number used, in the same transaction, so a
  record created afterwards through the catalogue service continues the sequence;
* closure rows (self at depth 0 and every ancestor) are written for every record;
* the 类别 nodes (one per year) are created through ``Catalogue.ensure_series``, so they are
  validated and logged like any other record;
* generated records are **logged per batch**, not per record: each committed batch appends one
  ``catalogue:records:generated`` event naming the fonds, the number of records and the id range;
* the first record of each batch is checked against the metadata scheme, so a vocabulary or an
  instance configuration that produces invalid records fails with the first batch, before
  anything is written; bad arguments, years without vocabulary and 档号 groups that would
  overflow are refused before anything is written too.
* records are dated on working days in filing order: within a 类别, position, date and 件号
  ascend together.

Rows are inserted with SQLAlchemy Core ``Connection.exec_driver_sql`` executemany in batches of
``batch`` records (one transaction each), with values already in the form the column types store
(the JSON and timestamp columns go through their own bind processors). That is about 2.5 times
faster than ``insert()`` executemany, whose per-row parameter processing dominated. Ids are
allocated up front (``max(id)`` under SQLite's write lock; the ``records`` sequence on PostgreSQL)
so the closure rows can be inserted with two ``INSERT … SELECT`` statements per batch. On
PostgreSQL the foreign-key triggers of ``records`` and ``record_closure`` dominate the cost
(COPY was measured and is no faster).

Do not run the generator on a fonds that archivists are cataloguing at the same time: counter
rows are locked per batch on PostgreSQL, but a new counter group created concurrently could
still clash (the batch then fails on the 档号 uniqueness rule and is rolled back).
"""

from __future__ import annotations

import os
import random
import string
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from lantai.archival import Level, MetadataScheme
from lantai.archival.archival_code import CodeRule
from lantai.audit import EventType
from lantai.catalogue.counters import advance_counter
from lantai.errors import ConfigError, InputError, Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import COLUMN_KEYS, CodeCounter, Record, utcnow

__all__ = [
    "GenerateSummary",
    "Vocabulary",
    "default_years",
    "generate_records",
    "generate_wide_series",
    "load_vocabulary",
]

CATEGORY = "WS"
MAX_BATCH = 100_000
FIRST_YEAR = 1949
Progress = Callable[[int], None]


# -- vocabulary ----------------------------------------------------------------------------------


# libyaml's loader when present: the pure-Python one takes ~0.1 s for vocabulary.yaml.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Weighted(_Strict):
    value: str
    weight: int = Field(ge=0, le=10_000)


class Matter(_Strict):
    text: str = Field(min_length=1)
    from_: int | None = Field(None, alias="from")
    to: int | None = None


class Issuer(_Strict):
    name: str = Field(min_length=1)
    fa: str | None = None
    zi: str | None = None
    han: str | None = None
    ji: str | None = None
    from_: int | None = Field(None, alias="from")
    to: int | None = None
    weight: int = Field(1, ge=0, le=10_000)

    def prefix(self, kind: str) -> str | None:
        """The 机关代字 for a number kind, falling back to the 发文 代字."""
        value: str | None = getattr(self, kind)
        return value or self.fa


Source = Literal["own", "superior", "subordinate", "other", "petition"]
NumberKind = Literal["fa", "zi", "han", "ji"]
_PLACEHOLDERS = frozenset({"matter", "year", "city", "district", "plan", "rule", "person", "n"})


class Template(_Strict):
    pattern: str
    source: Source
    doc_type: str
    org: str = Field(pattern=r"^[A-Z0-9]{1,12}$")
    number: NumberKind | None = None
    retention: dict[str, Annotated[int, Field(ge=0, le=10_000)]]
    pages: tuple[int, int]
    main_recipient: bool = False
    weight: int = Field(1, ge=0, le=10_000)

    @model_validator(mode="after")
    def _check(self) -> Template:
        names = {f for _, f, _, _ in string.Formatter().parse(self.pattern) if f is not None}
        unknown = names - _PLACEHOLDERS
        if unknown:
            raise ValueError(f"题名模式含未知占位符：{'、'.join(sorted(unknown))}")
        if not 1 <= self.pages[0] <= self.pages[1]:
            raise ValueError("pages 应为 [最少, 最多]，且最少不小于 1")
        if not self.retention or sum(self.retention.values()) <= 0:
            raise ValueError("retention 须至少有一个权重大于 0 的保管期限")
        return self


class FondsSpec(_Strict):
    name: str
    responsible: str
    custody_history: str
    series_title: str
    wide_series_title: str


class Vocabulary(_Strict):
    """The validated content of ``vocabulary.yaml``."""

    version: Literal[1]
    city: str
    fonds: FondsSpec
    districts: tuple[str, ...] = Field(min_length=1)
    plans: tuple[str, ...] = Field(min_length=1)
    rules: tuple[str, ...] = Field(min_length=1)
    surnames: tuple[str, ...] = Field(min_length=1)
    given_names: tuple[str, ...] = Field(min_length=1)
    matters: tuple[Matter, ...] = Field(min_length=1)
    issuers: dict[Source, tuple[Issuer, ...]]
    main_recipients: dict[Source, str]
    templates: tuple[Template, ...] = Field(min_length=1)
    security: tuple[Weighted, ...] = Field(min_length=1)
    open_after_years: int = Field(ge=1)
    open_status_old: tuple[Weighted, ...] = Field(min_length=1)
    disclosure_from: int
    disclosure: tuple[Weighted, ...] = Field(min_length=1)
    holidays: frozenset[str] = frozenset()
    growth: float = Field(0.0, ge=0.0)

    @model_validator(mode="after")
    def _sources(self) -> Vocabulary:
        for t in self.templates:
            if not self.issuers.get(t.source):
                raise ValueError(f"模板「{t.pattern}」的来源 {t.source} 没有发文机关")
        weighted: dict[str, Sequence[int]] = {
            "templates": [t.weight for t in self.templates],
            "security": [w.weight for w in self.security],
            "open_status_old": [w.weight for w in self.open_status_old],
            "disclosure": [w.weight for w in self.disclosure],
        }
        for name, weights in weighted.items():
            if sum(weights) <= 0:
                raise ValueError(f"{name} 的权重之和须大于 0")
        return self

    @property
    def orgs(self) -> tuple[str, ...]:
        """机构（问题）codes in the order templates first use them."""
        return tuple(dict.fromkeys(t.org for t in self.templates))

    @property
    def retentions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for t in self.templates for r in t.retention))


def _vocabulary_path() -> Path:
    return Path(str(resources.files("lantai.demo") / "vocabulary.yaml"))


def load_vocabulary(path: Path | None = None) -> Vocabulary:
    """Read and validate a vocabulary file (the shipped one by default)."""
    path = path or _vocabulary_path()
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            "生成器词表无法读取", [Problem(file=str(path), rule="YAML", message=str(exc))]
        ) from exc
    try:
        return Vocabulary.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(
                file=str(path),
                field=".".join(str(p) for p in err["loc"]),
                rule="schema",
                message=str(err.get("msg", "")).removeprefix("Value error, "),
            )
            for err in exc.errors()
        ]
        raise ConfigError("生成器词表校验失败", problems) from exc


# -- drawing values -------------------------------------------------------------------------------


class _Choice:
    """Weighted choice, O(1): integer weights are expanded into a lookup table."""

    def __init__(self, items: Sequence[Any], weights: Sequence[int]) -> None:
        table = [i for i, w in zip(items, weights, strict=True) for _ in range(w)]
        if not table:
            raise ValueError("no item with a positive weight")
        if len(table) > 100_000:
            raise ValueError("weights too large")
        self.table = table
        self.n = len(table)

    def pick(self, rng: random.Random) -> Any:
        return self.table[int(rng.random() * self.n)]


@dataclass(frozen=True)
class _Form:
    """A title template prepared for drawing: which placeholders need a random value."""

    t: Template
    slots: tuple[tuple[str, tuple[str, ...] | None], ...]  # None: the year's matters
    retention: _Choice
    person: bool
    meeting: bool

    @classmethod
    def of(cls, t: Template, vocab: Vocabulary) -> _Form:
        names = {f for _, f, _, _ in string.Formatter().parse(t.pattern) if f}
        pools = {"district": vocab.districts, "plan": vocab.plans, "rule": vocab.rules}
        slots = tuple(
            (n, pools.get(n)) for n in ("matter", "district", "plan", "rule") if n in names
        )
        return cls(
            t=t,
            slots=slots,
            retention=_Choice(list(t.retention), list(t.retention.values())),
            person="person" in names,
            meeting="n" in names,
        )


def _in_years(year: int, start: int | None, end: int | None) -> bool:
    return (start is None or year >= start) and (end is None or year <= end)


@lru_cache(maxsize=256)
def _workdays(year: int, today: date, holidays: frozenset[str]) -> list[str]:
    """Weekdays of ``year`` up to ``today`` that are not holidays (MMDD), as YYYYMMDD, ascending.

    Cached: a run's probe and its drawing both need every year of the plan (callers only read).
    """
    first = date(year, 1, 1).toordinal()
    last = min(date(year, 12, 31).toordinal(), today.toordinal())
    out: list[str] = []
    for d in map(date.fromordinal, range(first, last + 1)):
        if d.weekday() < 5:
            md = f"{d.month:02d}{d.day:02d}"
            if md not in holidays:
                out.append(f"{year:04d}{md}")
    return out


class _Synth:
    """Draws the element values (stored form) of synthetic items, deterministic by seed."""

    def __init__(self, vocab: Vocabulary, seed: int, today: date) -> None:
        self.v = vocab
        self.rng = random.Random(seed)
        self.today = today
        self.forms = _Choice(
            [_Form.of(t, vocab) for t in vocab.templates], [t.weight for t in vocab.templates]
        )
        self.security = _Choice(
            [w.value for w in vocab.security], [w.weight for w in vocab.security]
        )
        self.open_old = _Choice(
            [w.value for w in vocab.open_status_old], [w.weight for w in vocab.open_status_old]
        )
        self.disclosure = _Choice(
            [w.value for w in vocab.disclosure], [w.weight for w in vocab.disclosure]
        )
        self._year_cache: dict[int, tuple[list[str], dict[str, _Choice], list[str]]] = {}
        self._numbers: dict[tuple[str, int], int] = {}

    def _year(self, year: int) -> tuple[list[str], dict[str, _Choice], list[str]]:
        cached = self._year_cache.get(year)
        if cached is not None:
            return cached
        matters = [m.text for m in self.v.matters if _in_years(year, m.from_, m.to)]
        if not matters:
            raise InputError(f"词表中没有适用于 {year} 年的事项")
        issuers: dict[str, _Choice] = {}
        for source, pool in self.v.issuers.items():
            valid = [i for i in pool if i.weight and _in_years(year, i.from_, i.to)]
            if valid:
                issuers[source] = _Choice(valid, [i.weight for i in valid])
        days = _workdays(year, self.today, self.v.holidays)
        if not days:
            raise InputError(f"{year} 年没有不晚于今天的工作日，不能生成该年度的条目")
        if "own" not in issuers:
            raise InputError(f"词表中没有适用于 {year} 年的本机关发文机关")
        self._year_cache[year] = (matters, issuers, days)
        return self._year_cache[year]

    def prepare(self, years: Sequence[int]) -> None:
        """Build (and so check) the per-year tables before anything is written."""
        for year in years:
            self._year(year)

    def dates(self, year: int, n: int) -> list[str]:
        """``n`` weekday dates of ``year`` in ascending order (filing order within the year)."""
        days = self._year(year)[2]
        rnd = self.rng.randrange
        k = len(days)
        return [days[i] for i in sorted(rnd(k) for _ in range(n))]

    def person(self) -> str:
        rng = self.rng
        given = self.v.given_names
        name = rng.choice(self.v.surnames) + rng.choice(given)
        return name + rng.choice(given) if rng.random() < 0.7 else name

    def item(self, year: int, day: str) -> dict[str, Any]:
        """The values of one item of ``year`` dated ``day`` (YYYYMMDD), in stored form."""
        rng = self.rng
        v = self.v
        matters, issuers, _ = self._year(year)
        form: _Form = self.forms.pick(rng)
        t = form.t
        pool = issuers.get(t.source) or issuers["own"]
        issuer: Issuer = pool.pick(rng)
        slots: dict[str, Any] = {"year": year, "city": v.city}
        for name, choices in form.slots:
            options = matters if choices is None else choices
            slots[name] = options[int(rng.random() * len(options))]
        person = self.person() if form.person else ""
        if person:
            slots["person"] = person
        if form.meeting:
            slots["n"] = 1 + int(rng.random() * 40)
        security = self.security.pick(rng)
        values: dict[str, Any] = {
            "title": t.pattern.format_map(slots),
            "responsible": issuer.name,
            "date": day,
            "year": year,
            "retention": form.retention.pick(rng),
            "org_code": t.org,
            "security_level": security,
            "pages": t.pages[0] + int((t.pages[1] - t.pages[0] + 1) * rng.random() ** 2),
            "doc_type": t.doc_type,
        }
        if t.number is not None:
            prefix = issuer.prefix(t.number)
            if prefix:
                key = (prefix, year)
                n = self._numbers.get(key, 0) + 1 + (rng.random() < 0.3)
                self._numbers[key] = n
                values["doc_number"] = f"{prefix}〔{year}〕{n}号"
        if security != "公开":
            values["open_status"] = "控制"
        elif self.today.year - year >= v.open_after_years:
            values["open_status"] = self.open_old.pick(rng)
        else:
            values["open_status"] = "未审核"
        if t.source == "own" and year >= v.disclosure_from:
            disclosure = self.disclosure.pick(rng)
            if disclosure:
                values["disclosure"] = disclosure
        if t.main_recipient and t.source in v.main_recipients:
            values["main_recipient"] = v.main_recipients[t.source]
        if person:
            values["persons"] = person
        return values


def _plan(records: int, years: tuple[int, int], growth: float) -> list[tuple[int, int]]:
    """Split ``records`` over the years, growing linearly by ``growth`` (largest remainder)."""
    first, last = years
    span = last - first + 1
    weights = [1.0 + growth * (i / (span - 1) if span > 1 else 0.0) for i in range(span)]
    total = sum(weights)
    exact = [records * w / total for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(span), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in order[: records - sum(counts)]:
        counts[i] += 1
    return [(first + i, c) for i, c in enumerate(counts) if c]


def default_years(records: int, today: date) -> tuple[int, int]:
    """Last complete year back far enough to keep every 档号 group well below its limit."""
    last = today.year - 1
    span = min(max(-(-records // 25_000), 10), last - FIRST_YEAR + 1)
    return last - span + 1, last


# -- 档号 ------------------------------------------------------------------------------------------


class _Codes:
    """Assigns 档号 by the configured rule, consecutively per counter group."""

    def __init__(
        self, rule: CodeRule | None, fonds_code: str, orgs: Sequence[str], retentions: Sequence[str]
    ) -> None:
        self.rule = rule
        self.fonds_code = fonds_code
        self.orgs = tuple(orgs)
        self.retentions = tuple(retentions)
        self.limit = 10**rule.counter.width - 1 if rule is not None else 0
        self.start = rule.counter.start if rule is not None else 1
        self.current: dict[str, int] = {}
        self.used: dict[str, int] = {}
        self._prefix: dict[tuple[int, str, str], tuple[str, str]] = {}

    def group(self, year: int, retention: str, org: str) -> tuple[str, str]:
        key = (year, retention, org)
        found = self._prefix.get(key)
        if found is None:
            assert self.rule is not None
            values = {
                "fonds_code": self.fonds_code,
                "category": CATEGORY,
                "year": year,
                "retention": retention,
                "org_code": org,
            }
            try:
                prefix = self.rule.render_prefix(values)
            except ValueError as exc:
                raise InputError(
                    f"档号规则 {self.rule.id} 需要生成器不提供的著录项，不能生成条目",
                    [Problem(field="档号", rule=self.rule.id, message=str(exc))],
                ) from exc
            found = self._prefix[key] = (prefix, self.rule.group_key(prefix))
        return found

    def groups_of(self, years: Sequence[int]) -> list[str]:
        """The distinct counter groups of the years (a rule may not use every field)."""
        groups = (self.group(y, r, o)[1] for y in years for r in self.retentions for o in self.orgs)
        return list(dict.fromkeys(groups))

    def load(self, session: Session, years: Sequence[int], *, lock: bool) -> None:
        """Read the stored counters of the years' groups (row-locked on PostgreSQL)."""
        if self.rule is None:
            return
        keys = self.groups_of(years)
        for i in range(0, len(keys), 500):
            q = select(CodeCounter.group_key, CodeCounter.value).where(
                CodeCounter.group_key.in_(keys[i : i + 500])
            )
            if lock:
                q = q.with_for_update()
            for key, value in session.execute(q):
                self.current[key] = max(self.current.get(key, 0), int(value))

    def free(self, year: int) -> int:
        return sum(
            self.limit - max(self.current.get(g, 0), self.start - 1) for g in self.groups_of([year])
        )

    def assign(self, values: dict[str, Any]) -> str | None:
        """The next 档号 for an item; moves it to another group of its year when one is full."""
        if self.rule is None:
            return None
        year = values["year"]
        retention = values["retention"]
        org = values["org_code"]
        prefix, group = self._prefix.get((year, retention, org)) or self.group(year, retention, org)
        n = max(self.current.get(group, 0), self.start - 1) + 1
        if n <= self.limit:
            self.current[group] = self.used[group] = n
            return self.rule.format(prefix, n)
        # The group is full: the same 保管期限 under another 机构（问题）first, then any group.
        candidates = [(retention, o) for o in self.orgs if o != org]
        candidates += [(r, o) for r in self.retentions if r != retention for o in self.orgs]
        for r, o in candidates:
            prefix, group = self.group(year, r, o)
            n = max(self.current.get(group, 0), self.start - 1) + 1
            if n <= self.limit:
                self.current[group] = self.used[group] = n
                values["retention"], values["org_code"] = r, o
                return self.rule.format(prefix, n)
        raise InputError(
            f"{year} 年各档号分组的{self.rule.counter_label}均已用满（上限 {self.limit}），"
            "请减少条目数或扩大年度范围"
        )


# -- bulk writing ----------------------------------------------------------------------------------

# fmt: off
_COLUMNS = (
    "id", "uid", "level", "parent_id", "fonds_id", "position", "category", "archival_code",
    "code_rule", "title", "responsible", "date", "year", "retention", "security_level",
    "security_rank", "open_status", "disclosure", "doc_number", "pages", "org_code", "fields",
    "lifecycle", "version", "created_at", "updated_at", "created_by", "updated_by",
)
# fmt: on


def _check_columns() -> None:
    table = Record.__table__
    missing = [
        c.name
        for c in table.columns
        if c.name not in _COLUMNS and not c.nullable and c.server_default is None
    ]
    if missing:  # pragma: no cover - guards a future model change
        raise RuntimeError(f"generator does not fill required columns: {missing}")


class _Writer:
    """Dialect-specific id allocation, row and closure inserts."""

    def __init__(self, session: Session) -> None:
        _check_columns()
        dialect = session.get_bind().dialect
        self.postgres = dialect.name == "postgresql"
        table = Record.__table__
        quote = dialect.identifier_preparer.quote
        mark = "%s" if dialect.paramstyle in ("format", "pyformat") else "?"
        self.insert_sql = (
            f"INSERT INTO records ({', '.join(quote(c) for c in _COLUMNS)}) "
            f"VALUES ({', '.join(mark for _ in _COLUMNS)})"
        )
        self.json = table.c.fields.type.dialect_impl(dialect).bind_processor(dialect)
        self.stamp = table.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
        self.sequence: str | None = None
        if self.postgres:
            self.sequence = session.scalar(text("SELECT pg_get_serial_sequence('records', 'id')"))

    def ids(self, session: Session, n: int) -> list[int]:
        if self.postgres:
            return list(
                session.scalars(
                    text("SELECT nextval(CAST(:seq AS regclass)) FROM generate_series(1, :n)"),
                    {"seq": self.sequence, "n": n},
                )
            )
        top = session.scalar(select(func.coalesce(func.max(Record.id), 0))) or 0
        return list(range(top + 1, top + n + 1))

    def insert(self, session: Session, rows: list[tuple[Any, ...]]) -> None:
        session.connection().exec_driver_sql(self.insert_sql, rows)

    def closure(self, session: Session, ids: list[int]) -> None:
        params: dict[str, Any]
        if self.postgres:
            where, params = "r.id = ANY(:ids)", {"ids": ids}
        else:  # ids are max(id)+1 … under the write lock: a contiguous range
            where, params = "r.id BETWEEN :lo AND :hi", {"lo": ids[0], "hi": ids[-1]}
        session.execute(
            text(
                "INSERT INTO record_closure (ancestor_id, descendant_id, depth) "
                f"SELECT r.id, r.id, 0 FROM records r WHERE {where}"
            ),
            params,
        )
        session.execute(
            text(
                "INSERT INTO record_closure (ancestor_id, descendant_id, depth) "
                "SELECT c.ancestor_id, r.id, c.depth + 1 FROM records r "
                f"JOIN record_closure c ON c.descendant_id = r.parent_id WHERE {where}"
            ),
            params,
        )


def _uuid7(ms: int, rand: int) -> str:
    """A UUIDv7 (RFC 9562): time-ordered, so bulk inserts append to the uid index."""
    value = (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | ((rand >> 62) & 0xFFF) << 64
        | 0b10 << 62
        | (rand & ((1 << 62) - 1))
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# -- public API ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerateSummary:
    """What one generator run wrote."""

    fonds_id: int
    fonds_code: str
    count: int
    first_id: int | None
    last_id: int | None
    batches: int
    series_ids: tuple[int, ...]
    years: tuple[int, int]
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def _check_args(records: int, batch: int, name: str) -> None:
    problems = []
    if records < 0:
        problems.append(Problem(field=name, value=str(records), message="不能为负数"))
    if not 1 <= batch <= MAX_BATCH:
        problems.append(
            Problem(field="batch", value=str(batch), message=f"应在 1 到 {MAX_BATCH} 之间")
        )
    if problems:
        raise InputError("生成参数无效", problems)


def _fonds(
    inst: Instance, actor: Actor, vocab: Vocabulary, code: str, years: tuple[int, int]
) -> Record:
    code = code.strip().upper()
    with inst.db.write() as s:
        fonds = s.scalar(
            select(Record).where(Record.archival_code == code, Record.level == Level.FONDS.value)
        )
        if fonds is not None:
            return fonds
        return inst.catalogue.create_fonds(
            s,
            actor,
            code=code,
            name=vocab.fonds.name,
            responsible=vocab.fonds.responsible,
            values={
                "archive_code": inst.settings.archive_code or "000000",
                "date": f"{years[0]}-{years[1]}",
                "custody_history": vocab.fonds.custody_history,
            },
        )


def _check_years(first: int, last: int, today: date) -> None:
    if not FIRST_YEAR <= first <= last <= today.year:
        raise InputError(
            "年度范围无效",
            [
                Problem(
                    field="years",
                    value=f"{first}-{last}",
                    message=f"应在 {FIRST_YEAR} 年到今年之间，且起年不晚于止年",
                )
            ],
        )


def _prepare_codes(
    inst: Instance, vocab: Vocabulary, fonds_code: str, plan: Sequence[tuple[int, int]]
) -> _Codes:
    """The 档号 rule and the stored counters; refuses a plan that would overflow a year."""
    rule = inst.domain.codes.rule_for(
        fonds_code=fonds_code, category=CATEGORY, level=Level.ITEM, parent_level=Level.SERIES
    )
    if rule is not None and rule.has_parent:
        raise InputError(f"档号规则 {rule.id} 以上级档号开头，生成器不支持")
    codes = _Codes(rule, fonds_code, vocab.orgs, vocab.retentions)
    if rule is None:
        return codes
    with inst.db.read() as s:
        codes.load(s, [y for y, _ in plan], lock=False)
    full = [f"{y} 年（需 {n} 件，余 {codes.free(y)} 个号）" for y, n in plan if codes.free(y) < n]
    if full:
        raise InputError(
            f"档号分组容量不足：{'；'.join(full)}",
            [Problem(field="年度", rule=rule.id, message="请扩大年度范围或减少条目数")],
        )
    return codes


def _check_sample(
    inst: Instance, vocab: Vocabulary, seed: int, plan: Sequence[tuple[int, int]], codes: _Codes
) -> None:
    """Validate one draft per year against the scheme before the fonds or a 类别 is written."""
    today = inst.catalogue.today()
    probe = _Synth(vocab, seed, today)
    scheme = inst.catalogue.scheme_for(CATEGORY)
    for year, _ in plan:
        values = probe.item(year, probe.dates(year, 1)[0])
        code = None
        if codes.rule is not None:
            prefix, _ = codes.group(year, values["retention"], values["org_code"])
            code = codes.rule.format(prefix, codes.start)
        problems = scheme.validate(Level.ITEM, {**values, "archival_code": code}, today=today)
        if problems:
            raise ValidationFailed("生成的条目不符合著录方案，未写入任何条目", problems)


def generate_records(
    inst: Instance,
    *,
    records: int,
    fonds_code: str = "Z109",
    seed: int = 0,
    batch: int = 5000,
    progress: Progress | None = None,
    years: tuple[int, int] | None = None,
    actor: Actor | None = None,
    vocabulary: Vocabulary | None = None,
) -> GenerateSummary:
    """Add ``records`` synthetic 文书档案 items to a fonds, one 类别 per year.

    The fonds is created (from the vocabulary; 档案馆代码 from the settings, else ``000000``)
    when it does not exist. ``years`` defaults to the last complete year going back far enough
    that no 档号 group fills up (at least 10 years). ``progress(n)`` is called after each
    committed batch with the number of records it held. Bad arguments, and a plan that would
    overflow a 档号 group or produce records the scheme rejects, are refused before any write.
    """
    _check_args(records, batch, "records")
    vocab = vocabulary or load_vocabulary()
    span = years or default_years(records, inst.catalogue.today())
    plan = _plan(records, span, vocab.growth)
    return _run(
        inst, actor, vocab, fonds_code, span, plan, vocab.fonds.series_title, seed, batch, progress
    )


def generate_wide_series(
    inst: Instance,
    *,
    children: int,
    fonds_code: str = "Z109",
    year: int | None = None,
    seed: int = 0,
    batch: int = 5000,
    progress: Progress | None = None,
    actor: Actor | None = None,
    vocabulary: Vocabulary | None = None,
) -> GenerateSummary:
    """One 类别 with ``children`` direct items (for paging benchmarks: a node with 50,000 children)."""
    _check_args(children, batch, "children")
    vocab = vocabulary or load_vocabulary()
    year = year or inst.catalogue.today().year - 1
    plan = [(year, children)] if children else []
    title = vocab.fonds.wide_series_title
    return _run(inst, actor, vocab, fonds_code, (year, year), plan, title, seed, batch, progress)


def _run(
    inst: Instance,
    actor: Actor | None,
    vocab: Vocabulary,
    fonds_code: str,
    span: tuple[int, int],
    plan: list[tuple[int, int]],
    series_title: str,
    seed: int,
    batch: int,
    progress: Progress | None,
) -> GenerateSummary:
    """Check everything that can be checked, then create fonds and 类别 and write the batches."""
    started = time.perf_counter()
    actor = actor or Actor.operator()
    actor.require(Perm.CATALOGUE_RECORD_CREATE)
    _check_years(*span, inst.catalogue.today())
    code = fonds_code.strip().upper()
    synth = _Synth(vocab, seed, inst.catalogue.today())
    synth.prepare([y for y, _ in plan])
    codes = _prepare_codes(inst, vocab, code, plan)
    _check_sample(inst, vocab, seed, plan, codes)
    fonds = _fonds(inst, actor, vocab, code, span)
    series: dict[int, int] = {}
    with inst.db.write() as s:
        for year, _ in plan:
            title = series_title.format(year=year)
            node = inst.catalogue.ensure_series(
                s, actor, fonds.id, title, category=CATEGORY, year=year
            )
            series[year] = node.id
    done = _write(inst, actor, synth, fonds, codes, plan, series, seed, batch, progress)
    return GenerateSummary(
        fonds_id=fonds.id,
        fonds_code=code,
        series_ids=tuple(series[y] for y, _ in plan),
        years=span,
        seconds=time.perf_counter() - started,
        **done,
    )


def _drafts(synth: _Synth, plan: Sequence[tuple[int, int]]) -> Iterator[dict[str, Any]]:
    for year, n in plan:
        for day in synth.dates(year, n):
            yield synth.item(year, day)


class _Done(TypedDict):
    count: int
    first_id: int | None
    last_id: int | None
    batches: int


def _write(
    inst: Instance,
    actor: Actor,
    synth: _Synth,
    fonds: Record,
    codes: _Codes,
    plan: Sequence[tuple[int, int]],
    series: Mapping[int, int],
    seed: int,
    batch: int,
    progress: Progress | None,
) -> _Done:
    """Insert the planned records batch by batch, one transaction and one event per batch."""
    fonds_code = fonds.archival_code or ""
    scheme = inst.catalogue.scheme_for(CATEGORY)
    total = sum(n for _, n in plan)
    uid_rng = random.Random(os.urandom(16))
    drafts = _drafts(synth, plan)
    done = batches = 0
    first_id: int | None = None
    last_id: int | None = None
    while done < total:
        chunk = list(islice(drafts, batch))
        with inst.db.write() as s:
            writer = _Writer(s)
            codes.load(s, sorted({d["year"] for d in chunk}), lock=writer.postgres)
            codes.used.clear()
            ids = writer.ids(s, len(chunk))
            rows = _rows(
                s, inst, writer, codes, scheme, chunk, ids, series, fonds.id, actor, uid_rng
            )
            writer.insert(s, rows)
            writer.closure(s, ids)
            for group, value in codes.used.items():
                advance_counter(s, group, value)
            inst.audit.append(
                s,
                actor=actor.username,
                action=EventType.CATALOGUE_RECORDS_GENERATED,
                object_type="fonds",
                object_id=fonds.id,
                detail={
                    "fonds": fonds_code,
                    "count": len(ids),
                    "first_id": ids[0],
                    "last_id": ids[-1],
                    "series_ids": sorted({r[3] for r in rows}),
                    "seed": seed,
                    "batch": batches + 1,
                    "generator": "lantai.demo.generator",
                },
            )
        done += len(chunk)
        batches += 1
        first_id = ids[0] if first_id is None else first_id
        last_id = ids[-1]
        if progress is not None:
            progress(len(chunk))
    return {"count": done, "first_id": first_id, "last_id": last_id, "batches": batches}


def _rows(
    session: Session,
    inst: Instance,
    writer: _Writer,
    codes: _Codes,
    scheme: MetadataScheme,
    chunk: list[dict[str, Any]],
    ids: list[int],
    series: Mapping[int, int],
    fonds_id: int,
    actor: Actor,
    uid_rng: random.Random,
) -> list[tuple[Any, ...]]:
    """Assign 档号 and positions and build the row tuples of one batch, in _COLUMNS order."""
    positions: dict[int, int] = {}
    parents = sorted({series[d["year"]] for d in chunk})
    for pid, top in session.execute(
        select(Record.parent_id, func.max(Record.position))
        .where(Record.parent_id.in_(parents))
        .group_by(Record.parent_id)
    ):
        if pid is not None:
            positions[int(pid)] = int(top or 0)
    today = inst.catalogue.today()
    now = utcnow()
    stamp = writer.stamp(now) if writer.stamp is not None else now
    ms = int(now.timestamp() * 1000)
    to_json = writer.json
    rule_id = codes.rule.id if codes.rule is not None else None
    rank = inst.catalogue.security_rank
    ranks: dict[str, int] = {}
    user = actor.username
    fields_cache: dict[tuple[str, str | None, str | None], Any] = {}
    rows: list[tuple[Any, ...]] = []
    for i, (values, rid) in enumerate(zip(chunk, ids, strict=True)):
        code = codes.assign(values)
        if i == 0:
            problems = scheme.validate(Level.ITEM, {**values, "archival_code": code}, today=today)
            if problems:
                raise ValidationFailed("生成的条目不符合著录方案，未写入任何条目", problems)
        parent = series[values["year"]]
        position = positions.get(parent, 0) + 1
        positions[parent] = position
        level = values["security_level"]
        r = ranks.get(level)
        if r is None:
            r = ranks[level] = rank(level)
        key = (values["doc_type"], values.get("main_recipient"), values.get("persons"))
        stored = fields_cache.get(key)
        if stored is None:
            extra = {k: v for k, v in values.items() if k not in COLUMN_KEYS}
            stored = to_json(extra) if to_json is not None else extra
            if key[2] is None:  # personal names are too varied to be worth caching
                fields_cache[key] = stored
        rows.append(
            (
                rid,
                _uuid7(ms, uid_rng.getrandbits(74)),
                "item",
                parent,
                fonds_id,
                position,
                CATEGORY,
                code,
                rule_id,
                values["title"],
                values["responsible"],
                values["date"],
                values["year"],
                values["retention"],
                level,
                r,
                values["open_status"],
                values.get("disclosure"),
                values.get("doc_number"),
                values["pages"],
                values["org_code"],
                stored,
                "active",
                1,
                stamp,
                stamp,
                user,
                user,
            )
        )
    return rows
