"""A fork server for the `lantai` command line: real processes without paying the import each time.

Importing every sub-command of ``lantai`` takes 2–8 s on a busy machine, which would make a
campaign of hundreds of kill points mostly waiting. The zygote imports ``lantai.cli.main`` once;
for each request it forks a child that sets its environment, points stdout/stderr at files and
runs the very ``app`` the ``lantai`` entry point runs. The child is an ordinary process with its
own pid, database connections and threads, killed with a real SIGKILL by the harness.

Protocol (one JSON object per line): request ``{"args", "env", "stdout", "stderr"}`` → the
zygote answers ``{"pid": N}`` at once, then ``{"status": S}`` when the child ended (S is negative
for a signal, as in :mod:`subprocess`).
"""

from __future__ import annotations

import json
import os
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
        for fd, path in ((1, req["stdout"]), (2, req["stderr"])):
            out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
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


def main() -> None:
    import lantai.cli.main  # noqa: F401  (the whole import, once)

    out = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(req)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
        _, status = os.waitpid(pid, 0)
        out.write(json.dumps({"status": os.waitstatus_to_exitcode(status)}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
