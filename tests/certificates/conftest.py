"""Fixtures for the certificate tests: items in the catalogue and a helper that issues one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from conftest import make_settings
from digitisation_support import make_items
from lantai.certificates import IssuedCertificate, issue_certificate
from lantai.instance import Instance
from lantai.security import Actor


@pytest.fixture(params=["sm2", "ed25519", "rsa3072"])
def profile_instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Instance]:
    """An instance whose certificate signing profile is each of the three."""
    inst = Instance.initialise(make_settings(tmp_path / "home", certificate_profile=request.param))
    inst.catalogue.today = lambda: date(2026, 11, 21)
    yield inst
    inst.close()


@pytest.fixture
def items(instance: Instance, operator: Actor) -> list[tuple[int, str]]:
    return make_items(instance, operator, [4, 2])


def issue(inst: Instance, record_ids: list[int], **kw: Any) -> IssuedCertificate:
    values: dict[str, Any] = {
        "kind": "certificate",
        "pages": None,
        "applicant_name": "张建国",
        "applicant_id_masked": "110***********1234",
        "purpose": "权益维护",
        "request_ref": "SQ-2026-0001",
    }
    values.update(kw)
    with inst.db.write() as s:
        return issue_certificate(inst, s, Actor.operator(), record_ids=record_ids, **values)
