"""Referrals (转诊, FHIR ServiceRequest) from a family-doctor team to a specialist or hospital."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from consult.errors import RuleViolation


class ReferralStatus(enum.StrEnum):
    """requested → accepted → completed, or declined / cancelled."""

    REQUESTED = "requested"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    DECLINED = "declined"
    CANCELLED = "cancelled"


#: While a referral is open the specialist may see what it shares.
OPEN = frozenset({ReferralStatus.REQUESTED, ReferralStatus.ACCEPTED})

_TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.REQUESTED: frozenset(
        {ReferralStatus.ACCEPTED, ReferralStatus.DECLINED, ReferralStatus.CANCELLED}
    ),
    ReferralStatus.ACCEPTED: frozenset({ReferralStatus.COMPLETED, ReferralStatus.CANCELLED}),
}


@dataclass(frozen=True)
class SharedResult:
    """A recent result the referring team chose to share with the specialist."""

    title: str
    value: str
    taken_on: str | None = None


@dataclass(frozen=True)
class Referral:
    """A request for a specialist opinion about one resident."""

    id: int
    resident_id: int
    from_team_id: int
    to_organization_id: int
    to_practitioner_id: int | None
    reason: str
    status: ReferralStatus
    created_at: datetime
    shared_results: tuple[SharedResult, ...] = ()
    shared_condition_ids: tuple[int, ...] = ()
    specialist_opinion: str = ""

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("a referral needs a reason")


def check_referral_transition(current: ReferralStatus, new: ReferralStatus) -> None:
    """Refuse a status change the referral life cycle does not allow."""
    if new not in _TRANSITIONS.get(current, frozenset()):
        raise RuleViolation(
            f"a referral that is {current.value} cannot become {new.value}",
            code="invalid_transition",
            field="status",
        )
