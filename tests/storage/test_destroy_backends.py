"""``ObjectStore.destroy_objects`` on every backend: only a DestructionOrder, the index first,
identical tombstones (same digest in every location), idempotent, tar volumes still verifiable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from lantai.errors import Conflict, PermissionDenied
from lantai.storage import LocalObjectStore, ObjectNotFound, ObjectStore, TarVolumeStore
from lantai.storage.base import DestructionOrder, ObjectMismatch

PID = "aip-destroy"
OBJECTS = {
    "data/a.pdf": os.urandom(600_000),
    "data/b.pdf": os.urandom(700_000),  # volume_mb = 1: a and b land in different volumes
    "metadata/mets.xml": b"<mets/>",
}
ORDER = DestructionOrder(
    batch_uid="b-1",
    item_id=7,
    record_id=42,
    approved_by="wang",
    approved_at="2026-11-20T08:00:00+00:00",
    destroyed_at="2026-11-21T09:00:00+00:00",
)


def _fill(store: ObjectStore) -> None:
    with store.begin(PID) as w:
        w.created = "2026-01-01T00:00:00+00:00"
        for path, data in OBJECTS.items():
            w.put_bytes(path, data)
        w.commit()


def test_destroy_objects(any_store: ObjectStore, tmp_path: Path) -> None:
    _fill(any_store)
    reference = LocalObjectStore(tmp_path / "reference")
    _fill(reference)
    before = any_store.package(PID)
    assert before is not None and before.digest == reference.package(PID).digest  # type: ignore[union-attr]

    with pytest.raises(PermissionDenied):
        any_store.destroy_objects(PID, ["data/a.pdf"], authorisation=object())  # type: ignore[arg-type]
    with pytest.raises(Conflict):
        any_store.destroy_objects(PID, ["data/none.pdf"], authorisation=ORDER)
    assert any_store.exists(f"{PID}/data/a.pdf")  # a refused call changed nothing

    result = any_store.destroy_objects(PID, ["data/a.pdf"], authorisation=ORDER)
    assert result.destroyed == ("data/a.pdf",) and result.bytes == 600_000 and result.removed == 1
    assert not any_store.exists(f"{PID}/data/a.pdf")
    with pytest.raises(ObjectNotFound):
        any_store.open(f"{PID}/data/a.pdf")
    assert [o.key for o in any_store.list(f"{PID}/")] == [
        f"{PID}/data/b.pdf",
        f"{PID}/metadata/mets.xml",
    ]
    tomb = any_store.tombstones(PID)["data/a.pdf"]
    assert (tomb["batch"], tomb["approved_by"], tomb["size"]) == ("b-1", "wang", 600_000)
    after = any_store.package(PID)
    assert after is not None and after.digest != before.digest and after.objects == 2
    # every backend writes the same index bytes: the same digest as a local replica
    assert (
        reference.destroy_objects(PID, ["data/a.pdf"], authorisation=ORDER).package.digest
        == after.digest
    )
    with any_store.open(f"{PID}/data/b.pdf") as f:
        assert f.read() == OBJECTS["data/b.pdf"]
    again = any_store.destroy_objects(PID, ["data/a.pdf"], authorisation=ORDER)  # idempotent
    assert again.destroyed == () and again.removed == 0 and again.package.digest == after.digest
    with pytest.raises(ObjectNotFound):  # a repair can never bring it back
        any_store.repair_object(
            f"{PID}/data/a.pdf",
            open(os.devnull, "rb"),  # noqa: SIM115
            size=tomb["size"],
            sha256=tomb["sha256"],
            sm3=tomb["sm3"],
        )

    if isinstance(any_store, TarVolumeStore):
        assert result.superseded and all(".r2." not in v for v in result.superseded)
        names = [v.name for v in any_store.volumes(PID)]
        assert not set(result.superseded) & set(names)
        for vol in any_store.volumes(PID):  # still verifiable without Lantai
            out = tmp_path / f"x-{vol.name}"
            out.mkdir()
            with tarfile.open(vol) as tar:
                assert f"{PID}/data/a.pdf" not in tar.getnames()
            subprocess.run(["tar", "-xf", str(vol), "-C", str(out)], check=True)
            if shutil.which("sha256sum"):
                subprocess.run(
                    ["sha256sum", "-c", "MANIFEST-sha256.txt"],
                    cwd=out,
                    check=True,
                    capture_output=True,
                )
            assert b'"destroyed"' in (out / "INDEX.json").read_bytes() or ".r" not in vol.name


def test_a_volume_rewrite_checks_the_bytes_it_keeps(tmp_path: Path) -> None:
    """Rewriting a volume copies the kept objects out of the old volume: their bytes are checked
    against the index on the way (unlike a commit, whose staged objects were checked as they
    were written), so a damaged kept object stops the destruction and changes nothing."""
    store = TarVolumeStore(tmp_path / "tar", volume_bytes=1 << 20)
    _fill(store)
    placement = json.loads((store.root / "placement" / f"{PID}.json").read_bytes())
    volume, offset, _size = placement["metadata/mets.xml"]
    assert volume == placement["data/b.pdf"][0]  # kept when b.pdf's volume is rewritten
    path = store.root / "volumes" / PID / volume
    os.chmod(path, 0o644)
    with path.open("r+b") as f:  # one byte of the kept object, same length: still a valid tar
        f.seek(int(offset))
        f.write(b"X")
    before = sorted(v.name for v in store.volumes(PID))
    index = (store.root / "index" / f"{PID}.json").read_bytes()

    with pytest.raises(ObjectMismatch, match=r"metadata/mets\.xml"):
        store.destroy_objects(PID, ["data/b.pdf"], authorisation=ORDER)
    assert sorted(v.name for v in store.volumes(PID)) == before
    assert (store.root / "index" / f"{PID}.json").read_bytes() == index
    assert store.exists(f"{PID}/data/b.pdf")
