"""Tag broadcast: one message from a doctor to every resident of the team that matches a filter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from consult.resident import Resident

#: A broadcast goes to at most this many residents at once (a district team has a few thousand).
MAX_RECIPIENTS = 5000


@dataclass(frozen=True)
class Audience:
    """Residents with any of `tags`, any of `conditions` (by name, substring), within the age band.

    Empty criteria do not filter; an audience with no criterion at all is refused, so a broadcast
    to "everyone" is always a choice, spelled `all_residents=True`.
    """

    tags: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    age_min: int | None = None
    age_max: int | None = None
    all_residents: bool = False

    def __post_init__(self) -> None:
        if not (
            self.tags
            or self.conditions
            or self.age_min is not None
            or self.age_max is not None
            or self.all_residents
        ):
            raise ValueError("choose at least one tag, condition or age bound, or all_residents")
        for bound in (self.age_min, self.age_max):
            if bound is not None and not 0 <= bound <= 130:
                raise ValueError(f"age bounds must be between 0 and 130, got {bound}")
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError(f"age_min {self.age_min} is above age_max {self.age_max}")

    def matches(self, resident: Resident, today: date) -> bool:
        """Whether `resident` is in the audience."""
        if self.tags and not set(self.tags) & set(resident.tags):
            return False
        if self.conditions and not any(
            wanted in c.name for wanted in self.conditions for c in resident.conditions if c.active
        ):
            return False
        age = resident.age_on(today)
        if self.age_min is not None and age < self.age_min:
            return False
        return not (self.age_max is not None and age > self.age_max)
