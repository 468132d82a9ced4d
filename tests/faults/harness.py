"""The fault-injection harness: real ``lantai`` processes on a temporary home, killed on purpose.

A :class:`Lab` is one instance (``<root>/home``, SQLite or a PostgreSQL URL). ``lab.lantai(...)``
runs the real command line (``lantai ingest run``, ``lantai ingest resume``, ``lantai scan ocr``,
``lantai disposal execute``, ``lantai serve`` …) as a child process and kills it with SIGKILL:

* at a named fault point (:mod:`lantai.faults`): ``fault="ingest.stored:1"`` — deterministic;
* or after a delay (``kill_after=1.3``) — wherever the process happens to be.

Every run writes the fault points it passes to ``<root>/hits.txt`` (``LANTAI_FAULT_TRACE``), so a
kill is only counted when the process really died (status −9) — for a named point, at that
point. ``lab.spawn("serve", …)`` forks a server from the same zygote (it answers in about a
second instead of the 5–10 s of starting the executable), so a campaign can kill and restart
servers many times; :mod:`faults.crossarchive` runs two archive nodes that way.
:class:`Campaign` drives a seeded random walk of such runs over one workload (or a fixed plan,
:meth:`Campaign.at`) and checks :func:`faults.invariants.check_invariants` after every kill and
at the end; ``bench/faults.py`` runs the same campaigns with more kill points.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from faults.invariants import check_invariants
from lantai.faults import ENV_POINT, ENV_TRACE
from lantai.instance import Instance
from lantai.settings import Settings

__all__ = ["Campaign", "Forked", "Lab", "Run", "Step", "warm_up", "with_own_zygote"]

LANTAI = Path(sys.executable).with_name("lantai")
T = TypeVar("T")
SERVER_MODULES = ["uvicorn", "lantai.web.app"]  # what `lantai serve` imports besides the CLI


@dataclass
class Run:
    args: list[str]
    returncode: int
    killed: bool
    fault: str | None
    kill_after: float | None
    seconds: float
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


class Forked:
    """A long-running ``lantai`` child of the zygote, with the part of the Popen interface the
    harness and ``tests/federation/nodes.py`` use (``poll``, ``wait``, ``send_signal``,
    ``terminate``, ``kill``). ``died_at_fault()`` says whether it died by SIGKILL at its point."""

    def __init__(self, lab: Lab, pid: int, fault: str | None, zygote: _Zygote) -> None:
        self.lab = lab
        self.pid = pid
        self.fault = fault
        self.zygote = zygote  # its parent, which reaps it
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.zygote.wait(self.pid, block=False)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"lantai (pid {self.pid})", timeout or 0)
            time.sleep(0.05)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def died_at_fault(self) -> bool:
        """Killed (SIGKILL) exactly at its fault point (the trace's last hit of this pid)."""
        if self.poll() != -signal.SIGKILL or not self.fault:
            return False
        return self.lab._last_hit(self.pid) == ":".join(self.fault.split(":")[:2])


class Lab:
    """One instance on disk and the commands run against it.

    ``settings`` are further instance settings (``archive_name``, ``public_base_url`` …) for
    this process's instance and, as ``LANTAI_*`` variables, for every command run.
    """

    def __init__(
        self,
        root: Path,
        database_url: str = "",
        *,
        archive_code: str = "136101",
        **settings: Any,
    ) -> None:
        self.root = root
        self.home = root / "home"
        self.database_url = database_url
        self.trace = root / "hits.txt"
        self.extra = {"archive_code": archive_code, **settings}
        self.env = {
            **os.environ,
            "LANTAI_HOME": str(self.home),
            "LANTAI_DATABASE_URL": database_url,
            "LANTAI_PASSWORD_TIME_COST": "1",
            "LANTAI_PASSWORD_MEMORY_KIB": "8192",
            **{f"LANTAI_{k.upper()}": str(v) for k, v in self.extra.items()},
            ENV_TRACE: str(self.trace),
            "COLUMNS": "200",
        }
        self.env.pop(ENV_POINT, None)
        self._spawned = 0

    def settings(self) -> Settings:
        return Settings(
            home=self.home,
            database_url=self.database_url,
            password_time_cost=1,
            password_memory_kib=8192,
            **self.extra,
        )

    def initialise(self) -> None:
        """A new instance: schema, secrets, audit chain (on SQLite, a copy of one made once)."""
        if self.database_url:
            Instance.initialise(self.settings()).close()
            return
        shutil.copytree(_template_home(), self.home, dirs_exist_ok=True)  # keeps config/ etc.
        with self.instance():  # opens (and checks) the copy
            pass

    @contextmanager
    def instance(self) -> Iterator[Instance]:
        inst = Instance.open(self.settings())
        try:
            yield inst
        finally:
            inst.close()

    def hits(self) -> Counter[str]:
        """How often each fault point was passed, over every run so far."""
        if not self.trace.exists():
            return Counter()
        return Counter(line.split()[1] for line in self.trace.read_text().splitlines() if line)

    def _last_hit(self, pid: int) -> str | None:
        if not self.trace.exists():
            return None
        last = None
        for line in self.trace.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == str(pid):
                last = f"{parts[1]}:{parts[2]}"
        return last

    def lantai(
        self,
        *args: str,
        fault: str | None = None,
        kill_after: float | None = None,
        timeout: float = 300,
        fork: bool = True,
    ) -> Run:
        """Run ``lantai *args``; kill it at ``fault`` or after ``kill_after`` seconds.

        ``fork`` runs it as a child of the zygote (:mod:`faults.zygote`: the same command line,
        without re-importing it); ``fork=False`` starts the installed ``lantai`` executable.
        """
        env = {k: v for k, v in self.env.items() if k.startswith("LANTAI_") or not fork}
        if fault:
            env[ENV_POINT] = fault
        t0 = time.monotonic()
        if fork:
            pid, returncode, out, err = _zygote().run(
                list(args), env, self.root, kill_after if kill_after is not None else timeout
            )
            if returncode is None and kill_after is None:
                raise AssertionError(f"lantai {' '.join(args)} hung: {out}{err}")
        else:
            proc = subprocess.Popen(
                [str(LANTAI), *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            pid = proc.pid
            try:
                out, err = proc.communicate(
                    timeout=kill_after if kill_after is not None else timeout
                )
            except subprocess.TimeoutExpired:
                if kill_after is None:
                    proc.kill()
                    out, err = proc.communicate()
                    raise AssertionError(f"lantai {' '.join(args)} hung: {out}{err}") from None
                proc.send_signal(signal.SIGKILL)
                out, err = proc.communicate()
            returncode = proc.returncode
        killed = returncode == -signal.SIGKILL
        if killed and fault:  # died at the point asked for, not somewhere else
            wanted = ":".join(fault.split(":")[:2])
            assert self._last_hit(pid) == wanted, (fault, self._last_hit(pid))
        return Run(
            list(args),
            int(returncode if returncode is not None else -signal.SIGKILL),
            killed,
            fault,
            kill_after,
            time.monotonic() - t0,
            out,
            err,
        )

    def spawn(self, *args: str, fault: str | None = None) -> Forked:
        """``lantai *args`` forked from the zygote and left running (a server); see Forked."""
        env = {k: v for k, v in self.env.items() if k.startswith("LANTAI_")}
        if fault:
            env[ENV_POINT] = fault
        self._spawned += 1
        log = self.root / f"{args[0]}-forked-{self._spawned}"
        zygote = _zygote()
        return Forked(self, zygote.spawn(list(args), env, log), fault, zygote)

    @contextmanager
    def serve(self, *, fault: str | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
        """``lantai serve`` (web app + job runner + indexer) on a free port; stopped after."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        with self.daemon("serve", "--port", str(port), fault=fault) as proc:
            yield proc, f"http://127.0.0.1:{port}"

    @contextmanager
    def daemon(
        self, *args: str, fault: str | None = None, env: dict[str, str] | None = None
    ) -> Iterator[subprocess.Popen[str]]:
        """A long-running ``lantai *args`` (the installed executable); SIGTERM and wait after."""
        full = {**self.env, **(env or {})}
        if fault:
            full[ENV_POINT] = fault
        self._daemons = getattr(self, "_daemons", 0) + 1
        log = (self.root / f"{args[0]}-{self._daemons}.log").open("w")
        proc = subprocess.Popen(
            [str(LANTAI), *args], env=full, stdout=log, stderr=subprocess.STDOUT, text=True
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()

    def check(self, *, settled: bool, expected_codes: Sequence[str] = ()) -> list[str]:
        return check_invariants(
            self.home,
            database_url=self.database_url,
            settled=settled,
            expected_codes=expected_codes,
        )


@dataclass(frozen=True)
class Step:
    """One kind of run a campaign can make: its command, and the points it may be killed at."""

    name: str
    args: Callable[[], list[str] | None]  # None: nothing to do with this step now
    points: Sequence[tuple[str, int]]  # (fault point, highest hit number worth trying)
    ok: tuple[int, ...] = (0,)  # exit statuses of a run that was not killed


@dataclass
class Campaign:
    """A seeded random walk of runs killed at fault points or after random delays."""

    lab: Lab
    seed: int
    steps: Sequence[Step]
    delay_share: float = 0.2  # part of the kills made by a random delay instead of a point
    kills: int = 0
    delay_kills: int = 0
    runs: int = 0
    misses: int = 0  # runs that ended before reaching their kill point
    checks: int = 0
    violations: list[str] = field(default_factory=list)
    points: Counter[str] = field(default_factory=Counter)
    log: list[dict[str, Any]] = field(default_factory=list)
    _durations: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def once(self, step: Step) -> Run | None:
        args = step.args()
        if args is None:
            return None
        fault = None
        kill_after = None
        typical = self._durations.get(step.name)
        if typical is not None and self.rng.random() < self.delay_share:
            kill_after = round(self.rng.uniform(0.5, 1.0) * typical, 2)
        else:
            name, top = self.rng.choice(list(step.points))
            fault = f"{name}:{self.rng.randint(1, top)}"
        return self._run(step, args, fault, kill_after)

    def at(self, step: Step, fault: str) -> Run | None:
        """One run of ``step`` armed with ``fault`` (a fixed plan instead of the random walk)."""
        args = step.args()
        return None if args is None else self._run(step, args, fault, None)

    def _run(self, step: Step, args: list[str], fault: str | None, kill_after: float | None) -> Run:
        run = self.lab.lantai(*args, fault=fault, kill_after=kill_after)
        self.runs += 1
        entry = {"step": step.name, "fault": fault, "kill_after": kill_after}
        if run.killed:
            self.kills += 1
            if fault:
                self.points[fault.split(":")[0]] += 1
            else:
                self.delay_kills += 1
            found = self.lab.check(settled=False)
            self.checks += 1
            self.violations += [
                f"after kill {fault or kill_after} in {step.name}: {v}" for v in found
            ]
            entry["violations"] = len(found)
        else:
            assert run.returncode in step.ok, (step.name, fault, run.returncode, run.text[-3000:])
            self.misses += 1
            self._durations[step.name] = max(run.seconds, self._durations.get(step.name, 0.0))
        entry["killed"] = run.killed
        self.log.append(entry)
        return run

    def walk(self, kills: int, choose: Callable[[random.Random], Step], max_runs: int) -> None:
        """Run until ``kills`` kills were injected (or ``max_runs`` runs were made)."""
        target = self.kills + kills
        start = self.runs
        while self.kills < target and self.runs - start < max_runs:
            self.once(choose(self.rng))

    def settle(self, *finish: list[str], expected_codes: Sequence[str] = ()) -> list[str]:
        """Restart without faults (each ``finish`` command once), then check settled invariants."""
        for args in finish:
            run = self.lab.lantai(*args)
            assert run.returncode == 0, (args, run.text[-3000:])
        found = self.lab.check(settled=True, expected_codes=expected_codes)
        self.checks += 1
        self.violations += [f"settled: {v}" for v in found]
        return found

    def report(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "runs": self.runs,
            "kills": self.kills,
            "delay_kills": self.delay_kills,
            "point_kills": dict(sorted(self.points.items())),
            "misses": self.misses,
            "checks": self.checks,
            "violations": len(self.violations),
        }


class _Zygote:
    """The fork server (:mod:`faults.zygote`), started once per test process; ``parent``: a
    second one forked from it (its imports are shared), talking over two FIFOs."""

    def __init__(self, parent: _Zygote | None = None) -> None:
        self.buffer = b""
        self.lock = threading.Lock()
        self.seq = 0
        self.loaded: set[str] = set(parent.loaded) if parent else set()
        self.acks = 0  # answers of imports not waited for
        self.parent = parent
        self.proc: subprocess.Popen[bytes] | None = None
        if parent is None:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("zygote.py"))],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                bufsize=0,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            )
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.stdin: Any = self.proc.stdin
            self.out = self.proc.stdout.fileno()
            self.pid = self.proc.pid
            return
        fifos = Path(tempfile.mkdtemp(prefix="lantai-zygote-"))
        atexit.register(shutil.rmtree, fifos, ignore_errors=True)
        ends = [fifos / "in", fifos / "out"]
        for end in ends:
            os.mkfifo(end)
        with parent.lock:
            parent._send({"fork_server": [str(e) for e in ends]})
            answer = parent._reply(300)  # once it has imported the command line
            assert answer is not None, "the zygote did not fork a second one"
        self.pid = int(answer["pid"])
        self.stdin = ends[0].open("wb", buffering=0)  # the same order as the child opens them
        self.out = os.open(ends[1], os.O_RDONLY)

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _send(self, req: dict[str, Any]) -> None:
        self.stdin.write((json.dumps(req) + "\n").encode())

    def _line(self, timeout: float | None) -> dict[str, Any] | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.buffer:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.out], [], [], wait)
            if not ready:
                return None
            chunk = os.read(self.out, 65536)
            if not chunk:
                raise RuntimeError("the zygote exited")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return dict(json.loads(line))

    def run(
        self, args: list[str], env: dict[str, str], root: Path, limit: float
    ) -> tuple[int, int | None, str, str]:
        """(pid, status or None when it had to be killed at ``limit``, stdout, stderr)."""
        with self.lock:
            self.seq += 1
            out, err = root / f"run-{self.seq}.out", root / f"run-{self.seq}.err"
            self._send({"args": args, "env": env, "stdout": str(out), "stderr": str(err)})
            first = self._reply(60)
            assert first is not None, "the zygote did not fork"
            pid = int(first["pid"])
            done = self._line(limit)
            status: int | None
            if done is None:
                os.kill(pid, signal.SIGKILL)
                done = self._line(60)
                assert done is not None
                status = None if int(done["status"]) == -signal.SIGKILL else int(done["status"])
                status = -signal.SIGKILL if status is None else status
            else:
                status = int(done["status"])
            return (
                pid,
                status,
                out.read_text(errors="replace") if out.exists() else "",
                err.read_text(errors="replace") if err.exists() else "",
            )

    def spawn(self, args: list[str], env: dict[str, str], log: Path) -> int:
        """Fork ``lantai *args`` and leave it running (stdout/stderr: ``log``.out / .err)."""
        if "serve" in args[:1]:
            self.preload(SERVER_MODULES)
        with self.lock:
            self._send(
                {
                    "args": args,
                    "env": env,
                    "stdout": f"{log}.out",
                    "stderr": f"{log}.err",
                    "detach": True,
                }
            )
            first = self._reply(60)
            assert first is not None, "the zygote did not fork"
            return int(first["pid"])

    def wait(self, pid: int, *, block: bool) -> int | None:
        """The exit status of a spawned child, or None while it runs (``block=False``)."""
        with self.lock:
            self._send({"wait": pid, "block": block})
            answer = self._reply(None if block else 60)
            assert answer is not None
            return None if answer["status"] is None else int(answer["status"])

    def preload(self, modules: list[str], *, wait: bool = True) -> None:
        """Import ``modules`` into the zygote once (what every server child would import);
        ``wait=False`` returns at once (the next request waits for it)."""
        todo = [m for m in modules if m not in self.loaded]
        if not todo:
            return
        with self.lock:
            self._send({"import": todo})
            self.loaded.update(todo)
            self.acks += 1
            if wait:
                self._drain()

    def _drain(self) -> None:
        """Read the answers of the imports not waited for."""
        while self.acks:
            assert self._line(300) is not None, "the zygote did not import"
            self.acks -= 1

    def _reply(self, timeout: float | None) -> dict[str, Any] | None:
        """The answer to the last request (after those of earlier imports)."""
        self._drain()
        return self._line(timeout)

    def close(self) -> None:
        """End it: it stops reading, kills the servers it left running and exits."""
        if self.stdin.closed:
            return
        self.stdin.close()
        if self.proc is not None:
            self.proc.wait(30)
            return
        assert self.parent is not None
        if self.parent.alive():
            self.parent.wait(self.pid, block=True)
        os.close(self.out)


_ZYGOTE: _Zygote | None = None
_LOCAL = threading.local()  # a thread's own fork server (with_own_zygote)
_TEMPLATE: Path | None = None
_TEMPLATE_LOCK = threading.Lock()


def _template_home() -> Path:
    """A freshly initialised SQLite home, made once per process (the migrations take 2–3 s);
    every lab starts from a copy of it."""
    with _TEMPLATE_LOCK:
        return _template_locked()


def _template_locked() -> Path:
    global _TEMPLATE
    if _TEMPLATE is None or not _TEMPLATE.exists():
        root = Path(tempfile.mkdtemp(prefix="lantai-faults-template-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        lab = Lab(root)
        Instance.initialise(lab.settings()).close()
        _TEMPLATE = lab.home
    return _TEMPLATE


def warm_up(*, servers: bool = False) -> None:
    """Start this thread's fork server now (it imports the command line in the background);
    ``servers``: and have it import the web application (for ``lab.spawn("serve", …)``)."""
    if servers:
        _zygote().preload(SERVER_MODULES, wait=False)
    else:
        _zygote()


def with_own_zygote(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` run with a fork server of its own: a second lane of work in another thread (the
    zygote serves one command at a time)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> T:
        own = _Zygote(parent=_zygote())
        _LOCAL.zygote = own
        try:
            return fn(*args, **kw)
        finally:
            _LOCAL.zygote = None
            own.close()

    return wrapper


def _zygote() -> _Zygote:
    own: _Zygote | None = getattr(_LOCAL, "zygote", None)
    if own is not None:
        return own
    global _ZYGOTE
    if _ZYGOTE is None or not _ZYGOTE.alive():
        _ZYGOTE = _Zygote()
        atexit.register(_ZYGOTE.close)
    return _ZYGOTE
