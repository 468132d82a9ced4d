"""Precision and recall per rule kind on the labelled set (tests/appraisal/screening_set.yaml)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from lantai.appraisal.screening import Screener, TextPart, load_rules

SET = Path(__file__).with_name("screening_set.yaml")
KINDS = ("id_card", "mobile", "landline", "bank_card", "name_context", "terms")
RECALL = {"id_card": 0.99, "mobile": 0.99, "name_context": 0.9}


def test_precision_and_recall(screening_report: dict[str, Any]) -> None:
    cases = yaml.safe_load(SET.read_text(encoding="utf-8"))
    assert len(cases) >= 300
    screener = Screener(load_rules())
    tp: Counter[str] = Counter()
    expected: Counter[str] = Counter()
    found: Counter[str] = Counter()
    misses: list[str] = []
    for c in cases:
        if "field" in c:
            result = screener.screen({c["field"]: c["text"]})
        else:
            result = screener.screen({}, [TextPart("正文", c["text"])])
        got = Counter((h.kind, h.text) for h in result.hits if h.kind in KINDS)
        want = Counter((e["kind"], e["text"]) for e in c["expected"])
        for (kind, _), n in want.items():
            expected[kind] += n
        for (kind, _), n in got.items():
            found[kind] += n
        for key, n in (got & want).items():
            tp[key[0]] += n
        if got != want:
            misses.append(f"{c['id']} {c['text']!r}: got {dict(got)} want {dict(want)}")
    by_kind = {}
    for kind in KINDS:
        by_kind[kind] = {
            "expected": expected[kind],
            "found": found[kind],
            "precision": tp[kind] / found[kind] if found[kind] else 1.0,
            "recall": tp[kind] / expected[kind] if expected[kind] else 1.0,
        }
    screening_report.update(
        cases=len(cases), expected=sum(expected.values()), by_kind=by_kind, misses=misses
    )
    print("\n".join(misses))
    for kind, m in by_kind.items():
        assert m["expected"] > 0, kind
        assert m["precision"] >= 0.9, (kind, m, misses)
        assert m["recall"] >= RECALL.get(kind, 0.0), (kind, m, misses)
