"""A clamd client speaking the clamd protocol itself (unix socket or TCP), for DA/T 70 4-1/4-2.

Public API::

    scanner_from_settings(settings) -> ClamdScanner | None   # None: not configured / unreachable
    ClamdScanner(address).ping() / .version()
    ClamdScanner.scan_file(path) / .scan_bytes(data)          # INSTREAM: we send the bytes
    ClamdScanner.stream() -> InstreamSession                  # feed chunks while hashing
    ClamdScanner.scan_paths(paths, parallel=True)             # MULTISCAN/CONTSCAN: clamd reads
    parse_address("unix:/run/clamav/clamd.ctl" | "tcp:127.0.0.1:3310") -> ClamdAddress

Commands use the ``z`` prefix (NUL-terminated commands and replies), so file names may contain
spaces or newlines. A reply is parsed into :class:`ScanResult`: ``OK`` → clean, ``<name> FOUND``
→ found (with the signature name), ``… ERROR`` → error. An error is never a pass: the caller
turns it into 人工复核, like a missing scanner.

INSTREAM sends the bytes over the socket (works with a clamd on another host; limited by clamd's
``StreamMaxLength``). :meth:`ClamdScanner.stream` lets a pipeline feed the chunks it is already
reading for the digests, so the bytes are read from disk once. MULTISCAN/CONTSCAN send only a
path and need a clamd on the same machine that can read it; they are the fast way for large
transfers (clamd scans the files in parallel).
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final

from lantai.errors import ConfigError, LantaiError

if TYPE_CHECKING:
    from lantai.settings import Settings

__all__ = [
    "ClamdAddress",
    "ClamdScanner",
    "InstreamSession",
    "ScanResult",
    "ScanStatus",
    "ScannerUnavailable",
    "parse_address",
    "scanner_from_settings",
]

CHUNK: Final = 256 * 1024
MAX_REPLY: Final = 64 * 1024 * 1024  # a CONTSCAN of a large tree replies with many lines


class ScannerUnavailable(LantaiError):
    """clamd could not be reached or broke the connection; nothing was scanned."""

    status = 503
    code = "scanner_unavailable"


class ScanStatus(StrEnum):
    CLEAN = "clean"  # OK
    FOUND = "found"  # a signature matched
    ERROR = "error"  # clamd could not scan it (size limit, unreadable …): 人工复核


@dataclass(frozen=True, kw_only=True)
class ScanResult:
    name: str  # the path clamd reported, or "stream" for INSTREAM
    status: ScanStatus
    signature: str | None = None  # e.g. Eicar-Test-Signature, for FOUND
    message: str = ""  # the raw reply line

    @property
    def clean(self) -> bool:
        return self.status is ScanStatus.CLEAN


@dataclass(frozen=True, kw_only=True)
class ClamdAddress:
    kind: str  # unix | tcp
    path: str | None = None
    host: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.kind == "unix" else f"tcp:{self.host}:{self.port}"


def parse_address(text: str) -> ClamdAddress:
    """``unix:/path/clamd.sock`` or ``tcp:host:port`` (a bare absolute path means unix)."""
    value = text.strip()
    if value.startswith("/"):
        value = f"unix:{value}"
    kind, _, rest = value.partition(":")
    if kind == "unix" and rest.startswith("/"):
        return ClamdAddress(kind="unix", path=rest)
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        if host and port.isdigit() and 0 < int(port) < 65536:
            return ClamdAddress(kind="tcp", host=host.strip("[]"), port=int(port))
    raise ConfigError(
        f"clamd 地址「{text}」格式不对：应为 unix:/路径/clamd.ctl 或 tcp:主机:端口（如 tcp:127.0.0.1:3310）"
    )


def parse_reply(line: str) -> ScanResult:
    """One clamd reply line (``<name>: OK`` / ``<name>: <sig> FOUND`` / ``<name>: <msg> ERROR``)."""
    text = line.strip()
    name, sep, verdict = text.rpartition(": ")
    if not sep:
        name, verdict = "", text
    if verdict == "OK":
        return ScanResult(name=name, status=ScanStatus.CLEAN, message=text)
    if verdict.endswith(" FOUND"):
        return ScanResult(
            name=name,
            status=ScanStatus.FOUND,
            signature=verdict.removesuffix(" FOUND").strip(),
            message=text,
        )
    return ScanResult(name=name, status=ScanStatus.ERROR, message=text)


class ClamdScanner:
    """A clamd at one address. Each call opens its own connection (thread-safe)."""

    def __init__(self, address: ClamdAddress, *, timeout: float = 60.0) -> None:
        self.address = address
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        a = self.address
        try:
            if a.kind == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                sock.connect(a.path or "")
            else:
                sock = socket.create_connection((a.host or "", a.port or 0), timeout=self.timeout)
                sock.settimeout(self.timeout)
        except OSError as exc:
            raise ScannerUnavailable(f"无法连接病毒扫描服务 clamd（{a}）：{exc}") from exc
        return sock

    def _command(self, command: str) -> list[str]:
        with self._connect() as sock:
            try:
                sock.sendall(b"z" + command.encode("utf-8") + b"\0")
                return _read_replies(sock)
            except OSError as exc:
                raise ScannerUnavailable(f"clamd（{self.address}）连接中断：{exc}") from exc

    def ping(self) -> bool:
        """True when clamd answers PONG."""
        try:
            return self._command("PING") == ["PONG"]
        except ScannerUnavailable:
            return False

    def version(self) -> str:
        """clamd's VERSION reply, e.g. ``ClamAV 1.4.6/…``."""
        replies = self._command("VERSION")
        return replies[0] if replies else ""

    def stream(self) -> InstreamSession:
        """An INSTREAM session to feed chunks into; ``result()`` ends it."""
        return InstreamSession(self._connect(), self.address)

    def scan_bytes(self, data: bytes) -> ScanResult:
        with self.stream() as session:
            for i in range(0, len(data), CHUNK):
                session.send(data[i : i + CHUNK])
            return session.result()

    def scan_file(self, path: Path) -> ScanResult:
        """Send the file's bytes with INSTREAM (clamd may be on another host)."""
        with self.stream() as session, path.open("rb") as f:
            while chunk := f.read(CHUNK):
                if not session.send(chunk):
                    break
            return session.result()

    def scan_paths(self, paths: Iterable[Path], *, parallel: bool = True) -> list[ScanResult]:
        """MULTISCAN (parallel) or CONTSCAN each path; clamd reads the files itself.

        For a directory, clamd reports every infected file and error, and one ``OK`` for the
        directory when nothing was found.
        """
        command = "MULTISCAN" if parallel else "CONTSCAN"
        out: list[ScanResult] = []
        for path in paths:
            out.extend(parse_reply(r) for r in self._command(f"{command} {path.resolve()}"))
        return out


class InstreamSession:
    """One INSTREAM: ``send`` chunks (returns False once clamd stopped reading), ``result``."""

    def __init__(self, sock: socket.socket, address: ClamdAddress) -> None:
        self._sock = sock
        self._address = address
        self._open = True
        self._closed_early = False
        try:
            sock.sendall(b"zINSTREAM\0")
        except OSError as exc:
            sock.close()
            raise ScannerUnavailable(f"clamd（{address}）连接中断：{exc}") from exc

    def __enter__(self) -> InstreamSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._open:
            self._open = False
            self._sock.close()

    def send(self, chunk: bytes) -> bool:
        """Send one chunk; False when clamd has closed the stream (e.g. size limit)."""
        if self._closed_early or not chunk:
            return not self._closed_early
        try:
            self._sock.sendall(struct.pack(">I", len(chunk)) + chunk)
        except (BrokenPipeError, ConnectionResetError):
            self._closed_early = True
            return False
        except OSError as exc:
            raise ScannerUnavailable(f"clamd（{self._address}）连接中断：{exc}") from exc
        return True

    def result(self) -> ScanResult:
        """End the stream and return clamd's verdict."""
        try:
            if not self._closed_early:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._sock.sendall(struct.pack(">I", 0))
            replies = _read_replies(self._sock)
        except OSError as exc:
            raise ScannerUnavailable(f"clamd（{self._address}）连接中断：{exc}") from exc
        finally:
            self.close()
        if not replies:
            raise ScannerUnavailable(f"clamd（{self._address}）未返回扫描结果")
        return parse_reply(replies[0])


def _read_replies(sock: socket.socket) -> list[str]:
    """NUL-terminated replies until clamd closes the connection."""
    buf = bytearray()
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        buf.extend(data)
        if len(buf) > MAX_REPLY:
            break
    return [part.decode("utf-8", "replace") for part in bytes(buf).split(b"\0") if part]


def scanner_from_settings(settings: Settings, *, timeout: float = 60.0) -> ClamdScanner | None:
    """The configured clamd if it answers PING; None when not configured or unreachable.

    A malformed address raises :class:`~lantai.errors.ConfigError` (a configuration mistake
    should be seen, not silently turned into "no scanner").
    """
    text = settings.clamav_address.strip()
    if not text:
        return None
    scanner = ClamdScanner(parse_address(text), timeout=timeout)
    return scanner if scanner.ping() else None
