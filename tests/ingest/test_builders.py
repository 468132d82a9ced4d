"""The package builders themselves: every named defect builds, and builds what it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.builders import (
    DEFECTS,
    eicar_bytes,
    make_bag,
    make_eep,
    make_eep_set,
    make_offline,
    minimal_ofd,
    minimal_pdf,
    sample_items,
)
from lantai.ingest.eep_signing import generate_sm2_signer

BUILDERS = {
    "bag": make_bag,
    "eep": make_eep,
    "eep_set": make_eep_set,
    "offline": make_offline,
}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_every_defect_builds_somewhere(defect: str, tmp_path: Path) -> None:
    built = []
    extra = {"signer": generate_sm2_signer("测试")} if defect == "bad_signature" else {}
    for name, builder in BUILDERS.items():
        try:
            built.append(builder(tmp_path / name, defects=[defect], **extra))  # type: ignore[operator]
        except TypeError:
            continue  # this builder takes no signer
        except ValueError:
            continue
    assert built, f"no builder can make {defect}"
    assert all(p.exists() for p in built)


def test_unknown_defects_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown"):
        make_bag(tmp_path, defects=["no_such_defect"])
    with pytest.raises(ValueError, match="cannot build"):
        make_eep(tmp_path, defects=["wrong_oxum"])


def test_content_helpers() -> None:
    assert minimal_pdf("x", pages=3).startswith(b"%PDF-1.4") and b"/Count 3" in minimal_pdf(
        "x", pages=3
    )
    assert minimal_ofd().startswith(b"PK\x03\x04")
    assert len(eicar_bytes()) == 68
    items = sample_items(2)
    assert [i.values["item_no"] for i in items] == [1, 2]
    assert items[1].values["archival_code"] == "Z109-WS·2011-Y-BGS-0002"
