"""The clamd client against a real, private clamd (see clamav_support.py)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from formats.clamav_support import PrivateClamd, clamd_path, eicar, private_clamd
from lantai.errors import ConfigError
from lantai.formats.clamav import (
    ClamdAddress,
    ClamdScanner,
    ScannerUnavailable,
    ScanStatus,
    parse_address,
    parse_reply,
    scanner_from_settings,
)
from lantai.settings import Settings

pytestmark = pytest.mark.skipif(clamd_path() is None, reason="clamd (Debian clamav-daemon) missing")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateClamd]:
    with private_clamd(tmp_path_factory.mktemp("clamd")) as d:
        yield d


def test_ping_and_version(daemon: PrivateClamd) -> None:
    for address in (daemon.unix, daemon.tcp):
        scanner = ClamdScanner(address)
        assert scanner.ping()
        assert scanner.version().startswith("ClamAV ")


def test_clean_and_eicar_over_instream(daemon: PrivateClamd, tmp_path: Path) -> None:
    scanner = ClamdScanner(daemon.unix)
    clean = scanner.scan_bytes("兰台：干净的文件\n".encode() * 1000)
    assert (clean.status, clean.name, clean.signature) == (ScanStatus.CLEAN, "stream", None)
    found = scanner.scan_bytes(eicar())
    assert found.status is ScanStatus.FOUND and not found.clean
    assert found.signature is not None and found.signature.startswith("Local.EICAR")
    (tmp_path / "eicar.com").write_bytes(eicar())
    assert ClamdScanner(daemon.tcp).scan_file(tmp_path / "eicar.com").status is ScanStatus.FOUND


def test_stream_session_fed_in_chunks(daemon: PrivateClamd) -> None:
    scanner = ClamdScanner(daemon.unix)
    with scanner.stream() as session:
        for chunk in (b"prefix " * 100, eicar()[:30], eicar()[30:], b" suffix"):
            assert session.send(chunk)
        result = session.result()
    assert result.status is ScanStatus.FOUND  # the body signature matches across chunks


def test_eicar_inside_a_zip(daemon: PrivateClamd, tmp_path: Path) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("docs/readme.txt", "nothing")
        zf.writestr("docs/test.com", eicar())
    assert ClamdScanner(daemon.unix).scan_file(archive).status is ScanStatus.FOUND


def test_stream_size_limit_is_an_error_not_a_pass(daemon: PrivateClamd, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (3 * 1024 * 1024))  # StreamMaxLength is 1M in the private clamd
    result = ClamdScanner(daemon.unix).scan_file(big)
    assert result.status is ScanStatus.ERROR and not result.clean
    assert "size limit" in result.message


def test_scan_paths_reads_files_itself(daemon: PrivateClamd, tmp_path: Path) -> None:
    folder = tmp_path / "transfer with spaces"
    folder.mkdir()
    (folder / "ok.txt").write_text("clean", encoding="utf-8")
    (folder / "病毒 test.com").write_bytes(eicar())
    scanner = ClamdScanner(daemon.unix)
    for parallel in (True, False):
        results = scanner.scan_paths([folder], parallel=parallel)
        found = [r for r in results if r.status is ScanStatus.FOUND]
        assert [Path(r.name).name for r in found] == ["病毒 test.com"]
    clean = scanner.scan_paths([folder / "ok.txt"])
    assert [(r.status, Path(r.name).name) for r in clean] == [(ScanStatus.CLEAN, "ok.txt")]
    missing = scanner.scan_paths([tmp_path / "nope.txt"])
    assert [r.status for r in missing] == [ScanStatus.ERROR]


def test_scanner_from_settings(daemon: PrivateClamd, tmp_path: Path) -> None:
    ok = scanner_from_settings(Settings(home=tmp_path, clamav_address=f"unix:{daemon.unix.path}"))
    assert ok is not None and ok.ping()
    tcp = scanner_from_settings(Settings(home=tmp_path, clamav_address=str(daemon.tcp)))
    assert tcp is not None and tcp.address == daemon.tcp
    assert scanner_from_settings(Settings(home=tmp_path, clamav_address="")) is None
    gone = Settings(home=tmp_path, clamav_address=f"unix:{tmp_path / 'no.sock'}")
    assert scanner_from_settings(gone) is None


def test_unreachable_scanner(tmp_path: Path) -> None:
    scanner = ClamdScanner(ClamdAddress(kind="unix", path=str(tmp_path / "none.sock")), timeout=2)
    assert scanner.ping() is False
    with pytest.raises(ScannerUnavailable) as err:
        scanner.scan_bytes(b"x")
    assert "无法连接病毒扫描服务" in err.value.message


def test_addresses_and_replies() -> None:
    assert parse_address("unix:/run/clamav/clamd.ctl") == ClamdAddress(
        kind="unix", path="/run/clamav/clamd.ctl"
    )
    assert parse_address("/tmp/c.sock").kind == "unix"
    assert parse_address("tcp:127.0.0.1:3310") == ClamdAddress(
        kind="tcp", host="127.0.0.1", port=3310
    )
    assert parse_address("tcp:[::1]:3310").host == "::1"
    for bad in ("clamd", "tcp:host", "tcp:host:99999", "unix:relative.sock"):
        with pytest.raises(ConfigError):
            parse_address(bad)
    assert parse_reply("stream: OK").status is ScanStatus.CLEAN
    r = parse_reply("/a: b/c.txt: Win.Test.EICAR_HDB-1 FOUND")
    assert (r.name, r.signature, r.status) == (
        "/a: b/c.txt",
        "Win.Test.EICAR_HDB-1",
        ScanStatus.FOUND,
    )
    err = parse_reply("INSTREAM size limit exceeded. ERROR")
    assert err.status is ScanStatus.ERROR and err.name == ""
