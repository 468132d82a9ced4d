"""Object storage of preserved packages (AIPs, check reports).

Other capabilities import only these names. :func:`open_store` gives the store configured for
an instance; today that is the local filesystem store under ``settings.storage_dir``.
"""

from lantai.settings import Settings
from lantai.storage.base import (
    InvalidKey,
    ObjectInfo,
    ObjectMismatch,
    ObjectNotFound,
    ObjectStore,
    PackageExists,
    PackageInfo,
    PackageWriter,
)
from lantai.storage.local import LocalObjectStore

__all__ = [
    "InvalidKey",
    "LocalObjectStore",
    "ObjectInfo",
    "ObjectMismatch",
    "ObjectNotFound",
    "ObjectStore",
    "PackageExists",
    "PackageInfo",
    "PackageWriter",
    "open_store",
]


def open_store(settings: Settings) -> ObjectStore:
    """The object store of this instance (the local filesystem store under storage_dir)."""
    return LocalObjectStore(settings.storage_dir)
