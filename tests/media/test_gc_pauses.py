"""The worker's garbage-collector pause counters (media/gc_pauses.py)."""

from __future__ import annotations

import gc

from media.gc_pauses import GcPauses


def test_full_collections_are_counted_while_installed_only() -> None:
    pauses = GcPauses()
    pauses.install()
    pauses.install()  # once only: a second install must not count twice
    try:
        gc.collect()
        gc.collect()
        counters = pauses.counters()
        assert counters["gc_full_collections"] == 2
        assert 0 <= counters["gc_full_ms_max"] <= counters["gc_full_ms_total"]
    finally:
        pauses.uninstall()
    gc.collect()
    assert pauses.counters()["gc_full_collections"] == 2
    assert pauses._callback not in gc.callbacks
