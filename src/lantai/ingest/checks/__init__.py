"""The DA/T 70 check catalogue (``catalogue.yaml``) and one module of check functions per property."""

from lantai.ingest.checks._core import (
    CheckContext,
    CheckOutcome,
    CheckReport,
    CheckSpec,
    Decision,
    Finding,
    Property,
    Stage,
    Status,
    Target,
    check,
    load_catalogue,
    run_checks,
)

__all__ = [
    "CheckContext",
    "CheckOutcome",
    "CheckReport",
    "CheckSpec",
    "Decision",
    "Finding",
    "Property",
    "Stage",
    "Status",
    "Target",
    "check",
    "load_catalogue",
    "run_checks",
]
