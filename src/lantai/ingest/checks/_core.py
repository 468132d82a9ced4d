"""The DA/T 70 four-property check framework: the catalogue as data, findings, the runner.

The check catalogue (``catalogue.yaml`` beside this module) lists every item — code
``<stage>-<property>-<n>`` (GD 归档, YJ 移交接收, BC 长期保存), name, property, purpose, basis,
method, target, whether a failure blocks acceptance, and its cost rank. Code only *binds* a
function to codes::

    @check("GD-2-1", "YJ-2-1")
    def registered_count_matches(ctx: CheckContext) -> list[Finding]: ...

A run never stops early (every finding is kept), runs cheap checks first, and decides from the
whole list: a failed blocking item rejects the transfer; any other failure or manual-review item
accepts it flagged for review. An item that needs outside evidence (antivirus, CA trust, a
physical carrier) is 人工复核, never 通过. A check that crashes is recorded as 人工复核 with the
error, never as passed.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lantai.datafiles import load_model
from lantai.errors import ConfigError, Problem

if TYPE_CHECKING:
    from lantai.ingest.transfer import Transfer
    from lantai.instance import Instance
    from lantai.security import Actor

__all__ = [
    "CheckContext",
    "CheckFn",
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

log = logging.getLogger("lantai.ingest.checks")


class Stage(StrEnum):
    GD = "GD"  # 归档环节
    YJ = "YJ"  # 移交与接收环节
    BC = "BC"  # 长期保存环节

    @property
    def label(self) -> str:
        return {"GD": "归档环节", "YJ": "移交与接收环节", "BC": "长期保存环节"}[self.value]


class Property(StrEnum):
    AUTHENTICITY = "authenticity"  # 真实性, first digit 1
    INTEGRITY = "integrity"  # 完整性, 2
    USABILITY = "usability"  # 可用性, 3
    SECURITY = "security"  # 安全性, 4

    @property
    def label(self) -> str:
        return {
            "authenticity": "真实性",
            "integrity": "完整性",
            "usability": "可用性",
            "security": "安全性",
        }[self.value]

    @property
    def digit(self) -> str:
        return {"authenticity": "1", "integrity": "2", "usability": "3", "security": "4"}[
            self.value
        ]


class Status(StrEnum):
    PASSED = "passed"  # 通过
    FAILED = "failed"  # 不通过
    MANUAL = "manual"  # 人工复核: needs evidence the system cannot obtain, or a person's judgement
    NOT_APPLICABLE = "not_applicable"  # 不适用: nothing in this transfer to check

    @property
    def label(self) -> str:
        return {
            "passed": "通过",
            "failed": "不通过",
            "manual": "人工复核",
            "not_applicable": "不适用",
        }[self.value]


class Target(StrEnum):
    PACKAGE = "package"  # the metadata and content in the information package
    DATABASE = "database"  # the metadata as it would stand in the catalogue database
    BOTH = "both"  # DA/T 70 a) and b): run against both
    SYSTEM = "system"  # the receiving system itself (e.g. antivirus installed)


class Decision(StrEnum):
    ACCEPT = "accept"  # every item passed (or was not applicable)
    ACCEPT_FLAGGED = "accept_flagged"  # accepted; non-blocking failures or manual items to review
    REJECT = "reject"  # a blocking item failed

    @property
    def label(self) -> str:
        return {"accept": "接收", "accept_flagged": "接收（待人工复核）", "reject": "拒收"}[
            self.value
        ]


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One observation of one check: what, where, expected and found, and the rule."""

    code: str
    status: Status
    message: str
    file: str = ""
    field: str = ""
    expected: str | None = None
    found: str | None = None
    rule: str = ""
    record: str = ""  # the sender's record key

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "status": self.status.value,
            "message": self.message,
        }
        for key in ("file", "field", "expected", "found", "rule", "record"):
            value = getattr(self, key)
            if value not in (None, ""):
                out[key] = value
        return out

    @classmethod
    def from_problem(
        cls, code: str, problem: Problem, *, status: Status = Status.FAILED, record: str = ""
    ) -> Finding:
        return cls(
            code=code,
            status=status,
            message=problem.message,
            file=problem.file,
            field=problem.field,
            found=problem.value,
            rule=problem.rule,
            record=record,
        )


class CheckSpec(BaseModel):
    """One row of the check catalogue (validated at load)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^(GD|YJ|BC)-[1-4]-[0-9]{1,2}$")
    name: str
    property: Property
    purpose: str = ""  # 检测目的
    basis: str = ""  # 检测依据
    method: str = ""  # 检测方法
    target: Target = Target.PACKAGE
    blocking: bool = False
    cost: int = Field(50, ge=0, le=100)  # 0 cheapest (counts) … 100 dearest (virus scan)
    confidence: Literal["V", "I", "M"] = "V"  # standards digest: verified, inferred, unverified
    enabled: bool = True

    # ``builtins.property``: the field named ``property`` (DA/T 70 性) hides the builtin here.
    @builtins.property
    def stage(self) -> Stage:
        return Stage(self.code[:2])


class CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    checks: tuple[CheckSpec, ...]


@dataclass
class CheckContext:
    """What a check may look at. Checks read; they never write the catalogue or move files."""

    transfer: Transfer
    stage: Stage
    inst: Instance
    actor: Actor
    today: date
    services: Mapping[str, Any] = field(default_factory=dict)  # e.g. "clamav": a scanner client
    cache: dict[str, Any] = field(default_factory=dict)  # shared between checks of one run


CheckFn = Callable[[CheckContext], Iterable[Finding]]


@dataclass
class CheckOutcome:
    spec: CheckSpec
    status: Status
    findings: list[Finding]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.spec.code,
            "name": self.spec.name,
            "property": self.spec.property.value,
            "blocking": self.spec.blocking,
            "status": self.status.value,
            "seconds": round(self.seconds, 4),
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass
class CheckReport:
    """The 四性检测报告 of one transfer at one stage."""

    transfer_uid: str
    stage: Stage
    mode: str
    started: datetime
    finished: datetime
    outcomes: list[CheckOutcome]

    @property
    def decision(self) -> Decision:
        if any(o.spec.blocking and o.status is Status.FAILED for o in self.outcomes):
            return Decision.REJECT
        if any(o.status in (Status.FAILED, Status.MANUAL) for o in self.outcomes):
            return Decision.ACCEPT_FLAGGED
        return Decision.ACCEPT

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for o in self.outcomes:
            out[o.status.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "transfer": self.transfer_uid,
            "stage": self.stage.value,
            "mode": self.mode,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat(),
            "decision": self.decision.value,
            "counts": self.counts(),
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


# -- registry ---------------------------------------------------------------------------------------

_BINDINGS: dict[str, CheckFn] = {}


def check(*codes: str) -> Callable[[CheckFn], CheckFn]:
    """Bind a check function to one or more catalogue codes (e.g. the GD and YJ variants)."""

    def bind(fn: CheckFn) -> CheckFn:
        for code in codes:
            if code in _BINDINGS and _BINDINGS[code] is not fn:
                raise ValueError(
                    f"check code {code} bound twice ({_BINDINGS[code].__name__}, {fn.__name__})"
                )
            _BINDINGS[code] = fn
        return fn

    return bind


def bindings() -> dict[str, CheckFn]:
    """Every code → function binding of the built-in check modules (imported on first use)."""
    from lantai.ingest.checks import authenticity, integrity, security, usability  # noqa: F401

    return dict(_BINDINGS)


def load_catalogue(path: Path | None = None) -> tuple[CheckSpec, ...]:
    """Read and validate the check catalogue; raises ConfigError naming the file and row."""
    src = path or Path(str(resources.files("lantai.ingest.checks") / "catalogue.yaml"))
    parsed = load_model(src, CatalogueFile, title="检测项目表（catalogue.yaml）")
    codes = [c.code for c in parsed.checks]
    dup = sorted({c for c in codes if codes.count(c) > 1})
    if dup:
        raise ConfigError(
            "检测项目表中检测编号重复",
            [Problem(file=str(src), field="code", message=", ".join(dup))],
        )
    return parsed.checks


# -- running ----------------------------------------------------------------------------------------

QUICK_MAX_COST = 20  # --quick: counts, bytes and structure only (bagit-python's "fast" analogue)


def _status_of(findings: list[Finding]) -> Status:
    statuses = {f.status for f in findings}
    if Status.FAILED in statuses:
        return Status.FAILED
    if Status.MANUAL in statuses:
        return Status.MANUAL
    if Status.PASSED in statuses:
        return Status.PASSED
    return Status.NOT_APPLICABLE


def run_checks(
    ctx: CheckContext,
    specs: Iterable[CheckSpec],
    functions: Mapping[str, CheckFn],
    *,
    mode: Literal["quick", "full"] = "full",
) -> CheckReport:
    """Run every enabled item of ``ctx.stage`` cheapest first; keep every finding."""
    started = datetime.now(UTC)
    chosen = sorted(
        (
            s
            for s in specs
            if s.enabled and s.stage is ctx.stage and (mode == "full" or s.cost <= QUICK_MAX_COST)
        ),
        key=lambda s: (s.cost, s.code),
    )
    outcomes: list[CheckOutcome] = []
    for spec in chosen:
        fn = functions.get(spec.code)
        t0 = time.perf_counter()
        if fn is None:
            findings = [
                Finding(
                    code=spec.code,
                    status=Status.MANUAL,
                    message="本项尚无自动检测程序，须人工检测",
                    rule=spec.basis,
                )
            ]
        else:
            try:
                findings = list(fn(ctx))
            except Exception as exc:
                log.exception("check %s crashed on transfer %s", spec.code, ctx.transfer.uid)
                findings = [
                    Finding(
                        code=spec.code,
                        status=Status.MANUAL,
                        message=f"检测程序异常，须人工复核：{type(exc).__name__}: {exc}",
                    )
                ]
        findings = [f if f.code == spec.code else _recode(f, spec.code) for f in findings]
        outcomes.append(
            CheckOutcome(spec, _status_of(findings), findings, time.perf_counter() - t0)
        )
    return CheckReport(ctx.transfer.uid, ctx.stage, mode, started, datetime.now(UTC), outcomes)


def _recode(f: Finding, code: str) -> Finding:
    return Finding(
        code=code,
        status=f.status,
        message=f.message,
        file=f.file,
        field=f.field,
        expected=f.expected,
        found=f.found,
        rule=f.rule,
        record=f.record,
    )
