"""A private clamd for tests: Debian's /usr/sbin/clamd in the foreground, its own config, socket
and signature database in a temporary directory (never the system service, never freshclam).

    with private_clamd(tmp_dir) as daemon:        # or the `clamd_daemon` fixture pattern below
        scanner = ClamdScanner(daemon.unix)
        scanner.scan_bytes(eicar())

The database holds only EICAR signatures written at start-up (an MD5 .hdb and a body .ndb, see
docs dependencies §7), so clamd starts in about a second. The EICAR test file is assembled at
test time from the published 68-byte string, split in the source so that scanners on developer
machines do not flag this file.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lantai.formats.clamav import ClamdAddress, ClamdScanner

CLAMD = "/usr/sbin/clamd"
_EICAR_HEAD = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
_EICAR_TAIL = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def eicar() -> bytes:
    """The 68-byte EICAR anti-virus test file."""
    data = (_EICAR_HEAD + _EICAR_TAIL).encode("ascii")
    assert len(data) == 68
    return data


def clamd_path() -> str | None:
    return CLAMD if Path(CLAMD).is_file() else shutil.which("clamd")


@dataclass(frozen=True)
class PrivateClamd:
    unix: ClamdAddress
    tcp: ClamdAddress
    pid: int
    folder: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_clamd(folder: Path, *, stream_max: str = "1M") -> Iterator[PrivateClamd]:
    """Start clamd with an EICAR-only database under ``folder``; stop it afterwards."""
    binary = clamd_path()
    if binary is None:
        raise RuntimeError("clamd not installed (Debian package clamav-daemon)")
    db = folder / "db"
    db.mkdir(parents=True)
    sample = eicar()
    (db / "local.hdb").write_text(f"{hashlib.md5(sample).hexdigest()}:68:Local.EICAR.MD5\n")
    (db / "local.ndb").write_text(f"Local.EICAR.Body:0:*:{sample[:40].hex()}\n")
    sock = folder / "clamd.sock"
    port = _free_port()
    conf = folder / "clamd.conf"
    conf.write_text(
        "\n".join(
            [
                f"DatabaseDirectory {db}",
                f"LocalSocket {sock}",
                "LocalSocketMode 600",
                f"TCPSocket {port}",
                "TCPAddr 127.0.0.1",
                "Foreground yes",
                f"LogFile {folder / 'clamd.log'}",
                f"PidFile {folder / 'clamd.pid'}",
                f"StreamMaxLength {stream_max}",
                "MaxThreads 4",
                "SelfCheck 0",
                "",
            ]
        )
    )
    log = (folder / "clamd.out").open("wb")
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    unix = ClamdAddress(kind="unix", path=str(sock))
    tcp = ClamdAddress(kind="tcp", host="127.0.0.1", port=port)
    try:
        deadline = time.monotonic() + 60
        scanner = ClamdScanner(unix, timeout=5)
        while not (sock.exists() and scanner.ping()):
            if proc.poll() is not None:
                raise RuntimeError(f"clamd exited: {(folder / 'clamd.out').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("clamd did not answer PING within 60 s")
            time.sleep(0.1)
        yield PrivateClamd(unix=unix, tcp=tcp, pid=proc.pid, folder=folder)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
