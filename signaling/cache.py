"""Caches for what every event would otherwise read again: who the caller is, who is in a
conversation or a consult, the team's duty roster, the sensitive-word list.

The database stays the truth. A change made through Jiayi (a referral that lets a specialist see a
resident, a participant admitted to a consult, new team settings) drops the entries it affects at
once, on every node (`Hub.invalidate`); each entry also expires after its time to live, which bounds
how long a change made outside Jiayi (SQL by an administrator) can go unseen.
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
        #: Counts invalidations, so a value read before one is not cached after it.
        self.generation = 0

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value, or `load()`'s (cached from now on)."""
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        generation = self.generation
        value = await load()
        if generation == self.generation:
            self._store(key, value, now)
        return value

    async def put(self, key: K, value: V, read_at: int) -> None:
        """Cache a value just read anyway, unless something was invalidated since it was read
        (`read_at` is the `generation` before the read)."""
        if read_at == self.generation:
            self._store(key, value, time.monotonic())

    def _store(self, key: K, value: V, now: float) -> None:
        if len(self._entries) >= self.size:
            for stale in list(self._entries)[: max(1, self.size // 10)]:
                del self._entries[stale]
        self._entries[key] = (now + self.ttl_s, value)

    def forget(self, key: K) -> None:
        """Drop one entry (the caller just changed it)."""
        self.generation += 1
        self._entries.pop(key, None)

    def forget_if(self, matches: Callable[[K], bool]) -> None:
        """Drop every entry whose key matches."""
        self.generation += 1
        for key in [k for k in self._entries if matches(k)]:
            del self._entries[key]

    def clear(self) -> None:
        """Drop everything."""
        self.generation += 1
        self._entries.clear()
