"""Appraisal fixtures, and the screening figures printed in the terminal summary."""

from __future__ import annotations

from typing import Any

import pytest

SCREENING_REPORT = pytest.StashKey[dict[str, Any]]()


@pytest.fixture
def screening_report(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A dict the labelled-set test fills; printed by pytest_terminal_summary below."""
    report: dict[str, Any] = {}
    request.config.stash[SCREENING_REPORT] = report
    return report


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    report = config.stash.get(SCREENING_REPORT, None)
    if not report:
        return
    terminalreporter.section("open-review screening (tests/appraisal/screening_set.yaml)")
    terminalreporter.write_line(f"{report['cases']} cases, {report['expected']} expected hits")
    for kind, m in report["by_kind"].items():
        terminalreporter.write_line(
            f"  {kind:<13} expected {m['expected']:>3}  found {m['found']:>3}  "
            f"precision {m['precision']:.3f}  recall {m['recall']:.3f}"
        )
