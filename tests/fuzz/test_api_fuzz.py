"""API fuzzing (issue 11): schemathesis over ``/api/openapi.json``, in process, bounded for CI.

Every operation is fuzzed as a staff member (archivist) and as a citizen, with session cookie and
CSRF header: no 5xx, declared status codes, content types and bodies, negative data rejected; then
without a session: every operation behind a permission other than PUBLIC answers 401/403.
``bench/fuzz.py`` runs the same with many more examples.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from fuzz_support import FuzzReport, fuzz_world, run_fuzz
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.web.app import create_app
from lantai.web.deps import Requirement, require

pytestmark = pytest.mark.slow


def test_every_operation_survives_the_fuzz(instance: Instance) -> None:
    fuzz_world(instance)
    report = run_fuzz(create_app(instance), plan={"staff": (6, 4), "citizen": (3, 2)})
    print(  # the counts for the closing note (docs/security.md)
        f"\nfuzz: {report.operations} operations ({report.protected_operations} protected), "
        f"{report.total_cases} cases {dict(report.cases)}, {len(report.failures)} failures, "
        f"{report.seconds:.0f} s; statuses {dict(sorted(report.statuses.items()))}"
    )
    assert report.operations >= 100
    assert report.protected_operations >= 90
    assert report.cases["anonymous"] >= report.protected_operations
    assert report.total_cases >= 4 * report.operations
    assert not report.failures, report.describe()
    # the fuzz reached past the permission check: real work was done, not only refusals
    assert sum(n for status, n in report.statuses.items() if 200 <= status < 300) >= 50


# -- the checks can fail: an app with one seeded fault per check ---------------------------------


class _Leaky(Requirement):
    """Declares a permission but lets everyone in (what the anonymous pass must catch)."""

    async def __call__(self, request: Request) -> Actor:
        return Actor.anonymous()


probe = APIRouter(prefix="/api/fuzz-probe")


@probe.get("/crash")
def crash(_: Actor = require(Perm.PUBLIC)) -> dict[str, Any]:
    raise RuntimeError("seeded fault")


@probe.get("/teapot")
def teapot(_: Actor = require(Perm.PUBLIC)) -> JSONResponse:
    return JSONResponse({"ok": True}, status_code=418)


@probe.get("/leak")
def leak(_: Actor = Depends(_Leaky(Perm.CATALOGUE_RECORD_READ))) -> dict[str, int]:
    return {"n": 1}


def test_the_fuzz_finds_seeded_faults(instance: Instance) -> None:
    fuzz_world(instance, items=2)
    app = create_app(instance, extra_routers=(probe,))
    report: FuzzReport = run_fuzz(
        app, plan={"staff": (1, 0)}, only=lambda path: path.startswith("/api/fuzz-probe/")
    )
    found = {(f.operation, f.check) for f in report.failures}
    assert ("GET /api/fuzz-probe/crash", "ServerError") in found, report.describe()
    assert ("GET /api/fuzz-probe/teapot", "UndefinedStatusCode") in found, report.describe()
    assert ("GET /api/fuzz-probe/leak", "unauthenticated_access") in found, report.describe()
    assert report.operations == 3


def test_openapi_declares_the_error_bodies_the_api_sends(instance: Instance) -> None:
    """422 is ErrorOut (not FastAPI's HTTPValidationError); a request body can be answered 400."""
    schema = create_app(instance).openapi()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    error_ref = {"$ref": "#/components/schemas/ErrorOut"}
    checked = 0
    for path, item in schema["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            if "422" in responses:
                assert responses["422"]["content"]["application/json"]["schema"] == error_ref
                checked += 1
            if "requestBody" in op:
                assert "400" in responses, f"{method.upper()} {path}"
    assert checked > 50
