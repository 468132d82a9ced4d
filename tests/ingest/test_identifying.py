"""Format identification of a transfer spread over the workers, one siegfried child each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lantai.formats import identify
from lantai.ingest import identifying
from lantai.ingest.identifying import identify_files


def _texts(tmp_path: Path, n: int) -> list[Path]:
    out = []
    for i in range(n):
        p = tmp_path / f"{i:03d}.txt"
        p.write_text(f"第{i}号文件的正文。\n" * 20, encoding="utf-8")
        out.append(p)
    return out


def test_shares_give_the_same_answer_as_one_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _texts(tmp_path, 9)
    paths.append(paths[0])  # a path given twice is identified once
    calls: list[tuple[int, Any]] = []
    real = identify.identify_many

    def spy(part: Any, **kw: Any) -> Any:
        calls.append((len(part), kw.get("in_process")))
        return real(part, **kw)

    monkeypatch.setattr(identify, "identify_many", spy)
    monkeypatch.setattr(identifying, "SHARE_MIN_FILES", 3)
    found = identify_files(paths, workers=2)
    assert sorted(calls) == [(4, False), (5, False)]  # two child processes, all files once
    assert list(found) == paths[:9]
    assert found == real(paths, workers=1)
    assert {f.puid for f in found.values()} == {"x-fmt/111"}


def test_small_transfers_stay_in_one_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = identify.identify_many

    def spy(part: Any, **kw: Any) -> Any:
        calls.append(len(part))
        return real(part, **kw)

    monkeypatch.setattr(identify, "identify_many", spy)
    identify_files(_texts(tmp_path, 5), workers=2)
    assert calls == [5]


def _fixture_files(fixtures_dir: Path) -> list[Path]:
    skeleton = fixtures_dir / "format-id" / "skeleton-suite-dev-subset"
    files = sorted(p for p in skeleton.rglob("*") if p.is_file() and p.suffix != ".csv")
    return files + sorted((fixtures_dir / "ofd" / "ofdrw-samples").glob("*.ofd"))


def test_stream_gives_exactly_what_identify_many_gives(fixtures_dir: Path) -> None:
    paths = _fixture_files(fixtures_dir)
    assert len(paths) > 90
    with identifying.IdentifyStream(workers=2, min_files=10, batch=7) as stream:
        for p in paths[:60]:  # handed in while "reading"; the rest only at finish()
            stream.add(p)
        assert stream.streamed >= 49  # sent to the children before finish()
        found = stream.finish(paths + paths[:2])
    assert list(found) == paths
    assert found == identify.identify_many(paths, workers=1)
    assert stream.errors == []


def test_stream_of_a_small_transfer_starts_no_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lantai.formats import _siegfried

    def no_child(*_a: Any, **_kw: Any) -> Any:
        raise AssertionError("no child process for a small transfer")

    monkeypatch.setattr(_siegfried, "SiegfriedProcess", no_child)
    paths = _texts(tmp_path, 5)
    with identifying.IdentifyStream(workers=2) as stream:
        for p in paths:
            stream.add(p)
        found = stream.finish(paths)
    assert stream.streamed == 0 and {f.puid for f in found.values()} == {"x-fmt/111"}


def test_files_of_a_child_that_died_are_identified_in_this_process(tmp_path: Path) -> None:
    paths = _texts(tmp_path, 12)
    with identifying.IdentifyStream(workers=1, min_files=2, batch=4) as stream:
        for p in paths[:4]:
            stream.add(p)
        assert stream.streamed == 4
        stream._children[0]._proc.kill()  # the child dies with batches outstanding
        for p in paths[4:]:
            stream.add(p)
        found = stream.finish(paths)
    assert list(found) == paths
    assert found == identify.identify_many(paths, workers=1)


def test_leaving_without_finish_stops_the_children(tmp_path: Path) -> None:
    paths = _texts(tmp_path, 6)
    with identifying.IdentifyStream(workers=2, min_files=2, batch=2) as stream:
        for p in paths:
            stream.add(p)
        procs = [c._proc for c in stream._children]
        assert len(procs) == 2
    assert all(p.poll() is not None for p in procs)


def test_a_large_file_goes_to_a_child_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However few files a transfer has, a large one is identified while the rest is read."""
    monkeypatch.setattr(identifying, "STREAM_LARGE_BYTES", 4096)
    small = _texts(tmp_path, 3)  # ~500 bytes each
    large = tmp_path / "large.txt"
    large.write_text("大文件的正文。\n" * 1000, encoding="utf-8")
    with identifying.IdentifyStream(workers=2) as stream:
        stream.add(small[0])
        assert stream.streamed == 0  # a small file waits (min_files)
        stream.add(large)
        assert stream.streamed == 2  # the large file, with what was pending
        stream.add(small[1])
        assert stream.streamed == 2
        found = stream.finish([*small, large])
    assert list(found) == [*small, large]
    assert found == identify.identify_many([*small, large], workers=1)
    assert stream.errors == []
