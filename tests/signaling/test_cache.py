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
