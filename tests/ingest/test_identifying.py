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
