"""API fuzzing with schemathesis over the app's own OpenAPI schema, in process.

Used by ``tests/fuzz/test_api_fuzz.py`` (a bounded CI run) and ``bench/fuzz.py`` (a long run).

:func:`fuzz_world` fills an instance with what the operations need to do real work: staff users
(``web_support.USERS``), a registered citizen, a small catalogue with published 开放 items, and a
search index built over it. :func:`run_fuzz` then loads ``/api/openapi.json`` from the app
through schemathesis' ASGI transport and, for every operation:

1. **authenticated passes** — as a staff member (archivist) and as a citizen, each with its
   session cookie and CSRF header: cases generated from the schema (positive, then negative
   data) are sent, and each response is checked: no 5xx, the status code is declared, the body
   conforms to the declared schema, the content type is declared; negative cases must be
   rejected (``negative_data_rejection``);
2. **anonymous pass** — no cookie: every operation whose route requires a permission other than
   ``PUBLIC`` must answer 401 or 403.

Generation is derandomised (hypothesis ``derandomize=True``, no example database), so a run sends
the same cases every time; the number of examples per operation bounds the time.
Failures are collected (not raised), one entry per (operation, check, status).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, Phase, given
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.case import Case
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from factories import create_fonds, create_series, item_values
from lantai.appraisal.publication import publish_all_open
from lantai.archival import Level
from lantai.instance import Instance
from lantai.search import Indexer, search_home
from lantai.security import Actor, Perm
from lantai.web.deps import Requirement
from route_support import api_routes
from web_support import PASSWORD, USERS

__all__ = [
    "CITIZEN_PASSWORD",
    "CITIZEN_PHONE",
    "STAFF",
    "FuzzReport",
    "fuzz_world",
    "run_fuzz",
    "served_schema",
]

STAFF = "archivist"
CITIZEN_PHONE = "13800138000"
CITIZEN_PASSWORD = "Citizen-Pass-2026!"
_CITIZEN_ID_BODY = "11010519800101123"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]
METHODS = ("get", "put", "post", "delete", "patch", "head")
REQUEST_TIMEOUT_S = 30.0  # a request still running after this is reported as a hang
OP = Actor.operator()


def _id_number(body: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def fuzz_world(inst: Instance, items: int = 12) -> None:
    """Users for every role, a catalogue of ``items`` (half published 开放) and its search index."""
    with inst.db.write() as s:
        for name, (roles, clearance) in USERS.items():
            inst.users.create(
                s,
                OP,
                username=name,
                display_name=f"{name}用户",
                password=PASSWORD,
                roles=roles,
                clearance=clearance,
            )
    fonds = create_fonds(inst, OP)
    series = create_series(inst, OP, fonds.id, "文书档案")
    for n in range(items):
        status = "开放" if n % 2 == 0 else "控制"
        with inst.db.write() as s:
            inst.catalogue.create_record(
                s,
                OP,
                parent_id=series.id,
                level=Level.ITEM,
                values=item_values(
                    title=f"关于青铜鼎第{n + 1}次出土情况的报告", open_status=status
                ),
            )
    publish_all_open(inst, OP, reason="模糊测试数据")
    indexer = Indexer(inst, search_home(inst))
    assert indexer.acquire()
    try:
        indexer.ensure()
        indexer.catch_up()
    finally:
        indexer.release()


@dataclass
class Failure:
    operation: str
    identity: str  # "staff", "citizen" or "anonymous"
    check: str
    status: int | None
    message: str
    reproduce: str


@dataclass
class FuzzReport:
    operations: int = 0
    protected_operations: int = 0
    cases: Counter[str] = field(default_factory=Counter)  # per identity
    failures: list[Failure] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def total_cases(self) -> int:
        return sum(self.cases.values())

    def failures_by_kind(self) -> dict[str, int]:
        return dict(Counter(f.check for f in self.failures))

    def describe(self) -> str:
        return "\n".join(
            f"- [{f.identity}] {f.operation} {f.check} (status {f.status}): {f.message[:400]}\n"
            f"    {f.reproduce[:400]}"
            for f in self.failures
        )


def _requirement(route: APIRoute) -> Perm | None:
    def walk(dep: Any) -> Iterator[Requirement]:
        if isinstance(dep.call, Requirement):
            yield dep.call
        for sub in dep.dependencies:
            yield from walk(sub)

    found = list(walk(route.dependant))
    return found[0].perm if found else None


def route_permissions(app: Any) -> dict[tuple[str, str], Perm | None]:
    """(METHOD, path) → the permission the route requires (as the OpenAPI schema names paths)."""
    out: dict[tuple[str, str], Perm | None] = {}
    for path, route in api_routes(app):
        for method in route.methods or ():
            out[(method.upper(), path)] = _requirement(route)
    return out


@contextmanager
def served_schema(app: Any) -> Iterator[Any]:
    """The schemathesis schema of ``app`` (lifespan started); the lifespan is stopped after."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    try:
        yield schema
    finally:
        asgi.shutdown_lifespans()


def _client(app: Any) -> asgi.ASGIClient:
    # an event stream (the dashboard's SSE) ends after its first event instead of running on
    client = asgi.get_client(app, max_stream_events=1)
    client.__enter__()
    return client


def _login(app: Any, username: str, password: str) -> asgi.ASGIClient:
    client = _client(app)
    r = client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    client.headers["x-csrf-token"] = r.json()["csrf_token"]
    return client


def _register_citizen(app: Any) -> None:
    client = _client(app)
    r = client.post(
        "/api/public/register",
        json={
            "real_name": "王小明",
            "id_number": _id_number(_CITIZEN_ID_BODY),
            "phone": CITIZEN_PHONE,
            "password": CITIZEN_PASSWORD,
        },
    )
    assert r.status_code == 201, r.text


def _message(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _run_cases(strategy: Any, examples: int, send: Callable[[Case[Any]], None]) -> None:
    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=strategy)
    def each(case: Case[Any]) -> None:
        send(case)

    # e.g. negative data for an operation without parameters: nothing to send
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        each()


class _Fuzzer:
    """One run: the sessions, the report, and the sending and checking of each case."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.report = FuzzReport()
        self.credentials = {
            "staff": (STAFF, PASSWORD),
            "citizen": (CITIZEN_PHONE, CITIZEN_PASSWORD),
        }
        _register_citizen(app)
        self.sessions = {who: _login(app, *cred) for who, cred in self.credentials.items()}
        self.anonymous = _client(app)
        self._seen: set[tuple[str, str, str, int | None]] = set()

    def record(
        self, identity: str, label: str, check: str, status: int | None, msg: str, case: Case[Any]
    ) -> None:
        key = (identity, label, check, status)
        if key not in self._seen:
            self._seen.add(key)
            self.report.failures.append(
                Failure(label, identity, check, status, msg, case.as_curl_command())
            )

    def send(self, identity: str, label: str, checks: list[Any], case: Case[Any]) -> None:
        self.report.cases[identity] += 1
        try:
            response = case.call(session=self.sessions[identity], timeout=REQUEST_TIMEOUT_S)
        except requests.exceptions.ReadTimeout as exc:
            self.record(identity, label, "Timeout", None, _message(exc), case)
            return
        except Exception as exc:
            # an unhandled error: the server answers 500 and the in-process transport re-raises
            self.record(identity, label, "ServerError", 500, _message(exc), case)
            return
        self.report.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks)
        except (Exception, FailureGroup) as exc:
            for sub in getattr(exc, "exceptions", [exc]):
                name = type(sub).__name__
                self.record(identity, label, name, response.status_code, _message(sub), case)
        if case.operation.path.startswith("/api/auth/"):  # logout ends the session
            self.sessions[identity] = _login(self.app, *self.credentials[identity])

    def send_anonymous(self, label: str, perm: Perm, case: Case[Any]) -> None:
        self.report.cases["anonymous"] += 1
        try:
            response = case.call(session=self.anonymous, timeout=REQUEST_TIMEOUT_S)
        except requests.exceptions.ReadTimeout as exc:
            self.record("anonymous", label, "Timeout", None, _message(exc), case)
            return
        except Exception as exc:
            self.record("anonymous", label, "ServerError", 500, _message(exc), case)
            return
        self.report.statuses[response.status_code] += 1
        if response.status_code not in (401, 403):
            self.record(
                "anonymous",
                label,
                "unauthenticated_access",
                response.status_code,
                f"需要「{perm.value}」权限的操作在未登录时返回 {response.status_code}",
                case,
            )


def run_fuzz(
    app: Any,
    *,
    plan: dict[str, tuple[int, int]] | None = None,
    anonymous_examples: int = 1,
    budget_s: float | None = None,
    only: Callable[[str], bool] | None = None,
    progress: Callable[[str], None] | None = None,
) -> FuzzReport:
    """Fuzz every operation of ``app``'s schema (see the module docs).

    ``plan`` maps an identity ("staff", "citizen") to (positive, negative) examples per
    operation; ``only`` selects operations by their path; ``budget_s`` stops starting new
    operations after that many seconds (the report then counts fewer operations).
    """
    plan = plan if plan is not None else {"staff": (3, 2), "citizen": (2, 1)}
    perms = route_permissions(app)
    started = time.monotonic()
    with served_schema(app) as schema:
        fuzzer = _Fuzzer(app)
        report = fuzzer.report
        ops = [r.ok() for r in schema.get_all_operations()]
        for op in ops:
            if only is not None and not only(op.path):
                continue
            if budget_s is not None and time.monotonic() - started > budget_s:
                break
            report.operations += 1
            label = f"{op.method.upper()} {op.path}"
            if progress:
                progress(label)
            for identity, (positive, negative) in plan.items():
                for mode, count, checks in (
                    (schemathesis.GenerationMode.POSITIVE, positive, CHECKS),
                    (schemathesis.GenerationMode.NEGATIVE, negative, NEGATIVE_CHECKS),
                ):
                    if count > 0:
                        strategy = op.as_strategy(generation_mode=mode)
                        send = functools.partial(fuzzer.send, identity, label, checks)
                        _run_cases(strategy, count, send)
            perm = perms.get((op.method.upper(), op.path))
            if perm is None or perm is Perm.PUBLIC:
                continue
            report.protected_operations += 1
            if anonymous_examples > 0:
                send_anon = functools.partial(fuzzer.send_anonymous, label, perm)
                _run_cases(op.as_strategy(), anonymous_examples, send_anon)
    report.seconds = time.monotonic() - started
    return report
