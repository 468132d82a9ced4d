"""Object storage of preserved packages (AIPs, check reports): backends, policy, replication, fixity.

Other capabilities import only these names. :func:`open_store` gives the instance's primary
location (the storage policy's ``primary``; by default the local filesystem store under
``settings.storage_dir``). Replication, fixity audits and monitoring live in
:mod:`lantai.storage.replication`, :mod:`lantai.storage.fixity` and :mod:`lantai.storage.monitor`;
:func:`policy_satisfied` says whether a package has every copy the policy requires.
"""

from lantai.settings import Settings
from lantai.storage.base import (
    InvalidKey,
    LocationUnreachable,
    ObjectInfo,
    ObjectMismatch,
    ObjectNotFound,
    ObjectStore,
    PackageExists,
    PackageInfo,
    PackageWriter,
)
from lantai.storage.ledger import policy_satisfied
from lantai.storage.local import LocalObjectStore
from lantai.storage.policy import StoragePolicy, load_policy, open_location
from lantai.storage.tarvolume import TarVolumeStore

__all__ = [
    "InvalidKey",
    "LocalObjectStore",
    "LocationUnreachable",
    "ObjectInfo",
    "ObjectMismatch",
    "ObjectNotFound",
    "ObjectStore",
    "PackageExists",
    "PackageInfo",
    "PackageWriter",
    "StoragePolicy",
    "TarVolumeStore",
    "load_policy",
    "open_store",
    "policy_satisfied",
]


def open_store(settings: Settings) -> ObjectStore:
    """The primary object store of this instance (the storage policy's primary location)."""
    policy = load_policy(settings.resolved_config_dir)
    return open_location(settings, policy.primary)
