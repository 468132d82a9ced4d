"""The fault points themselves, and the index regression the suite found (no processes here)."""

from __future__ import annotations

import errno
import json
import re
from pathlib import Path

import pytest

from lantai import faults
from lantai.search.indexer import _targets

pytestmark = pytest.mark.faults

SRC = Path(faults.__file__).resolve().parent


def test_a_point_does_nothing_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(faults.ENV_POINT, raising=False)
    monkeypatch.delenv(faults.ENV_TRACE, raising=False)
    for _ in range(3):
        faults.point("ingest.stored")


def test_enospc_at_the_nth_hit_and_the_trace(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    trace = tmp_path / "hits.txt"
    monkeypatch.setenv(faults.ENV_POINT, "test.enospc.point:2:enospc")
    monkeypatch.setenv(faults.ENV_TRACE, str(trace))
    faults.point("test.enospc.point")  # first hit: nothing
    with pytest.raises(OSError) as info:
        faults.point("test.enospc.point")
    assert info.value.errno == errno.ENOSPC
    assert [line.split()[1:] for line in trace.read_text().splitlines()] == [
        ["test.enospc.point", "1"],
        ["test.enospc.point", "2"],
    ]


def test_every_listed_point_is_placed_and_every_placed_point_listed() -> None:
    placed: dict[str, list[str]] = {}
    for path in SRC.rglob("*.py"):
        for name in re.findall(r'faults\.point\("([^"]+)"\)', path.read_text(encoding="utf-8")):
            placed.setdefault(name, []).append(str(path.relative_to(SRC)))
    assert set(placed) == set(faults.POINTS), set(placed) ^ set(faults.POINTS)
    assert all(len(v) == 1 for v in placed.values()), placed


def test_an_ingest_batch_indexes_each_record_once() -> None:
    """An ingest logs its records twice (the created id range and the texts' id list); the
    indexer added them twice in one commit, so every ingested record was found twice."""
    events = [
        (1, "catalogue:records:created", "record", "", json.dumps({"first_id": 3, "last_id": 5})),
        (2, "catalogue:texts:added", "record", "", json.dumps({"record_ids": [3, 4, 5, 9]})),
        (3, "catalogue:records:created", "record", "", json.dumps({"first_id": 5, "last_id": 7})),
        (4, "catalogue:record:updated", "record", "12", "{}"),
    ]
    ids, ranges = _targets(events)
    assert ranges == [(3, 7)]
    assert ids == {9, 12}
