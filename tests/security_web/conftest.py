"""Fixtures for the web security rules: an app over a temporary instance with one user per role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lantai.instance import Instance
from lantai.security import Actor
from lantai.web.app import create_app
from web_support import PASSWORD, USERS


@pytest.fixture
def web_instance(instance: Instance) -> Instance:
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


@pytest.fixture
def client(web_instance: Instance) -> Iterator[TestClient]:
    with TestClient(create_app(web_instance), base_url="http://127.0.0.1") as c:
        yield c
