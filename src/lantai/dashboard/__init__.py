"""一屏掌控: the holdings summary, the dashboard figures and the annual statistics form.

Other capabilities import only the names below; a new figure is one :class:`Provider` added to
the registry built by :func:`default_providers` (``DashboardService(inst, providers=…)``).
"""

from lantai.dashboard.aggregates import CatchUp, Mismatch, catch_up, check, rebuild
from lantai.dashboard.figures import (
    DISABLED,
    DashboardService,
    Drill,
    Figure,
    Provider,
    default_providers,
)
from lantai.dashboard.statistics import AnnualForm, AnnualRow, annual_form, write_xlsx

__all__ = [
    "DISABLED",
    "AnnualForm",
    "AnnualRow",
    "CatchUp",
    "DashboardService",
    "Drill",
    "Figure",
    "Mismatch",
    "Provider",
    "annual_form",
    "catch_up",
    "check",
    "default_providers",
    "rebuild",
    "write_xlsx",
]
