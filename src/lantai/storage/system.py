"""One instance's storage: the policy and the store of each location, opened on demand."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lantai.storage.base import ObjectStore
from lantai.storage.policy import Location, StoragePolicy, load_policy, open_location

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = ["STORAGE_ACTOR", "StorageSystem"]

STORAGE_ACTOR = "system:storage"  # the actor of background replication, audits and monitoring


class StorageSystem:
    """The policy of ``inst`` and its location stores (each opened once)."""

    def __init__(self, inst: Instance, policy: StoragePolicy | None = None) -> None:
        self.inst = inst
        self.policy = policy or load_policy(inst.settings.resolved_config_dir)
        self._stores: dict[str, ObjectStore] = {}

    def store(self, name: str) -> ObjectStore:
        if name not in self._stores:
            self._stores[name] = open_location(self.inst.settings, self.policy.location(name))
        return self._stores[name]

    @property
    def primary(self) -> Location:
        return self.policy.primary

    def others(self, name: str) -> list[Location]:
        """Every other location, required ones first (the repair sources, in preference order)."""
        rest = [loc for loc in self.policy.locations if loc.name != name]
        return sorted(rest, key=lambda loc: (loc.name not in self.policy.required, not loc.primary))
