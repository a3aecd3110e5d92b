"""How long Python's garbage collector has held this process: every stream of a media worker stops meanwhile.

At 150 relayed streams a worker holds some 680,000 Python objects, and a full (oldest-generation)
collection of them takes 80-180 ms on the benchmark's VM; they run while participants join (their new
objects are promoted), not in steady state. The worker's ``stats`` report these counters, so the relay
benchmark can tell a latency spike caused by a collection from one caused by a full core.
"""

from __future__ import annotations

import gc
import time
from typing import Any


class GcPauses:
    """Counts the collections of each generation and the time they took, from `install` to `uninstall`."""

    def __init__(self) -> None:
        #: Collections per generation (0, 1, 2) and their total and longest time, in milliseconds.
        self.collections = [0, 0, 0]
        self.total_ms = [0.0, 0.0, 0.0]
        self.max_ms = [0.0, 0.0, 0.0]
        #: Objects moved to the permanent generation by `freeze` (0 before it).
        self.frozen = 0
        self._started = 0.0
        self._installed = False

    def freeze(self) -> None:
        """Collect, then move every object that exists now out of the collector's passes for good.

        For what lives as long as the process (imports, set-up): a full pass over them would stall every
        stream of the worker. The count is kept from here: in Python 3.11 `gc.get_freeze_count` walks the
        whole permanent generation (about 100,000 objects in a worker: 15 ms), too slow for `counters`.
        """
        gc.collect()
        gc.freeze()
        self.frozen = gc.get_freeze_count()

    def install(self) -> None:
        """Start counting (once)."""
        if not self._installed:
            gc.callbacks.append(self._callback)
            self._installed = True

    def uninstall(self) -> None:
        """Stop counting."""
        if self._installed:
            gc.callbacks.remove(self._callback)
            self._installed = False

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        elapsed = (time.perf_counter() - self._started) * 1000
        self.collections[generation] += 1
        self.total_ms[generation] += elapsed
        self.max_ms[generation] = max(self.max_ms[generation], elapsed)

    def counters(self) -> dict[str, float]:
        """Full collections (generation 2) so far, their total time and the longest one, in ms; and the
        same for the young generations (0 and 1) together; and the objects `freeze` set aside."""
        return {
            "gc_full_collections": self.collections[2],
            "gc_full_ms_total": round(self.total_ms[2], 1),
            "gc_full_ms_max": round(self.max_ms[2], 1),
            "gc_young_collections": self.collections[0] + self.collections[1],
            "gc_young_ms_total": round(self.total_ms[0] + self.total_ms[1], 1),
            "gc_young_ms_max": round(max(self.max_ms[0], self.max_ms[1]), 1),
            "gc_frozen": self.frozen,
        }
