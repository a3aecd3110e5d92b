"""The worker's event loop: distant timers fire together on the grid, near ones on time, none early."""

from __future__ import annotations

import asyncio

import pytest

from media.event_loop import CoalescingEventLoop, coalesced


def test_coalesced_rounds_up_onto_the_grid_and_never_earlier() -> None:
    assert coalesced(10.0, 0.25) == 10.0
    assert coalesced(10.01, 0.25) == 10.25
    assert coalesced(10.24, 0.25) == 10.25
    for when in (0.1, 3.3, 1234.5678):
        assert coalesced(when, 0.25) >= when


def test_the_grid_is_checked() -> None:
    with pytest.raises(ValueError, match="grid_s"):
        CoalescingEventLoop(grid_s=0)
    with pytest.raises(ValueError, match="min_delay_s"):
        CoalescingEventLoop(min_delay_s=0.1, grid_s=0.25)


def test_distant_timers_fire_together_and_near_ones_on_time() -> None:
    loop = CoalescingEventLoop(min_delay_s=0.2, grid_s=0.2)
    fired: dict[str, float] = {}

    async def sleep(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        fired[name] = loop.time()

    async def main() -> float:
        start = loop.time()
        await asyncio.gather(sleep("a", 0.25), sleep("b", 0.33), sleep("near", 0.05))
        return start

    try:
        start = loop.run_until_complete(main())
    finally:
        loop.close()
    assert fired["near"] - start < 0.15  # a near timer is not moved
    assert fired["a"] - start >= 0.25 and fired["b"] - start >= 0.33  # nothing fires early
    assert abs(fired["a"] - fired["b"]) < 0.02  # both on the same grid point: one wake-up
    assert fired["b"] - start < 0.33 + 0.2 + 0.1
