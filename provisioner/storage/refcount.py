"""Reference counting of base images: which overlays hold which template copy on a primary pool.

The counting is pure: :class:`BaseImageRefs` is an immutable value, and every change returns a new
one together with what the caller must do. Today a process keeps it in memory; later the database
owns the rows (one per base image and holder) and only the decisions move here unchanged.

Holders are named (the overlay's volume name) rather than counted, so a retried ``acquire`` after a
crash does not count twice and a retried ``release`` does not drop below zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class BaseImageRefs:
    """Base image name to the set of volumes (overlays) that use it.

    Attributes:
        holders: base image name to the names of the overlays on it.
    """

    holders: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))

    def count(self, base: str) -> int:
        """Number of overlays on ``base``."""
        return len(self.holders.get(base, ()))

    def base_of(self, holder: str) -> str | None:
        """The base image an overlay uses, if it is recorded."""
        return next((base for base, names in self.holders.items() if holder in names), None)

    def acquire(self, base: str, holder: str) -> BaseImageRefs:
        """Record that ``holder`` uses ``base``; doing it twice changes nothing."""
        current = self.holders.get(base, frozenset())
        if holder in current:
            return self
        return self._with(base, current | {holder})

    def release(self, holder: str) -> tuple[BaseImageRefs, str | None]:
        """Forget ``holder``.

        Returns:
            The new references, and the base image that is now unused (the caller may delete
            it), or None when the base is still used or the holder was not recorded.
        """
        base = self.base_of(holder)
        if base is None:
            return self, None
        remaining = self.holders[base] - {holder}
        return self._with(base, remaining), (None if remaining else base)

    def unused(self, bases: set[str] | frozenset[str]) -> list[str]:
        """Of the base images present in a store, those no overlay uses (sorted): garbage to collect."""
        return sorted(base for base in bases if not self.holders.get(base))

    def _with(self, base: str, names: frozenset[str]) -> BaseImageRefs:
        updated = dict(self.holders)
        if names:
            updated[base] = names
        else:
            updated.pop(base, None)
        return BaseImageRefs(MappingProxyType(updated))
