"""How long records are kept, and when they may be destroyed.

互联网诊疗监管细则 art. 21: audio/video and text-chat process records at least 3 years; medical records
of internet diagnosis at least 15 years. Recordings and chats count from the end of their consult,
medical records (notes) from the resident's last visit. A legal hold set by a compliance officer, with
a reason, blocks destruction until it is released, whatever the dates say.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime


class RecordKind(enum.StrEnum):
    """What a retention rule applies to."""

    RECORDING = "recording"
    CHAT = "chat"
    MEDICAL_RECORD = "medical_record"


#: The legal minimums, in years; a policy may keep longer, never shorter.
MINIMUM_YEARS = {RecordKind.RECORDING: 3, RecordKind.CHAT: 3, RecordKind.MEDICAL_RECORD: 15}


@dataclass(frozen=True)
class RetentionPolicy:
    """Years kept per record kind (configurable, never below the legal minimum)."""

    recording_years: int = 3
    chat_years: int = 3
    medical_record_years: int = 15

    def __post_init__(self) -> None:
        for kind in RecordKind:
            if self.years(kind) < MINIMUM_YEARS[kind]:
                raise ValueError(
                    f"{kind.value} must be kept at least {MINIMUM_YEARS[kind]} years, got {self.years(kind)}"
                )

    def years(self, kind: RecordKind) -> int:
        """How many years `kind` is kept."""
        return {
            RecordKind.RECORDING: self.recording_years,
            RecordKind.CHAT: self.chat_years,
            RecordKind.MEDICAL_RECORD: self.medical_record_years,
        }[kind]

    def expires_on(self, kind: RecordKind, since: date) -> date:
        """The first day a record of `kind` counted from `since` may be destroyed."""
        return add_years(since, self.years(kind))


def add_years(day: date, years: int) -> date:
    """`day` moved `years` years on; 29 February becomes 1 March in a year without it (kept longer, never
    shorter)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


@dataclass(frozen=True)
class LegalHold:
    """A compliance officer's hold on a record: nothing under it is destroyed until it is released."""

    id: int
    reason: str
    set_by_user_id: int
    set_at: datetime
    released_at: datetime | None = None
    released_by_user_id: int | None = None

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("a legal hold needs a reason")

    @property
    def active(self) -> bool:
        """Whether the hold still blocks destruction."""
        return self.released_at is None


def may_destroy(expires_on: date, today: date, holds: Iterable[LegalHold]) -> bool:
    """A record may be destroyed once its retention has run out and no hold is active on it."""
    return today >= expires_on and not any(h.active for h in holds)
