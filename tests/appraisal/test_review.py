"""Review batches, rounds, decisions (one and bulk), the distinct-reviewer rule, applying results."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from lantai.appraisal.candidates import find_candidates, load_policy
from lantai.appraisal.review import (
    DecisionInput,
    ItemFilter,
    advance,
    apply_batch,
    batch_json,
    create_from_candidates,
    decide,
    items_page,
    load_review_rules,
    record_transfer_opinions,
    review_stats,
)
from lantai.errors import ConfigError, Conflict, PermissionDenied, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import Event, Record, RecordOpenReview, ReviewDecision
from review_support import OP, TODAY, make_users, populate_1999

OPEN = DecisionInput(result="开放", reason="不涉密、不涉及个人隐私")


def _batch(inst: Instance, ids: dict[str, int]) -> int:
    with inst.db.write() as s:
        b = create_from_candidates(inst, s, OP, fonds_id=ids["fonds"], year=1999, today=TODAY)
        return b.id


def _decide(inst: Instance, actor: Actor, batch_id: int, d: DecisionInput, **flt: object) -> int:
    with inst.db.write() as s:
        return decide(inst, s, actor, batch_id, d, items=ItemFilter(**flt), today=TODAY).count  # type: ignore[arg-type]


def test_batch_keeps_screening_and_filters_by_no_hits(instance: Instance) -> None:
    ids = populate_1999(instance)
    bid = _batch(instance, ids)
    with instance.db.read() as s:
        from lantai.appraisal.review import get_batch

        b = get_batch(s, bid)
        out = batch_json(s, b)
        assert out["item_count"] == 5  # four 1999 件 + the 案卷 (its 件 goes with it), not 2005
        assert out["current_round_name"] == "初审"
        assert [r["name"] for r in out["rounds"]] == ["初审", "复审", "终审"]
        assert out["no_hits"] == 3
        assert out["suggestions"] == {"开放": 3, "控制": 1, "延期开放": 1}
        page = items_page(s, OP, b, ItemFilter(no_hits=False))
        got = {i["record_id"]: i for i in page["items"]}
        assert set(got) == {ids["idcard"], ids["name"]}
        hit = got[ids["idcard"]]["screening"]["hits"][0]
        assert hit["rule_id"] == "personal-id-card" and "text" not in hit
        assert hit["location"]["name"] == "title" and hit["basis"]
    # the batch's records are not offered again
    with pytest.raises(ValidationFailed) as e, instance.db.write() as s:
        create_from_candidates(instance, s, OP, fonds_id=ids["fonds"], year=1999, today=TODAY)
    assert "已在审核中" in str(e.value.problems[0])


def test_three_rounds_distinct_reviewers_and_apply(instance: Instance) -> None:
    ids = populate_1999(instance)
    users = make_users(instance)
    bid = _batch(instance, ids)
    chu, fu, zhong = users["chu"], users["fu"], users["zhong"]
    # a reader cannot decide
    with pytest.raises(PermissionDenied), instance.db.write() as s:
        decide(instance, s, users["reader"], bid, OPEN, items=ItemFilter(), today=TODAY)
    # 初审: bulk "no hits → 开放", by suggestion 控制 (basis from the machine's hits), then 控制
    # for the rest (a basis is then required: the name hit suggests 延期开放, not 控制)
    assert _decide(instance, chu, bid, OPEN, no_hits=True) == 3
    ctrl = DecisionInput(result="控制", reason="涉及个人信息")
    assert _decide(instance, chu, bid, ctrl, suggestion="控制") == 1
    with pytest.raises(ValidationFailed) as e, instance.db.write() as s:
        decide(instance, s, chu, bid, ctrl, items=ItemFilter(undecided=True), today=TODAY)
    assert [p.field for p in e.value.problems] == ["依据"]
    ctrl = DecisionInput(result="控制", reason="涉及个人信息", basis="《个人信息保护法》")
    assert _decide(instance, chu, bid, ctrl, undecided=True) == 1
    # re-deciding replaces (no duplicate), with an event naming the replaced decision
    postpone = DecisionInput(result="延期开放", review_due=date(2030, 1, 1), reason="涉及个人隐私")
    assert _decide(instance, chu, bid, postpone, record_ids=(ids["name"],)) == 1
    with instance.db.read() as s:
        rows = list(
            s.scalars(select(ReviewDecision).where(ReviewDecision.record_id == ids["name"]))
        )
        assert len(rows) == 1 and rows[0].revision == 2 and rows[0].result == "延期开放"
        assert rows[0].basis and rows[0].basis != "《个人信息保护法》"  # from the name hit
        ev = s.scalars(
            select(Event).where(Event.action == "appraisal:decisions:recorded").order_by(Event.seq)
        ).all()[-1]
        assert json.loads(ev.detail)["replaced"][0][:2] == [ids["name"], "控制"]
    # the 初审 task was claimed by chu: fu cannot decide in 初审
    with pytest.raises(PermissionDenied, match="已分配给 chu"), instance.db.write() as s:
        decide(instance, s, fu, bid, OPEN, items=ItemFilter(no_hits=True), today=TODAY)
    with instance.db.write() as s:
        advance(instance, s, OP, bid)
    # 复审: chu may not decide again (distinct reviewers); the round is skippable but fu reviews
    with pytest.raises(PermissionDenied, match="同一审核人"), instance.db.write() as s:
        decide(instance, s, chu, bid, OPEN, items=ItemFilter(no_hits=True), today=TODAY)
    assert _decide(instance, fu, bid, OPEN, no_hits=True) == 3
    with pytest.raises(Conflict, match="还有 2 件/卷未作结论"), instance.db.write() as s:
        advance(instance, s, OP, bid)
    assert _decide(instance, fu, bid, ctrl, no_hits=False) == 2
    with instance.db.write() as s:
        advance(instance, s, OP, bid)
    # 终审 needs the unit's opinion (档案法第三十条) and the manage permission
    with pytest.raises(PermissionDenied), instance.db.write() as s:
        decide(instance, s, chu, bid, OPEN, items=ItemFilter(no_hits=True), today=TODAY)
    with pytest.raises(ValidationFailed, match="单位意见"), instance.db.write() as s:
        decide(instance, s, zhong, bid, OPEN, items=ItemFilter(no_hits=True), today=TODAY)
    with instance.db.write() as s:
        all_ids = [ids[k] for k in ("clean1", "clean2", "idcard", "name", "file")]
        record_transfer_opinions(
            instance,
            s,
            OP,
            transfer_id=None,
            unit="某市人民政府办公室",
            opinions=[(rid, "同意开放") for rid in all_ids[:2]]
            + [(rid, "建议控制：涉及个人隐私") for rid in all_ids[2:]],
        )
    with pytest.raises(Conflict, match="未作结论"), instance.db.write() as s:
        apply_batch(instance, s, OP, bid, today=TODAY)
    assert _decide(instance, zhong, bid, OPEN, no_hits=True) == 3
    assert _decide(instance, zhong, bid, ctrl, record_ids=(ids["idcard"],)) == 1
    assert _decide(instance, zhong, bid, postpone, record_ids=(ids["name"],)) == 1
    with instance.db.write() as s:
        res = apply_batch(instance, s, OP, bid, today=TODAY)
    assert res.counts == {"开放": 3, "控制": 1, "延期开放": 1}
    with instance.db.read() as s:
        status = {k: s.get(Record, ids[k]).open_status for k in ids if k != "fonds"}  # type: ignore[union-attr]
        assert status == {
            "clean1": "开放",
            "clean2": "开放",
            "idcard": "控制",
            "name": "延期开放",
            "new": "未审核",
            "file": "开放",
            "in_file": "开放",  # the 件 of a 案卷 follow it
        }
        due = s.get(RecordOpenReview, ids["name"])
        assert due is not None and due.review_due == date(2030, 1, 1) and due.reviewed_on == TODAY
        ev = s.scalars(select(Event).where(Event.action == "catalogue:records:reviewed")).one()
        assert set(json.loads(ev.detail)["record_ids"]) == {
            ids[k] for k in ("clean1", "clean2", "idcard", "name", "file", "in_file")
        }
        # 延期开放 comes back as a candidate when its re-review date has come, not before
        policy = load_policy()
        later = find_candidates(s, policy, today=date(2030, 1, 2), fonds_id=ids["fonds"])
        assert [(c.record_id, c.due) for c in later.candidates if c.reason == "review_due"] == [
            (ids["name"], "20300101")
        ]
        now = find_candidates(s, policy, today=TODAY, fonds_id=ids["fonds"])
        assert ids["name"] not in {c.record_id for c in now.candidates}
        stats = review_stats(s, today=TODAY)
        row = stats["fonds"][0]
        assert row["units"] == 6 and row["by_status"]["开放"] == 3
        assert row["opened_this_year"] == 3 and row["open_rate"] == 0.5
    with pytest.raises(Conflict, match="已写入审核结果"), instance.db.write() as s:
        decide(instance, s, zhong, bid, OPEN, items=ItemFilter(), today=TODAY)


@pytest.mark.parametrize(
    ("d", "field"),
    [
        (DecisionInput(result="公开"), "结论"),
        (DecisionInput(result="延期开放", reason="x"), "复审日期"),
        (DecisionInput(result="延期开放", reason="x", review_due=date(2020, 1, 1)), "复审日期"),
        (DecisionInput(result="延期开放", reason="x", review_due=date(2099, 1, 1)), "复审日期"),
        (DecisionInput(result="开放", review_due=date(2030, 1, 1)), "复审日期"),
        (DecisionInput(result="控制"), "理由"),
    ],
)
def test_decision_validation_names_the_field(
    instance: Instance, d: DecisionInput, field: str
) -> None:
    ids = populate_1999(instance)
    bid = _batch(instance, ids)
    with pytest.raises(ValidationFailed) as e, instance.db.write() as s:
        decide(instance, s, OP, bid, d, items=ItemFilter(), today=TODAY)
    assert [p.field for p in e.value.problems] == [field]
    with instance.db.read() as s:
        assert s.scalar(select(ReviewDecision.id)) is None


def test_bulk_filter_by_category_and_skippable_round(instance: Instance) -> None:
    ids = populate_1999(instance)
    bid = _batch(instance, ids)
    with pytest.raises(ValidationFailed, match="审核结论未保存"), instance.db.write() as s:
        decide(instance, s, OP, bid, OPEN, items=ItemFilter(category="KJ"), today=TODAY)
    assert _decide(instance, OP, bid, OPEN, category="WS") == 5
    with instance.db.write() as s:
        advance(instance, s, OP, bid)
        b = advance(instance, s, OP, bid)  # 复审 is skippable: nothing decided → skipped
        out = batch_json(s, b)
    assert [r["state"] for r in out["rounds"]] == ["done", "skipped", "current"]


def test_rounds_file_is_validated(tmp_path: Path) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text(
        "version: 1\nrounds:\n  - {id: a, name: 初审, perm: no:such:perm}\n"
        "  - {id: b, name: 终审, perm: appraisal:review:manage, skippable: true}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as e:
        load_review_rules(bad)
    text = str(e.value)
    assert "未知权限「no:such:perm」" in text
    assert load_review_rules().distinct_reviewers is True


def test_cli_review_flow(
    instance: Instance, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from openpyxl import load_workbook
    from typer.testing import CliRunner

    from lantai.cli.appraisal import appraisal_app

    populate_1999(instance)
    monkeypatch.setenv("LANTAI_HOME", str(instance.settings.resolved_home))
    monkeypatch.delenv("LANTAI_DATABASE_URL", raising=False)
    cli = CliRunner()

    def ok(*args: str) -> str:
        r = cli.invoke(appraisal_app, list(args))
        assert r.exit_code == 0, r.output
        return r.output

    out = ok("batch", "create", "--fonds", "Z109", "--year", "1999", "--as-of", "2025-06-01")
    assert "批次 1" in out and "5 件/卷" in out
    r = cli.invoke(appraisal_app, ["decide", "1", "--result", "延期开放", "--reason", "x"])
    assert r.exit_code == 1 and "复审日期" in r.output
    ok("decide", "1", "--result", "开放", "--no-hits")
    ok(
        "decide",
        "1",
        "--result",
        "控制",
        "--with-hits",
        "--reason",
        "个人信息",
        "--basis",
        "个保法",
    )
    ok("advance", "1")
    ok("advance", "1")  # 复审 skipped
    sheet = tmp_path / "list.xlsx"
    ok("export-unit", "1", "--out", str(sheet))
    wb = load_workbook(sheet)
    ws = wb.active
    assert ws is not None
    for row in ws.iter_rows(min_row=4):
        hits = row[5].value != "无"
        row[7].value, row[8].value = ("控制", "含个人信息") if hits else ("开放", None)
    wb.save(sheet)
    assert "已导入 5 条" in ok("import-unit", "1", str(sheet))
    r = cli.invoke(appraisal_app, ["decide", "1", "--result", "开放", "--no-hits"])
    assert r.exit_code == 1 and "同一审核人" in r.output  # the operator decided in 初审
    # another reviewer finishes 终审 (API/CLI users are distinct), then apply from the CLI
    users = make_users(instance)
    _decide(instance, users["zhong"], 1, OPEN, no_hits=True)
    ctrl = DecisionInput(result="控制", reason="单位意见", basis="个保法")
    _decide(instance, users["zhong"], 1, ctrl, no_hits=False)
    assert "开放 3" in ok("apply", "1")
    assert "已生效" in ok("batch", "show", "1")
    assert "开放率" in ok("stats")
    assert "Z109" in ok("batch", "list")
