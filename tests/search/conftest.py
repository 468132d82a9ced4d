"""Search fixtures: an indexer and a service over a test instance, driven synchronously."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lantai.instance import Instance
from lantai.security import Actor
from search_support import RELEVANCE_REPORT, SearchKit, make_kit
from web_support import PASSWORD, USERS


@pytest.fixture
def kit(instance: Instance) -> Iterator[SearchKit]:
    k = make_kit(instance)
    yield k
    k.indexer.release()


@pytest.fixture
def any_kit(any_instance: Instance) -> Iterator[SearchKit]:
    k = make_kit(any_instance)
    yield k
    k.indexer.release()


@pytest.fixture
def web_instance(instance: Instance) -> Instance:
    """The instance with one user per role (as in tests/web)."""
    op = Actor.operator()
    with instance.db.write() as s:
        for name, (roles, clearance) in USERS.items():
            instance.users.create(
                s,
                op,
                username=name,
                display_name=f"{name}用户",
                password=PASSWORD,
                roles=roles,
                clearance=clearance,
            )
    return instance


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Print the relevance figures of test_relevance.py (when it ran) in the summary."""
    report = config.stash.get(RELEVANCE_REPORT, None)
    if report is None:
        return
    terminalreporter.section("search relevance (tests/search/relevance.yaml)")
    terminalreporter.write_line(
        f"{report['queries']} queries: known item in top 3 {report['top3']:.1%}, "
        f"MRR {report['mrr']:.3f}, precision@10 {report['precision_at_10']:.3f} "
        f"(of the results returned in the top 10: {report['precision_of_returned_top10']:.1%}), "
        f"recall {report['recall']:.1%}"
    )
    terminalreporter.write_line(f"by kind: {report['by_kind']}")
