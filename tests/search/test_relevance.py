"""The relevance test set (relevance.yaml): every known item in the top 3; precision and recall.

The corpus is the demo catalogue — the five seed speeches as the full texts of their records —
plus 3,000 generated records (fixed seed). Each query names its known item (``target``) and the
complete set of records containing its words (``relevant``, found by brute force when the file was
written by make_relevance.py). Precision@10 and recall are printed in pytest's summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import make_settings
from lantai.instance import Instance
from lantai.search import SearchParams
from lantai.security import Actor
from search_support import RELEVANCE_REPORT, SearchKit, build_relevance_corpus, make_kit

HERE = Path(__file__).resolve().parent
QUERIES: list[dict[str, Any]] = yaml.safe_load((HERE / "relevance.yaml").read_text("utf-8"))[
    "queries"
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchKit]:
    inst = Instance.initialise(make_settings(tmp_path_factory.mktemp("relevance") / "home"))
    inst.catalogue.today = lambda: date(2026, 11, 21)
    build_relevance_corpus(inst)
    kit = make_kit(inst)
    yield kit
    kit.indexer.release()
    inst.close()


def test_the_set_is_large_and_varied() -> None:
    assert len(QUERIES) >= 100
    kinds = {q["kind"] for q in QUERIES}
    assert {"exact_title", "partial", "traditional", "docno", "code", "field"} <= kinds
    assert any(k.startswith("seed_") for k in kinds)


def test_every_known_item_is_in_the_top_3(
    corpus: SearchKit, request: pytest.FixtureRequest
) -> None:
    op = Actor.operator()
    misses: list[str] = []
    p10: list[float] = []
    returned_precision: list[float] = []
    recall: list[float] = []
    reciprocal: list[float] = []
    by_kind: dict[str, list[int]] = {}
    for case in QUERIES:
        res = corpus.service.search(op, SearchParams(q=case["q"], size=100, facets=False))
        codes = [h.archival_code for h in res.hits]
        relevant = set(case["relevant"])
        top10 = codes[:10]
        hits10 = sum(1 for c in top10 if c in relevant)
        p10.append(hits10 / 10)
        returned_precision.append(hits10 / len(top10) if top10 else 0.0)
        recall.append(len(relevant & set(codes)) / len(relevant))
        rank = codes.index(case["target"]) + 1 if case["target"] in codes else 0
        reciprocal.append(1 / rank if rank else 0.0)
        by_kind.setdefault(case["kind"], []).append(rank)
        if not 1 <= rank <= 3:
            misses.append(f"{case['q']!r} ({case['kind']}): {case['target']} at rank {rank or '—'}")
    n = len(QUERIES)
    report = {
        "queries": n,
        "top3": sum(1 for r in reciprocal if r >= 1 / 3) / n,
        "mrr": sum(reciprocal) / n,
        "precision_at_10": sum(p10) / n,
        "precision_of_returned_top10": sum(returned_precision) / n,
        "recall": sum(recall) / n,
        "by_kind": {k: f"{sum(1 for r in v if 1 <= r <= 3)}/{len(v)}" for k, v in by_kind.items()},
    }
    request.config.stash[RELEVANCE_REPORT] = report
    assert misses == []
    assert report["recall"] == 1.0
    assert report["precision_of_returned_top10"] == 1.0
