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


def test_freeze_sets_aside_what_exists_and_reports_the_count() -> None:
    pauses = GcPauses()
    assert pauses.counters()["gc_frozen"] == 0
    kept = [[] for _ in range(10)]
    assert all(gc.is_tracked(o) for o in kept)
    try:
        pauses.freeze()
        assert pauses.counters()["gc_frozen"] == gc.get_freeze_count() > len(kept)
        # The collector's passes no longer see them (the permanent generation is not in get_objects).
        seen = {id(o) for o in gc.get_objects()}
        assert not any(id(o) in seen for o in kept)
    finally:
        gc.unfreeze()
