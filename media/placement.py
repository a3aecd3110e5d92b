"""Which media worker takes a consult: pure, so the rule is tested without processes.

A consult already placed on a live worker stays there (all its peer connections must share a process).
A new consult goes to the live worker with the fewest consults placed on it, then the fewest forwarded
tracks it reported (a three-party referral weighs more than a 1:1 follow-up), then the lowest id (so the
choice is deterministic). Consults placed counts what the hub assigned, not what the worker last reported,
so consults placed in quick succession spread even before the next load report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from media.errors import WorkerUnavailable


@dataclass(frozen=True)
class WorkerLoad:
    """What placement knows of one worker."""

    worker_id: str
    consults: int = 0
    forwarded_tracks: int = 0
    alive: bool = True

    def __post_init__(self) -> None:
        if self.consults < 0 or self.forwarded_tracks < 0:
            raise ValueError(
                f"worker {self.worker_id!r}: consults and forwarded_tracks cannot be negative, "
                f"got {self.consults!r} and {self.forwarded_tracks!r}"
            )


def choose_worker(consult_id: str, workers: Sequence[WorkerLoad], placements: Mapping[str, str]) -> str:
    """The worker id for `consult_id` (see the module docstring); `WorkerUnavailable` if none is alive."""
    alive = [w for w in workers if w.alive]
    current = placements.get(consult_id)
    if current is not None and any(w.worker_id == current for w in alive):
        return current
    if not alive:
        raise WorkerUnavailable(f"no media worker is alive to take consult {consult_id!r}")
    return min(alive, key=lambda w: (w.consults, w.forwarded_tracks, w.worker_id)).worker_id
