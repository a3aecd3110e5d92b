"""Short-lived caches for what every event would otherwise read again: who the caller is, who is in a
conversation, the sensitive-word list.

Each entry lives a few seconds, so a change (a revoked proxy binding, a new team member, a new
sensitive word) takes effect on this node within that time; the database stays the truth.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values by key for `ttl_s` seconds, at most `size` of them (the oldest go first)."""

    def __init__(self, ttl_s: float, size: int = 10_000) -> None:
        if ttl_s < 0 or size < 1:
            raise ValueError(f"ttl_s must be >= 0 and size >= 1, got {ttl_s!r}, {size!r}")
        self.ttl_s = ttl_s
        self.size = size
        self._entries: dict[K, tuple[float, V]] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value, or `load()`'s (cached from now on)."""
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = await load()
        if len(self._entries) >= self.size:
            for stale in list(self._entries)[: max(1, self.size // 10)]:
                del self._entries[stale]
        self._entries[key] = (now + self.ttl_s, value)
        return value

    def forget(self, key: K) -> None:
        """Drop one entry (the caller just changed it)."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Drop everything."""
        self._entries.clear()
