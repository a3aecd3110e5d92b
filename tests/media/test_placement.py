"""Placement of consults on media workers."""

from __future__ import annotations

import pytest

from media.errors import WorkerUnavailable
from media.placement import WorkerLoad, choose_worker


def test_a_new_consult_goes_to_the_least_loaded_worker() -> None:
    workers = [
        WorkerLoad("w1", consults=3, forwarded_tracks=12),
        WorkerLoad("w2", consults=2, forwarded_tracks=24),
    ]
    assert choose_worker("c9", workers, {}) == "w2"
    # Same number of consults: fewer forwarded tracks wins; then the lower id.
    workers = [WorkerLoad("w1", 2, 24), WorkerLoad("w2", 2, 8), WorkerLoad("w3", 2, 8)]
    assert choose_worker("c9", workers, {}) == "w2"


def test_a_placed_consult_stays_on_its_worker() -> None:
    workers = [WorkerLoad("w1", consults=9), WorkerLoad("w2", consults=0)]
    assert choose_worker("c1", workers, {"c1": "w1"}) == "w1"


def test_a_consult_whose_worker_died_moves() -> None:
    workers = [WorkerLoad("w1", alive=False), WorkerLoad("w2", consults=5)]
    assert choose_worker("c1", workers, {"c1": "w1"}) == "w2"
    with pytest.raises(WorkerUnavailable):
        choose_worker("c1", [WorkerLoad("w1", alive=False)], {})
    with pytest.raises(WorkerUnavailable):
        choose_worker("c1", [], {})


def test_consults_spread_before_any_load_report() -> None:
    placements: dict[str, str] = {}
    for consult in ("a", "b", "c", "d"):
        counts = {w: list(placements.values()).count(w) for w in ("w1", "w2")}
        workers = [WorkerLoad(w, consults=n) for w, n in counts.items()]
        placements[consult] = choose_worker(consult, workers, placements)
    assert sorted(placements.values()) == ["w1", "w1", "w2", "w2"]


def test_negative_loads_are_refused() -> None:
    with pytest.raises(ValueError, match="w1"):
        WorkerLoad("w1", consults=-1)
