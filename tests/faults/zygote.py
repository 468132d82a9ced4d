"""A fork server for the `lantai` command line: real processes without paying the import each time.

Importing every sub-command of ``lantai`` takes 2–8 s on a busy machine, which would make a
campaign of hundreds of kill points mostly waiting. The zygote imports ``lantai.cli.main`` once;
for each request it forks a child that sets its environment, points stdout/stderr at files and
runs the very ``app`` the ``lantai`` entry point runs. The child is an ordinary process with its
own pid, database connections and threads, killed with a real SIGKILL by the harness.

Protocol (one JSON object per line): request ``{"args", "env", "stdout", "stderr"}`` → the
zygote answers ``{"pid": N}`` at once, then ``{"status": S}`` when the child ended (S is negative
for a signal, as in :mod:`subprocess`). With ``"detach": true`` (a server: ``lantai serve``) the
zygote answers ``{"pid": N}`` only and goes on; ``{"wait": N, "block": B}`` later answers
``{"status": S}`` (``null`` while it runs and ``B`` is false), and the zygote kills the detached
children still running when it ends. ``{"import": [modules]}`` imports more into the zygote
(the web application, once, before the first server) → ``{"ok": true}``. ``{"fork_server":
[in, out]}`` forks a second zygote that reads requests from the FIFO ``in`` and answers on
``out`` → ``{"pid": N}`` (for a second lane of work, without importing everything again).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import traceback
from typing import Any


def _child(req: dict[str, Any]) -> None:
    code: int = 1
    try:
        for key in [k for k in os.environ if k.startswith("LANTAI_")]:
            del os.environ[key]
        os.environ.update(req["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        mode = os.O_APPEND if req.get("detach") else os.O_TRUNC  # a restarted server appends
        for fd, path in ((1, req["stdout"]), (2, req["stderr"])):
            out = os.open(path, os.O_WRONLY | os.O_CREAT | mode, 0o644)
            os.dup2(out, fd)
            os.close(out)
        from lantai.cli.main import app

        try:
            app(args=req["args"], prog_name="lantai")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _answer(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _fork_server(req: dict[str, Any]) -> int:
    """A second zygote, forked from this one (no import again), speaking over two FIFOs."""
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        for fd, path, flags in (
            (0, req["fork_server"][0], os.O_RDONLY),
            (1, req["fork_server"][1], os.O_WRONLY),
        ):
            new = os.open(path, flags)
            os.dup2(new, fd)
            os.close(new)
        with (  # fresh buffers: nothing read ahead for the parent
            open(0, encoding="utf-8", closefd=False) as sys.stdin,
            open(1, "w", encoding="utf-8", closefd=False) as sys.stdout,
        ):
            serve()
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def serve() -> None:
    """Answer requests from stdin until it closes (see the module docstring)."""
    detached: set[int] = set()
    for line in sys.stdin:
        req = json.loads(line)
        if "import" in req:
            for module in req["import"]:
                importlib.import_module(module)
            _answer({"ok": True})
            continue
        if "wait" in req:
            pid = int(req["wait"])
            done, status = os.waitpid(pid, 0 if req.get("block") else os.WNOHANG)
            if done:
                detached.discard(pid)
            _answer({"status": os.waitstatus_to_exitcode(status) if done else None})
            continue
        if "fork_server" in req:
            pid = _fork_server(req)
            detached.add(pid)
            _answer({"pid": pid})
            continue
        pid = os.fork()
        if pid == 0:
            _child(req)
        _answer({"pid": pid})
        if req.get("detach"):
            detached.add(pid)
            continue
        _, status = os.waitpid(pid, 0)
        _answer({"status": os.waitstatus_to_exitcode(status)})
    for pid in detached:  # servers the harness left running: nothing outlives the zygote
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def main() -> None:
    import lantai.cli.main  # noqa: F401  (the whole import, once)

    serve()


if __name__ == "__main__":
    main()
