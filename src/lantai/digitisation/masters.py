"""Local copies of master files for reading (Pillow and poppler need seekable files / paths).

:class:`MasterCache` copies each master it is asked for out of the object store once into a
temporary directory and removes them all on exit. The masters in the store are never touched.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from lantai.storage import ObjectStore

__all__ = ["MasterCache"]


class MasterCache:
    def __init__(self, store: ObjectStore, keep: int = 8) -> None:
        self.store = store
        self.keep = keep
        self._dir = Path(tempfile.mkdtemp(prefix="lantai-scan-"))
        self._paths: dict[str, Path] = {}
        self._count = 0

    def path(self, key: str) -> Path:
        found = self._paths.get(key)
        if found is not None:
            return found
        if len(self._paths) >= self.keep:  # drop the oldest copy
            old_key = next(iter(self._paths))
            self._paths.pop(old_key).unlink(missing_ok=True)
        self._count += 1
        target = self._dir / f"{self._count}{Path(key).suffix.lower()}"
        with self.store.open(key) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        self._paths[key] = target
        return target

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> MasterCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
