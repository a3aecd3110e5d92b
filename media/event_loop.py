"""The media worker's event loop: asyncio's own, with timers far in the future coalesced onto a coarse grid.

A relay at low load spends most of its CPU waking up, not working: on the machines measured here a wake-up
after a few idle milliseconds costs 2-6 times the work it does (caches and predictors are cold), so every
needless wake-up counts. Each peer connection brings its own periodic timers (aiortc's RTCP loops for every
sender and receiver, every 0.5-1.5 s; aioice's consent checks every 4-6 s), each firing on its own: eight
idle peer connections woke the worker about 17 times a second. `CoalescingEventLoop` rounds the deadline of
every timer at least `min_delay_s` away up to the next multiple of `grid_s`, so those timers fire together,
a few times a second in all, whatever the number of connections. Timers nearer than `min_delay_s` (packet
pacing, retransmission of a connectivity check, the relay's loss and keyframe timers) keep their deadline.
No timer fires early; a long one fires at most `grid_s` late, which nothing on those timers notices (RTCP
report intervals are randomised anyway; consent freshness allows seconds).
"""

from __future__ import annotations

import asyncio
import contextvars
import math
from collections.abc import Callable
from typing import TypeVarTuple

_Ts = TypeVarTuple("_Ts")

#: Timers at least this far ahead are coalesced.
MIN_DELAY_S = 0.45
#: The grid they are coalesced onto.
GRID_S = 0.25


class CoalescingEventLoop(asyncio.SelectorEventLoop):
    """asyncio's selector event loop, whose distant timers fire together on a `grid_s` grid (module docstring)."""

    def __init__(self, *, min_delay_s: float = MIN_DELAY_S, grid_s: float = GRID_S) -> None:
        super().__init__()
        if grid_s <= 0 or min_delay_s < grid_s:
            self.close()
            if grid_s <= 0:
                raise ValueError(f"grid_s must be positive, got {grid_s!r}")
            raise ValueError(f"min_delay_s must be at least grid_s ({grid_s!r}), got {min_delay_s!r}")
        self._min_delay = min_delay_s
        self._grid = grid_s

    def call_at(
        self,
        when: float,
        callback: Callable[[*_Ts], object],
        *args: *_Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        """Schedule `callback` at `when`, or on the next grid point after it when `when` is far enough ahead."""
        if when - self.time() >= self._min_delay:
            when = coalesced(when, self._grid)
        return super().call_at(when, callback, *args, context=context)


def coalesced(when: float, grid_s: float) -> float:
    """The first multiple of `grid_s` at or after `when` (never earlier)."""
    return max(when, math.ceil(when / grid_s) * grid_s)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A `CoalescingEventLoop` with the default grid (a loop factory for `asyncio.Runner`)."""
    return CoalescingEventLoop()
