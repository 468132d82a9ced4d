"""Entry point of an analysis worker process (``python -m lantai.search.worker``).

Kept apart from :mod:`lantai.search.workers` so that running it never re-imports a module that
the package has already imported.
"""

from __future__ import annotations

import sys

from lantai.search.workers import serve

if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
