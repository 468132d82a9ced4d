"""Real federation nodes for tests: `lantai serve` processes on loopback, each with its own home.

:class:`Node` wraps one archive: its CLI (``cli`` runs one ``lantai`` command; ``batch`` runs
several ``lantai`` commands in ONE Python process — the same typer application, so the same code
as typing them one by one, without paying the interpreter start-up per command), its server
(``start``/``kill``/``stop``/``pause``/``resume``) and its HTTP API as a logged-in user.
:func:`start_all` starts several servers in parallel; :func:`parallel` runs per-node set-up
concurrently. Message retries are made fast through the node's ``config/federation.yaml``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import yaml

from lantai.instance import Instance

__all__ = ["PW", "Node", "free_port", "parallel", "start_all", "wait_for"]

LANTAI = str(Path(sys.executable).with_name("lantai"))
PW = "Lantai-2026-secure!"
FEDERATION_YAML = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "lantai"
    / "federation"
    / "data"
    / "federation.yaml"
)
# runs each argv of a JSON list through the `lantai` typer app in this one process
_BATCH = """
import json, sys
from typer.main import get_command
from lantai.cli.main import app
command = get_command(app)
for argv in json.loads(sys.argv[1]):
    print("$ lantai " + " ".join(argv), flush=True)
    code = command.main(argv, prog_name="lantai", standalone_mode=False)
    if code:
        sys.exit(f"lantai {' '.join(argv)} exited with {code}")
"""
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], Any], what: str, timeout: float = 45.0, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def parallel(fn: Callable[..., T], items: Iterable[Any]) -> list[T]:
    """``fn(item)`` for every item, concurrently (threads; the work is in subprocesses)."""
    items = list(items)
    with ThreadPoolExecutor(max_workers=max(1, len(items))) as pool:
        return list(pool.map(fn, items))


@dataclass
class Node:
    code: str
    name: str
    home: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "LANTAI_HOME": str(self.home),
            "LANTAI_PUBLIC_BASE_URL": self.url,
            "LANTAI_PASSWORD_TIME_COST": "1",
            "LANTAI_PASSWORD_MEMORY_KIB": "8192",
        }

    # -- command line ---------------------------------------------------------------------------

    def cli(self, *args: str) -> str:
        r = subprocess.run(
            [LANTAI, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, f"lantai {' '.join(args)}: {r.stdout}{r.stderr}"
        return r.stdout

    def batch(self, commands: Sequence[Sequence[str]]) -> str:
        r = subprocess.run(
            [sys.executable, "-c", _BATCH, json.dumps([list(c) for c in commands])],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert r.returncode == 0, f"{self.code}: {r.stdout}{r.stderr}"
        return r.stdout

    def fast_retries(self) -> None:
        """This node's federation.yaml with short message back-off (0.5 s … 1.5 s)."""
        data = yaml.safe_load(FEDERATION_YAML.read_text(encoding="utf-8"))
        data["messages"].update(retry_first_seconds=0.5, retry_factor=1.5, retry_max_seconds=1.5)
        (self.home / "config").mkdir(parents=True, exist_ok=True)
        (self.home / "config" / "federation.yaml").write_text(
            yaml.safe_dump(data, allow_unicode=True), encoding="utf-8"
        )

    def instance(self) -> Instance:
        """This node's instance opened in the test process (while its server is not running)."""
        from lantai.settings import Settings

        settings = Settings.load(
            home=self.home,
            public_base_url=self.url,
            password_time_cost=1,
            password_memory_kib=8192,
        )
        return Instance.open(settings)

    # -- server ---------------------------------------------------------------------------------

    def spawn(self) -> None:
        log = (self.home / "serve.log").open("ab")
        self.proc = subprocess.Popen(
            [LANTAI, "serve", "--port", str(self.port)], env=self.env, stdout=log, stderr=log
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                break
            try:
                if httpx2.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(
            f"{self.code} did not start: {(self.home / 'serve.log').read_text()[-2000:]}"
        )

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections but nothing answers (a hung node)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None

    # -- HTTP -----------------------------------------------------------------------------------

    def login(self, username: str, password: str = PW) -> str:
        r = httpx2.post(
            self.url + "/api/auth/login",
            json={"username": username, "password": password},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        token = str(r.json()["token"])
        self.tokens[username] = token
        return token

    def call(self, method: str, path: str, user: str, **kw: Any) -> httpx2.Response:
        headers = {"authorization": f"Bearer {self.tokens[user]}"}
        return httpx2.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def node_document(self) -> dict[str, Any]:
        r = httpx2.get(self.url + "/api/public/federation/node", timeout=10)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def fingerprints(self) -> list[str]:
        return [k["key_id"] for k in self.node_document()["keys"]["keys"]]


def start_all(nodes: Iterable[Node]) -> None:
    """Start several servers at once and wait until every one answers."""
    nodes = list(nodes)
    for node in nodes:
        node.spawn()
    for node in nodes:
        node.wait_ready()
