"""Candidates (SQLite and PostgreSQL), record screening, masking, rules-file errors and the CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factories import create_fonds, create_series, item_values
from lantai.appraisal.candidates import find_candidates, load_policy
from lantai.appraisal.screening import Screener, load_rules
from lantai.appraisal.screening.records import screen_record, screener_for
from lantai.archival import Level
from lantai.cli.appraisal import appraisal_app
from lantai.errors import ConfigError
from lantai.instance import Instance
from lantai.search import add_text
from lantai.security import Actor

OP = Actor.operator()
TODAY = date(2025, 6, 1)


def _populate(inst: Instance) -> dict[str, int]:
    fonds = create_fonds(inst, OP)
    ws = create_series(inst, OP, fonds.id, "文书档案")
    kj = create_series(inst, OP, fonds.id, "科技档案", category="KJ")
    ids: dict[str, int] = {}
    with inst.db.write() as s:

        def item(key: str, parent: int, review_due: str | None = None, **v: object) -> None:
            rec = inst.catalogue.create_record(
                s, OP, parent_id=parent, level=Level.ITEM, values=item_values(**v)
            )
            if review_due:  # not a scheme element yet: stored in fields (see docs/appraisal.md)
                rec.fields = {**rec.fields, "review_due": review_due}
            ids[key] = rec.id

        item("old", ws.id, date="19990305", title="关于张三违纪问题的处理决定")
        item("new", ws.id, date="20050305")
        item("open", ws.id, date="19980305", open_status="开放")
        item("due", ws.id, date="20050305", open_status="延期开放", review_due="20250101")
        item("later", ws.id, date="19900305", open_status="延期开放", review_due="20300101")
        f = inst.catalogue.create_record(
            s,
            OP,
            parent_id=ws.id,
            level=Level.FILE,
            values={
                "title": "城建检查卷",
                "responsible": "某市城建局",
                "date": "19980101-19981231",
                "retention": "Y",
                "org_code": "BGS",
                "year": 1998,
            },
        )
        ids["file"] = f.id
        item("in_file_old", f.id, date="19980305")
        g = inst.catalogue.create_record(
            s,
            OP,
            parent_id=ws.id,
            level=Level.FILE,
            values={
                "title": "跨年卷",
                "responsible": "某市城建局",
                "date": "19980101-19981231",
                "retention": "Y",
                "org_code": "BGS",
                "year": 1998,
            },
        )
        ids["file_late"] = g.id
        item("in_file_late", g.id, date="20040305")
    with inst.db.write() as s:
        ids["kj"] = inst.catalogue.create_record(
            s,
            OP,
            parent_id=kj.id,
            level=Level.ITEM,
            values=item_values(date="20040305"),
            category="KJ",
        ).id
    add_text(
        inst, OP, ids["old"], "第2页", "manual", "经查，张三（身份证号11010519491231002X）违纪。"
    )
    return ids


def test_candidates(any_instance: Instance) -> None:
    ids = _populate(any_instance)
    with any_instance.db.read() as s:
        report = find_candidates(s, load_policy(), today=TODAY)
    got = {c.record_id: c.reason for c in report.candidates}
    assert got == {
        ids["old"]: "age",
        ids["due"]: "review_due",
        ids["file"]: "age",
        ids["kj"]: "early",
    }
    assert sum(b.count for b in report.batches) == 4
    b = {(x.year, x.category): x.count for x in report.batches}
    assert b[(1998, "WS")] == 1 and b[(1999, "WS")] == 1 and b[(2004, "KJ")] == 1
    with any_instance.db.read() as s:
        only = find_candidates(s, load_policy(), today=TODAY, year=1999)
    assert [c.record_id for c in only.candidates] == [ids["old"]]


def test_screen_record_and_mask(instance: Instance) -> None:
    ids = _populate(instance)
    screener = screener_for(instance)
    with instance.db.read() as s:
        r = screen_record(s, screener, ids["old"])
    assert r.suggestion == "控制"
    kinds = {(h.kind, h.location.source) for h in r.hits}
    assert ("id_card", "text") in kinds and ("name_context", "field") in kinds
    hit = next(h for h in r.hits if h.kind == "id_card")
    assert hit.location.page == 2 and hit.masked == "110105********002X"
    assert "居民身份证号码" in hit.reason and "依据" in hit.reason
    json.dumps(r.to_dict(), ensure_ascii=False)
    master = "张三因违纪被开除，电话13812345678。"
    assert Screener(load_rules()).mask_text(master) == "张*因违纪被开除，电话138****5678。"


def test_clean_record_suggests_open() -> None:
    r = Screener(load_rules()).screen(
        {"title": "关于印发2011年工作要点的通知", "doc_number": "赣府发〔2010〕12号"}
    )
    assert r.suggestion == "开放" and not r.hits


def test_bad_rules_file(tmp_path: Path) -> None:
    bad = tmp_path / "screening_rules.yaml"
    bad.write_text(
        "version: 1\nresults: [开放, 控制]\ncategories: [个人隐私]\nlexicon: {surnames: 王李王}\n"
        "rules:\n  - {id: x, name: 手机, kind: mobile, category: 纪检, basis: 某, result: 延期开放}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load_rules(config_dir=tmp_path)
    text = str(exc.value)
    assert "字符重复：王" in text and "lexicon.surnames" in text


def test_cli(instance: Instance, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANTAI_HOME", str(instance.settings.resolved_home))
    monkeypatch.delenv("LANTAI_DATABASE_URL", raising=False)
    ids = _populate(instance)
    cli = CliRunner()
    r = cli.invoke(appraisal_app, ["candidates", "--as-of", "2025-06-01", "--fonds", "Z109"])
    assert r.exit_code == 0, r.output
    assert "共 4 件/卷" in r.output and "形成满二十五年" in r.output
    r = cli.invoke(appraisal_app, ["screen", str(ids["old"])])
    assert r.exit_code == 0, r.output
    assert "建议：控制" in r.output and "110105********002X" in r.output
    out = tmp_path / "report.json"
    r = cli.invoke(appraisal_app, ["screen", "--fonds", "Z109", "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["count"] >= 5 and data["suggestions"]["控制"] >= 1
    r = cli.invoke(appraisal_app, ["screen"])
    assert r.exit_code == 1 and "二者选一" in r.output
