"""Run ``lantai ingest`` in a child process that kills itself (SIGKILL) at a named point.

    python crash_child.py POINT PACKAGE

The instance comes from the environment (LANTAI_HOME, LANTAI_DATABASE_URL). Points:

- ``after_staging``       — the ``staged`` state is committed; the checks never start
- ``during_store``        — the AIP's objects are written but the package is not committed
- ``after_aip_stored``    — the ``stored`` state is committed; the catalogue never starts
- ``inside_catalogue``    — the catalogue transaction has written the records, then dies
- ``after_catalogue``     — the catalogue transaction committed; the clean-up never runs
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(point: str, package: str) -> None:
    from lantai.ingest import pipeline
    from lantai.storage import local

    if point == "after_staging":
        pipeline.Pipeline._check = lambda self, row: die()  # type: ignore[method-assign]
    elif point == "during_store":
        local._LocalWriter.commit = lambda self: die()  # type: ignore[method-assign]
    elif point == "after_aip_stored":
        pipeline.Pipeline._catalogue = lambda self, row: die()  # type: ignore[method-assign]
    elif point == "inside_catalogue":
        from lantai.catalogue.service import Catalogue

        original = Catalogue.create_records

        def create_then_die(self: Any, session: Any, *args: Any, **kw: Any) -> Any:
            original(self, session, *args, **kw)
            session.flush()  # the records are in the database, uncommitted
            die()

        Catalogue.create_records = create_then_die  # type: ignore[method-assign]
    elif point == "after_catalogue":
        pipeline.Pipeline._finish = lambda self, row: die()  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown point {point}")

    from lantai.cli.ingest import ingest_app

    ingest_app(
        [package, "--fonds", "Z109", "--category", "WS", "--key", "crash-1"],
        prog_name="lantai ingest",
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
