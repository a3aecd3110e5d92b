"""The hub's short-lived caches."""

from __future__ import annotations

import asyncio

import pytest

from signaling.cache import TtlCache


async def test_value_is_reused_until_it_expires() -> None:
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        return loads

    cache: TtlCache[str, int] = TtlCache(ttl_s=0.2)
    assert [await cache.get("k", load) for _ in range(3)] == [1, 1, 1]
    await asyncio.sleep(0.25)
    assert await cache.get("k", load) == 2
    cache.forget("k")
    assert await cache.get("k", load) == 3


async def test_size_is_bounded() -> None:
    cache: TtlCache[int, int] = TtlCache(ttl_s=60, size=10)
    for i in range(100):
        await cache.get(i, lambda i=i: asyncio.sleep(0, result=i))  # type: ignore[misc]
    assert len(cache._entries) <= 10


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        TtlCache(ttl_s=-1)


async def test_a_value_read_before_an_invalidation_is_not_cached_after_it() -> None:
    cache: TtlCache[str, str] = TtlCache(ttl_s=60)
    read_at = cache.generation
    cache.forget("members")  # someone was admitted while the old list was being read
    await cache.put("members", "old list", read_at)
    assert await cache.get("members", lambda: asyncio.sleep(0, result="new list")) == "new list"

    started, release = asyncio.Event(), asyncio.Event()

    async def slow_load() -> str:
        started.set()
        await release.wait()
        return "old list"

    loading = asyncio.create_task(cache.get("room", slow_load))
    await started.wait()
    cache.forget("room")
    release.set()
    assert await loading == "old list"  # the caller gets what it read ...
    assert await cache.get("room", lambda: asyncio.sleep(0, result="new list")) == "new list"  # ... not kept
