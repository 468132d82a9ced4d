"""The synthetic record generator: 档号, closure rows, counters, events, scheme validity."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import make_settings
from lantai.archival import Level
from lantai.audit import EventType
from lantai.catalogue.counters import current_counter
from lantai.demo.generator import (
    GenerateSummary,
    generate_records,
    generate_wide_series,
    load_vocabulary,
)
from lantai.errors import ConfigError, InputError, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import CodeCounter, Event, Record, RecordClosure

YEARS = (2020, 2024)


def _items(inst: Instance, fonds_id: int) -> list[Record]:
    with inst.db.read() as s:
        return list(
            s.scalars(
                select(Record)
                .where(Record.fonds_id == fonds_id, Record.level == Level.ITEM.value)
                .order_by(Record.id)
            )
        )


@pytest.fixture
def generated(any_instance: Instance) -> tuple[Instance, GenerateSummary]:
    result = generate_records(any_instance, records=1200, years=YEARS, batch=500, seed=3)
    return any_instance, result


def test_counts_series_and_batches(generated: tuple[Instance, GenerateSummary]) -> None:
    inst, result = generated
    assert result.count == 1200
    assert result.batches == 3
    assert result.years == YEARS
    items = _items(inst, result.fonds_id)
    assert len(items) == 1200
    assert {r.id for r in items} == set(range(result.first_id or 0, (result.last_id or 0) + 1))
    with inst.db.read() as s:
        series = s.scalars(select(Record).where(Record.id.in_(result.series_ids))).all()
    assert sorted((r.level, r.year, r.title) for r in series) == [
        ("series", y, f"{y}年文书档案") for y in range(2020, 2025)
    ]
    assert {r.parent_id for r in items} == set(result.series_ids)
    for r in items:
        parent = next(x for x in series if x.id == r.parent_id)
        assert r.year == parent.year
        assert r.date is not None and r.date.startswith(str(r.year))


def test_codes_unique_consecutive_and_valid(generated: tuple[Instance, GenerateSummary]) -> None:
    inst, result = generated
    rule = inst.domain.codes.rule_for(
        fonds_code="Z109", category="WS", level=Level.ITEM, parent_level=Level.SERIES
    )
    assert rule is not None and rule.id == "dat22-ws-item"
    items = _items(inst, result.fonds_id)
    codes = [r.archival_code for r in items]
    assert len(set(codes)) == len(codes)
    groups: dict[str, list[int]] = defaultdict(list)
    for r in items:
        assert r.archival_code is not None
        assert r.code_rule == rule.id
        values = {**r.values(), "fonds_code": "Z109", "category": "WS"}
        assert rule.check(r.archival_code, values) == []
        parsed = rule.parse(r.archival_code)
        assert parsed is not None
        assert parsed.prefix == f"Z109-WS·{r.year}-{r.retention}-{r.org_code}"
        groups[parsed.prefix].append(parsed.counter)
    assert len(groups) > 10
    with inst.db.read() as s:
        for prefix, numbers in groups.items():
            assert numbers == list(range(1, len(numbers) + 1)), prefix
            assert current_counter(s, rule.group_key(prefix)) == len(numbers)


def test_codes_follow_filing_order(generated: tuple[Instance, GenerateSummary]) -> None:
    inst, result = generated
    by_series: dict[int | None, list[Record]] = defaultdict(list)
    for r in _items(inst, result.fonds_id):
        by_series[r.parent_id].append(r)
    for rows in by_series.values():
        rows.sort(key=lambda r: r.position)
        assert [r.position for r in rows] == list(range(1, len(rows) + 1))
        dates = [r.date or "" for r in rows]
        assert dates == sorted(dates)


def test_closure_rows_complete(generated: tuple[Instance, GenerateSummary]) -> None:
    inst, result = generated
    items = _items(inst, result.fonds_id)
    with inst.db.read() as s:
        rows = s.execute(
            select(RecordClosure.ancestor_id, RecordClosure.descendant_id, RecordClosure.depth)
            .join(Record, Record.id == RecordClosure.descendant_id)
            .where(Record.fonds_id == result.fonds_id, Record.level == Level.ITEM.value)
        ).all()
    got = {(int(a), int(d), int(depth)) for a, d, depth in rows}
    want = set()
    for r in items:
        assert r.parent_id is not None
        want |= {(r.id, r.id, 0), (r.parent_id, r.id, 1), (result.fonds_id, r.id, 2)}
    assert got == want
    with inst.db.read() as s:
        for r in items[:3] + items[-3:]:
            assert [a.id for a in inst.catalogue.ancestors(s, r.id)] == [
                result.fonds_id,
                r.parent_id,
            ]


def test_service_continues_the_counters(
    generated: tuple[Instance, GenerateSummary], operator: Actor
) -> None:
    inst, result = generated
    items = _items(inst, result.fonds_id)
    sample = next(r for r in items if r.year == 2024 and r.retention == "Y")
    prefix = f"Z109-WS·2024-Y-{sample.org_code}"
    used = sum(1 for r in items if (r.archival_code or "").startswith(prefix + "-"))
    with inst.db.write() as s:
        rec = inst.catalogue.create_record(
            s,
            operator,
            parent_id=sample.parent_id or 0,
            level=Level.ITEM,
            values={
                "title": "关于印发某市档案工作要点的通知",
                "responsible": "某市人民政府办公室",
                "date": "20241108",
                "retention": "Y",
                "org_code": sample.org_code,
            },
        )
    assert rec.archival_code == f"{prefix}-{used + 1:04d}"
    with inst.db.read() as s:
        siblings = s.scalar(
            select(func.max(Record.position)).where(
                Record.parent_id == sample.parent_id, Record.id != rec.id
            )
        )
    assert rec.position == (siblings or 0) + 1


def test_a_sample_of_records_satisfies_the_scheme(
    generated: tuple[Instance, GenerateSummary],
) -> None:
    inst, result = generated
    scheme = inst.domain.scheme_for("WS")
    today = inst.catalogue.today()
    items = _items(inst, result.fonds_id)
    for r in items[::7]:
        assert scheme.validate(Level.ITEM, r.values(), today=today) == [], r.values()
        assert r.security_rank == inst.catalogue.security_rank(r.security_level)
    levels = [r.security_level for r in items]
    assert levels.count("公开") / len(levels) > 0.85
    doc_types = {r.fields["doc_type"] for r in items}
    assert {"通知", "请示", "报告"} <= doc_types
    numbered = [r.doc_number for r in items if r.doc_number]
    assert numbered and all("〔" in n and n.endswith("号") for n in numbered)
    assert any(r.title.startswith("关于") for r in items)


def test_one_event_per_batch_and_chain_verifies(
    generated: tuple[Instance, GenerateSummary],
) -> None:
    inst, result = generated
    with inst.db.read() as s:
        events = s.scalars(
            select(Event)
            .where(Event.action == EventType.CATALOGUE_RECORDS_GENERATED.value)
            .order_by(Event.seq)
        ).all()
        report = inst.audit.verify(s)
        created_events = s.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.action == EventType.CATALOGUE_RECORD_CREATED.value)
        )
    assert report.ok, report.problems
    assert len(events) == result.batches == 3
    details = [json.loads(e.detail) for e in events]
    assert [d["count"] for d in details] == [500, 500, 200]
    assert details[0]["first_id"] == result.first_id
    assert details[-1]["last_id"] == result.last_id
    assert all(e.object_type == "fonds" and e.object_id == str(result.fonds_id) for e in events)
    # The 类别 nodes are created through the service and logged one by one.
    assert created_events == len(result.series_ids)


def test_same_seed_same_records(any_instance: Instance) -> None:
    a = generate_records(any_instance, records=150, fonds_code="Z109", years=(2019, 2020), seed=5)
    b = generate_records(any_instance, records=150, fonds_code="Z110", years=(2019, 2020), seed=5)
    c = generate_records(any_instance, records=150, fonds_code="Z111", years=(2019, 2020), seed=6)

    def content(fonds_id: int) -> list[tuple[object, ...]]:
        return [
            (r.title, r.responsible, r.date, r.doc_number, r.retention, r.pages)
            for r in _items(any_instance, fonds_id)
        ]

    assert content(a.fonds_id) == content(b.fonds_id)
    assert content(a.fonds_id) != content(c.fonds_id)


def test_wide_series_pages_by_keyset(any_instance: Instance, operator: Actor) -> None:
    result = generate_wide_series(any_instance, children=620, batch=300, year=2023)
    assert result.count == 620 and len(result.series_ids) == 1
    node = result.series_ids[0]
    with any_instance.db.read() as s:
        first = any_instance.catalogue.children(s, operator, node, limit=50)
        second = any_instance.catalogue.children(
            s, operator, node, cursor=first.next_cursor, limit=50
        )
    assert first.total == 620
    assert [r.position for r in first.items] == list(range(1, 51))
    assert [r.position for r in second.items] == list(range(51, 101))


def test_generating_again_continues(any_instance: Instance) -> None:
    first = generate_records(any_instance, records=300, years=(2022, 2023))
    second = generate_records(any_instance, records=300, years=(2022, 2023), seed=1)
    assert second.series_ids == first.series_ids
    codes = [r.archival_code for r in _items(any_instance, first.fonds_id)]
    assert len(codes) == 600 and len(set(codes)) == 600


def test_progress_reports_each_batch(instance: Instance) -> None:
    seen: list[int] = []
    generate_records(instance, records=250, years=(2024, 2024), batch=100, progress=seen.append)
    assert seen == [100, 100, 50]


def _record_count(inst: Instance) -> tuple[int, int, int]:
    with inst.db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(Record)) or 0,
            s.scalar(select(func.count()).select_from(CodeCounter)) or 0,
            s.scalar(select(func.count()).select_from(Event)) or 0,
        )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"records": -1}, "records"),
        ({"records": 10, "batch": 0}, "batch"),
        ({"records": 10, "years": (2024, 2020)}, "years"),
        ({"records": 10, "years": (2020, 2031)}, "years"),
    ],
)
def test_bad_arguments_write_nothing(
    instance: Instance, kwargs: dict[str, object], field: str
) -> None:
    before = _record_count(instance)
    with pytest.raises(InputError) as err:
        generate_records(instance, **kwargs)  # type: ignore[arg-type]
    assert [p.field for p in err.value.problems] == [field]
    assert _record_count(instance) == before


def test_full_counter_groups_are_refused_before_writing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    config = settings.resolved_config_dir
    config.mkdir(parents=True)
    (config / "archival_codes.yaml").write_text(
        "version: 1\n"
        "rules:\n"
        "  - id: tiny\n"
        "    title: 一位件号（测试）\n"
        "    levels:\n"
        "      - [fonds_code]\n"
        "      - [category, year]\n"
        "      - [retention]\n"
        "      - [{field: org_code, optional: true}]\n"
        "      - [{counter: item_no, label: 件号, width: 1}]\n"
        "assignments:\n"
        "  - {fonds: Z109, category: WS, level: item, parent_level: series, rule: tiny}\n",
        encoding="utf-8",
    )
    inst = Instance.initialise(settings)
    inst.catalogue.today = lambda: date(2026, 11, 21)
    try:
        vocab = load_vocabulary()
        capacity = 9 * len(vocab.orgs) * len(vocab.retentions)
        ok = generate_records(inst, records=capacity, years=(2024, 2024))
        codes = {r.archival_code for r in _items(inst, ok.fonds_id)}
        assert len(codes) == capacity  # every group filled to 9, overflow moved to other groups
        before = _record_count(inst)
        with pytest.raises(InputError, match="档号分组容量不足"):
            generate_records(inst, records=1, years=(2024, 2024))
        assert _record_count(inst) == before
    finally:
        inst.close()


def test_vocabulary_errors_name_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "vocabulary.yaml"
    text = (Path(__file__).parents[2] / "src/lantai/demo/vocabulary.yaml").read_text("utf-8")
    bad.write_text(text.replace("关于{matter}有关问题的请示", "关于{topic}有关问题的请示"), "utf-8")
    with pytest.raises(ConfigError) as err:
        load_vocabulary(bad)
    (problem,) = err.value.problems
    assert problem.file == str(bad)
    assert problem.field.startswith("templates.")
    assert "topic" in problem.message


def test_invalid_vocabulary_values_write_nothing(instance: Instance, tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "src/lantai/demo/vocabulary.yaml").read_text("utf-8")
    assert "{value: 公开, weight: 950}" in text
    bad = tmp_path / "vocabulary.yaml"
    bad.write_text(
        text.replace("{value: 公开, weight: 950}", "{value: 特级, weight: 950}"), "utf-8"
    )
    before = _record_count(instance)
    with pytest.raises(ValidationFailed) as err:
        generate_records(instance, records=100, years=(2020, 2024), vocabulary=load_vocabulary(bad))
    assert {p.field for p in err.value.problems} == {"密级"}
    assert _record_count(instance) == before
