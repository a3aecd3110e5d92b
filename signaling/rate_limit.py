"""Per-connection token buckets: a flood from one client is refused without slowing anyone else."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """`rate` tokens a second up to `burst`; each event takes one."""

    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got {self.rate!r}, {self.burst!r}")
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, now: float | None = None, cost: float = 1.0) -> bool:
        """Take `cost` tokens if there are enough; False means refuse the event."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False
